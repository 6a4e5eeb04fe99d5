/**
 * Credential flow in Python, on tree-sitter-python's syntax tree (web-tree-sitter, the grammar's
 * own wasm build). The same abstract interpretation as js.ts: ordered walk, function-level
 * scopes, field-sensitive dicts and objects, per-function summaries iterated to a fixpoint,
 * function bodies run after the code around them.
 */
import { createRequire } from "node:module";
import type { Language, Parser } from "web-tree-sitter";
import { scanText } from "../../detect/index.js";
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
  httpErrorAsSecret,
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

/** The tree-sitter runtime and the Python grammar, once loadPythonParser has run. */
let grammar: { Parser: typeof Parser; python: Language } | undefined;
let loading: Promise<void> | undefined;

/**
 * Loads the wasm runtime and grammar (the grammar ships as wasm inside the npm package: no native
 * build, no download at run time). Started by the audit only when a Python file comes up: it
 * costs more start-up time than anything else the auditor loads.
 */
export function loadPythonParser(): Promise<void> {
  loading ??= (async () => {
    const { Language, Parser } = await import("web-tree-sitter");
    await Parser.init();
    const python = await Language.load(
      createRequire(import.meta.url).resolve("tree-sitter-python/tree-sitter-python.wasm"),
    );
    grammar = { Parser, python };
  })();
  return loading;
}

/** A syntax node copied out of the wasm tree once, so the walker's repeated rounds stay in JS. */
interface PNode {
  type: string;
  field: string | null;
  named: boolean;
  start: number;
  end: number;
  children: PNode[];
}

function parsePython(source: string): PNode {
  if (grammar === undefined) throw new Error("loadPythonParser() was not awaited");
  const parser = new grammar.Parser();
  parser.setLanguage(grammar.python);
  const tree = parser.parse(source);
  if (!tree) throw new Error("tree-sitter returned no tree");
  try {
    const cursor = tree.walk();
    const copy = (): PNode => {
      const node: PNode = {
        type: cursor.nodeType,
        field: cursor.currentFieldName,
        named: cursor.nodeIsNamed,
        start: cursor.startIndex,
        end: cursor.endIndex,
        children: [],
      };
      if (cursor.gotoFirstChild()) {
        do node.children.push(copy());
        while (cursor.gotoNextSibling());
        cursor.gotoParent();
      }
      return node;
    };
    return copy();
  } finally {
    tree.delete();
    parser.delete();
  }
}

function field(node: PNode, name: string): PNode | undefined {
  return node.children.find((c) => c.field === name);
}
function fields(node: PNode, name: string): PNode[] {
  return node.children.filter((c) => c.field === name);
}
function named(node: PNode): PNode[] {
  return node.children.filter((c) => c.named && c.type !== "comment");
}

export function isPythonPath(path: string): boolean {
  return /\.py$/.test(path);
}

export interface PythonLinker {
  importModule(fromPath: string, specifier: string): Map<string, Val> | undefined;
}

export interface PythonResult {
  findings: Finding[];
  exports: Map<string, Val>;
}

const HTTP_ERROR_FIELDS: ReadonlySet<string> = new Set(["request", "response"]);
const LOG_METHODS = new Set([
  "debug",
  "info",
  "warning",
  "warn",
  "error",
  "exception",
  "critical",
  "fatal",
  "log",
  "msg",
  "trace",
  "success",
]);
const STRING_METHODS = new Set([
  "upper",
  "lower",
  "strip",
  "lstrip",
  "rstrip",
  "encode",
  "decode",
  "format",
  "join",
  "split",
  "removeprefix",
  "removesuffix",
  "casefold",
  "title",
  "center",
  "ljust",
  "rjust",
  "zfill",
  "copy",
  "items",
  "values",
  "get",
]);
const PROPAGATING_FUNCTIONS =
  /^(str|repr|bytes|format|dict|list|tuple|urllib\.parse\.quote|urllib\.parse\.quote_plus|quote|quote_plus|base64\.(b64encode|urlsafe_b64encode|b32encode|b16encode)|b64encode|json\.dumps|yaml\.dump|yaml\.safe_dump|pprint\.pformat|copy\.copy|copy\.deepcopy)$/;
const SECRET_STORE_CALLS =
  /(^|\.)(get_password|get_credential|getpass|get_secret_value|read_secret_version|read_secret|access_secret_version|get_secret)$/;
const TOOL_DECORATORS: Record<string, string> = {
  tool: "tool",
  call_tool: "tool",
  resource: "resource",
  read_resource: "resource",
  prompt: "prompt",
  get_prompt: "prompt",
};
const SUBPROCESS =
  /^(subprocess\.(run|call|check_call|check_output|Popen|getoutput|getstatusoutput)|os\.(system|popen|execv|execve|execvp|execvpe|execl|execlp|spawnv|spawnve)|asyncio\.(create_subprocess_exec|create_subprocess_shell))$/;
const HTTP_CLIENTS = /^(requests|httpx|aiohttp|urllib3|urllib\.request)(\.|$)/;

class FnInfo {
  params: Val[] = [];
  ret: Val = CLEAN;
  role?: { kind: string; name: string };
  /** parameters filled from `@click.option("--api-key")`-style decorators */
  optionSources = new Map<string, Val>();
  constructor(
    /** the definition; once its module is analysed, only what importers read (see run) */
    public node: PNode,
    readonly name: string,
    readonly cls?: ClassInfo,
  ) {}
}

class ClassInfo {
  self: Val = { taints: [], fields: new Map() };
  readonly methods = new Map<string, FnInfo>();
  /** a pydantic BaseSettings class: instances are configuration */
  settings = false;
  /** fields annotated SecretStr/SecretBytes: printing them shows asterisks */
  readonly maskedFields = new Set<string>();
  constructor(readonly name: string) {}
}

class Frame {
  readonly queue: Array<{ info: FnInfo; closure: Scope }> = [];
  readonly pendingWrites: Array<{ hit: SinkHit; path: string }> = [];
  readonly privatePaths = new Set<string>();
  umaskPrivate = false;
  constructor(readonly info?: FnInfo) {}
}

class Scope {
  readonly vars = new Map<string, Val>();
  /** inside if/for/while/try/with bodies, assignments join instead of replacing */
  depth = 0;
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

  assign(name: string, val: Val): void {
    const old = this.vars.get(name);
    this.vars.set(name, old !== undefined && this.depth > 0 ? join(old, val) : val);
  }
}

function signature(val: Val, depth = 0): string {
  const own = allTaints(val)
    .map((t) => `${t.kind}:${t.label}:${t.inbound ? 1 : 0}`)
    .sort()
    .join("|");
  if (!val.fields || depth > 3) return own;
  const parts = [...val.fields.keys()]
    .sort()
    .map((k) => `${k}=${signature(val.fields?.get(k) ?? CLEAN, depth + 1)}`);
  return `${own}{${parts.join(",")}}`;
}

const MAX_ROUNDS = 5;

/** Text that every Python source of a credential contains (see callResult and attribute). */
const PY_SOURCE_HINTS =
  /environ|getenv|get_password|get_credential|getpass|get_secret|secret_value|read_secret|access_secret|parse_args|parse_known_args|click|typer|json\.load|yaml|toml|dotenv|ConfigParser|BaseSettings|_config\b|_settings\b|get_http_headers|get_access_token|\.headers|["'](authorization|x-api-key|cookie|[\w-]*(token|api-key|apikey|secret)[\w-]*)["']/i;
const PY_IMPORT = /^\s*from\s+([.\w]+)\s+import\b|^\s*import\s+([\w.]+)/gm;

function carriesCredential(val: Val): boolean {
  if (isTainted(val) || (val.carries?.length ?? 0) > 0) return true;
  if (val.ref instanceof FnInfo) return isTainted(val.ref.ret);
  if (val.ref instanceof ClassInfo) return val.ref.settings || isTainted(val.ref.self);
  return false;
}

/** Does a module's export carry a credential into the files that import it? */
export function pythonExportsCarry(exports: ReadonlyMap<string, Val>): boolean {
  for (const val of exports.values()) if (carriesCredential(val)) return true;
  return false;
}

/** As jsEvidence: parse only files that can hold a source or import one from an audited module. */
export function pythonEvidence(
  source: string,
): { evidence: true } | { evidence: false; imports: string[] } {
  if (PY_SOURCE_HINTS.test(source) || scanText(source).length > 0) return { evidence: true };
  const imports: string[] = [];
  for (const match of source.matchAll(PY_IMPORT)) {
    const module = match[1] ?? match[2];
    if (module) imports.push(module);
  }
  return { evidence: false, imports: ownStrings(imports) };
}

export class PythonFlow {
  /** Built on first use: most files are never parsed, and these cost a pass over the text each. */
  private lineIndex: LineIndex | undefined;
  private spans: Array<{ start: number; end: number; ruleId: string }> | undefined;
  private readonly fns = new Map<PNode, FnInfo>();
  private readonly classes = new Map<PNode, ClassInfo>();
  private findings = new Map<string, Finding>();
  /** this round's value of each evaluated expression, for pinpointing */
  private values = new Map<PNode, Val>();
  private credentialSends: Array<{ location: Location; taints: Taint[] }> = [];
  private tlsOff: Array<{ location: Location; what: string }> = [];
  private tryFrames: Taint[][] = [];
  private changed = false;

  constructor(
    private readonly path: string,
    private readonly source: string,
    private readonly linker?: PythonLinker,
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
  run(): PythonResult {
    const root = parsePython(this.source);
    let exports = new Map<string, Val>();
    for (let round = 0; round < MAX_ROUNDS; round++) {
      this.changed = false;
      this.findings = new Map();
      this.values = new Map();
      this.credentialSends = [];
      this.tlsOff = [];
      const frame = new Frame();
      const scope = new Scope(undefined, frame);
      this.block(named(root), scope);
      this.finishFrame(frame);
      exports = scope.vars;
      if (!this.changed) break;
    }
    this.reportTlsOff();
    // As in the JS walker: exported definitions outlive the analysis, and a caller in an
    // importing file reads their parameters only (callLocal), not the body's syntax tree.
    for (const info of this.fns.values())
      info.node = { ...info.node, children: fields(info.node, "parameters") };
    return { findings: [...this.findings.values()], exports };
  }

  // -------------------------------------------------------------------------------------------
  // Reporting

  private text(node: PNode): string {
    return this.source.slice(node.start, node.end);
  }

  private loc(node: PNode): Location {
    const { line, column } = this.lines.locate(node.start);
    return { path: this.path, line, column };
  }

  private step(node: PNode, note: string): Step {
    return { location: this.loc(node), note };
  }

  private report(hit: SinkHit): void {
    if (hit.taints.length === 0) return;
    const key = `${hit.rule}:${hit.location.line}:${hit.location.column}`;
    if (!this.findings.has(key)) this.findings.set(key, flowFinding(hit));
  }

  private sink(rule: FlowRuleId, sinkName: string, node: PNode, val: Val, acceptEnv = false): void {
    const taints = allTaints(val);
    const location = this.loc(node);
    const env = taints.filter((t) => t.kind === "env");
    if (acceptEnv && env.length > 0)
      this.report({ rule: "flow/env-dump", sink: sinkName, location, taints: env });
    const secrets = taints.filter((t) => t.kind === "secret");
    if (secrets.length > 0) this.report({ rule, sink: sinkName, location, taints: secrets });
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

  private fieldCtx(node: PNode): FieldReadContext {
    return { location: this.loc(node), envName: "os.environ", httpErrorFields: HTTP_ERROR_FIELDS };
  }

  // -------------------------------------------------------------------------------------------
  // Functions

  private fnInfo(node: PNode, name: string, cls?: ClassInfo): FnInfo {
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
      this.changed = true;
    }
  }

  private joinReturn(info: FnInfo, val: Val): void {
    const next = join(info.ret, val);
    if (signature(next) !== signature(info.ret) || (val.tag && !info.ret.tag)) {
      info.ret = next;
      this.changed = true;
    }
  }

  private setRole(info: FnInfo, role: { kind: string; name: string }): void {
    if (info.role) return;
    info.role = role;
    this.changed = true;
  }

  private finishFrame(frame: Frame): void {
    for (let i = 0; i < frame.queue.length; i++) {
      const item = frame.queue[i];
      if (item) this.runFunction(item.info, item.closure);
    }
    if (frame.umaskPrivate) return;
    for (const pending of frame.pendingWrites) {
      if (!frame.privatePaths.has(pending.path)) this.report(pending.hit);
    }
  }

  private paramNodes(info: FnInfo): PNode[] {
    const params = field(info.node, "parameters");
    return params ? named(params) : [];
  }

  private paramIdentifier(param: PNode): PNode | undefined {
    if (param.type === "identifier") return param;
    if (param.type === "list_splat_pattern" || param.type === "dictionary_splat_pattern")
      return named(param)[0];
    return field(param, "name") ?? named(param).find((c) => c.type === "identifier");
  }

  private runFunction(info: FnInfo, closure: Scope): void {
    const frame = new Frame(info);
    const scope = new Scope(closure, frame);
    this.paramNodes(info).forEach((param, index) => {
      const id = this.paramIdentifier(param);
      if (!id) return;
      const name = this.text(id);
      let val = info.params[index] ?? CLEAN;
      if (index === 0 && info.cls && (name === "self" || name === "cls"))
        val = { taints: [], ref: info.cls };
      const option = info.optionSources.get(name);
      if (option) val = join(val, option);
      const fallback = field(param, "value");
      if (fallback) val = join(val, this.expr(fallback, scope));
      scope.vars.set(name, val);
    });
    const body = field(info.node, "body");
    if (body?.type === "block") this.block(named(body), scope);
    else if (body) this.returnValue(body, this.expr(body, scope), info);
    this.finishFrame(frame);
  }

  private returnValue(node: PNode, val: Val, info: FnInfo | undefined): void {
    if (!info) return;
    this.joinReturn(info, val);
    if (info.role) {
      const sinkName = `the result of ${info.role.kind} "${info.role.name}"`;
      this.sink("flow/tool-result", sinkName, this.pinpoint(node), val, true);
    }
  }

  private setClassField(cls: ClassInfo, name: string, val: Val): void {
    const old = cls.self.fields?.get(name) ?? CLEAN;
    const next = join(old, val);
    if (signature(next) !== signature(old) || (val.ref && !old.ref) || (val.tag && !old.tag)) {
      cls.self.fields?.set(name, next);
      this.changed = true;
    }
  }

  // -------------------------------------------------------------------------------------------
  // Statements

  private block(statements: PNode[], scope: Scope): void {
    for (const statement of statements) this.hoist(statement, scope);
    for (const statement of statements) this.statement(statement, scope);
  }

  private hoist(statement: PNode, scope: Scope): void {
    const definition =
      statement.type === "decorated_definition" ? field(statement, "definition") : statement;
    if (definition?.type !== "function_definition") return;
    const nameNode = field(definition, "name");
    if (nameNode && !scope.vars.has(this.text(nameNode))) {
      scope.vars.set(this.text(nameNode), {
        taints: [],
        ref: this.fnInfo(definition, this.text(nameNode)),
      });
    }
  }

  private nested(node: PNode | undefined, scope: Scope): void {
    if (!node) return;
    scope.depth++;
    if (node.type === "block") this.block(named(node), scope);
    else this.statement(node, scope);
    scope.depth--;
  }

  private statement(node: PNode, scope: Scope, decorators: PNode[] = []): void {
    switch (node.type) {
      case "expression_statement":
        for (const expression of named(node)) this.expr(expression, scope);
        return;
      case "return_statement": {
        const value = named(node)[0];
        if (value) this.returnValue(value, this.expr(value, scope), scope.frame.info);
        return;
      }
      case "raise_statement":
        for (const expression of named(node)) this.expr(expression, scope);
        return;
      case "assert_statement":
      case "delete_statement":
      case "print_statement":
      case "exec_statement":
        for (const expression of named(node)) this.expr(expression, scope);
        return;
      case "if_statement":
      case "elif_clause":
        this.exprOf(node, "condition", scope);
        this.nested(field(node, "consequence"), scope);
        for (const alternative of fields(node, "alternative")) this.nested(alternative, scope);
        return;
      case "else_clause":
      case "finally_clause":
        this.nested(field(node, "body") ?? named(node)[0], scope);
        return;
      case "for_statement": {
        const right = this.exprOf(node, "right", scope);
        const left = field(node, "left");
        scope.depth++;
        if (left) this.bind(left, readField(right, "0", this.fieldCtx(left)), scope);
        scope.depth--;
        this.nested(field(node, "body"), scope);
        this.nested(field(node, "alternative"), scope);
        return;
      }
      case "while_statement":
        this.exprOf(node, "condition", scope);
        this.nested(field(node, "body"), scope);
        this.nested(field(node, "alternative"), scope);
        return;
      case "try_statement":
        this.tryStatement(node, scope);
        return;
      case "with_statement":
        this.withStatement(node, scope);
        return;
      case "block":
        this.nested(node, scope);
        return;
      case "function_definition":
        this.functionDefinition(node, scope, decorators);
        return;
      case "class_definition":
        this.classDefinition(node, scope);
        return;
      case "decorated_definition": {
        const definition = field(node, "definition");
        const decos = named(node).filter((c) => c.type === "decorator");
        if (definition) this.statement(definition, scope, decos);
        return;
      }
      case "import_statement":
        for (const item of fields(node, "name")) this.importName(item, scope);
        return;
      case "import_from_statement":
        this.importFrom(node, scope);
        return;
      default:
        return;
    }
  }

  private tryStatement(node: PNode, scope: Scope): void {
    this.tryFrames.push([]);
    this.nested(field(node, "body"), scope);
    const sent = this.tryFrames.pop() ?? [];
    for (const clause of named(node)) {
      if (clause.type === "except_clause" || clause.type === "except_group_clause") {
        const pattern = named(clause).find((c) => c.type === "as_pattern");
        const target =
          pattern &&
          (field(pattern, "alias") ?? named(pattern).find((c) => c.type === "as_pattern_target"));
        const id = target && (target.type === "identifier" ? target : named(target)[0]);
        if (id) scope.vars.set(this.text(id), this.httpErrorVal(sent, clause));
        this.nested(
          named(clause).find((c) => c.type === "block"),
          scope,
        );
      } else if (clause.type === "else_clause" || clause.type === "finally_clause") {
        this.statement(clause, scope);
      }
    }
  }

  private httpErrorVal(sent: Taint[], node: PNode): Val {
    if (sent.length === 0) return CLEAN;
    const step = this.step(node, "caught an HTTP client error that carries the request");
    return {
      taints: sent.map((t) => ({ ...t, kind: "httpError" as const, steps: [...t.steps, step] })),
    };
  }

  private withStatement(node: PNode, scope: Scope): void {
    const clause = named(node).find((c) => c.type === "with_clause");
    for (const item of clause ? named(clause) : []) {
      const value = field(item, "value") ?? named(item)[0];
      if (!value) continue;
      if (value.type === "as_pattern") {
        const expression = named(value)[0];
        const target =
          field(value, "alias") ?? named(value).find((c) => c.type === "as_pattern_target");
        const val = expression ? this.expr(expression, scope) : CLEAN;
        const id = target && (target.type === "identifier" ? target : named(target)[0]);
        if (id) this.bind(id, val, scope);
      } else this.expr(value, scope);
    }
    this.nested(field(node, "body"), scope);
  }

  private importName(item: PNode, scope: Scope): void {
    if (item.type === "aliased_import") {
      const name = field(item, "name");
      const alias = field(item, "alias");
      if (name && alias) scope.vars.set(this.text(alias), this.moduleVal(this.text(name)));
      return;
    }
    const dotted = this.text(item);
    const first = dotted.split(".")[0] ?? dotted;
    scope.vars.set(
      first,
      dotted.includes(".") ? { taints: [], tag: "module", ref: first } : this.moduleVal(dotted),
    );
  }

  private moduleVal(dotted: string): Val {
    const local = this.linker?.importModule(this.path, dotted);
    if (local) return { taints: [], fields: new Map(local) };
    return { taints: [], tag: "module", ref: dotted };
  }

  private importFrom(node: PNode, scope: Scope): void {
    const moduleNode = field(node, "module_name");
    if (!moduleNode) return;
    const module = this.text(moduleNode);
    const local = this.linker?.importModule(this.path, module);
    for (const item of fields(node, "name")) {
      const nameNode = item.type === "aliased_import" ? field(item, "name") : item;
      const aliasNode = item.type === "aliased_import" ? field(item, "alias") : item;
      if (!nameNode || !aliasNode) continue;
      const name = this.text(nameNode);
      const alias = this.text(aliasNode);
      let val: Val;
      if (local) {
        const submodule = local.has(name)
          ? undefined
          : this.linker?.importModule(this.path, `${module}.${name}`);
        val = local.get(name) ?? (submodule ? { taints: [], fields: new Map(submodule) } : CLEAN);
        val = withStep(val, this.step(item, `imported as \`${alias}\` from ${module}`));
      } else val = { taints: [], tag: "module", ref: `${module.replace(/^\.+/, "")}.${name}` };
      scope.vars.set(alias, val);
    }
  }

  private functionDefinition(node: PNode, scope: Scope, decorators: PNode[]): void {
    const nameNode = field(node, "name");
    const name = nameNode ? this.text(nameNode) : "function";
    const cls = scope.lookup("__class__")?.ref;
    const info = this.fnInfo(node, name, cls instanceof ClassInfo ? cls : undefined);
    for (const decorator of decorators) this.decorator(decorator, info, scope);
    scope.vars.set(name, { taints: [], ref: info });
    if (info.cls) info.cls.methods.set(name, info);
    scope.frame.queue.push({ info, closure: scope });
  }

  private decorator(decorator: PNode, info: FnInfo, scope: Scope): void {
    const expression = named(decorator)[0];
    if (!expression) return;
    const callee = expression.type === "call" ? field(expression, "function") : expression;
    const path = callee ? (this.dotted(callee, scope) ?? "") : "";
    const method = path.split(".").pop() ?? "";
    const base = path.slice(0, Math.max(0, path.length - method.length - 1));
    const role = TOOL_DECORATORS[method];
    const receiver = callee?.type === "attribute" ? this.exprOf(callee, "object", scope) : CLEAN;
    if (role && (receiver.tag === "server" || /mcp|server|app/i.test(base))) {
      const args = expression.type === "call" ? field(expression, "arguments") : undefined;
      const first = args ? named(args)[0] : undefined;
      const nameArg = args
        ? named(args).find(
            (a) => a.type === "keyword_argument" && this.text(field(a, "name") ?? a) === "name",
          )
        : undefined;
      const label =
        this.stringValue(first) ??
        this.stringValue(nameArg && field(nameArg, "value")) ??
        info.name;
      this.setRole(info, { kind: role, name: label });
      return;
    }
    // click/typer options: `@click.option("--api-key")` fills parameter api_key from argv.
    if (/^(click|typer)\.(option|argument)$/.test(path) && expression.type === "call") {
      const args = field(expression, "arguments");
      for (const arg of args ? named(args) : []) {
        const flag = this.stringValue(arg);
        if (!flag?.startsWith("--")) continue;
        const param = flag.slice(2).replace(/-/g, "_");
        if (!isCredentialName(param)) continue;
        const label = `${flag} from the command line`;
        info.optionSources.set(param, {
          taints: [{ kind: "secret", label, steps: [this.step(arg, `read ${label}`)] }],
        });
      }
    }
    if (expression.type === "call") this.expr(expression, scope);
  }

  private classDefinition(node: PNode, scope: Scope): void {
    const nameNode = field(node, "name");
    const name = nameNode ? this.text(nameNode) : "class";
    let cls = this.classes.get(node);
    if (!cls) {
      cls = new ClassInfo(name);
      this.classes.set(node, cls);
    }
    const bases = field(node, "superclasses");
    if (bases && /\bBaseSettings\b/.test(this.text(bases))) cls.settings = true;
    const inner = new Scope(scope, scope.frame);
    inner.vars.set("__class__", { taints: [], ref: cls });
    const body = field(node, "body");
    for (const statement of body ? named(body) : []) {
      const assignment =
        statement.type === "expression_statement" ? named(statement)[0] : undefined;
      if (assignment?.type === "assignment") {
        const left = field(assignment, "left");
        const type = field(assignment, "type");
        const right = field(assignment, "right");
        if (left?.type === "identifier") {
          const fieldName = this.text(left);
          if (type && /Secret(Str|Bytes)/.test(this.text(type))) cls.maskedFields.add(fieldName);
          if (right) this.setClassField(cls, fieldName, this.expr(right, inner));
        }
        continue;
      }
      this.statement(statement, inner);
    }
    scope.vars.set(name, { taints: [], ref: cls });
  }

  // -------------------------------------------------------------------------------------------
  // Binding

  private bind(target: PNode, val: Val, scope: Scope): void {
    switch (target.type) {
      case "identifier": {
        const name = this.text(target);
        scope.assign(
          name,
          isTainted(val) ? withStep(val, this.step(target, `assigned to \`${name}\``)) : val,
        );
        return;
      }
      case "pattern_list":
      case "tuple_pattern":
      case "list_pattern":
      case "expression_list":
      case "tuple":
      case "list":
        named(target).forEach((element, index) => {
          this.bind(element, readField(val, String(index), this.fieldCtx(element)), scope);
        });
        return;
      case "list_splat_pattern": {
        const inner = named(target)[0];
        if (inner) this.bind(inner, val, scope);
        return;
      }
      case "attribute": {
        const object = field(target, "object");
        const attribute = field(target, "attribute");
        if (!object || !attribute) return;
        const name = this.text(attribute);
        const objectVal = this.expr(object, scope);
        if (objectVal.ref instanceof ClassInfo) {
          this.setClassField(objectVal.ref, name, val);
          return;
        }
        if (object.type === "identifier") this.setField(object, name, val, scope);
        return;
      }
      case "subscript": {
        const value = field(target, "value");
        const key = field(target, "subscript");
        const name = this.stringValue(key);
        if (value?.type === "identifier" && name !== undefined)
          this.setField(value, name, val, scope);
        return;
      }
    }
  }

  private setField(object: PNode, name: string, val: Val, scope: Scope): void {
    const varName = this.text(object);
    const old = scope.lookup(varName);
    if (old === undefined) return;
    const next: Val = { ...old, fields: new Map(old.fields ?? []) };
    next.fields?.set(name, val);
    scope.vars.set(varName, next);
  }

  // -------------------------------------------------------------------------------------------
  // Expressions

  private exprOf(node: PNode, name: string, scope: Scope): Val {
    const inner = field(node, name);
    return inner ? this.expr(inner, scope) : CLEAN;
  }

  private stringValue(node: PNode | undefined): string | undefined {
    if (node?.type !== "string") return undefined;
    if (node.children.some((c) => c.type === "interpolation")) return undefined;
    return node.children
      .filter((c) => c.type === "string_content")
      .map((c) => this.text(c))
      .join("");
  }

  private expr(node: PNode, scope: Scope): Val {
    const val = this.evaluate(node, scope);
    if (val.taints.length > 0 || val.fields !== undefined) this.values.set(node, val);
    return val;
  }

  /** The part of a returned literal that carries the credential, so the finding points at it. */
  private pinpoint(node: PNode): PNode {
    const leaks = (n: PNode | undefined): boolean =>
      n !== undefined && allTaints(this.values.get(n) ?? CLEAN).some((t) => t.kind !== "carrier");
    if (node.type === "dictionary") {
      for (const entry of named(node)) {
        const value = entry.type === "pair" ? field(entry, "value") : named(entry)[0];
        if (value && leaks(value)) return this.pinpoint(value);
      }
    } else if (/^(list|tuple|set|parenthesized_expression|await)$/.test(node.type)) {
      const element = named(node).find((e) => leaks(e));
      if (element) return this.pinpoint(element);
    }
    return node;
  }

  private evaluate(node: PNode, scope: Scope): Val {
    switch (node.type) {
      case "identifier":
        return scope.lookup(this.text(node)) ?? CLEAN;
      case "string":
        return this.string(node, scope);
      case "concatenated_string":
        return joinAll(named(node).map((part) => this.string(part, scope)));
      case "attribute":
        return this.attribute(node, scope);
      case "subscript":
        return this.subscript(node, scope);
      case "call":
        return this.call(node, scope);
      case "await":
      case "parenthesized_expression":
      case "expression_list": {
        const parts = named(node).map((c) => this.expr(c, scope));
        return node.type === "expression_list" ? joinAll(parts.map(flatten)) : (parts[0] ?? CLEAN);
      }
      case "binary_operator":
        return this.binary(node, scope);
      case "boolean_operator":
        return join(this.exprOf(node, "left", scope), this.exprOf(node, "right", scope));
      case "conditional_expression": {
        const [whenTrue, condition, whenFalse] = named(node);
        if (condition) this.expr(condition, scope);
        return join(
          whenTrue ? this.expr(whenTrue, scope) : CLEAN,
          whenFalse ? this.expr(whenFalse, scope) : CLEAN,
        );
      }
      case "not_operator":
      case "comparison_operator":
      case "unary_operator":
        for (const c of named(node)) this.expr(c, scope);
        return CLEAN;
      case "assignment": {
        const right = this.exprOf(node, "right", scope);
        const left = field(node, "left");
        if (left) this.bind(left, right, scope);
        this.tlsAssignment(node);
        return right;
      }
      case "augmented_assignment": {
        const left = field(node, "left");
        const right = this.stringOf(this.exprOf(node, "right", scope));
        if (left) this.bind(left, join(this.expr(left, scope), right), scope);
        return right;
      }
      case "named_expression": {
        const value = this.exprOf(node, "value", scope);
        const name = field(node, "name");
        if (name) this.bind(name, value, scope);
        return value;
      }
      case "list":
      case "tuple":
      case "set":
        return joinAll(
          named(node).map((c) =>
            flatten(this.expr(c.type === "list_splat" ? (named(c)[0] ?? c) : c, scope)),
          ),
        );
      case "dictionary":
        return this.dictionary(node, scope);
      case "list_comprehension":
      case "set_comprehension":
      case "generator_expression":
      case "dictionary_comprehension":
        return this.comprehension(node, scope);
      case "lambda": {
        const info = this.fnInfo(node, "lambda");
        scope.frame.queue.push({ info, closure: scope });
        return { taints: [], ref: info };
      }
      default:
        return CLEAN;
    }
  }

  private string(node: PNode, scope: Scope): Val {
    let val: Val = CLEAN;
    const span = this.tokenSpans.find((s) => s.start >= node.start && s.end <= node.end);
    if (span) {
      const label = `a ${span.ruleId} literal`;
      val = {
        taints: [
          { kind: "secret", label, steps: [this.step(node, `${label} (token format matched)`)] },
        ],
      };
    }
    let prefix = "";
    for (const part of node.children) {
      if (part.type === "string_content" || part.type === "escape_sequence")
        prefix += this.text(part);
      else if (part.type === "interpolation") {
        const expression = field(part, "expression") ?? named(part)[0];
        const inner = expression ? this.stringOf(this.expr(expression, scope)) : CLEAN;
        if (isTainted(inner) && endsInQueryParam(prefix) && expression) {
          this.sink("flow/url-query", "a URL query string", expression, inner);
        }
        prefix += "\u0000";
        val = join(val, inner);
      }
    }
    return val;
  }

  /** What a value contributes when formatted into a string: str(err) carries no headers. */
  private stringOf(val: Val): Val {
    return filterTaints(flatten(val), (t) => t.kind === "secret");
  }

  private binary(node: PNode, scope: Scope): Val {
    const leftNode = field(node, "left");
    const rightNode = field(node, "right");
    const operator = field(node, "operator");
    const left = leftNode ? this.expr(leftNode, scope) : CLEAN;
    const right = rightNode ? this.expr(rightNode, scope) : CLEAN;
    const op = operator ? this.text(operator) : "";
    if (op === "+") {
      const prefix = this.staticPrefix(leftNode);
      if (
        prefix !== undefined &&
        endsInQueryParam(prefix) &&
        rightNode &&
        isTainted(this.stringOf(right))
      ) {
        this.sink("flow/url-query", "a URL query string", rightNode, this.stringOf(right));
      }
      return this.stringOf(join(left, right));
    }
    if (op === "%") {
      const format = this.stringValue(leftNode);
      if (
        format &&
        /[?&][^=&#\s]*=%[sr]/.test(format) &&
        rightNode &&
        isTainted(this.stringOf(right))
      ) {
        this.sink("flow/url-query", "a URL query string", rightNode, this.stringOf(right));
      }
      return this.stringOf(join(left, right));
    }
    return CLEAN;
  }

  /** The literal text of a `+` chain's left side, with unknown parts as placeholders. */
  private staticPrefix(node: PNode | undefined): string | undefined {
    if (!node) return undefined;
    if (node.type === "string") {
      return node.children
        .map((c) =>
          c.type === "string_content" ? this.text(c) : c.type === "interpolation" ? "\u0000" : "",
        )
        .join("");
    }
    if (node.type === "binary_operator" && this.text(field(node, "operator") ?? node) === "+") {
      const left = this.staticPrefix(field(node, "left")) ?? "\u0000";
      const right = this.staticPrefix(field(node, "right")) ?? "\u0000";
      return left + right;
    }
    return "\u0000";
  }

  private dictionary(node: PNode, scope: Scope): Val {
    let out: Val = { taints: [], fields: new Map() };
    for (const entry of named(node)) {
      if (entry.type === "pair") {
        const key = field(entry, "key");
        const value = this.exprOf(entry, "value", scope);
        const name = this.stringValue(key);
        if (name !== undefined) out.fields?.set(name, value);
        else out = join(out, flatten(value));
      } else if (entry.type === "dictionary_splat") {
        const inner = named(entry)[0];
        const val = inner ? this.expr(inner, scope) : CLEAN;
        out = join(out, val);
      }
    }
    return out;
  }

  private comprehension(node: PNode, scope: Scope): Val {
    const inner = new Scope(scope, scope.frame);
    for (const clause of named(node)) {
      if (clause.type === "for_in_clause") {
        const right = this.exprOf(clause, "right", inner);
        const left = field(clause, "left");
        if (left) this.bind(left, readField(right, "0", this.fieldCtx(left)), inner);
      } else if (clause.type === "if_clause") for (const c of named(clause)) this.expr(c, inner);
    }
    const body = field(node, "body") ?? named(node)[0];
    return body ? flatten(this.expr(body, inner)) : CLEAN;
  }

  /** Dotted name with imports resolved: `sp.run` → `subprocess.run`. */
  private dotted(node: PNode, scope: Scope): string | undefined {
    switch (node.type) {
      case "identifier": {
        const name = this.text(node);
        const val = scope.lookup(name);
        return val?.tag === "module" && typeof val.ref === "string" ? val.ref : name;
      }
      case "attribute": {
        const object = field(node, "object");
        const attribute = field(node, "attribute");
        const base = object && this.dotted(object, scope);
        return base !== undefined && attribute ? `${base}.${this.text(attribute)}` : undefined;
      }
      case "call": {
        const callee = field(node, "function");
        const base = callee && this.dotted(callee, scope);
        return base === undefined ? undefined : `${base}()`;
      }
      default:
        return undefined;
    }
  }

  private envVal(node: PNode): Val {
    return {
      taints: [
        { kind: "env", label: "os.environ", steps: [this.step(node, "the whole os.environ")] },
      ],
    };
  }

  private attribute(node: PNode, scope: Scope): Val {
    const path = this.dotted(node, scope);
    if (path === "os.environ") return this.envVal(node);
    if (path === "ssl.CERT_NONE")
      this.tlsOff.push({ location: this.loc(node), what: "ssl.CERT_NONE" });
    const object = this.exprOf(node, "object", scope);
    const attribute = field(node, "attribute");
    if (!attribute) return CLEAN;
    const name = this.text(attribute);
    if (object.tag === "module" && typeof object.ref === "string")
      return { taints: [], tag: "module", ref: `${object.ref}.${name}` };
    if (object.ref instanceof ClassInfo) {
      const cls = object.ref;
      const method = cls.methods.get(name);
      if (method) return { taints: [], ref: method };
      const known = cls.self.fields?.get(name);
      if (known && isTainted(known)) return known;
      if (cls.settings && !cls.maskedFields.has(name) && isCredentialName(name)) {
        const label = `${name} from ${cls.name} (pydantic settings)`;
        return { taints: [{ kind: "secret", label, steps: [this.step(node, `read ${label}`)] }] };
      }
      return known ?? CLEAN;
    }
    if (object.tag === "inboundHeaders") return CLEAN;
    if (name === "headers" && object.taints.some((t) => t.kind === "httpError"))
      return httpErrorAsSecret(object);
    if (name === "headers" && this.looksInbound(path)) return { taints: [], tag: "inboundHeaders" };
    const val = readField(object, name, this.fieldCtx(node));
    if (object.tag === "client" || object.tag === "errorClient")
      return { ...val, tag: object.tag, carries: object.carries };
    return val;
  }

  private looksInbound(path: string | undefined): boolean {
    return (
      path !== undefined &&
      /(^|\.)(request|req|request_context|http_request|scope)(\.|$)/.test(
        path.replace(/\.headers$/, ""),
      )
    );
  }

  private inboundHeader(name: string, node: PNode): Val {
    if (!isCredentialHeader(name)) return CLEAN;
    const label = `the inbound ${name} header`;
    return {
      taints: [{ kind: "secret", label, inbound: true, steps: [this.step(node, `read ${label}`)] }],
    };
  }

  private subscript(node: PNode, scope: Scope): Val {
    const valueNode = field(node, "value");
    const keyNode = field(node, "subscript");
    const object = valueNode ? this.expr(valueNode, scope) : CLEAN;
    const key = this.stringValue(keyNode);
    if (object.tag === "inboundHeaders") return key ? this.inboundHeader(key, node) : CLEAN;
    if (keyNode?.type === "slice") {
      const parts = keyNode.children.map((c) => (c.type === ":" ? ":" : this.text(c))).join("");
      const match = /^:(\d+)$/.exec(parts) ?? /^0:(\d+)$/.exec(parts);
      if (match && Number(match[1]) <= MAX_SAFE_PREFIX) return CLEAN;
      return this.stringOf(object);
    }
    if (key !== undefined) return readField(object, key, this.fieldCtx(node));
    if (keyNode?.type === "integer")
      return readField(object, this.text(keyNode), this.fieldCtx(node));
    if (keyNode) this.expr(keyNode, scope);
    return filterTaints(flatten(object), (t) => t.kind === "secret");
  }

  private tlsAssignment(node: PNode): void {
    const left = field(node, "left");
    const right = field(node, "right");
    if (left?.type !== "attribute" || right?.type !== "false") return;
    const name = this.text(field(left, "attribute") ?? left);
    if (name === "verify" || name === "check_hostname")
      this.tlsOff.push({ location: this.loc(node), what: `${this.text(left)} = False` });
  }

  // -------------------------------------------------------------------------------------------
  // Calls

  private call(node: PNode, scope: Scope): Val {
    const callee = field(node, "function");
    const argList = field(node, "arguments");
    if (!callee) return CLEAN;
    const isAttribute = callee.type === "attribute";
    const receiverNode = isAttribute ? field(callee, "object") : undefined;

    this.tryFrames.push([]);
    const receiver = receiverNode ? this.expr(receiverNode, scope) : CLEAN;
    const inner = this.tryFrames.pop() ?? [];
    const outer = this.tryFrames[this.tryFrames.length - 1];
    if (outer) for (const t of inner) if (!outer.some((o) => sameTaint(o, t))) outer.push(t);

    const calleeVal = isAttribute ? this.attributeOf(receiver, callee) : this.expr(callee, scope);
    const full =
      (calleeVal.tag === "module" && typeof calleeVal.ref === "string"
        ? calleeVal.ref
        : this.dotted(callee, scope)) ?? "";
    const attribute = isAttribute ? field(callee, "attribute") : undefined;
    const method = attribute ? this.text(attribute) : (full.split(".").pop() ?? "");

    const positional: PNode[] = [];
    const keywords = new Map<string, PNode>();
    const positionalVals: Val[] = [];
    const keywordVals = new Map<string, Val>();
    let spread: Val = CLEAN;
    if (argList?.type === "argument_list") {
      for (const arg of named(argList)) {
        if (arg.type === "keyword_argument") {
          const name = field(arg, "name");
          const value = field(arg, "value");
          if (!name || !value) continue;
          keywords.set(this.text(name), value);
          keywordVals.set(this.text(name), this.expr(value, scope));
          if (this.text(name) === "verify" && value.type === "false")
            this.tlsOff.push({ location: this.loc(arg), what: "verify=False" });
        } else if (arg.type === "list_splat" || arg.type === "dictionary_splat") {
          const value = named(arg)[0];
          spread = join(spread, value ? flatten(this.expr(value, scope)) : CLEAN);
        } else {
          positional.push(arg);
          positionalVals.push(this.expr(arg, scope));
        }
      }
    } else if (argList) positionalVals.push(this.expr(argList, scope));
    const call: CallSite = {
      node,
      full,
      method,
      receiver,
      receiverNode,
      positional,
      positionalVals,
      keywords,
      keywordVals,
      spread,
      scope,
    };

    this.sinks(call, calleeVal);

    if (calleeVal.ref instanceof FnInfo)
      return this.callLocal(calleeVal.ref, call, isAttribute && receiver.ref instanceof ClassInfo);
    if (calleeVal.ref instanceof ClassInfo) return this.instantiate(calleeVal.ref, call);
    if (isBarrierName(method) || /^(hashlib|hmac)\./.test(full)) return CLEAN;
    return this.callResult(call);
  }

  private attributeOf(receiver: Val, callee: PNode): Val {
    const attribute = field(callee, "attribute");
    if (!attribute) return CLEAN;
    const name = this.text(attribute);
    if (receiver.tag === "module" && typeof receiver.ref === "string")
      return { taints: [], tag: "module", ref: `${receiver.ref}.${name}` };
    if (receiver.ref instanceof ClassInfo) {
      const method = receiver.ref.methods.get(name);
      return method ? { taints: [], ref: method } : CLEAN;
    }
    const member = receiver.fields?.get(name);
    return member?.ref instanceof FnInfo ? member : CLEAN;
  }

  private callLocal(info: FnInfo, call: CallSite, bound: boolean): Val {
    const params = this.paramNodes(info);
    const offset =
      bound ||
      (info.cls &&
        params[0] &&
        /^(self|cls)$/.test(this.text(this.paramIdentifier(params[0]) ?? params[0])))
        ? 1
        : 0;
    const names = params.map((p) => {
      const id = this.paramIdentifier(p);
      return id ? this.text(id) : "";
    });
    const pass = (index: number, val: Val, at: PNode): void => {
      if (index < 0 || index >= params.length) return;
      if (!isTainted(val) && !val.ref && !val.tag) return;
      this.joinParam(
        info,
        index,
        withStep(val, this.step(at, `passed to ${info.name}() as \`${names[index]}\``)),
      );
    };
    call.positionalVals.forEach((val, index) => {
      pass(index + offset, val, call.positional[index] ?? call.node);
    });
    for (const [name, val] of call.keywordVals)
      pass(names.indexOf(name), val, call.keywords.get(name) ?? call.node);
    const ret = info.ret;
    return isTainted(ret)
      ? withStep(ret, this.step(call.node, `returned from ${info.name}()`))
      : ret;
  }

  private instantiate(cls: ClassInfo, call: CallSite): Val {
    const init = cls.methods.get("__init__");
    if (init) this.callLocal(init, call, true);
    return { taints: [], ref: cls };
  }

  private callResult(call: CallSite): Val {
    const { node, full, method, receiver, positional, positionalVals, keywordVals } = call;
    const first = positional[0];
    const firstString = this.stringValue(first);
    const source = (label: string): Val => ({
      taints: [{ kind: "secret", label, steps: [this.step(node, `read ${label}`)] }],
    });
    const carrier = (label: string): Val => ({
      taints: [{ kind: "carrier", label, steps: [this.step(node, `loaded ${label}`)] }],
    });

    if (
      full === "os.getenv" ||
      full === "os.environ.get" ||
      (full === "os.environ.setdefault" && firstString)
    ) {
      return firstString ? readField(this.envVal(node), firstString, this.fieldCtx(node)) : CLEAN;
    }
    if (
      full === "os.environ.copy" ||
      full === "os.environ.items" ||
      full === "os.environ.values" ||
      (full === "dict" && positionalVals.some((v) => v.taints.some((t) => t.kind === "env")))
    ) {
      return this.envVal(node);
    }
    if (receiver.tag === "inboundHeaders" && method === "get")
      return firstString ? this.inboundHeader(firstString, node) : CLEAN;
    if (/(^|\.)get_http_headers$/.test(full)) return { taints: [], tag: "inboundHeaders" };
    if (/(^|\.)get_access_token$/.test(full)) {
      return {
        taints: [],
        fields: new Map([
          [
            "token",
            {
              taints: [
                {
                  kind: "secret",
                  label: "the client's access token (get_access_token())",
                  inbound: true,
                  steps: [this.step(node, "read the client's access token")],
                },
              ],
            },
          ],
        ]),
      };
    }
    if (method === "get_secret_value" && call.receiverNode) {
      const label = `${this.text(call.receiverNode)} (SecretStr.get_secret_value())`;
      return source(label);
    }
    if (SECRET_STORE_CALLS.test(full)) return source(`the secret-store value from ${full}()`);
    if (method === "resolve" && /secrets$/.test(full.slice(0, -method.length - 1)))
      return source(`the 1Password secret from ${full}()`);
    if (
      /(^|\.)(json\.load|yaml\.safe_load|yaml\.load|tomllib\.load|toml\.load|tomli\.load)$/.test(
        full,
      )
    )
      return carrier("a configuration file");
    if (
      /(^|\.)(json\.loads|tomllib\.loads|yaml\.safe_load)$/.test(full) &&
      first &&
      /read_text|read\(\)/.test(this.text(first))
    )
      return carrier("a configuration file");
    if (/(^|\.)(dotenv_values|ConfigParser|RawConfigParser)$/.test(full))
      return carrier(full.endsWith("dotenv_values") ? "the .env file" : "an INI configuration");
    if (method === "parse_args" || method === "parse_known_args")
      return carrier("command-line arguments");
    if (/^(load|get|read)_?(app_|server_)?(config|configuration|settings)$/i.test(method))
      return carrier(`configuration from ${method}()`);

    if (
      /^logging\.getLogger$|^structlog\.get_logger$|(^|\.)getChild$/.test(full) ||
      (receiver.tag === "logger" && method === "bind")
    )
      return { taints: [], tag: "logger" };
    if (
      /^(FastMCP|mcp\.server\.fastmcp\.FastMCP|fastmcp\.FastMCP|mcp\.server\.Server|mcp\.server\.lowlevel\.Server|Server)$/.test(
        full,
      ) ||
      /\.FastMCP$/.test(full)
    )
      return { taints: [], tag: "server" };
    if (
      /^(requests\.Session|requests\.session|httpx\.Client|httpx\.AsyncClient|aiohttp\.ClientSession)$/.test(
        full,
      )
    ) {
      const carries = [...keywordVals.values()].flatMap((v) =>
        allTaints(v).filter((t) => t.kind === "secret"),
      );
      this.passthrough(
        node,
        `${full}()`,
        join(keywordVals.get("headers") ?? CLEAN, keywordVals.get("auth") ?? CLEAN),
      );
      return { taints: [], tag: "errorClient", carries };
    }
    if (
      full === "open" ||
      full === "io.open" ||
      method === "fdopen" ||
      (method === "open" && call.receiverNode && !/^(os|io|codecs)$/.test(full.split(".")[0] ?? ""))
    ) {
      return this.fileHandle(call);
    }
    if (full === "os.open")
      return {
        taints: [],
        tag: "file",
        ref: this.modeArg(call, 2) === true ? "private" : "default",
      };

    if (PROPAGATING_FUNCTIONS.test(full)) {
      return joinAll(
        [...positionalVals, ...keywordVals.values(), call.spread].map((v) =>
          filterTaints(flatten(v), (t) => t.kind === "secret" || t.kind === "env"),
        ),
      );
    }
    if (call.receiverNode && isTainted(receiver)) {
      if (method === "update" && call.receiverNode.type === "identifier") return CLEAN;
      // `env.get("PYTHONPATH")` on a copy of os.environ reads one entry, as `env["PYTHONPATH"]` does.
      if ((method === "get" || method === "pop") && firstString !== undefined)
        return readField(receiver, firstString, this.fieldCtx(node));
      if (STRING_METHODS.has(method) || method === "replace") {
        if (
          method === "replace" &&
          this.stringValue(positional[1]) !== undefined &&
          /^(\.|\\S|\\w)$/.test(this.stringValue(positional[0]) ?? "")
        )
          return CLEAN;
        if (method === "format")
          return this.stringOf(
            join(receiver, joinAll([...positionalVals, ...keywordVals.values()])),
          );
        return method === "copy" || method === "items" || method === "values" || method === "get"
          ? receiver
          : this.stringOf(receiver);
      }
    }
    if (method === "format" && call.receiverNode?.type === "string") {
      const format = this.stringValue(call.receiverNode) ?? "";
      const args = joinAll([...positionalVals, ...keywordVals.values()]);
      if (/[?&][^=&#\s]*=\{\w*\}/.test(format) && isTainted(this.stringOf(args)))
        this.sink("flow/url-query", "a URL query string", node, this.stringOf(args));
      return this.stringOf(args);
    }
    // Mutation: `headers.update(...)`, `args.append(token)`, `session.headers.update(...)`.
    if (call.receiverNode && /^(append|extend|insert|update|add|setdefault)$/.test(method)) {
      const extra = joinAll(
        [...positionalVals, ...keywordVals.values()].map((v) =>
          method === "update" ? v : flatten(v),
        ),
      );
      if (isTainted(extra)) this.mutate(call.receiverNode, extra, call.scope);
    }
    return CLEAN;
  }

  private mutate(target: PNode, extra: Val, scope: Scope): void {
    if (target.type === "identifier") {
      const name = this.text(target);
      const old = scope.lookup(name);
      if (old !== undefined) scope.vars.set(name, join(old, extra));
      return;
    }
    // `session.headers.update({...})`: the session now carries the credential.
    if (target.type === "attribute") {
      const object = field(target, "object");
      if (object?.type === "identifier") {
        const name = this.text(object);
        const old = scope.lookup(name);
        if (old && (old.tag === "client" || old.tag === "errorClient")) {
          scope.vars.set(name, {
            ...old,
            carries: [
              ...(old.carries ?? []),
              ...allTaints(extra).filter((t) => t.kind === "secret"),
            ],
          });
        } else if (old)
          this.setField(
            object,
            this.text(field(target, "attribute") ?? target),
            join(old.fields?.get(this.text(field(target, "attribute") ?? target)) ?? CLEAN, extra),
            scope,
          );
      }
    }
  }

  private fileHandle(call: CallSite): Val {
    const { positional, keywords } = call;
    const modeNode =
      positional[call.method === "open" && call.receiverNode && call.full !== "io.open" ? 0 : 1] ??
      keywords.get("mode");
    const mode = this.stringValue(modeNode) ?? "r";
    const pathNode =
      call.full === "open" || call.full === "io.open" ? positional[0] : call.receiverNode;
    const pathText = pathNode ? this.text(pathNode) : "";
    if (!/[wax+]/.test(mode)) return CLEAN;
    if (call.method === "fdopen") {
      const fd = call.positionalVals[0];
      return {
        taints: [],
        tag: fd?.tag === "file" && fd.ref === "private" ? "privateFile" : "file",
        ref: pathText,
      };
    }
    if (keywords.has("opener")) return { taints: [], tag: "privateFile", ref: pathText };
    return { taints: [], tag: "file", ref: pathText };
  }

  /** Is argument `index` (or keyword `mode`) an owner-only permission mode? undefined: not a literal. */
  private modeArg(call: CallSite, index: number): boolean | undefined {
    const node = call.positional[index] ?? call.keywords.get("mode");
    if (!node) return false;
    if (node.type === "integer") {
      const value = Number(this.text(node).replace(/_/g, "").replace(/^0o/i, "0o"));
      return Number.isNaN(value) ? undefined : isOwnerOnlyMode(value);
    }
    if (node.type === "binary_operator" && /S_IRUSR|S_IWUSR/.test(this.text(node)))
      return !/S_I(R|W|X)(GRP|OTH)/.test(this.text(node));
    return undefined;
  }

  // -------------------------------------------------------------------------------------------
  // Sinks

  private sinks(call: CallSite, calleeVal: Val): void {
    const {
      node,
      full,
      method,
      receiver,
      receiverNode,
      positional,
      positionalVals,
      keywordVals,
      scope,
    } = call;
    const base = receiverNode ? (this.dotted(receiverNode, scope) ?? "") : "";
    const everything = (): Array<[PNode, Val]> => [
      ...positionalVals.map((v, i): [PNode, Val] => [positional[i] ?? node, v]),
      ...[...keywordVals].map(([k, v]): [PNode, Val] => [call.keywords.get(k) ?? node, v]),
    ];

    if (full === "print") {
      const file = keywordVals.get("file");
      if (file && (file.tag === "file" || file.tag === "privateFile")) {
        this.fileWrite(
          call,
          positionalVals.map((v) => v),
          file,
        );
        return;
      }
      positionalVals.forEach((v, i) => {
        this.sink("flow/log", "print()", positional[i] ?? node, v, true);
      });
      return;
    }
    if (this.isLogCall(full, method, base, receiver, calleeVal)) {
      for (const [at, val] of everything()) this.sink("flow/log", `${full}()`, at, val, true);
      return;
    }
    if (/(Error|Exception)$|^(.*\.)?ErrorData$/.test(method) && /^[A-Z]/.test(method)) {
      for (const [at, val] of everything())
        this.sink("flow/error-message", `${method}()`, at, val, true);
      return;
    }
    if (method === "add_tool" && /mcp|server|app/i.test(base)) {
      const fn = positionalVals[0];
      if (fn?.ref instanceof FnInfo) this.setRole(fn.ref, { kind: "tool", name: fn.ref.name });
      return;
    }
    if (SUBPROCESS.test(full)) {
      this.subprocess(call);
      return;
    }
    if (receiver.tag === "file" && /^(write|writelines)$/.test(method)) {
      this.fileWrite(call, positionalVals, receiver);
      return;
    }
    if (/^(json|yaml|toml|pickle)\.(dump|safe_dump)$/.test(full)) {
      const handle = positionalVals[1] ?? keywordVals.get("stream") ?? keywordVals.get("fp");
      if (handle?.tag === "file") this.fileWrite(call, [positionalVals[0] ?? CLEAN], handle);
      return;
    }
    if ((method === "write_text" || method === "write_bytes") && receiverNode) {
      this.fileWrite(call, [positionalVals[0] ?? CLEAN], {
        taints: [],
        tag: "file",
        ref: this.text(receiverNode),
      });
      return;
    }
    if (
      (full === "os.chmod" || method === "chmod") &&
      this.modeArg(call, full === "os.chmod" ? 1 : 0) === true
    ) {
      const pathNode = full === "os.chmod" ? positional[0] : receiverNode;
      if (pathNode) scope.frame.privatePaths.add(this.text(pathNode));
      return;
    }
    if (full === "os.umask" && this.modeArg(call, 0) !== undefined) {
      const mask = positional[0] ? Number(this.text(positional[0]).replace(/^0o/i, "0o")) : 0;
      if ((mask & 0o077) === 0o077) scope.frame.umaskPrivate = true;
      return;
    }
    if (full === "ssl._create_unverified_context") {
      this.tlsOff.push({ location: this.loc(node), what: "ssl._create_unverified_context()" });
    }
    this.httpCall(call);
  }

  private isLogCall(
    full: string,
    method: string,
    base: string,
    receiver: Val,
    calleeVal: Val,
  ): boolean {
    if (full === "sys.stderr.write" || full === "sys.stdout.write") return true;
    if (calleeVal.tag === "logger") return true;
    if (!LOG_METHODS.has(method)) return false;
    if (/^(logging|loguru\.logger|structlog)$/.test(base)) return true;
    if (receiver.tag === "logger") return true;
    // FastMCP's Context.info/debug/… send notifications/message to the client.
    return /(^|\.)_?(log|logger|logging|ctx|context)$/i.test(base);
  }

  private fileWrite(call: CallSite, data: Val[], handle: Val): void {
    const val = joinAll(data);
    const taints = allTaints(val);
    if (taints.some((t) => t.kind === "env"))
      this.sink(
        "flow/env-dump",
        `${call.full}()`,
        call.node,
        filterTaints(val, (t) => t.kind === "env"),
      );
    const secrets = taints.filter((t) => t.kind === "secret");
    if (secrets.length === 0 || handle.tag !== "file") return;
    call.scope.frame.pendingWrites.push({
      path: typeof handle.ref === "string" ? handle.ref : "",
      hit: {
        rule: "flow/file-permissions",
        sink: `${call.full}()`,
        location: this.loc(call.node),
        taints: secrets,
        phrase: `is written to a file by ${call.full}() without an owner-only mode`,
      },
    });
  }

  private subprocess(call: CallSite): void {
    const { node, full, positional, positionalVals, keywordVals, keywords } = call;
    const name = `${full}()`;
    const shellKeyword = keywords.get("shell");
    const shell =
      /^(os\.(system|popen)|subprocess\.(getoutput|getstatusoutput)|asyncio\.create_subprocess_shell)$/.test(
        full,
      ) || shellKeyword?.type === "true";
    const argv =
      full === "asyncio.create_subprocess_exec" || /^os\.(exec|spawn)/.test(full)
        ? joinAll(positionalVals)
        : (positionalVals[0] ?? keywordVals.get("args") ?? CLEAN);
    const at = positional[0] ?? node;
    this.sink(shell ? "flow/shell" : "flow/argv", name, at, this.stringOf(join(argv, call.spread)));
    const env =
      keywordVals.get("env") ??
      (full === "os.execve" || full === "os.spawnve"
        ? positionalVals[positionalVals.length - 1]
        : undefined);
    const whole = env?.taints.filter((t) => t.kind === "env") ?? [];
    if (whole.length > 0) {
      this.report({
        rule: "flow/env-inherit",
        sink: name,
        location: this.loc(keywords.get("env") ?? node),
        taints: whole,
        phrase: `is passed whole to the child process started by ${name}`,
      });
    }
  }

  private httpCall(call: CallSite): void {
    const { node, full, method, receiver, positionalVals, keywordVals } = call;
    let carries: Taint[] = [];
    let errorsCarry = false;
    if (
      HTTP_CLIENTS.test(full) &&
      /(^|\.)(get|post|put|patch|delete|head|options|request|urlopen|Request|fetch)$/.test(full)
    )
      errorsCarry = /^(requests|httpx)\./.test(full);
    else if (
      (receiver.tag === "errorClient" || receiver.tag === "client") &&
      /^(get|post|put|patch|delete|head|options|request|send|stream)$/.test(method)
    ) {
      carries = receiver.carries ?? [];
      errorsCarry = receiver.tag === "errorClient";
    } else return;
    const sent = [
      ...carries,
      ...[...positionalVals, ...keywordVals.values()].flatMap((v) =>
        allTaints(v).filter((t) => t.kind === "secret"),
      ),
    ];
    if (sent.length > 0) {
      this.credentialSends.push({ location: this.loc(node), taints: sent });
      const frame = this.tryFrames[this.tryFrames.length - 1];
      if (frame && errorsCarry)
        for (const t of sent) if (!frame.some((f) => sameTaint(f, t))) frame.push(t);
    }
    this.passthrough(
      node,
      `${full}()`,
      join(keywordVals.get("headers") ?? CLEAN, keywordVals.get("auth") ?? CLEAN),
    );
    const params = keywordVals.get("params");
    if (params)
      this.sink(
        "flow/url-query",
        `the query parameters of ${full}()`,
        call.keywords.get("params") ?? node,
        this.stringOf(params),
      );
  }

  private passthrough(node: PNode, sinkName: string, val: Val): void {
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
}

interface CallSite {
  node: PNode;
  full: string;
  method: string;
  receiver: Val;
  receiverNode: PNode | undefined;
  positional: PNode[];
  positionalVals: Val[];
  keywords: Map<string, PNode>;
  keywordVals: Map<string, Val>;
  spread: Val;
  scope: Scope;
}
