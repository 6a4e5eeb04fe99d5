/**
 * The language-neutral half of credential-flow analysis: what a tainted value is, how taint joins
 * and moves through fields, which names count as credential names, the rule catalogue and how a
 * finding is built. The per-language walkers (js.ts, python.ts) decide what is a source, a sink
 * or a barrier in their syntax and call in here for everything else.
 */
import { createHash } from "node:crypto";
import type { WordHits } from "../../detect/index.js";
import type { Axis, Finding, Location, Severity } from "../types.js";

export interface Step {
  location: Location;
  note: string;
}

/**
 * - secret: the value is, or contains, a credential (env read of a credential name, secret-store
 *   read, token-format literal, credential field of a config or CLI options object, inbound
 *   client token when `inbound` is set).
 * - env: the whole process environment object.
 * - carrier: an object loaded from configuration or parsed from argv: its credential-named fields
 *   are secrets, the rest is not; logging the object itself is not evidence of a leak.
 * - httpError: an error thrown by an HTTP client that was handed a credential; such errors carry
 *   the request configuration, headers included.
 */
export type TaintKind = "secret" | "env" | "carrier" | "httpError";

export interface Taint {
  kind: TaintKind;
  /** Names the source for people, e.g. "GITHUB_TOKEN from process.env". Never a value. */
  label: string;
  steps: Step[];
  /** A token the server received from its own client (token passthrough when forwarded). */
  inbound?: boolean;
}

/**
 * An abstract value. `taints` apply to the value as a whole; `fields` are what is known of its
 * properties, so `{ apiKey, user }.user` stays clean (CodeQL's container false positives).
 */
export interface Val {
  taints: Taint[];
  fields?: Map<string, Val>;
  /** What kind of object this is, when a walker needs to know it later. */
  tag?: ValTag;
  /** The walker's own handle: a function or class it can call, a module name, a path text. */
  ref?: unknown;
  /** Credentials an HTTP client object was configured with (tag "client"). */
  carries?: Taint[];
}

/**
 * - module: an imported module or export (ref is its canonical name, e.g. "child_process.exec")
 * - logger: a logger instance (pino(), winston.createLogger(), logging.getLogger())
 * - client / errorClient: an HTTP client configured with a credential; errorClient's errors carry
 *   the request headers (axios, got, requests)
 * - server: an MCP server object
 * - file / privateFile: a writable file handle with default or owner-only permissions
 * - secretCommand: an AWS GetSecretValueCommand, whose `send` returns the secret
 * - inboundHeaders: the headers of a request this server received
 */
export type ValTag =
  | "module"
  | "logger"
  | "client"
  | "errorClient"
  | "server"
  | "file"
  | "privateFile"
  | "secretCommand"
  | "inboundHeaders";

export const CLEAN: Val = Object.freeze({ taints: [] }) as Val;

const MAX_TAINTS = 4;
const MAX_STEPS = 10;
const MAX_DEPTH = 6;

export function taintVal(taint: Taint): Val {
  return { taints: [taint] };
}

export function sameTaint(a: Taint, b: Taint): boolean {
  return a.kind === b.kind && a.label === b.label && a.inbound === b.inbound;
}

function unionTaints(a: Taint[], b: Taint[]): Taint[] {
  if (b.length === 0) return a;
  if (a.length === 0) return b;
  const out = [...a];
  for (const taint of b) {
    if (out.length >= MAX_TAINTS) break;
    if (!out.some((t) => sameTaint(t, taint))) out.push(taint);
  }
  return out;
}

export function join(a: Val, b: Val, depth = 0): Val {
  if (a === b || isEmpty(b)) return a;
  if (isEmpty(a)) return b;
  const out: Val = { ...b, ...a, taints: unionTaints(a.taints, b.taints) };
  if ((a.fields || b.fields) && depth < MAX_DEPTH) {
    const fields = new Map(a.fields ?? []);
    for (const [name, val] of b.fields ?? []) {
      const mine = fields.get(name);
      fields.set(name, mine ? join(mine, val, depth + 1) : val);
    }
    out.fields = fields;
  }
  return out;
}

export function joinAll(vals: Iterable<Val>): Val {
  let out: Val = CLEAN;
  for (const val of vals) out = join(out, val);
  return out;
}

function isEmpty(val: Val): boolean {
  return (
    val.taints.length === 0 &&
    (val.fields === undefined || val.fields.size === 0) &&
    val.tag === undefined &&
    val.ref === undefined
  );
}

/** Every taint in the value, its fields' included: what a sink that serialises it would print. */
export function allTaints(val: Val, depth = 0): Taint[] {
  let out = val.taints;
  if (val.fields && depth < MAX_DEPTH) {
    for (const field of val.fields.values()) out = unionTaints(out, allTaints(field, depth + 1));
  }
  return out;
}

export function isTainted(val: Val): boolean {
  return allTaints(val).length > 0;
}

/** The value as one flat string-like thing: fields merged into whole-value taints. */
export function flatten(val: Val): Val {
  const taints = allTaints(val);
  return taints.length === 0 ? CLEAN : { taints };
}

/** A copy of `val` whose taints record one more step; the longest traces keep source and sink. */
export function withStep(val: Val, step: Step, depth = 0): Val {
  if (isEmpty(val)) return val;
  const out: Val = { ...val, taints: val.taints.map((taint) => addStep(taint, step)) };
  if (val.fields && depth < MAX_DEPTH) {
    out.fields = new Map(
      [...val.fields].map(([name, field]) => [name, withStep(field, step, depth + 1)]),
    );
  }
  return out;
}

function addStep(taint: Taint, step: Step): Taint {
  const last = taint.steps[taint.steps.length - 1];
  if (last && last.location.line === step.location.line && last.note === step.note) return taint;
  const steps = [...taint.steps, step];
  if (steps.length > MAX_STEPS) steps.splice(1, steps.length - MAX_STEPS);
  return { ...taint, steps };
}

/** Keeps only the taints `keep` accepts, fields included. */
export function filterTaints(val: Val, keep: (taint: Taint) => boolean, depth = 0): Val {
  const out: Val = { taints: val.taints.filter(keep) };
  if (val.fields && depth < MAX_DEPTH) {
    out.fields = new Map(
      [...val.fields].map(([name, field]) => [name, filterTaints(field, keep, depth + 1)]),
    );
  }
  return isEmpty(out) ? CLEAN : out;
}

export interface FieldReadContext {
  /** where the read happens, for the trace */
  location: Location;
  /** how the language names the environment in labels: "process.env", "os.environ" */
  envName: string;
  /** httpError fields that still carry the request (e.g. config, request, headers) */
  httpErrorFields: ReadonlySet<string>;
}

/**
 * Reads property `name`. Known fields win. Otherwise whole-value taints decide: a secret stays a
 * secret (a field of a secret-store result is still the secret), the environment and carriers
 * yield a secret only for credential names, an HTTP error keeps its taint only on fields that
 * hold the request.
 */
export function readField(val: Val, name: string, ctx: FieldReadContext): Val {
  const known = val.fields?.get(name);
  if (known) return known;
  let taints: Taint[] = [];
  for (const taint of val.taints) {
    if (taint.kind === "secret") taints = unionTaints(taints, [taint]);
    else if (taint.kind === "httpError") {
      if (ctx.httpErrorFields.has(name)) taints = unionTaints(taints, [taint]);
    } else if (isCredentialName(name)) {
      const label =
        taint.kind === "env" ? `${name} from ${ctx.envName}` : `${name} from ${taint.label}`;
      const step = { location: ctx.location, note: `read ${label}` };
      taints = unionTaints(taints, [
        { kind: "secret", label, steps: [...taint.steps.slice(0, -1), step] },
      ]);
    } else if (taint.kind === "carrier") {
      // A section of a configuration (`config.github.token`) is still configuration.
      taints = unionTaints(taints, [taint]);
    }
  }
  return taints.length === 0 ? CLEAN : { taints };
}

/** Turns HTTP-error taints into the secrets they carry: reading `err.config.headers` exposes them. */
export function httpErrorAsSecret(val: Val): Val {
  const taints = allTaints(val).map((taint) =>
    taint.kind === "httpError" ? { ...taint, kind: "secret" as const } : taint,
  );
  return taints.length === 0 ? CLEAN : { taints };
}

// ---------------------------------------------------------------------------------------------
// Names

const SECRET_WORDS = new Set([
  "token",
  "tokens",
  "secret",
  "secrets",
  "password",
  "passwd",
  "passphrase",
  "credential",
  "credentials",
  "creds",
  "apikey",
  "pat",
  "bearer",
  "dsn",
  "authorization",
]);
/** `KEY` counts after these words, or as the last word of an env-style name (OPENAI_KEY). */
const KEY_QUALIFIERS = new Set([
  "api",
  "access",
  "secret",
  "private",
  "signing",
  "encryption",
  "master",
  "client",
  "auth",
  "service",
  "license",
  "app",
  "account",
  "sas",
  "admin",
  "session",
  "webhook",
]);
/** `AUTH` names a credential only after these (basicAuth, PROXY_AUTH), not in `waitForAuth`. */
const AUTH_QUALIFIERS = new Set([
  "basic",
  "bearer",
  "http",
  "https",
  "proxy",
  "api",
  "client",
  "upstream",
]);
/** A credential word followed by one of these names something about the credential, not it. */
const DESCRIPTIVE_TAILS = new Set([
  "name",
  "names",
  "id",
  "ids",
  "file",
  "path",
  "dir",
  "url",
  "uri",
  "endpoint",
  "host",
  "type",
  "mode",
  "format",
  "header",
  "prefix",
  "length",
  "len",
  "count",
  "limit",
  "expiry",
  "expires",
  "ttl",
  "env",
  "var",
  "region",
  "scope",
  "scopes",
  "field",
  "kind",
  "enabled",
  "required",
  "hint",
  "label",
  "version",
  "ref",
  "arn",
  "store",
  "manager",
  "provider",
  "source",
  "location",
  "policy",
  "rotation",
  "hash",
  "hashed",
  "fingerprint",
]);
/** Words that make the whole name not a credential (CodeQL's not-sensitive override, trimmed). */
const NOT_SENSITIVE = new Set([
  "is",
  "has",
  "use",
  "enable",
  "redact",
  "redacted",
  "mask",
  "masked",
  "hash",
  "hashed",
  "sha",
  "md5",
  "encrypted",
  "random",
  "max",
  "min",
  "num",
  "budget",
  "public",
  "publishable",
  "csrf",
]);
const URL_CREDENTIALS =
  /^(database|db|postgres|postgresql|pg|mysql|mongo|mongodb|redis|amqp)_?(url|uri)$|^(connection_?string|conn_?str)$/i;

/** Splits `GITHUB_API_TOKEN`, `githubApiToken`, `x-api-key` and `api.key` into lower-case words. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .replace(/([A-Z]+)([A-Z][a-z])/g, "$1_$2")
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter((word) => word !== "");
}

/**
 * Does this env var, config key, option or header name name a credential? Used only to pick
 * credential fields out of objects already known to hold configuration or the environment: a
 * credential-like variable name alone never makes a source.
 */
export function isCredentialName(name: string): boolean {
  if (URL_CREDENTIALS.test(name.replace(/-/g, "_"))) return true;
  const words = nameWords(name);
  if (words.length === 0 || words.some((word) => NOT_SENSITIVE.has(word))) return false;
  const last = words[words.length - 1] ?? "";
  if (DESCRIPTIVE_TAILS.has(last)) return false;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] ?? "";
    if (SECRET_WORDS.has(word)) return true;
    if (
      word === "key" &&
      i > 0 &&
      (KEY_QUALIFIERS.has(words[i - 1] ?? "") || i === words.length - 1)
    )
      return true;
    if (word === "auth" && i === words.length - 1 && AUTH_QUALIFIERS.has(words[i - 1] ?? ""))
      return true;
    if (word === "cookie" || word === "cookies") return true;
  }
  return false;
}

/** Header names whose inbound value is a client credential. */
export function isCredentialHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === "authorization" || lower === "cookie" || isCredentialName(lower);
}

/**
 * Barrier calls by name: hashing, masking, redaction, encryption. A credential passed through
 * one of these is no longer the credential (CodeQL's not-sensitive call names).
 */
export function isBarrierName(name: string): boolean {
  return /(mask|redact|censor|obfuscat|scrub|sanitiz|hash|digest|fingerprint|encrypt|hmac|sha\d|md5)/i.test(
    name,
  );
}

/** A fixed prefix this short is the token's type tag (`ghp_`, `sk-`), as mask() shows: no entropy. */
export const MAX_SAFE_PREFIX = 4;

/** Is `mode` a permission mode with no group or other bits (0o600, 0o400, 0o700)? */
export function isOwnerOnlyMode(mode: number): boolean {
  return (mode & 0o077) === 0;
}

/** Does the text before an interpolated credential put it in a URL query (`…?api_key=`)? */
export function endsInQueryParam(prefix: string): boolean {
  const query = prefix.lastIndexOf("?");
  if (query < 0 || /[\s#]/.test(prefix.slice(query))) return false;
  return /[?&][^=&#\s]*=$/.test(prefix);
}

// ---------------------------------------------------------------------------------------------
// Rules and findings

export type FlowRuleId =
  | "flow/log"
  | "flow/error-message"
  | "flow/tool-result"
  | "flow/env-dump"
  | "flow/env-inherit"
  | "flow/argv"
  | "flow/shell"
  | "flow/url-query"
  | "flow/file-permissions"
  | "flow/tls-off"
  | "flow/token-passthrough";

interface RuleInfo {
  axis: Axis;
  severity: Severity;
  why: string;
  fix: string;
}

export const FLOW_RULES: Record<FlowRuleId, RuleInfo> = {
  "flow/log": {
    axis: "exposure",
    severity: "high",
    why: "MCP clients keep each server's stderr in log files (Claude Desktop: mcp-server-<name>.log) and log pipelines ship logs further; anyone who reads them gets the key.",
    fix: "Log the credential's name or a fingerprint, never its value or a fragment of it.",
  },
  "flow/error-message": {
    axis: "exposure",
    severity: "high",
    why: "Tool execution errors are returned to the model on purpose (isError results, JSON-RPC error.message), so the key lands in the model's context and the client transcript.",
    fix: "Name the credential in the message (e.g. 'GITHUB_TOKEN was rejected'), never its value.",
  },
  "flow/tool-result": {
    axis: "exposure",
    severity: "high",
    why: "Tool results (content[].text, structuredContent) go straight into the model's context and the client transcript, and can be exfiltrated by prompt injection.",
    fix: "Return the data without the credential; redact exact secret values before returning.",
  },
  "flow/env-dump": {
    axis: "exposure",
    severity: "high",
    why: "The process environment holds every key the server was started with; serialising it leaks all of them at once.",
    fix: "Never serialise the environment; log or return the names of the variables you need, not process.env/os.environ.",
  },
  "flow/env-inherit": {
    axis: "exposure",
    severity: "medium",
    why: "A child started with the whole environment gets every credential of this server; it can log them, and /proc/<pid>/environ shows them to the same user.",
    fix: "Pass an explicit allow-list (the MCP SDK's stdio default is HOME, LOGNAME, PATH, SHELL, TERM, USER) plus only the key the child needs.",
  },
  "flow/argv": {
    axis: "exposure",
    severity: "medium",
    why: "Command-line arguments are visible to other local users through ps and /proc/<pid>/cmdline, and end up in crash reports and shell history.",
    fix: "Hand the credential to the child through its environment or a file descriptor, not argv.",
  },
  "flow/shell": {
    axis: "exposure",
    severity: "high",
    why: "A shell command string with the key is visible in the process table, is often logged, and invites command injection.",
    fix: "Use execFile/spawn (subprocess with a list and shell=False) and pass the key in the child's environment, or use an HTTP client.",
  },
  "flow/url-query": {
    axis: "exposure",
    severity: "medium",
    why: "URLs are written to proxy and access logs, browser history and Referer headers; the MCP spec forbids tokens in the query string.",
    fix: "Send the credential in a header (Authorization: Bearer …) instead of the URL.",
  },
  "flow/file-permissions": {
    axis: "exposure",
    severity: "medium",
    why: "A file created with default permissions (0644 under the usual umask) is readable by every local user and by backups.",
    fix: "Create the file owner-only (mode 0o600 / os.open(..., 0o600)) in a 0700 directory, or store the key in the OS keyring.",
  },
  "flow/tls-off": {
    axis: "security",
    severity: "high",
    why: "With certificate verification off, anyone on the network path can impersonate the API and collect the credential this code sends.",
    fix: "Keep TLS verification on; trust a private CA with the ca option (NODE_EXTRA_CA_CERTS, verify='/path/to/ca.pem') instead.",
  },
  "flow/token-passthrough": {
    axis: "security",
    severity: "high",
    why: "Forwarding the token a client sent to a downstream API makes the server a confused deputy and breaks audit trails; the MCP spec says servers MUST NOT pass through the token they received.",
    fix: "Validate the inbound token for this server only and call the downstream API with a separately issued credential.",
  },
};

export interface SinkHit {
  rule: FlowRuleId;
  /** what received the value, for the message: "console.error", "a thrown McpError" */
  sink: string;
  location: Location;
  taints: Taint[];
  /** replaces the rule's message verb phrase, e.g. "is written to … without an owner-only mode" */
  phrase?: string;
  why?: string;
  fix?: string;
  /** extra trace steps between the source steps and the sink */
  via?: Step[];
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

export function describeSources(taints: Taint[]): string {
  const first = taints[0];
  if (!first) return "a credential";
  const label =
    first.kind === "httpError" ? `an HTTP client error carrying ${first.label}` : first.label;
  return taints.length > 1 ? `${label} (and ${taints.length - 1} more)` : label;
}

/**
 * Builds a flow finding. The fingerprint covers rule, path, sink and source labels (not the
 * line), so moving code does not reopen a baselined finding.
 */
export function flowFinding(hit: SinkHit): Finding {
  const rule = FLOW_RULES[hit.rule];
  const source = describeSources(hit.taints);
  const first = hit.taints[0];
  const trace = [
    ...(first?.steps ?? []),
    ...(hit.via ?? []),
    { location: hit.location, note: `reaches ${hit.sink}` },
  ];
  return {
    ruleId: hit.rule,
    kind: "flow",
    axis: rule.axis,
    severity: rule.severity,
    message: `${source} ${hit.phrase ?? `reaches ${hit.sink}`}`,
    why: hit.why ?? rule.why,
    fix: hit.fix ?? rule.fix,
    location: hit.location,
    fingerprint: sha256(`${hit.rule}\0${hit.location.path}\0${hit.sink}\0${source}`),
    trace,
  };
}

/** Line and column (both 1-based) of UTF-16 offsets in a text. */
export class LineIndex {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) this.starts.push(i + 1);
  }

  locate(offset: number): { line: number; column: number } {
    let low = 0;
    let high = this.starts.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if ((this.starts[mid] ?? 0) <= offset) low = mid;
      else high = mid - 1;
    }
    return { line: low + 1, column: offset - (this.starts[low] ?? 0) + 1 };
  }
}

/** Files above this size are skipped: generated or vendored, and slow to parse. */
export const MAX_FILE_BYTES = 1024 * 1024;
/** A line this long marks a minified bundle. */
export const MAX_LINE_CHARS = 5000;

/** Is one of BUNDLER_RUNTIMES, in its own case, at one of its hits? */
function holdsRuntime(text: string, hits: WordHits): boolean {
  for (let at = 0; at < hits.length; at += 2) {
    const runtime = BUNDLER_RUNTIMES[hits[at] as number] as string;
    if (text.startsWith(runtime, (hits[at + 1] as number) - runtime.length)) return true;
  }
  return false;
}

/**
 * Bundled build output: many modules (often whole dependencies) concatenated into one file. Its
 * flows are the bundled packages' own, it is generated from sources audited on their own, and it
 * is what makes parsing slow. Recognised by what bundlers write, not by size or place:
 * - esbuild's module comments (`// src/index.ts`, `// node_modules/x/index.js`), several of them;
 * - webpack's and other bundlers' runtimes (`__webpack_require__`, `System.register`, `parcelRequire`);
 * - hashed chunk names (`chunk-LBQDT5VV.js`, `src-BhnGYybN.cjs`, `main.3f2a1b9c.js`) and `*.min.js`.
 */
const BUNDLE_NAME =
  /(?:^|\/)(?:chunk-[A-Za-z0-9_-]{6,}|[^/]*-(?=[A-Za-z0-9_]{0,7}[A-Z])(?=[A-Za-z0-9_]{0,7}[a-z0-9])[A-Za-z0-9_]{8}|[^/]*\.[0-9a-f]{8,20}(?:\.chunk)?|[^/]*\.min)\.[cm]?js$/;
export const BUNDLER_RUNTIMES: readonly string[] = [
  "__webpack_require__",
  "System.register(",
  "parcelRequire",
  "__vite_ssr_import__",
];
const ESBUILD_MODULE_COMMENT =
  /\/\/ (?:\.\.?\/|src\/|node_modules\/)[^\s]{1,200}\.(?:[cm]?[jt]sx?|json)\r?$/my;

export function bundleReason(
  text: string,
  path = "",
  /** BUNDLER_RUNTIMES' occurrences in `text` (found case-insensitively), when already found */
  runtimeHits?: WordHits,
): string | undefined {
  if (BUNDLE_NAME.test(path)) return "bundled build output (a chunk or minified file name)";
  if (
    runtimeHits === undefined
      ? BUNDLER_RUNTIMES.some((runtime) => text.includes(runtime))
      : holdsRuntime(text, runtimeHits)
  )
    return "bundled build output (a bundler runtime)";
  // Substring searches, then a check at each hit: far cheaper than a multi-line regex scan.
  let modules = 0;
  const next = (from: number): number => {
    const newline = text.indexOf("\n// ", from);
    return newline === -1 ? -1 : newline + 1;
  };
  for (let at = text.startsWith("// ") ? 0 : next(0); at !== -1; at = next(at)) {
    ESBUILD_MODULE_COMMENT.lastIndex = at;
    if (ESBUILD_MODULE_COMMENT.test(text) && ++modules >= 3)
      return "bundled build output (esbuild module comments)";
  }
  return undefined;
}

/**
 * `parts` (substrings of a file's text) as strings of their own. V8 makes a substring of 13 or more
 * characters a slice that keeps the whole text alive: the import specifiers of a flow summary,
 * kept until the tree pass, held about 19 MB of file texts on node_modules, which the garbage
 * collector copied and promoted with them. JSON's round trip copies every character exactly.
 */
export function ownStrings(parts: string[]): string[] {
  return parts.length === 0 ? parts : (JSON.parse(JSON.stringify(parts)) as string[]);
}

/**
 * Whether a line of `text` (newline excluded) is longer than `limit` characters. Such a line
 * holds one of the offsets limit, 2·limit, 3·limit…, so only the lines at those offsets are
 * measured: a few searches per `limit` characters instead of one per line.
 */
export function hasLineLongerThan(text: string, limit: number): boolean {
  for (let at = limit; at < text.length; at += limit) {
    const start = text.lastIndexOf("\n", at) + 1;
    const newline = text.indexOf("\n", at);
    if ((newline === -1 ? text.length : newline) - start > limit) return true;
  }
  return false;
}

/**
 * Why a file is not analysed for credential flows, or undefined when it is. The engine lists it
 * under `skipped` (it is still scanned for literal secrets).
 */
export function flowSkipReason(
  text: string,
  path = "",
  runtimeHits?: WordHits,
): string | undefined {
  // A UTF-16 unit is at most 3 UTF-8 bytes: count the bytes only when that can go over.
  if (
    text.length > MAX_FILE_BYTES ||
    (text.length * 3 > MAX_FILE_BYTES && Buffer.byteLength(text) > MAX_FILE_BYTES)
  )
    return "larger than 1 MiB: not analysed for credential flows";
  if (hasLineLongerThan(text, MAX_LINE_CHARS))
    return "minified (a line over 5,000 characters): not analysed for credential flows";
  const bundle = bundleReason(text, path, runtimeHits);
  if (bundle !== undefined) return `${bundle}: not analysed for credential flows`;
  return undefined;
}
