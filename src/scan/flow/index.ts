/**
 * Credential-flow analyzers for `keyward audit`: TypeScript/JavaScript (oxc-parser) and Python
 * (ast-grep's tree-sitter grammar). Each file is parsed once; relative imports are resolved to
 * other audited files when the analyzers are given a way to read them.
 */
import { posix } from "node:path";
import type { Analyzer, Finding, SourceFile } from "../types.js";
import { isJsPath, JsFlow, loadJsParser, type ModuleResult } from "./js.js";
import { flowSkipReason, type Val } from "./model.js";
import { isPythonPath, loadPythonParser, PythonFlow } from "./python.js";

export { bundleReason, FLOW_RULES, type FlowRuleId, flowSkipReason } from "./model.js";

export interface FlowOptions {
  /**
   * Reads another audited file by its root-relative path (forward slashes), or returns undefined
   * when it is not part of the audit. Without it each file is analysed on its own and imported
   * values are taken as clean.
   */
  readFile?(path: string): string | undefined;
}

type Language = "js" | "python";

const JS_RESOLUTION = ["", ".ts", ".tsx", ".mts", ".js", ".mjs", ".cjs", "/index.ts", "/index.js"];
const JS_SWAPS: Array<[RegExp, string[]]> = [
  [/\.js$/, [".ts", ".tsx"]],
  [/\.mjs$/, [".mts"]],
  [/\.cjs$/, [".cts"]],
  [/\.jsx$/, [".tsx"]],
];

/** One audit's worth of flow analysis: caches each file's result so every file is parsed once. */
class FlowSession {
  private readonly results = new Map<string, { text: string; result: ModuleResult }>();
  private readonly running = new Set<string>();
  /** import candidates that do not exist or are left out, so each is looked up once */
  private readonly unavailable = new Set<string>();
  /** the last file asked about, and why it is left out (skipReason, then analyze, ask in turn) */
  private lastSkip: { path: string; text: string; reason: string | undefined } | undefined;

  constructor(private readonly options: FlowOptions) {}

  skipReason(path: string, text: string): string | undefined {
    const last = this.lastSkip;
    if (last?.path === path && last.text === text) return last.reason;
    const reason = flowSkipReason(text, path);
    this.lastSkip = { path, text, reason };
    return reason;
  }

  analyze(file: SourceFile, language: Language): Finding[] {
    if (this.skipReason(file.path, file.text) !== undefined) return [];
    return this.result(file.path, file.text, language).findings;
  }

  private result(path: string, text: string, language: Language): ModuleResult {
    const cached = this.results.get(path);
    if (cached && cached.text === text) return cached.result;
    // Without a reader nothing is imported, so nothing is read twice: keep no cache.
    const keep = this.options.readFile !== undefined;
    this.running.add(path);
    try {
      const linker = {
        importModule: (from: string, spec: string) => this.importModule(from, spec, language),
      };
      const result =
        language === "js"
          ? new JsFlow(path, text, linker).run()
          : new PythonFlow(path, text, linker).run();
      if (keep) this.results.set(path, { text, result });
      return result;
    } finally {
      this.running.delete(path);
    }
  }

  private importModule(
    from: string,
    spec: string,
    language: Language,
  ): Map<string, Val> | undefined {
    const read = this.options.readFile;
    if (!read) return undefined;
    for (const candidate of language === "js"
      ? jsCandidates(from, spec)
      : pythonCandidates(from, spec)) {
      if (this.running.has(candidate)) return undefined;
      const done = this.results.get(candidate);
      if (done !== undefined) return done.result.exports;
      if (this.unavailable.has(candidate)) continue;
      const text = read(candidate);
      if (text === undefined) {
        this.unavailable.add(candidate);
        continue;
      }
      if (flowSkipReason(text, candidate) !== undefined) {
        this.unavailable.add(candidate);
        return undefined;
      }
      return this.result(candidate, text, language).exports;
    }
    return undefined;
  }
}

function jsCandidates(from: string, spec: string): string[] {
  const base = posix.normalize(posix.join(posix.dirname(from), spec));
  const out: string[] = [];
  for (const [pattern, replacements] of JS_SWAPS) {
    if (pattern.test(base)) for (const ext of replacements) out.push(base.replace(pattern, ext));
  }
  for (const suffix of JS_RESOLUTION) out.push(base + suffix);
  return out;
}

/** `.config`, `..pkg.config`, `config` (next to the file or at the root), `pkg.config`. */
function pythonCandidates(from: string, spec: string): string[] {
  const dots = /^\.*/.exec(spec)?.[0].length ?? 0;
  const rest = spec.slice(dots).split(".").filter(Boolean).join("/");
  const dirs: string[] = [];
  if (dots > 0) {
    let dir = posix.dirname(from);
    for (let i = 1; i < dots; i++) dir = posix.dirname(dir);
    dirs.push(dir);
  } else dirs.push(posix.dirname(from), ".");
  const out: string[] = [];
  for (const dir of dirs) {
    const base = posix.normalize(posix.join(dir, rest));
    out.push(`${base}.py`, `${base}/__init__.py`);
  }
  return out;
}

/**
 * The flow analyzers. With `readFile`, imports between audited files are followed; the results
 * are cached per path, so calling `analyze` on every file still parses each file once.
 */
export function createFlowAnalyzers(options: FlowOptions = {}): Analyzer[] {
  const session = new FlowSession(options);
  return [
    {
      id: "flow-js",
      applies: isJsPath,
      load: loadJsParser,
      skipReason: (file) => session.skipReason(file.path, file.text),
      analyze: (file) => session.analyze(file, "js"),
    },
    {
      id: "flow-python",
      applies: isPythonPath,
      load: loadPythonParser,
      skipReason: (file) => session.skipReason(file.path, file.text),
      analyze: (file) => session.analyze(file, "python"),
    },
  ];
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
