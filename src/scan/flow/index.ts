/**
 * Credential-flow analyzers for `keyward audit`: TypeScript/JavaScript (oxc-parser) and Python
 * (tree-sitter's Python grammar). Each file is parsed at most once, and only when its text can
 * hold a credential source or it imports a module whose exports carry one; relative imports are
 * resolved to other audited files when the analyzers are given a way to read them.
 *
 * The engine runs them as tree analyzers: each file is summarised where it is read (any worker
 * thread), then the summaries are analysed in walk order in one session, which re-reads only the
 * files it parses. The same session serves the per-file `Analyzer`s below (tests, library use).
 */
import { posix } from "node:path";
import type { WordHits } from "../../detect/index.js";
import type { Analyzer, Finding, SourceFile, TreeAnalyzer } from "../types.js";
import {
  isJsPath,
  JS_EVIDENCE_WORDS,
  JsFlow,
  jsEvidence,
  jsExportsCarry,
  loadJsParser,
  type ModuleResult,
} from "./js.js";
import { BUNDLER_RUNTIMES, flowSkipReason, type Val } from "./model.js";
import {
  isPythonPath,
  loadPythonParser,
  PythonFlow,
  pythonEvidence,
  pythonExportsCarry,
} from "./python.js";

export { bundleReason, FLOW_RULES, type FlowRuleId, flowSkipReason } from "./model.js";

export interface FlowOptions {
  /**
   * Reads another audited file by its root-relative path (forward slashes), or returns undefined
   * when it is not part of the audit. Without it each file is analysed on its own and imported
   * values are taken as clean.
   */
  readFile?(path: string): string | undefined;
  /**
   * The names of the regular files in a root-relative directory ("" or "." for the root) that
   * readFile can read: an import candidate not among them is not looked up. Resolving an import
   * tries up to a dozen names, most of which do not exist; this answers for them from one listing
   * per directory, without building and looking up each path.
   */
  filesIn?(dir: string): ReadonlySet<string>;
}

type Language = "js" | "python";

/**
 * What the session needs of a file before deciding to parse it: why it is left out (a bundle, a
 * minified or huge file), or whether its text shows a source and, if not, what it imports.
 */
export type FlowSummary =
  | { skip: string }
  | { evidence: true }
  | { evidence: false; imports: string[] };

/**
 * The JS flow analyzer's keywords: the evidence check's words, then the bundler runtimes the
 * skip check looks for, both found in the file pass's keyword pass.
 */
const JS_FLOW_WORDS: readonly string[] = [...JS_EVIDENCE_WORDS, ...BUNDLER_RUNTIMES];

export function summarizeFlow(
  path: string,
  text: string,
  language: Language,
  /** JS_FLOW_WORDS' occurrences in a JS text, when the file pass found them */
  hits?: WordHits,
): FlowSummary {
  if (language === "js" && path.endsWith(".json")) {
    // An import of JSON (`require("./config.json")`) reads data: no export a flow could follow,
    // and its literals are the secrets analyzer's. Parsed as a module, it gave nothing.
    const skip = flowSkipReason(text, path);
    return skip === undefined ? { evidence: false, imports: [] } : { skip };
  }
  if (language === "python" || hits === undefined) {
    const skip = flowSkipReason(text, path);
    if (skip !== undefined) return { skip };
    return language === "js" ? jsEvidence(text) : pythonEvidence(text);
  }
  const evidenceHits: number[] = [];
  const runtimeHits: number[] = [];
  for (let at = 0; at < hits.length; at += 2) {
    const word = hits[at] as number;
    if (word < JS_EVIDENCE_WORDS.length) evidenceHits.push(word, hits[at + 1] as number);
    else runtimeHits.push(word - JS_EVIDENCE_WORDS.length, hits[at + 1] as number);
  }
  const skip = flowSkipReason(text, path, runtimeHits);
  if (skip !== undefined) return { skip };
  return jsEvidence(text, evidenceHits);
}

const JS_RESOLUTION = ["", ".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs"];
/** tried after JS_RESOLUTION, inside the imported path */
const JS_INDEXES = ["index.ts", "index.js"];
const JS_SWAPS: Array<[RegExp, string[]]> = [
  [/\.js$/, [".ts", ".tsx"]],
  [/\.mjs$/, [".mts"]],
  [/\.cjs$/, [".cts"]],
  [/\.jsx$/, [".tsx"]],
];

const NOTHING: ModuleResult = Object.freeze({ findings: [], exports: new Map<string, Val>() });

/** A file the session knows: its summary, and its text when it was handed over or read. */
interface Known {
  summary: FlowSummary;
  text?: string;
}

/**
 * One audit's worth of flow analysis for one language: each file's result is cached by path, so
 * every file is parsed at most once however many files import it.
 */
class FlowSession {
  private readonly results = new Map<string, ModuleResult>();
  private readonly running = new Set<string>();
  /** files summarised so far; null for import candidates that do not exist or are left out */
  private readonly known = new Map<string, Known | null>();
  /**
   * What an import resolves to, by the importing file's directory and the specifier (null: to no
   * file): files of one directory import the same siblings, and each resolution tries up to a
   * dozen candidate names.
   */
  private readonly resolved = new Map<string, string | null>();

  private readonly readFile: ((path: string) => string | undefined) | undefined;
  private readonly filesIn: ((dir: string) => ReadonlySet<string>) | undefined;

  constructor(
    private readonly language: Language,
    options: FlowOptions,
    /** summaries the engine made when it read each file */
    private readonly summaries: ReadonlyMap<string, FlowSummary> = new Map(),
  ) {
    this.readFile = options.readFile;
    this.filesIn = options.filesIn;
  }

  /** A file of the tree pass, by path: its summary was made when the engine read it. */
  analyzeFile(path: string): Finding[] {
    const known = this.lookup(path);
    if (known === null || "skip" in known.summary) return [];
    return this.result(path, known).findings;
  }

  /** A file handed over with its text (the per-file Analyzer API): a new text replaces the old. */
  analyzeText(path: string, text: string): Finding[] {
    const known = this.known.get(path);
    if (known?.text !== text) {
      this.known.set(path, { text, summary: summarizeFlow(path, text, this.language) });
      this.results.delete(path);
      // A file handed over may be one an import did not find before.
      this.resolved.clear();
    }
    return this.analyzeFile(path);
  }

  private lookup(path: string): Known | null {
    let known = this.known.get(path);
    if (known !== undefined) return known;
    const summary = this.summaries.get(path);
    if (summary !== undefined) known = { summary };
    else {
      const text = this.readFile?.(path);
      known =
        text === undefined ? null : { text, summary: summarizeFlow(path, text, this.language) };
    }
    this.known.set(path, known);
    return known;
  }

  private result(path: string, known: Known): ModuleResult {
    const cached = this.results.get(path);
    if (cached !== undefined) return cached;
    this.running.add(path);
    try {
      const result = this.mustParse(path, known.summary) ? this.parse(path, known) : NOTHING;
      this.results.set(path, result);
      return result;
    } finally {
      this.running.delete(path);
    }
  }

  /** A source in the text, or an import whose exports carry a credential. */
  private mustParse(path: string, summary: FlowSummary): boolean {
    if ("skip" in summary) return false;
    if (summary.evidence) return true;
    const carry = this.language === "js" ? jsExportsCarry : pythonExportsCarry;
    return summary.imports.some((spec) => {
      const exports = this.importModule(path, spec);
      return exports !== undefined && carry(exports);
    });
  }

  private parse(path: string, known: Known): ModuleResult {
    const text = known.text ?? this.readFile?.(path);
    if (text === undefined) return NOTHING;
    const linker = { importModule: (from: string, spec: string) => this.importModule(from, spec) };
    return this.language === "js"
      ? new JsFlow(path, text, linker).run()
      : new PythonFlow(path, text, linker).run();
  }

  private importModule(from: string, spec: string): Map<string, Val> | undefined {
    if (this.readFile === undefined && this.summaries.size === 0) return undefined;
    const path = this.resolve(from, spec);
    if (path === null || this.running.has(path)) return undefined;
    const done = this.results.get(path);
    if (done !== undefined) return done.exports;
    const known = this.lookup(path);
    if (known === null || "skip" in known.summary) return undefined;
    return this.result(path, known).exports;
  }

  /** The first candidate file for `spec` imported from `from` that exists, or null. */
  private resolve(from: string, spec: string): string | null {
    const key = `${posix.dirname(from)}\0${spec}`;
    let path = this.resolved.get(key);
    if (path === undefined) {
      path = null;
      const candidates =
        this.language === "js" ? jsCandidates(from, spec) : pythonCandidates(from, spec);
      for (const [dir, name] of candidates) {
        if (this.filesIn !== undefined && !this.filesIn(dir).has(name)) continue;
        const candidate = dir === "" ? name : `${dir}/${name}`;
        if (this.lookup(candidate) !== null) {
          path = candidate;
          break;
        }
      }
      this.resolved.set(key, path);
    }
    return path;
  }
}

/** A candidate file: its directory ("" at the root) and its name in it. */
type Candidate = [dir: string, name: string];

/** `dir/name` split at its last slash. */
function candidate(path: string): Candidate {
  const slash = path.lastIndexOf("/");
  return slash === -1 ? ["", path] : [path.slice(0, slash), path.slice(slash + 1)];
}

function jsCandidates(from: string, spec: string): Candidate[] {
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  const [dir, name] = candidate(base);
  const out: Candidate[] = [];
  for (const [pattern, replacements] of JS_SWAPS) {
    if (pattern.test(name))
      for (const ext of replacements) out.push([dir, name.replace(pattern, ext)]);
  }
  for (const suffix of JS_RESOLUTION) out.push([dir, name + suffix]);
  for (const index of JS_INDEXES) out.push([base, index]);
  return out;
}

/** `.config`, `..pkg.config`, `config` (next to the file or at the root), `pkg.config`. */
function pythonCandidates(from: string, spec: string): Candidate[] {
  const dots = /^\.*/.exec(spec)?.[0].length ?? 0;
  const rest = spec.slice(dots).split(".").filter(Boolean).join("/");
  const dirs: string[] = [];
  if (dots > 0) {
    let dir = posix.dirname(from);
    for (let i = 1; i < dots; i++) dir = posix.dirname(dir);
    dirs.push(dir);
  } else dirs.push(posix.dirname(from), ".");
  const out: Candidate[] = [];
  for (const dir of dirs) {
    const base = posix.normalize(posix.join(dir, rest));
    out.push(candidate(`${base}.py`), [base, "__init__.py"]);
  }
  return out;
}

const LANGUAGES: ReadonlyArray<{
  id: string;
  language: Language;
  applies(path: string): boolean;
  load(): Promise<void>;
  /** words the evidence check reads, found in the engine's keyword pass */
  keywords?: readonly string[];
  /** the evidence check reads a stand-in text alike (TreeAnalyzer.readsStandIn) */
  readsStandIn?: boolean;
}> = [
  {
    id: "flow-js",
    language: "js",
    applies: isJsPath,
    load: loadJsParser,
    keywords: JS_FLOW_WORDS,
    readsStandIn: true,
  },
  { id: "flow-python", language: "python", applies: isPythonPath, load: loadPythonParser },
];

/**
 * The engine's flow analyzers (src/scan/registry.ts): files are summarised where they are read,
 * then analysed in walk order; `readFile` reads the files to parse and import candidates outside
 * the summaries.
 */
export function createFlowTreeAnalyzers(options: FlowOptions = {}): TreeAnalyzer<FlowSummary>[] {
  return LANGUAGES.map(({ id, language, applies, load, keywords, readsStandIn }) => ({
    id,
    applies,
    load,
    keywords,
    ...(readsStandIn ? { readsStandIn } : {}),
    summarize: (file, hits) => summarizeFlow(file.path, file.text, language, hits),
    begin(summaries) {
      const session = new FlowSession(language, options, summaries);
      return { analyze: (path) => session.analyzeFile(path) };
    },
  }));
}

/**
 * Per-file analyzers over the same session. With `readFile`, imports between audited files are
 * followed; results are cached per path, so calling `analyze` on every file still parses each
 * file at most once.
 */
export function createFlowAnalyzers(options: FlowOptions = {}): Analyzer[] {
  return LANGUAGES.map(({ id, language, applies, load }) => {
    const session = new FlowSession(language, options);
    return {
      id,
      applies,
      load,
      skipReason: (file: SourceFile) => flowSkipReason(file.text, file.path),
      analyze: (file: SourceFile) => session.analyzeText(file.path, file.text),
    };
  });
}

/**
 * Per-file analyzers: imported values are taken as clean. Prefer analyzeProject or
 * createFlowAnalyzers({ readFile }). Await loadFlowParsers() (or each analyzer's `load`) first.
 */
export const flowAnalyzers: Analyzer[] = createFlowAnalyzers();

/** Loads both parsers (the audit engine loads each one only when a file needs it). */
export async function loadFlowParsers(): Promise<void> {
  await Promise.all([loadJsParser(), loadPythonParser()]);
}

/** Analyses a whole tree at once, following relative imports between the given files. */
export async function analyzeProject(files: SourceFile[]): Promise<Finding[]> {
  await loadFlowParsers();
  const byPath = new Map(files.map((file) => [file.path, file.text]));
  const analyzers = createFlowAnalyzers({ readFile: (path) => byPath.get(path) });
  const findings: Finding[] = [];
  for (const file of files) {
    for (const analyzer of analyzers)
      if (analyzer.applies(file.path)) findings.push(...analyzer.analyze(file));
  }
  return findings;
}
