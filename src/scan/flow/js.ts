/**
 * Credential flow in TypeScript and JavaScript, on oxc-parser's ESTree AST. An abstract
 * interpreter walks each file in order, with lexical scopes, field-sensitive object values and
 * per-function summaries (parameter taint joined over call sites, return taint), repeated until
 * the summaries stop changing. Function bodies run after the code around them, as callbacks and
 * handlers do. See README.md for what is and is not modelled.
 */
import type { ParserOptions } from "oxc-parser";
import { scanText, searchOnFirstUse, type WordHits } from "../../detect/index.js";
import type { Finding, Location } from "../types.js";
import {
  allTaints,
  CLEAN,
  endsInQueryParam,
  type FieldReadContext,
  type FlowRuleId,
  filterTaints,
  flatten,
  flowFinding,
  isBarrierName,
  isCredentialHeader,
  isCredentialName,
  isOwnerOnlyMode,
  isTainted,
  join,
  joinAll,
  LineIndex,
  MAX_SAFE_PREFIX,
  ownStrings,
  readField,
  type SinkHit,
  type Step,
  sameTaint,
  type Taint,
  type Val,
  withStep,
} from "./model.js";

/**
 * A file's ESTree program, once loadJsParser has run. oxc-parser's own parseSync converts every
 * field of the native result to JS objects (the module record, each comment and error); the
 * analysis reads the program alone, so it takes that field's JSON from the binding and parses it
 * with oxc's jsonParseAst (which restores BigInt and RegExp literals): a sixth less time per file.
 */
let parseProgram: ((path: string, source: string, options: ParserOptions) => Node) | undefined;
let loading: Promise<void> | undefined;

/** Loads oxc-parser (a native addon); the audit starts it when the first JS/TS file comes up. */
export function loadJsParser(): Promise<void> {
  loading ??= Promise.all([
    import("oxc-parser/src-js/bindings"),
    import("oxc-parser/src-js/wrap"),
  ]).then(([binding, { jsonParseAst }]) => {
    parseProgram = (path, source, options) =>
      jsonParseAst(binding.parseSync(path, source, options).program) as Node;
  });
  return loading;
}

/** oxc's ESTree nodes, read loosely: the walker checks `type` before it reads a field. */
interface Node {
  type: string;
  start: number;
  end: number;
  [key: string]: unknown;
}

function isNode(value: unknown): value is Node {
  return (
    typeof value === "object" &&
    value !== null &&
    typeof (value as { type?: unknown }).type === "string"
  );
}
function child(node: Node, key: string): Node | undefined {
  const value = node[key];
  return isNode(value) ? value : undefined;
}
/** The nodes of an array field; the array itself when it holds nothing else (no copy per visit). */
function children(node: Node, key: string): readonly Node[] {
  const value = node[key];
  if (!Array.isArray(value)) return NO_NODES;
  for (const item of value) if (!isNode(item)) return value.filter(isNode);
  return value as Node[];
}
const NO_NODES: readonly Node[] = [];
function text(node: Node, key: string): string | undefined {
  const value = node[key];
  return typeof value === "string" ? value : undefined;
}

/** Resolves relative imports to the exports of other audited files (see index.ts). */
export interface ModuleLinker {
  importModule(fromPath: string, specifier: string): Map<string, Val> | undefined;
}

export interface ModuleResult {
  findings: Finding[];
  exports: Map<string, Val>;
}

const JS_EXTENSIONS = /\.(ts|tsx|mts|cts|js|jsx|mjs|cjs)$/;

export function isJsPath(path: string): boolean {
  return JS_EXTENSIONS.test(path) && !/\.d\.[mc]?ts$/.test(path) && !/\.min\.js$/.test(path);
}

function langOf(path: string): "ts" | "tsx" | "jsx" {
  if (/\.tsx$/.test(path)) return "tsx";
  if (/\.[mc]?ts$/.test(path)) return "ts";
  return "jsx";
}

const HTTP_ERROR_FIELDS: ReadonlySet<string> = new Set([
  "config",
  "request",
  "response",
  "headers",
  "options",
  "toJSON",
]);
const LOG_METHODS = new Set([
  "trace",
  "debug",
  "info",
  "warn",
  "warning",
  "error",
  "fatal",
  "log",
  "verbose",
  "silly",
  "notice",
  "critical",
]);
const CONSOLE_METHODS = new Set(["log", "error", "warn", "info", "debug", "trace", "dir", "table"]);
const LOGGER_FACTORIES =
  /^(pino|winston\.createLogger|bunyan\.createLogger|bunyan|debug|log4js\.getLogger|loglevel\.getLogger|consola\.create|signale)$|\.child$/;
const STRING_METHODS = new Set([
  "toString",
  "toUpperCase",
  "toLowerCase",
  "toLocaleUpperCase",
  "toLocaleLowerCase",
  "trim",
  "trimStart",
  "trimEnd",
  "padStart",
  "padEnd",
  "concat",
  "split",
  "join",
  "at",
  "normalize",
  "toJSON",
  "valueOf",
  "repeat",
  "flat",
  "map",
]);
const PROPAGATING_FUNCTIONS =
  /^(String|encodeURIComponent|encodeURI|escape|btoa|Buffer\.from|util\.format|util\.inspect|format|inspect|Object\.entries|Object\.values|Object\.assign|Object\.fromEntries|Array\.from|Array\.of|structuredClone|Buffer\.concat)$/;
const SECRET_STORE_METHODS = new Set([
  "getPassword",
  "findPassword",
  "findCredentials",
  "getSecret",
  "getSecretValue",
  "accessSecretVersion",
  "getSecretString",
]);
const HTTP_METHODS = /^(get|post|put|patch|delete|head|options|request)$/;
const MCP_REGISTRATIONS: Record<string, string> = {
  tool: "tool",
  registerTool: "tool",
  resource: "resource",
  registerResource: "resource",
  prompt: "prompt",
  registerPrompt: "prompt",
};
const FS_WRITES = /^fs(\.promises)?\.(writeFile|writeFileSync|appendFile|appendFileSync)$/;

function normaliseModule(spec: string): string {
  const bare = spec.replace(/^node:/, "");
  if (bare === "fs/promises") return "fs.promises";
  if (bare === "child_process" || bare === "cross-spawn") return bare;
  return bare;
}

class FnInfo {
  params: Val[] = [];
  ret: Val = CLEAN;
  /** set when the function is an MCP tool/resource/prompt handler: its returns reach the model */
  role?: { kind: string; name: string };
  /** this round, the body ran (reading params and role) / a caller read ret: see JsFlow.run */
  bodyRan = false;
  retRead = false;
  /** `.catch(fn)`/`catch (err)` bindings are done through params too */
  constructor(
    /** the function; once its module is analysed, only what importers read (see JsFlow.run) */
    public node: Node,
    readonly name: string,
    readonly cls?: ClassInfo,
  ) {}
}

class ClassInfo {
  self: Val = { taints: [], fields: new Map() };
  readonly methods = new Map<string, FnInfo>();
  /** the fields and methods read by name this round: see JsFlow.run */
  readonly read = new Set<string>();
  constructor(readonly name: string) {}

  method(name: string): FnInfo | undefined {
    this.read.add(name);
    return this.methods.get(name);
  }
}

/** One running function body: its deferred callbacks and its pending file writes. */
class Frame {
  readonly queue: Array<{ info: FnInfo; closure: Scope }> = [];
  readonly pendingWrites: Array<{ hit: SinkHit; path: string }> = [];
  readonly privatePaths = new Set<string>();
  constructor(readonly info?: FnInfo) {}
}

class Scope {
  readonly vars = new Map<string, Val>();
  constructor(
    readonly parent: Scope | undefined,
    readonly frame: Frame,
  ) {}

  lookup(name: string): Val | undefined {
    for (let scope: Scope | undefined = this; scope; scope = scope.parent) {
      const val = scope.vars.get(name);
      if (val !== undefined) return val;
    }
    return undefined;
  }

  /**
   * Straight-line assignment in the declaring block replaces the value; assignment from a nested
   * block or closure joins, since the other path may not have run.
   */
  assign(name: string, val: Val): void {
    for (let scope: Scope | undefined = this; scope; scope = scope.parent) {
      const old = scope.vars.get(name);
      if (old !== undefined) {
        scope.vars.set(name, scope === this ? val : join(old, val));
        return;
      }
    }
    let root: Scope = this;
    while (root.parent) root = root.parent;
    root.vars.set(name, val);
  }
}

function signature(val: Val, depth = 0): string {
  const own = allTaints(val)
    .map((t) => `${t.kind}:${t.label}:${t.inbound ? 1 : 0}`)
    .sort()
    .join("|");
  if (!val.fields || depth > 3) return own;
  const fields = [...val.fields.keys()]
    .sort()
    .map((k) => `${k}=${signature(val.fields?.get(k) ?? CLEAN, depth + 1)}`);
  return `${own}{${fields.join(",")}}`;
}

const MAX_ROUNDS = 5;
/** `constructor(private readonly token: string)`: a TypeScript parameter property. */
const PARAMETER_PROPERTY = /\bconstructor\s*\([^)]{0,500}\b(?:private|public|protected|readonly)\s/;

/**
 * Text that every JS/TS source of a credential contains (see callResult and member), apart from
 * the three below that need a closer look. A header name counts only where it is read:
 * `headers["x-api-key"]`, `req.get("Authorization")`.
 */
const JS_SOURCE_HINTS =
  /getPassword|findPassword|findCredentials|getSecret|accessSecretVersion|GetSecretValueCommand|\.opts\(|optsWithGlobals|parseArgs|minimist|\bmri\b|yargs|dotenv|[Vv]ault|\.secrets\.resolve|\b(load|get|read|parse|resolve)(App|Server)?(Config|Configuration|Settings|Env)\b|config\.get\(|(?:headers\s*\[\s*|\.(?:get|header|getHeader)\(\s*)["'`](authorization|x-api-key|cookie|[\w-]*(token|api-key|apikey|secret)[\w-]*)["'`]|headers\s*\.\s*(authorization|cookie|\w*token\w*)/iy;
/** `process.env` / `process["env"]`; what follows decides whether it can be a source. */
const PROCESS_ENV = /process\s*(?:\.|\[\s*["'`])\s*env(?:\s*["'`]\s*\])?/iy;
/** `typeof ` or `typeof(` just before `process.env`. */
const TYPEOF_BEFORE = /\btypeof[\s(]*$/;
/** A named field read right after `process.env`: `.NAME` or `["NAME"]`, optional (`?.`) or not. */
const ENV_FIELD = /\s*(?:\??\.\s*([A-Za-z_$][\w$]*)|(?:\?\.)?\[\s*(["'`])([^"'`\\]*)\2\s*\])/y;
/** A configuration file parsed where it is read: `JSON.parse(readFileSync(…))`, `yaml.load(await readFile(…))`. */
const CONFIG_FILE_PARSE = /\b(?:parse|load)\s*\([^;]{0,2000}?readFile/;
/** The MCP SDK's `extra.authInfo.token` (also `authInfo?.token`, `authInfo!.token`, `authInfo["token"]`). */
const AUTH_INFO_TOKEN =
  /authInfo\s*\)?\s*!?\s*(?:\??\.\s*token\b|(?:\?\.)?\[\s*["'`]token["'`]\s*\])/y;
const RELATIVE_IMPORT =
  /\bfrom\s*["'](\.{1,2}\/[^"']+)["']|\b(?:require|import)\s*\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/y;

/** `loadConfig`, `getServerSettings`, `readAppEnv`…: the calls JS_SOURCE_HINTS takes for configuration readers. */
const CONFIG_READERS = ["load", "get", "read", "parse", "resolve"].flatMap((verb) =>
  ["", "app", "server"].flatMap((middle) =>
    ["config", "settings", "env"].map((what) => verb + middle + what),
  ),
);
/** What each match of JS_SOURCE_HINTS starts with (case-insensitively). */
const HINT_WORDS = [
  "getpassword",
  "findpassword",
  "findcredentials",
  "getsecret",
  "accesssecretversion",
  ".opts(",
  "optswithglobals",
  "parseargs",
  "minimist",
  "mri",
  "yargs",
  "dotenv",
  "vault",
  ".secrets.resolve",
  ...CONFIG_READERS,
  "config.get(",
  "headers",
  ".get(",
  ".header(",
  ".getheader(",
];
const PROCESS = HINT_WORDS.length;
const READ_FILE = PROCESS + 1;
const AUTH_INFO = PROCESS + 2;
const FIRST_IMPORT = PROCESS + 3;
/**
 * Where the evidence check looks (jsEvidence): every match of the patterns above starts with one
 * of these words, so each pattern runs anchored where a word occurs instead of over the whole
 * text, and the words are found in the file pass's one keyword pass with every other analyzer's.
 */
export const JS_EVIDENCE_WORDS: readonly string[] = [
  ...HINT_WORDS,
  "process",
  "readfile",
  "authinfo",
  "from",
  "require",
  "import",
];
const evidenceSearch = searchOnFirstUse(JS_EVIDENCE_WORDS);

/** Does `pattern` (sticky) match at `at`? */
function matchesAt(pattern: RegExp, text: string, at: number): boolean {
  pattern.lastIndex = at;
  return pattern.test(text);
}

/**
 * Does `process.env` occur at `at` where it can yield a credential: read whole (an env dump, a
 * child's environment, an alias whose fields are read later), by a computed key, or by a
 * credential name? `process.env.NODE_ENV` and the like cannot (readField gives them no taint).
 */
function readsEnvCredentialAt(source: string, at: number): boolean {
  // `typeof process.env` gives a type's name, whatever the environment holds (the walker takes
  // a unary operator's result as clean): Google's generated clients test it in every file.
  if (TYPEOF_BEFORE.test(source.slice(Math.max(0, at - 16), at))) return false;
  PROCESS_ENV.lastIndex = at;
  const match = PROCESS_ENV.exec(source);
  if (match === null) return false;
  ENV_FIELD.lastIndex = at + match[0].length;
  const field = ENV_FIELD.exec(source);
  const name = field?.[1] ?? field?.[3];
  return name === undefined || isCredentialName(name);
}

/**
 * Can this text hold a credential source at all? Each source the walker knows leaves text of its
 * own (JS_SOURCE_HINTS and the three closer checks); a token-format literal is checked by the
 * caller. `hits` are JS_EVIDENCE_WORDS' occurrences in `source`.
 */
export function hasSourceText(
  source: string,
  hits: WordHits = evidenceSearch().hits(source),
): boolean {
  let configParseTried = false;
  for (let hit = 0; hit < hits.length; hit += 2) {
    const word = hits[hit] as number;
    if (word >= FIRST_IMPORT) continue;
    const at = (hits[hit + 1] as number) - (JS_EVIDENCE_WORDS[word] as string).length;
    if (word < PROCESS && matchesAt(JS_SOURCE_HINTS, source, at)) return true;
    if (word === PROCESS && readsEnvCredentialAt(source, at)) return true;
    if (word === AUTH_INFO && matchesAt(AUTH_INFO_TOKEN, source, at)) return true;
    // The parse call comes before `readFile`, up to 2,000 characters back: searched once.
    if (word === READ_FILE && !configParseTried && source.startsWith("readFile", at)) {
      configParseTried = true;
      if (CONFIG_FILE_PARSE.test(source)) return true;
    }
  }
  return false;
}

/** Does a module's export carry a credential (directly, in a field, or as a function's return)? */
function carriesCredential(val: Val): boolean {
  if (isTainted(val) || (val.carries?.length ?? 0) > 0) return true;
  if (val.ref instanceof FnInfo) return isTainted(val.ref.ret);
  if (val.ref instanceof ClassInfo) return isTainted(val.ref.self);
  return false;
}

/** Does a module's export carry a credential into the files that import it? */
export function jsExportsCarry(exports: ReadonlyMap<string, Val>): boolean {
  for (const val of exports.values()) if (carriesCredential(val)) return true;
  return false;
}

/**
 * What decides whether a file is parsed at all (parsing is most of the cost: oxc hands the AST
 * over as JSON on Node 20): a source in its text (hasSourceText) or a token-format literal; else
 * its relative imports, whose exports may carry a credential. Flows into a file only through the
 * parameters of its exported functions are not followed anyway (see README.md). `hits` are
 * JS_EVIDENCE_WORDS' occurrences in `source`, when the caller's own pass found them.
 */
export function jsEvidence(
  source: string,
  hits: WordHits = evidenceSearch().hits(source),
): { evidence: true } | { evidence: false; imports: string[] } {
  if (hasSourceText(source, hits) || scanText(source).length > 0) return { evidence: true };
  const imports: string[] = [];
  // Matches do not overlap: a word inside the previous import is not read again.
  let after = 0;
  for (let hit = 0; hit < hits.length; hit += 2) {
    const word = hits[hit] as number;
    const at = (hits[hit + 1] as number) - (JS_EVIDENCE_WORDS[word] as string).length;
    if (word < FIRST_IMPORT || at < after) continue;
    RELATIVE_IMPORT.lastIndex = at;
    const match = RELATIVE_IMPORT.exec(source);
    if (match === null) continue;
    after = at + match[0].length;
    const spec = match[1] ?? match[2];
    if (spec) imports.push(spec);
  }
  return { evidence: false, imports: ownStrings(imports) };
}

export class JsFlow {
  /** Built on first use: most files are never parsed, and these cost a pass over the text each. */
  private lineIndex: LineIndex | undefined;
  private spans: Array<{ start: number; end: number; ruleId: string }> | undefined;
  private readonly fns = new Map<Node, FnInfo>();
  private readonly classes = new Map<Node, ClassInfo>();
  private findings = new Map<string, Finding>();
  /** this round's value of each evaluated expression, for pinpointing */
  private values = new Map<Node, Val>();
  private exports = new Map<string, Val>();
  private credentialSends: Array<{ location: Location; taints: Taint[] }> = [];
  private tlsOff: Array<{ location: Location; what: string }> = [];
  /** open try blocks: credentials handed to HTTP clients whose errors carry them */
  private tryFrames: Taint[][] = [];
  /** modules whose default client was given a credential (axios.defaults.headers…) */
  private credentialedModules = new Map<string, Taint[]>();
  private changed = false;

  constructor(
    private readonly path: string,
    private readonly source: string,
    private readonly linker?: ModuleLinker,
  ) {}

  private get lines(): LineIndex {
    this.lineIndex ??= new LineIndex(this.source);
    return this.lineIndex;
  }

  private get tokenSpans(): Array<{ start: number; end: number; ruleId: string }> {
    this.spans ??= scanText(this.source).map((m) => ({
      start: m.start,
      end: m.end,
      ruleId: m.ruleId,
    }));
    return this.spans;
  }

  /** Parses and walks the file; the session (index.ts) decides whether a file is worth it. */
  run(): ModuleResult {
    if (parseProgram === undefined) throw new Error("loadJsParser() was not awaited");
    const program = parseProgram(this.path, this.source, {
      lang: langOf(this.path),
      sourceType: "unambiguous",
      preserveParens: false,
      // The ESTree shape without type annotations is half the size to hand over (see run's
      // docs); the only TS-only node the analysis reads that it drops is a constructor's
      // parameter property (`constructor(private token: string)`).
      astType: PARAMETER_PROPERTY.test(this.source) ? "ts" : "js",
    });
    // Rounds until nothing read in a round changed after it was read: what functions take and
    // return and what classes hold persist across rounds, and a round in which every read saw
    // its final value is the fixpoint (another would read and report the same). Changes nobody
    // had read yet (most first-round returns) need no new round: that halves the rounds run.
    for (let round = 0; round < MAX_ROUNDS; round++) {
      this.changed = false;
      for (const info of this.fns.values()) {
        info.bodyRan = false;
        info.retRead = false;
      }
      for (const cls of this.classes.values()) cls.read.clear();
      this.findings = new Map();
      this.values = new Map();
      this.exports = new Map();
      this.credentialSends = [];
      this.tlsOff = [];
      this.credentialedModules = new Map();
      const frame = new Frame();
      const scope = new Scope(undefined, frame);
      this.block(children(program, "body"), scope);
      this.finishFrame(frame);
      if (!this.changed) break;
    }
    this.reportTlsOff();
    // Exported functions and classes outlive the file's analysis in its exports, and their nodes
    // would keep every function body of the AST alive until the audit ends (two thirds of the
    // objects the flow pass held on node_modules). A caller in an importing file reads a
    // function's parameters only (callLocal): keep those.
    for (const info of this.fns.values()) {
      const { type, start, end } = info.node;
      info.node = { type, start, end, params: info.node.params };
    }
    return { findings: [...this.findings.values()], exports: this.exports };
  }

  // -------------------------------------------------------------------------------------------
  // Locations and reporting

  private loc(node: Node): Location {
    const { line, column } = this.lines.locate(node.start);
    return { path: this.path, line, column };
  }

  private step(node: Node, note: string): Step {
    return { location: this.loc(node), note };
  }

  private report(hit: SinkHit): void {
    if (hit.taints.length === 0) return;
    const key = `${hit.rule}:${hit.location.line}:${hit.location.column}`;
    if (!this.findings.has(key)) this.findings.set(key, flowFinding(hit));
  }

  /**
   * Reports what of `val` reaches a sink: the whole environment becomes an env-dump finding, an
   * HTTP client error (where accepted) a finding about the headers it carries.
   */
  private sink(
    rule: FlowRuleId,
    sinkName: string,
    node: Node,
    val: Val,
    accept: { env?: boolean; httpError?: boolean } = {},
  ): void {
    const taints = allTaints(val);
    const location = this.loc(node);
    const env = taints.filter((t) => t.kind === "env");
    if (accept.env && env.length > 0) {
      this.report({ rule: "flow/env-dump", sink: sinkName, location, taints: env });
    }
    const secrets = taints.filter((t) => t.kind === "secret");
    if (secrets.length > 0) this.report({ rule, sink: sinkName, location, taints: secrets });
    const errors = taints.filter((t) => t.kind === "httpError");
    if (accept.httpError && errors.length > 0 && secrets.length === 0) {
      this.report({
        rule,
        sink: sinkName,
        location,
        taints: errors,
        why: "Errors from axios and got carry the request configuration, Authorization header included, so printing or returning the whole error object prints the credential.",
        fix: "Log or return err.message and the status code only, or use a serializer that drops config and request headers.",
      });
    }
  }

  private reportTlsOff(): void {
    const send = this.credentialSends[0];
    if (!send) return;
    for (const site of this.tlsOff) {
      this.report({
        rule: "flow/tls-off",
        sink: site.what,
        location: site.location,
        taints: send.taints,
        phrase: `is sent by code in this file while ${site.what} turns TLS certificate verification off`,
        via: [{ location: send.location, note: "credential sent in an HTTP request" }],
      });
    }
  }

  // -------------------------------------------------------------------------------------------
  // Functions and summaries

  private fnInfo(node: Node, name: string, cls?: ClassInfo): FnInfo {
    let info = this.fns.get(node);
    if (!info) {
      info = new FnInfo(node, name, cls);
      this.fns.set(node, info);
    }
    return info;
  }

  private joinParam(info: FnInfo, index: number, val: Val): void {
    const old = info.params[index] ?? CLEAN;
    const next = join(old, val);
    if (signature(next) !== signature(old)) {
      info.params[index] = next;
      if (info.bodyRan) this.changed = true;
    }
  }

  private joinReturn(info: FnInfo, val: Val): void {
    const next = join(info.ret, val);
    if (signature(next) !== signature(info.ret)) {
      info.ret = {
        ...next,
        tag: val.tag ?? info.ret.tag,
        ref: val.ref ?? info.ret.ref,
        carries: val.carries ?? info.ret.carries,
      };
      if (info.retRead) this.changed = true;
    }
  }

  private setRole(info: FnInfo, role: { kind: string; name: string }): void {
    if (info.role) return;
    info.role = role;
    if (info.bodyRan) this.changed = true;
  }

  private functionVal(node: Node, scope: Scope, name: string, cls?: ClassInfo): Val {
    const info = this.fnInfo(node, name, cls);
    scope.frame.queue.push({ info, closure: scope });
    return { taints: [], ref: info };
  }

  private finishFrame(frame: Frame): void {
    for (let i = 0; i < frame.queue.length; i++) {
      const item = frame.queue[i];
      if (item) this.runFunction(item.info, item.closure);
    }
    for (const pending of frame.pendingWrites) {
      if (!frame.privatePaths.has(pending.path)) this.report(pending.hit);
    }
  }

  private runFunction(info: FnInfo, closure: Scope): void {
    info.bodyRan = true;
    const frame = new Frame(info);
    const scope = new Scope(closure, frame);
    if (info.cls) scope.vars.set("this", { taints: [], ref: info.cls });
    children(info.node, "params").forEach((param, index) => {
      this.bindParam(param, info.params[index] ?? CLEAN, scope, info);
    });
    const body = child(info.node, "body");
    if (body?.type === "BlockStatement") this.block(children(body, "body"), scope);
    else if (body) this.returnValue(body, this.expr(body, scope), info);
    this.finishFrame(frame);
  }

  private bindParam(param: Node, val: Val, scope: Scope, info: FnInfo): void {
    if (param.type === "TSParameterProperty") {
      const inner = child(param, "parameter");
      if (inner) this.bindParam(inner, val, scope, info);
      const name = inner && this.patternName(inner);
      if (name && info.cls) this.setClassField(info.cls, name, val);
      return;
    }
    this.bind(param, val, scope, "declare");
  }

  private patternName(node: Node): string | undefined {
    if (node.type === "Identifier") return text(node, "name");
    if (node.type === "AssignmentPattern") {
      const left = child(node, "left");
      return left ? this.patternName(left) : undefined;
    }
    return undefined;
  }

  private returnValue(node: Node, val: Val, info: FnInfo | undefined): void {
    if (!info) return;
    this.joinReturn(info, val);
    if (info.role) {
      this.sink(
        "flow/tool-result",
        `the result of ${info.role.kind} "${info.role.name}"`,
        this.pinpoint(node),
        val,
        {
          env: true,
          httpError: true,
        },
      );
    }
  }

  private setClassField(cls: ClassInfo, name: string, val: Val): void {
    const old = cls.self.fields?.get(name) ?? CLEAN;
    const next = join(old, val);
    if (signature(next) !== signature(old) || (val.ref && !old.ref)) {
      cls.self.fields?.set(name, next);
      if (cls.read.has(name)) this.changed = true;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  private block(statements: readonly Node[], scope: Scope): void {
    for (const statement of statements) this.hoist(statement, scope);
    for (const statement of statements) this.statement(statement, scope);
  }

  /** Function declarations are callable before their line. */
  private hoist(statement: Node, scope: Scope): void {
    const decl =
      statement.type === "ExportNamedDeclaration" || statement.type === "ExportDefaultDeclaration"
        ? child(statement, "declaration")
        : statement;
    if (decl?.type !== "FunctionDeclaration") return;
    const name = text(child(decl, "id") ?? decl, "name") ?? "default";
    scope.vars.set(name, { taints: [], ref: this.fnInfo(decl, name) });
  }

  private statement(node: Node, scope: Scope): void {
    switch (node.type) {
      case "VariableDeclaration":
        for (const decl of children(node, "declarations")) {
          const init = child(decl, "init");
          const id = child(decl, "id");
          const val = init ? this.expr(init, scope) : CLEAN;
          if (id) this.bind(id, val, scope, "declare");
        }
        return;
      case "FunctionDeclaration": {
        const name = text(child(node, "id") ?? node, "name") ?? "default";
        const val = this.functionVal(node, scope, name);
        scope.vars.set(name, val);
        return;
      }
      case "ClassDeclaration": {
        const val = this.classVal(node, scope);
        const name = text(child(node, "id") ?? node, "name");
        if (name) scope.vars.set(name, val);
        return;
      }
      case "ExpressionStatement": {
        const expression = child(node, "expression");
        if (expression) this.expr(expression, scope);
        return;
      }
      case "ReturnStatement": {
        const argument = child(node, "argument");
        if (argument) this.returnValue(argument, this.expr(argument, scope), scope.frame.info);
        return;
      }
      case "ThrowStatement": {
        const argument = child(node, "argument");
        if (!argument) return;
        const val = this.expr(argument, scope);
        if (argument.type !== "NewExpression" && argument.type !== "CallExpression") {
          this.sink("flow/error-message", "a thrown value", argument, val, { env: true });
        }
        return;
      }
      case "BlockStatement":
      case "StaticBlock":
        this.block(children(node, "body"), new Scope(scope, scope.frame));
        return;
      case "IfStatement":
        this.exprOf(node, "test", scope);
        this.nested(child(node, "consequent"), scope);
        this.nested(child(node, "alternate"), scope);
        return;
      case "ForStatement": {
        const inner = new Scope(scope, scope.frame);
        const init = child(node, "init");
        if (init) {
          if (init.type === "VariableDeclaration") this.statement(init, inner);
          else this.expr(init, inner);
        }
        this.exprOf(node, "test", inner);
        this.exprOf(node, "update", inner);
        this.nested(child(node, "body"), inner);
        return;
      }
      case "ForOfStatement":
      case "ForInStatement": {
        const inner = new Scope(scope, scope.frame);
        const right = this.exprOf(node, "right", scope);
        const element =
          node.type === "ForInStatement" ? CLEAN : readField(right, "0", this.fieldCtx(node));
        const left = child(node, "left");
        if (left?.type === "VariableDeclaration") {
          const id = child(children(left, "declarations")[0] ?? left, "id");
          if (id) this.bind(id, element, inner, "declare");
        } else if (left) this.bind(left, element, inner, "assign");
        this.nested(child(node, "body"), inner);
        return;
      }
      case "WhileStatement":
      case "DoWhileStatement":
        this.exprOf(node, "test", scope);
        this.nested(child(node, "body"), scope);
        return;
      case "LabeledStatement":
        this.nested(child(node, "body"), scope);
        return;
      case "SwitchStatement": {
        this.exprOf(node, "discriminant", scope);
        const inner = new Scope(scope, scope.frame);
        for (const kase of children(node, "cases")) {
          this.exprOf(kase, "test", inner);
          this.block(children(kase, "consequent"), inner);
        }
        return;
      }
      case "TryStatement":
        this.tryStatement(node, scope);
        return;
      case "ImportDeclaration":
        this.importDeclaration(node, scope);
        return;
      case "ExportNamedDeclaration":
        this.exportNamed(node, scope);
        return;
      case "ExportDefaultDeclaration": {
        const decl = child(node, "declaration");
        if (!decl) return;
        let val: Val;
        if (decl.type === "FunctionDeclaration") {
          val = this.functionVal(decl, scope, text(child(decl, "id") ?? decl, "name") ?? "default");
        } else if (decl.type === "ClassDeclaration") val = this.classVal(decl, scope);
        else val = this.expr(decl, scope);
        this.exports.set("default", val);
        return;
      }
      case "TSExportAssignment":
        this.exports.set("default", this.exprOf(node, "expression", scope));
        return;
      default:
        return;
    }
  }

  private nested(node: Node | undefined, scope: Scope): void {
    if (!node) return;
    if (node.type === "BlockStatement")
      this.block(children(node, "body"), new Scope(scope, scope.frame));
    else this.statement(node, new Scope(scope, scope.frame));
  }

  private tryStatement(node: Node, scope: Scope): void {
    this.tryFrames.push([]);
    this.nested(child(node, "block"), scope);
    const sent = this.tryFrames.pop() ?? [];
    const handler = child(node, "handler");
    if (handler) {
      const inner = new Scope(scope, scope.frame);
      const param = child(handler, "param");
      if (param) this.bind(param, this.httpErrorVal(sent, handler), inner, "declare");
      this.nested(child(handler, "body"), inner);
    }
    this.nested(child(node, "finalizer"), scope);
  }

  private httpErrorVal(sent: Taint[], node: Node): Val {
    if (sent.length === 0) return CLEAN;
    const step = this.step(node, "caught an HTTP client error that carries the request headers");
    return {
      taints: sent.map((t) => ({ ...t, kind: "httpError" as const, steps: [...t.steps, step] })),
    };
  }

  private recordHttpSend(taints: Taint[], carriesRequest: boolean): void {
    if (!carriesRequest) return;
    const frame = this.tryFrames[this.tryFrames.length - 1];
    if (!frame) return;
    for (const taint of taints) if (!frame.some((t) => sameTaint(t, taint))) frame.push(taint);
  }

  private importDeclaration(node: Node, scope: Scope): void {
    const spec = text(child(node, "source") ?? node, "value");
    if (!spec) return;
    const local = spec.startsWith(".") ? this.linker?.importModule(this.path, spec) : undefined;
    const module = normaliseModule(spec);
    for (const specifier of children(node, "specifiers")) {
      const name = text(child(specifier, "local") ?? specifier, "name");
      if (!name) continue;
      let val: Val;
      if (specifier.type === "ImportSpecifier") {
        const imported = child(specifier, "imported");
        const importedName =
          (imported && (text(imported, "name") ?? text(imported, "value"))) ?? name;
        val = local
          ? (local.get(importedName) ?? CLEAN)
          : { taints: [], tag: "module", ref: `${module}.${importedName}` };
      } else if (specifier.type === "ImportDefaultSpecifier") {
        val = local ? (local.get("default") ?? CLEAN) : { taints: [], tag: "module", ref: module };
      } else {
        val = local
          ? { taints: [], fields: new Map(local) }
          : { taints: [], tag: "module", ref: module };
      }
      if (local) val = withStep(val, this.step(specifier, `imported as \`${name}\` from ${spec}`));
      scope.vars.set(name, val);
    }
  }

  private exportNamed(node: Node, scope: Scope): void {
    const decl = child(node, "declaration");
    if (decl) {
      this.statement(decl, scope);
      const names: string[] = [];
      if (decl.type === "VariableDeclaration") {
        for (const d of children(decl, "declarations")) {
          const id = child(d, "id");
          if (id) this.collectNames(id, names);
        }
      } else {
        const name = text(child(decl, "id") ?? decl, "name");
        if (name) names.push(name);
      }
      for (const name of names) this.exports.set(name, scope.lookup(name) ?? CLEAN);
      return;
    }
    if (child(node, "source")) return;
    for (const specifier of children(node, "specifiers")) {
      const local = child(specifier, "local");
      const exported = child(specifier, "exported");
      const localName = local && (text(local, "name") ?? text(local, "value"));
      const exportedName = exported && (text(exported, "name") ?? text(exported, "value"));
      if (localName && exportedName)
        this.exports.set(exportedName, scope.lookup(localName) ?? CLEAN);
    }
  }

  private collectNames(pattern: Node, out: string[]): void {
    switch (pattern.type) {
      case "Identifier": {
        const name = text(pattern, "name");
        if (name) out.push(name);
        return;
      }
      case "ObjectPattern":
        for (const property of children(pattern, "properties")) {
          const value = child(property, "value") ?? child(property, "argument");
          if (value) this.collectNames(value, out);
        }
        return;
      case "ArrayPattern":
        for (const element of children(pattern, "elements")) this.collectNames(element, out);
        return;
      case "AssignmentPattern": {
        const left = child(pattern, "left");
        if (left) this.collectNames(left, out);
        return;
      }
      case "RestElement": {
        const argument = child(pattern, "argument");
        if (argument) this.collectNames(argument, out);
        return;
      }
    }
  }

  private classVal(node: Node, scope: Scope): Val {
    let cls = this.classes.get(node);
    const name = text(child(node, "id") ?? node, "name") ?? "class";
    if (!cls) {
      cls = new ClassInfo(name);
      this.classes.set(node, cls);
    }
    const superClass = child(node, "superClass");
    if (superClass) this.expr(superClass, scope);
    const inner = new Scope(scope, scope.frame);
    inner.vars.set("this", { taints: [], ref: cls });
    for (const member of children(child(node, "body") ?? node, "body")) {
      const key = child(member, "key");
      const memberName = key ? (text(key, "name") ?? text(key, "value")) : undefined;
      if (member.type === "MethodDefinition") {
        const fn = child(member, "value");
        if (!fn || !memberName) continue;
        const info = this.fnInfo(fn, `${name}.${memberName}`, cls);
        if (cls.read.has(memberName) && !cls.methods.has(memberName)) this.changed = true;
        cls.methods.set(memberName, info);
        scope.frame.queue.push({ info, closure: inner });
      } else if (member.type === "PropertyDefinition" && memberName) {
        const value = child(member, "value");
        if (value) this.setClassField(cls, memberName, this.expr(value, inner));
      }
    }
    return { taints: [], ref: cls };
  }

  // -------------------------------------------------------------------------------------------
  // Binding

  private bind(pattern: Node, val: Val, scope: Scope, mode: "declare" | "assign"): void {
    switch (pattern.type) {
      case "Identifier": {
        const name = text(pattern, "name");
        if (!name) return;
        const bound = isTainted(val)
          ? withStep(val, this.step(pattern, `assigned to \`${name}\``))
          : val;
        if (mode === "declare") scope.vars.set(name, bound);
        else scope.assign(name, bound);
        return;
      }
      case "ObjectPattern":
        for (const property of children(pattern, "properties")) {
          if (property.type === "RestElement") {
            const argument = child(property, "argument");
            if (argument) this.bind(argument, val, scope, mode);
            continue;
          }
          const key = child(property, "key");
          const value = child(property, "value");
          const name = key && this.keyName(key, property, scope);
          if (!value) continue;
          if (val.tag === "module" && typeof val.ref === "string" && name !== undefined) {
            this.bind(value, { taints: [], tag: "module", ref: `${val.ref}.${name}` }, scope, mode);
            continue;
          }
          this.bind(
            value,
            name === undefined ? flatten(val) : readField(val, name, this.fieldCtx(property)),
            scope,
            mode,
          );
        }
        return;
      case "ArrayPattern":
        children(pattern, "elements").forEach((element, index) => {
          this.bind(element, readField(val, String(index), this.fieldCtx(element)), scope, mode);
        });
        return;
      case "AssignmentPattern": {
        const left = child(pattern, "left");
        const right = child(pattern, "right");
        if (left) this.bind(left, right ? join(val, this.expr(right, scope)) : val, scope, mode);
        return;
      }
      case "RestElement": {
        const argument = child(pattern, "argument");
        if (argument) this.bind(argument, val, scope, mode);
        return;
      }
      case "MemberExpression":
        this.assignMember(pattern, val, scope);
        return;
      case "TSAsExpression":
      case "TSNonNullExpression":
      case "TSSatisfiesExpression":
      case "TSTypeAssertion": {
        const inner = child(pattern, "expression");
        if (inner) this.bind(inner, val, scope, mode);
        return;
      }
    }
  }

  private keyName(key: Node, property: Node, scope: Scope): string | undefined {
    if (property.computed === true) {
      if (key.type === "Literal" && typeof key.value === "string") return key.value;
      this.expr(key, scope);
      return undefined;
    }
    return (
      text(key, "name") ??
      (typeof key.value === "string" || typeof key.value === "number"
        ? String(key.value)
        : undefined)
    );
  }

  private memberName(node: Node, scope: Scope): string | undefined {
    const property = child(node, "property");
    if (!property) return undefined;
    if (node.computed === true) {
      if (
        property.type === "Literal" &&
        (typeof property.value === "string" || typeof property.value === "number")
      )
        return String(property.value);
      if (property.type === "TemplateLiteral" && children(property, "expressions").length === 0)
        return this.templateText(property);
      this.expr(property, scope);
      return undefined;
    }
    return text(property, "name");
  }

  private assignMember(node: Node, val: Val, scope: Scope): void {
    const object = child(node, "object");
    const name = this.memberName(node, scope);
    if (!object) return;
    const path = this.memberPath(node, scope);
    if (path === "process.env.NODE_TLS_REJECT_UNAUTHORIZED" || name === "rejectUnauthorized") {
      this.tlsOff.push({ location: this.loc(node), what: path ?? "rejectUnauthorized" });
    }
    if (path === "module.exports" || path === "exports") {
      for (const [key, field] of val.fields ?? []) this.exports.set(key, field);
      this.exports.set("default", val);
      return;
    }
    if (path?.startsWith("module.exports.") || path?.startsWith("exports.")) {
      if (name) this.exports.set(name, val);
      return;
    }
    const root = path?.split(".")[0];
    if (root && /^(axios|got)$/.test(root) && isTainted(val)) {
      this.credentialedModules.set(
        root,
        allTaints(val).filter((t) => t.kind === "secret"),
      );
    }
    if (object.type === "ThisExpression") {
      const self = scope.lookup("this");
      if (self?.ref instanceof ClassInfo && name) this.setClassField(self.ref, name, val);
      return;
    }
    if (object.type === "Identifier" && name !== undefined) {
      const varName = text(object, "name");
      const old = varName ? scope.lookup(varName) : undefined;
      if (varName && old !== undefined) {
        const fields = new Map(old.fields ?? []);
        fields.set(name, val);
        scope.assign(varName, { ...old, fields });
      }
      return;
    }
    this.expr(object, scope);
  }

  private fieldCtx(node: Node): FieldReadContext {
    return { location: this.loc(node), envName: "process.env", httpErrorFields: HTTP_ERROR_FIELDS };
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  private exprOf(node: Node, key: string, scope: Scope): Val {
    const inner = child(node, key);
    return inner ? this.expr(inner, scope) : CLEAN;
  }

  private expr(node: Node, scope: Scope): Val {
    const val = this.evaluate(node, scope);
    if (val.taints.length > 0 || val.fields !== undefined) this.values.set(node, val);
    return val;
  }

  /** The part of a returned literal that carries the credential, so the finding points at it. */
  private pinpoint(node: Node): Node {
    const leaks = (n: Node | undefined): boolean =>
      n !== undefined && allTaints(this.values.get(n) ?? CLEAN).some((t) => t.kind !== "carrier");
    if (node.type === "ObjectExpression") {
      for (const property of children(node, "properties")) {
        const value = child(property, property.type === "SpreadElement" ? "argument" : "value");
        if (value && leaks(value)) return this.pinpoint(value);
      }
    } else if (node.type === "ArrayExpression") {
      const element = children(node, "elements").find((e) => leaks(e));
      if (element) return this.pinpoint(element);
    } else if (
      /^(TSAsExpression|TSSatisfiesExpression|ParenthesizedExpression|AwaitExpression)$/.test(
        node.type,
      )
    ) {
      const inner = child(node, "expression") ?? child(node, "argument");
      if (inner) return this.pinpoint(inner);
    }
    return node;
  }

  private evaluate(node: Node, scope: Scope): Val {
    switch (node.type) {
      case "Identifier": {
        const name = text(node, "name");
        return (name && scope.lookup(name)) || CLEAN;
      }
      case "ThisExpression":
        return scope.lookup("this") ?? CLEAN;
      case "Literal":
        return typeof node.value === "string" ? this.literal(node) : CLEAN;
      case "TemplateLiteral":
        return this.template(node, scope);
      case "TaggedTemplateExpression": {
        const quasi = child(node, "quasi");
        const tag = this.exprOf(node, "tag", scope);
        const val = quasi ? this.template(quasi, scope) : CLEAN;
        if (tag.tag === "module" && tag.ref === "zx.$")
          this.sink("flow/shell", "zx $`…`", node, val);
        return val;
      }
      case "BinaryExpression": {
        const left = this.exprOf(node, "left", scope);
        const right = this.exprOf(node, "right", scope);
        if (node.operator !== "+") return CLEAN;
        this.checkConcatQuery(node, scope);
        return this.stringOf(join(left, right));
      }
      case "LogicalExpression":
        return join(this.exprOf(node, "left", scope), this.exprOf(node, "right", scope));
      case "ConditionalExpression":
        this.exprOf(node, "test", scope);
        return join(this.exprOf(node, "consequent", scope), this.exprOf(node, "alternate", scope));
      case "UnaryExpression":
      case "UpdateExpression":
        this.exprOf(node, "argument", scope);
        return CLEAN;
      case "AssignmentExpression":
        return this.assignment(node, scope);
      case "SequenceExpression": {
        let last: Val = CLEAN;
        for (const expression of children(node, "expressions")) last = this.expr(expression, scope);
        return last;
      }
      case "MemberExpression":
        return this.member(node, scope);
      case "ChainExpression":
      case "ParenthesizedExpression":
      case "TSAsExpression":
      case "TSSatisfiesExpression":
      case "TSNonNullExpression":
      case "TSTypeAssertion":
      case "TSInstantiationExpression":
      case "AwaitExpression":
        return this.exprOf(
          node,
          node.type === "AwaitExpression" ? "argument" : "expression",
          scope,
        );
      case "YieldExpression":
        return this.exprOf(node, "argument", scope);
      case "CallExpression":
        return this.call(node, scope);
      case "NewExpression":
        return this.newExpr(node, scope);
      case "ObjectExpression":
        return this.object(node, scope);
      case "ArrayExpression": {
        let val: Val = CLEAN;
        for (const element of children(node, "elements")) {
          const inner =
            element.type === "SpreadElement"
              ? this.exprOf(element, "argument", scope)
              : this.expr(element, scope);
          val = join(val, flatten(inner));
        }
        return val;
      }
      case "ArrowFunctionExpression":
      case "FunctionExpression":
        return this.functionVal(
          node,
          scope,
          text(child(node, "id") ?? node, "name") ?? "anonymous function",
        );
      case "ClassExpression":
        return this.classVal(node, scope);
      default:
        return CLEAN;
    }
  }

  private literal(node: Node): Val {
    const span = this.tokenSpans.find((s) => s.start >= node.start && s.end <= node.end);
    if (!span) return CLEAN;
    const label = `a ${span.ruleId} literal`;
    return {
      taints: [
        { kind: "secret", label, steps: [this.step(node, `${label} (token format matched)`)] },
      ],
    };
  }

  private templateText(node: Node): string {
    return children(node, "quasis")
      .map((q) => {
        const value = q.value as { cooked?: string | null; raw?: string } | undefined;
        return value?.cooked ?? value?.raw ?? "";
      })
      .join("");
  }

  /** A template: string-only taint (objects print as [object Object], errors as their message). */
  private template(node: Node, scope: Scope): Val {
    const quasis = children(node, "quasis");
    let prefix = "";
    let val: Val = CLEAN;
    const literalTaint = this.literal(node);
    children(node, "expressions").forEach((expression, index) => {
      const quasi = quasis[index];
      const value = quasi?.value as { cooked?: string | null; raw?: string } | undefined;
      prefix += value?.cooked ?? value?.raw ?? "";
      const part = this.stringOf(this.expr(expression, scope));
      if (isTainted(part) && endsInQueryParam(prefix)) {
        this.sink("flow/url-query", "a URL query string", expression, part);
      }
      prefix += "\u0000";
      val = join(val, part);
    });
    return join(val, literalTaint);
  }

  /** What a value contributes when turned into a string. */
  private stringOf(val: Val): Val {
    return filterTaints(flatten(val), (t) => t.kind === "secret");
  }

  private checkConcatQuery(node: Node, scope: Scope): void {
    const parts: Node[] = [];
    const collect = (n: Node): void => {
      if (n.type === "BinaryExpression" && n.operator === "+") {
        const left = child(n, "left");
        const right = child(n, "right");
        if (left) collect(left);
        if (right) collect(right);
      } else parts.push(n);
    };
    collect(node);
    const last = parts[parts.length - 1];
    if (!last || last.type === "Literal" || last.type === "TemplateLiteral") return;
    let prefix = "";
    for (const part of parts.slice(0, -1)) {
      if (part.type === "Literal" && typeof part.value === "string") prefix += part.value;
      else if (part.type === "TemplateLiteral") prefix += this.templateText(part);
      else prefix += "\u0000";
    }
    if (!endsInQueryParam(prefix)) return;
    const val = this.stringOf(this.expr(last, scope));
    if (isTainted(val)) this.sink("flow/url-query", "a URL query string", last, val);
  }

  private assignment(node: Node, scope: Scope): Val {
    const left = child(node, "left");
    const right = this.exprOf(node, "right", scope);
    if (!left) return right;
    const rightNode = child(node, "right");
    if (
      left.type === "MemberExpression" &&
      rightNode?.type === "Literal" &&
      rightNode.value === false
    ) {
      if (this.memberName(left, scope) === "rejectUnauthorized") {
        this.tlsOff.push({ location: this.loc(node), what: "rejectUnauthorized = false" });
        return right;
      }
    }
    if (
      left.type === "MemberExpression" &&
      this.memberPath(left, scope) === "process.env.NODE_TLS_REJECT_UNAUTHORIZED"
    ) {
      if (rightNode?.type === "Literal" && String(rightNode.value) === "0") {
        this.tlsOff.push({ location: this.loc(node), what: "NODE_TLS_REJECT_UNAUTHORIZED=0" });
      }
      return right;
    }
    const val = node.operator === "=" ? right : join(this.expr(left, scope), this.stringOf(right));
    if (left.type === "MemberExpression") this.assignMember(left, val, scope);
    else this.bind(left, val, scope, "assign");
    return val;
  }

  /** Dotted name of a member chain with imports resolved: `cp.exec` → `child_process.exec`. */
  private memberPath(node: Node, scope: Scope): string | undefined {
    switch (node.type) {
      case "Identifier": {
        const name = text(node, "name");
        if (!name) return undefined;
        const val = scope.lookup(name);
        if (val?.tag === "module" && typeof val.ref === "string") return val.ref;
        return name;
      }
      case "ThisExpression":
        return "this";
      case "MemberExpression": {
        const object = child(node, "object");
        const property = child(node, "property");
        if (!object || !property) return undefined;
        const base = this.memberPath(object, scope);
        let name: string | undefined;
        if (node.computed === true) {
          if (property.type === "Literal" && typeof property.value === "string")
            name = property.value;
        } else name = text(property, "name");
        return base !== undefined && name !== undefined ? `${base}.${name}` : undefined;
      }
      case "CallExpression": {
        const callee = child(node, "callee");
        const base = callee && this.memberPath(callee, scope);
        return base === undefined ? undefined : `${base}()`;
      }
      case "ChainExpression":
      case "TSNonNullExpression":
      case "TSAsExpression": {
        const inner = child(node, "expression");
        return inner ? this.memberPath(inner, scope) : undefined;
      }
      default:
        return undefined;
    }
  }

  private member(node: Node, scope: Scope): Val {
    const path = this.memberPath(node, scope);
    if (path === "process.env") {
      return {
        taints: [
          { kind: "env", label: "process.env", steps: [this.step(node, "the whole process.env")] },
        ],
      };
    }
    const inbound = this.inboundMember(node, path, scope);
    if (inbound) return inbound;
    const object = this.exprOf(node, "object", scope);
    const name = this.memberName(node, scope);
    if (name === "length") return CLEAN;
    if (name === undefined) {
      return filterTaints(flatten(object), (t) => t.kind === "secret");
    }
    if (object.ref instanceof ClassInfo) {
      const method = object.ref.method(name);
      if (method) return { taints: [], ref: method };
      return object.ref.self.fields?.get(name) ?? CLEAN;
    }
    if (object.tag === "module" && typeof object.ref === "string") {
      return { taints: [], tag: "module", ref: `${object.ref}.${name}` };
    }
    const val = readField(object, name, this.fieldCtx(node));
    if (object.tag === "errorClient" || object.tag === "client")
      return { ...val, tag: object.tag, carries: object.carries };
    return val;
  }

  /** `req.headers.authorization`, `headers["x-api-key"]`, `extra.authInfo.token`: the client's own token. */
  private inboundMember(node: Node, path: string | undefined, scope: Scope): Val | undefined {
    if (!path) return undefined;
    const name = this.memberName(node, scope);
    if (name === undefined) return undefined;
    const base = path.slice(0, -(name.length + 1));
    let label: string | undefined;
    if (/(^|\.)headers$/i.test(base) && isCredentialHeader(name) && this.looksInbound(base)) {
      label = `the inbound ${name} header (${path})`;
    } else if (/(^|\.)authInfo$/.test(base) && name === "token") {
      label = `the client's access token (${path})`;
    }
    if (!label) return undefined;
    return {
      taints: [{ kind: "secret", label, inbound: true, steps: [this.step(node, `read ${label}`)] }],
    };
  }

  private looksInbound(base: string): boolean {
    return /(^|\.)(req|request|ctx|c|context|extra|event|incoming|requestInfo|raw)(\.|$)/i.test(
      base,
    );
  }

  private object(node: Node, scope: Scope): Val {
    let whole: Taint[] = [];
    const fields = new Map<string, Val>();
    let extra: Val = { taints: [] };
    for (const property of children(node, "properties")) {
      if (property.type === "SpreadElement") {
        const spread = this.exprOf(property, "argument", scope);
        whole = [...whole, ...spread.taints];
        for (const [key, val] of spread.fields ?? []) fields.set(key, val);
        continue;
      }
      const key = child(property, "key");
      const valueNode = child(property, "value");
      const name = key && this.keyName(key, property, scope);
      if (!valueNode) continue;
      const val =
        property.method === true || property.kind === "get" || property.kind === "set"
          ? this.functionVal(valueNode, scope, name ?? "method")
          : this.expr(valueNode, scope);
      if (
        name === "rejectUnauthorized" &&
        valueNode.type === "Literal" &&
        valueNode.value === false
      ) {
        this.tlsOff.push({ location: this.loc(property), what: "rejectUnauthorized: false" });
      }
      if (name === "strictSSL" && valueNode.type === "Literal" && valueNode.value === false) {
        this.tlsOff.push({ location: this.loc(property), what: "strictSSL: false" });
      }
      if (name === undefined) extra = join(extra, flatten(val));
      else fields.set(name, val);
    }
    return join({ taints: whole, fields }, extra);
  }

  // -------------------------------------------------------------------------------------------
  // Calls

  private args(node: Node, scope: Scope): { nodes: Node[]; vals: Val[] } {
    const nodes = children(node, "arguments").map((arg) =>
      arg.type === "SpreadElement" ? (child(arg, "argument") ?? arg) : arg,
    );
    return { nodes, vals: nodes.map((arg) => this.expr(arg, scope)) };
  }

  private call(node: Node, scope: Scope): Val {
    const calleeNode = child(node, "callee");
    if (!calleeNode) return CLEAN;
    const callee =
      calleeNode.type === "ChainExpression" || calleeNode.type === "TSNonNullExpression"
        ? (child(calleeNode, "expression") ?? calleeNode)
        : calleeNode;
    const isMember = callee.type === "MemberExpression";
    const method = isMember ? this.memberName(callee, scope) : text(callee, "name");
    const receiverNode = isMember ? child(callee, "object") : undefined;

    // A promise's rejection handler: `.catch(err => …)` on a call that sent a credential.
    this.tryFrames.push([]);
    const receiver = receiverNode ? this.expr(receiverNode, scope) : CLEAN;
    const sentInReceiver = this.tryFrames.pop() ?? [];
    const parent = this.tryFrames[this.tryFrames.length - 1];
    if (parent)
      for (const t of sentInReceiver) if (!parent.some((p) => sameTaint(p, t))) parent.push(t);

    const calleeVal = isMember ? CLEAN : this.expr(callee, scope);
    const { nodes: argNodes, vals: args } = this.args(node, scope);
    const path = this.memberPath(callee, scope) ?? method ?? "";
    const full =
      calleeVal.tag === "module" && typeof calleeVal.ref === "string" ? calleeVal.ref : path;

    if (method === "catch" || method === "then") {
      const handler = args[method === "then" ? 1 : 0];
      if (handler?.ref instanceof FnInfo)
        this.joinParam(handler.ref, 0, this.httpErrorVal(sentInReceiver, node));
      const onFulfilled = method === "then" ? args[0] : undefined;
      if (onFulfilled?.ref instanceof FnInfo) this.joinParam(onFulfilled.ref, 0, receiver);
      return CLEAN;
    }
    if (
      full === "require" &&
      argNodes[0]?.type === "Literal" &&
      typeof argNodes[0].value === "string"
    ) {
      const spec = argNodes[0].value;
      const local = spec.startsWith(".") ? this.linker?.importModule(this.path, spec) : undefined;
      if (local) return { taints: [], fields: new Map(local) };
      return { taints: [], tag: "module", ref: normaliseModule(spec) };
    }

    this.sinks(node, full, method ?? "", calleeVal, receiver, receiverNode, argNodes, args, scope);

    const local =
      (calleeVal.ref instanceof FnInfo ? calleeVal.ref : undefined) ??
      (receiver.ref instanceof ClassInfo && method ? receiver.ref.method(method) : undefined) ??
      (receiver.fields && method && receiver.fields.get(method)?.ref instanceof FnInfo
        ? (receiver.fields.get(method)?.ref as FnInfo)
        : undefined);
    if (local) return this.callLocal(local, node, argNodes, args);

    if (method && isBarrierName(method)) return CLEAN;
    return this.callResult(node, full, method ?? "", receiver, receiverNode, argNodes, args, scope);
  }

  private callLocal(info: FnInfo, node: Node, argNodes: Node[], args: Val[]): Val {
    const params = children(info.node, "params");
    args.forEach((arg, index) => {
      if (!isTainted(arg) && !arg.ref && !arg.tag) return;
      const param = params[Math.min(index, params.length - 1)];
      const name = param ? (this.patternName(param) ?? "a parameter") : "a parameter";
      const argNode = argNodes[index] ?? node;
      this.joinParam(
        info,
        Math.min(index, Math.max(params.length - 1, 0)),
        withStep(arg, this.step(argNode, `passed to ${info.name}() as \`${name}\``)),
      );
    });
    info.retRead = true;
    const ret = info.ret;
    return isTainted(ret) ? withStep(ret, this.step(node, `returned from ${info.name}()`)) : ret;
  }

  /** Sources and propagation through known functions; unknown calls return clean values. */
  private callResult(
    node: Node,
    full: string,
    method: string,
    receiver: Val,
    receiverNode: Node | undefined,
    argNodes: Node[],
    args: Val[],
    scope: Scope,
  ): Val {
    const source = (label: string): Val => ({
      taints: [{ kind: "secret", label, steps: [this.step(node, `read ${label}`)] }],
    });
    const carrier = (label: string): Val => ({
      taints: [{ kind: "carrier", label, steps: [this.step(node, `loaded ${label}`)] }],
    });
    const firstString =
      argNodes[0]?.type === "Literal" && typeof argNodes[0].value === "string"
        ? argNodes[0].value
        : undefined;

    if (SECRET_STORE_METHODS.has(method)) return source(`the secret-store value from ${full}()`);
    if (method === "send" && args.some((a) => a.tag === "secretCommand"))
      return source("the AWS Secrets Manager value (GetSecretValueCommand)");
    if (/^(read|kvGet|get)$/.test(method) && /vault/i.test(full))
      return source(`the Vault secret from ${full}()`);
    if (method === "resolve" && /secrets$/i.test(full.slice(0, -method.length - 1)))
      return source(`the 1Password secret from ${full}()`);
    if (
      (method === "get" || method === "header" || method === "getHeader") &&
      firstString &&
      isCredentialHeader(firstString)
    ) {
      const base = full.slice(0, -method.length - 1);
      if (/(^|\.)headers$/i.test(base) || this.looksInbound(base)) {
        const label = `the inbound ${firstString} header (${full}())`;
        return {
          taints: [
            { kind: "secret", label, inbound: true, steps: [this.step(node, `read ${label}`)] },
          ],
        };
      }
    }
    if (full === "config.get" && firstString)
      return isCredentialName(firstString) ? source(`${firstString} from config.get()`) : CLEAN;
    if (
      (full === "JSON.parse" || /^(yaml|YAML|js-yaml|toml|json5|ini)\.(parse|load)$/.test(full)) &&
      /readFile/.test(this.source.slice(argNodes[0]?.start ?? 0, argNodes[0]?.end ?? 0))
    ) {
      return carrier("a configuration file");
    }
    if (/^dotenv\.(config|parse)$/.test(full)) {
      const parsed = carrier("the .env file");
      return full.endsWith("parse")
        ? parsed
        : { taints: [], fields: new Map([["parsed", parsed]]) };
    }
    if (
      /^(load|get|read|parse|resolve)(App|Server)?(Config|Configuration|Settings|Env)$/i.test(
        method,
      )
    )
      return carrier(`configuration from ${method}()`);
    if (method === "opts" || method === "optsWithGlobals") return carrier("command-line options");
    if (full === "util.parseArgs" || full === "parseArgs")
      return { taints: [], fields: new Map([["values", carrier("command-line options")]]) };
    if (
      /^(minimist|mri|yargs-parser|arg)$/.test(full) ||
      (/^yargs(\.|\()/.test(full) && /^(parse|parseSync|argv)$/.test(method))
    )
      return carrier("command-line options");

    if (
      full === "axios.create" ||
      full === "got.extend" ||
      full === "ky.create" ||
      full === "ky.extend"
    ) {
      return {
        taints: [],
        tag: "errorClient",
        carries: allTaints(args[0] ?? CLEAN).filter((t) => t.kind === "secret"),
      };
    }
    if (LOGGER_FACTORIES.test(full) || (receiver.tag === "logger" && method === "child"))
      return { taints: [], tag: "logger" };
    if (/^fs\.(createWriteStream|openSync|open|promises\.open)$/.test(full)) {
      const modeNode = full.endsWith("createWriteStream") ? argNodes[1] : argNodes[2];
      const owner = this.ownerOnly(modeNode, full.endsWith("createWriteStream"));
      return {
        taints: [],
        tag: owner === false ? "file" : "privateFile",
        ref: this.source.slice(argNodes[0]?.start ?? 0, argNodes[0]?.end ?? 0),
      };
    }

    // Propagation through string and encoding helpers.
    if (PROPAGATING_FUNCTIONS.test(full)) {
      if (full === "Object.assign" && receiverNode && argNodes[0]?.type === "Identifier") {
        return joinAll(args);
      }
      return joinAll(
        args.map((a) => filterTaints(flatten(a), (t) => t.kind === "secret" || t.kind === "env")),
      );
    }
    if (full === "JSON.stringify")
      return filterTaints(flatten(args[0] ?? CLEAN), (t) => t.kind !== "carrier");
    if (full === "JSON.parse")
      return filterTaints(flatten(args[0] ?? CLEAN), (t) => t.kind === "secret");
    if (receiverNode && isTainted(receiver)) {
      if (method === "slice" || method === "substring" || method === "substr") {
        const [from, to] = argNodes;
        const fromZero = from?.type === "Literal" && from.value === 0;
        const short =
          to?.type === "Literal" && typeof to.value === "number" && to.value <= MAX_SAFE_PREFIX;
        return fromZero && short ? CLEAN : this.stringOf(receiver);
      }
      if (method === "replace" || method === "replaceAll") {
        const pattern = argNodes[0];
        const regex = pattern?.regex as { pattern?: string; flags?: string } | undefined;
        if (
          regex &&
          /^(\.|\[\\s\\S\]|\\S|\\w|\[\^\]|\[\\w\\W\])$/.test(regex.pattern ?? "") &&
          regex.flags?.includes("g")
        )
          return CLEAN;
        return this.stringOf(receiver);
      }
      if (STRING_METHODS.has(method) || (method === "toString" && receiver.tag === undefined))
        return this.stringOf(receiver);
      if (/^(entries|values|get)$/.test(method) && !receiver.tag) return receiver;
    }
    // Mutating methods carry the argument into the receiver variable.
    if (receiverNode?.type === "Identifier" && /^(push|unshift|set|append|add)$/.test(method)) {
      const name = text(receiverNode, "name");
      const extra = joinAll(args.map((a) => flatten(a)));
      if (name && isTainted(extra) && scope.lookup(name) !== undefined)
        scope.assign(name, join(receiver, extra));
    }
    if (/(^|\.)promisify$/.test(full)) return args[0] ?? CLEAN;
    return CLEAN;
  }

  // -------------------------------------------------------------------------------------------
  // Sinks

  private sinks(
    node: Node,
    full: string,
    method: string,
    calleeVal: Val,
    receiver: Val,
    receiverNode: Node | undefined,
    argNodes: Node[],
    args: Val[],
    scope: Scope,
  ): void {
    const base = receiverNode ? (this.memberPath(receiverNode, scope) ?? "") : "";
    const at = (index: number): Node => argNodes[index] ?? node;

    if (this.isLogCall(full, method, base, receiver, calleeVal)) {
      args.forEach((arg, index) => {
        this.sink("flow/log", `${full}()`, at(index), arg, { env: true, httpError: true });
      });
      return;
    }
    if (method === "sendLoggingMessage" || method === "sendNotification") {
      args.forEach((arg, index) => {
        this.sink("flow/log", "an MCP notification to the client", at(index), arg, {
          env: true,
          httpError: true,
        });
      });
      return;
    }
    const role = MCP_REGISTRATIONS[method];
    if (role && receiverNode && (receiver.tag === "server" || /server|mcp/i.test(base))) {
      const handler = args[args.length - 1];
      const nameNode = argNodes[0];
      const name =
        nameNode?.type === "Literal" && typeof nameNode.value === "string" ? nameNode.value : role;
      if (handler?.ref instanceof FnInfo) this.setRole(handler.ref, { kind: role, name });
      return;
    }
    if (method === "setRequestHandler") {
      const schema = argNodes[0] ? this.source.slice(argNodes[0].start, argNodes[0].end) : "";
      const kind = /CallTool/.test(schema)
        ? "tool"
        : /ReadResource/.test(schema)
          ? "resource"
          : /GetPrompt/.test(schema)
            ? "prompt"
            : undefined;
      const handler = args[1];
      if (kind && handler?.ref instanceof FnInfo)
        this.setRole(handler.ref, {
          kind,
          name: `${kind}s/${kind === "resource" ? "read" : kind === "prompt" ? "get" : "call"}`,
        });
      return;
    }
    if (/^(Error|TypeError|RangeError|SyntaxError)$/.test(full)) {
      for (const [index, arg] of args.entries())
        this.sink("flow/error-message", `${full}()`, at(index), arg, { env: true });
      return;
    }
    if (this.childProcess(node, full, argNodes, args)) return;

    if (FS_WRITES.test(full)) {
      this.fileWrite(
        node,
        full,
        at(1),
        args[1] ?? CLEAN,
        this.ownerOnly(argNodes[2], true),
        argNodes[0],
        scope,
      );
      return;
    }
    if ((method === "write" || method === "end") && receiver.tag === "file") {
      this.fileWrite(
        node,
        `${full}()`,
        at(0),
        args[0] ?? CLEAN,
        false,
        undefined,
        scope,
        receiver.ref,
      );
      return;
    }
    if (/^fs\.(writeSync|write)$/.test(full) && args[0]?.tag === "file") {
      this.fileWrite(node, full, at(1), args[1] ?? CLEAN, false, undefined, scope, args[0].ref);
      return;
    }
    if (
      /^fs(\.promises)?\.(chmod|chmodSync)$/.test(full) &&
      argNodes[0] &&
      this.ownerOnly(argNodes[1], false) === true
    ) {
      scope.frame.privatePaths.add(this.source.slice(argNodes[0].start, argNodes[0].end));
      return;
    }
    if ((method === "set" || method === "append") && /(^|\.)searchParams$/.test(base)) {
      this.sink("flow/url-query", `${base}.${method}()`, at(1), this.stringOf(args[1] ?? CLEAN));
      return;
    }
    this.httpCall(node, full, method, receiver, argNodes, args);
  }

  private isLogCall(
    full: string,
    method: string,
    base: string,
    receiver: Val,
    calleeVal: Val,
  ): boolean {
    if (/^console\./.test(full)) return CONSOLE_METHODS.has(method);
    if (full === "process.stderr.write" || full === "process.stdout.write") return true;
    if (calleeVal.tag === "logger") return true;
    if (!LOG_METHODS.has(method)) return false;
    return receiver.tag === "logger" || /(^|\.)_?(log|logger|logging)$/i.test(base);
  }

  private fileWrite(
    node: Node,
    sinkName: string,
    dataNode: Node,
    data: Val,
    ownerOnly: boolean | undefined,
    pathNode: Node | undefined,
    scope: Scope,
    pathRef?: unknown,
  ): void {
    const taints = allTaints(data);
    if (taints.some((t) => t.kind === "env")) {
      this.sink(
        "flow/env-dump",
        sinkName,
        dataNode,
        filterTaints(data, (t) => t.kind === "env"),
      );
    }
    const secrets = taints.filter((t) => t.kind === "secret");
    if (secrets.length === 0 || ownerOnly !== false) return;
    const path = pathNode
      ? this.source.slice(pathNode.start, pathNode.end)
      : typeof pathRef === "string"
        ? pathRef
        : "";
    scope.frame.pendingWrites.push({
      path,
      hit: {
        rule: "flow/file-permissions",
        sink: sinkName,
        location: this.loc(node),
        taints: secrets,
        phrase: `is written to a file by ${sinkName} without an owner-only mode`,
      },
    });
  }

  /** child_process, execa, cross-spawn: shell strings, argv, and whole-environment inheritance. */
  private childProcess(node: Node, full: string, argNodes: Node[], args: Val[]): boolean {
    const cp = /^child_process\.(exec|execSync|execFile|execFileSync|spawn|spawnSync|fork)$/.exec(
      full,
    );
    let kind: "shell" | "spawn" | "file" | undefined;
    if (cp)
      kind =
        cp[1]?.startsWith("exec") && !cp[1].startsWith("execFile")
          ? "shell"
          : cp[1]?.startsWith("spawn")
            ? "spawn"
            : "file";
    else if (full === "cross-spawn" || full === "cross-spawn.sync") kind = "spawn";
    else if (/^execa(\.(execa|execaSync|execaNode))?$/.test(full)) kind = "file";
    else if (/^execa\.(execaCommand|execaCommandSync)$/.test(full)) kind = "file";
    if (!kind) return false;
    const name = `${full}()`;
    const isOptions = (n: Node | undefined): boolean => n?.type === "ObjectExpression";
    let argvIndex = -1;
    let optionsIndex = 1;
    if (kind !== "shell") {
      argvIndex = isOptions(argNodes[1]) ? -1 : 1;
      optionsIndex = argvIndex === 1 ? 2 : 1;
    }
    const options = args[optionsIndex] ?? CLEAN;
    const optionsNode = argNodes[optionsIndex];
    const shell =
      kind === "shell" || (optionsNode !== undefined && this.hasTrueProperty(optionsNode, "shell"));
    const command = this.stringOf(args[0] ?? CLEAN);
    const argv = argvIndex >= 0 ? this.stringOf(args[argvIndex] ?? CLEAN) : CLEAN;
    if (shell) this.sink("flow/shell", name, argNodes[0] ?? node, join(command, argv));
    else {
      this.sink("flow/argv", name, argNodes[0] ?? node, command);
      if (argvIndex >= 0) this.sink("flow/argv", name, argNodes[argvIndex] ?? node, argv);
    }
    this.envInherit(node, name, options.fields?.get("env"), optionsNode);
    return true;
  }

  private envInherit(node: Node, name: string, env: Val | undefined, at: Node | undefined): void {
    const whole = env?.taints.filter((t) => t.kind === "env") ?? [];
    if (whole.length === 0) return;
    this.report({
      rule: "flow/env-inherit",
      sink: name,
      location: this.loc(at ?? node),
      taints: whole,
      phrase: `is passed whole to the child process started by ${name}`,
    });
  }

  private hasTrueProperty(node: Node, name: string): boolean {
    return children(node, "properties").some((p) => {
      const value = child(p, "value");
      return (
        text(child(p, "key") ?? p, "name") === name &&
        value?.type === "Literal" &&
        value.value === true
      );
    });
  }

  /** Outbound HTTP: credentials sent (for TLS-off), errors that carry them, and passthrough. */
  private httpCall(
    node: Node,
    full: string,
    method: string,
    receiver: Val,
    argNodes: Node[],
    args: Val[],
  ): void {
    const root = full.split(".")[0] ?? "";
    let carries: Taint[] = [];
    let errorsCarry = false;
    let optionIndexes: number[] = [];
    if (/^(fetch|globalThis\.fetch|undici\.(fetch|request)|node-fetch)$/.test(full))
      optionIndexes = [1];
    else if (
      /^(axios|got|ky)$/.test(full) ||
      /^(axios|got|ky)\.(get|post|put|patch|delete|head|options|request)$/.test(full)
    ) {
      optionIndexes = [0, 1, 2];
      errorsCarry = root !== "ky";
      carries = this.credentialedModules.get(root) ?? [];
    } else if (/^https?\.(request|get)$/.test(full)) optionIndexes = [0, 1];
    else if (receiver.tag === "errorClient" && HTTP_METHODS.test(method)) {
      optionIndexes = [0, 1, 2];
      errorsCarry = true;
      carries = receiver.carries ?? [];
    } else if (receiver.tag === "client") carries = receiver.carries ?? [];
    else return;
    const sent = [
      ...carries,
      ...args.flatMap((a) => allTaints(a).filter((t) => t.kind === "secret")),
    ];
    if (sent.length > 0) {
      this.credentialSends.push({ location: this.loc(node), taints: sent });
      this.recordHttpSend(sent, errorsCarry);
    }
    for (const index of optionIndexes) {
      const options = args[index];
      const fields = options?.fields;
      if (!fields) continue;
      this.passthrough(
        node,
        `${full}()`,
        join(fields.get("headers") ?? CLEAN, fields.get("auth") ?? CLEAN),
      );
      const query = join(fields.get("params") ?? CLEAN, fields.get("searchParams") ?? CLEAN);
      this.sink(
        "flow/url-query",
        `the query parameters of ${full}()`,
        argNodes[index] ?? node,
        this.stringOf(query),
      );
    }
  }

  private passthrough(node: Node, sinkName: string, val: Val): void {
    const inbound = allTaints(val).filter((t) => t.kind === "secret" && t.inbound);
    if (inbound.length === 0) return;
    this.report({
      rule: "flow/token-passthrough",
      sink: sinkName,
      location: this.loc(node),
      taints: inbound,
      phrase: `is forwarded as the credential of the outbound request ${sinkName}`,
    });
  }

  private newExpr(node: Node, scope: Scope): Val {
    const calleeNode = child(node, "callee");
    if (!calleeNode) return CLEAN;
    const calleeVal = this.expr(calleeNode, scope);
    const name =
      (calleeVal.tag === "module" && typeof calleeVal.ref === "string"
        ? calleeVal.ref
        : this.memberPath(calleeNode, scope)) ?? "";
    const last = name.split(".").pop() ?? "";
    const { nodes: argNodes, vals: args } = this.args(node, scope);
    if (/(Error|Exception)$/.test(last)) {
      args.forEach((arg, index) => {
        this.sink("flow/error-message", `a new ${last}`, argNodes[index] ?? node, arg, {
          env: true,
        });
      });
      return this.stringOf(joinAll(args));
    }
    if (calleeVal.ref instanceof ClassInfo) {
      const ctor = calleeVal.ref.method("constructor");
      if (ctor) this.callLocal(ctor, node, argNodes, args);
      return { taints: [], ref: calleeVal.ref };
    }
    switch (last) {
      case "URL":
        return this.stringOf(joinAll(args));
      case "Headers":
      case "URLSearchParams":
      case "Map":
      case "Request":
        return joinAll(args);
      case "GetSecretValueCommand":
        return { taints: [], tag: "secretCommand" };
      case "McpServer":
      case "Server":
      case "FastMCP":
        return { taints: [], tag: "server" };
      case "StdioClientTransport": {
        const options = args[0] ?? CLEAN;
        this.envInherit(
          node,
          "new StdioClientTransport()",
          options.fields?.get("env"),
          argNodes[0],
        );
        this.sink(
          "flow/argv",
          "new StdioClientTransport()",
          argNodes[0] ?? node,
          this.stringOf(options.fields?.get("args") ?? CLEAN),
        );
        return CLEAN;
      }
    }
    const carries = args.flatMap((a) => allTaints(a).filter((t) => t.kind === "secret"));
    if (carries.length === 0) return CLEAN;
    this.passthrough(node, `new ${last}()`, joinAll(args));
    return { taints: [], tag: "client", carries };
  }

  private ownerOnly(node: Node | undefined, optionsObject: boolean): boolean | undefined {
    if (!node) return false;
    let modeNode: Node | undefined = node;
    if (node.type === "ObjectExpression") {
      modeNode = children(node, "properties").find(
        (p) => text(child(p, "key") ?? p, "name") === "mode",
      );
      modeNode = modeNode && child(modeNode, "value");
      if (!modeNode) return false;
    } else if (optionsObject && node.type === "Literal" && typeof node.value === "string")
      return false;
    if (modeNode.type === "Literal" && typeof modeNode.value === "number")
      return isOwnerOnlyMode(modeNode.value);
    if (modeNode.type === "Literal" && typeof modeNode.value === "string")
      return !optionsObject && /^0?[0-7]00$/.test(modeNode.value);
    return undefined;
  }
}
