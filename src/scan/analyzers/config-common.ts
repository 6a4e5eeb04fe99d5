/**
 * Shared by the configuration analyzers (config-*.ts): a JSONC/YAML reader that keeps source
 * offsets, the credential-name and secret-value heuristics, and the finding builder.
 */
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Node } from "yaml";
import {
  isPlaceholder,
  mask,
  scanText,
  shannonEntropy,
  type TokenMatch,
} from "../../detect/index.js";
import type { Axis, Finding, Severity } from "../types.js";

// ---------------------------------------------------------------------------------------------
// Structured documents with offsets

/**
 * The YAML library, loaded on first use: most audited trees have few or no configuration files.
 * The audit loads it with loadYaml (Analyzer.load), an import that the CLI bundle serves from
 * one chunk; direct callers of parseStructured get a synchronous require (yaml ships CommonJS
 * for Node), which reads its hundred modules from node_modules.
 */
let yamlModule: typeof import("yaml") | undefined;
function yaml(): typeof import("yaml") {
  yamlModule ??= createRequire(import.meta.url)("yaml") as typeof import("yaml");
  return yamlModule;
}

export async function loadYaml(): Promise<void> {
  // yaml is CommonJS: its module.exports is the import's default export, which its type
  // declarations (written as an ES module) do not show; the bundle exposes nothing else.
  const imported = (await import("yaml")) as unknown as { default: typeof import("yaml") };
  yamlModule ??= imported.default;
}

/** A parsed JSON/YAML value that remembers where it sits in the source text. */
export type TreeNode =
  | { kind: "object"; start: number; end: number; entries: TreeEntry[] }
  | { kind: "array"; start: number; end: number; items: TreeNode[] }
  | { kind: "string"; start: number; end: number; value: string }
  /** numbers, booleans, null, aliases: kept with their text so `write-all` vs `true` stays visible */
  | { kind: "other"; start: number; end: number; value: string };

export interface TreeEntry {
  key: string;
  keyStart: number;
  value: TreeNode;
}

export interface ParsedDocument {
  root: TreeNode | undefined;
  /** 1-based line and column of a UTF-16 offset in the original text. */
  position(offset: number): { line: number; column: number };
}

/**
 * JSONC comments blanked out with spaces, newlines kept, so every offset still points at the
 * same character of the original text. Written by hand because it is a dozen lines, where
 * jsonc-parser would be a new dependency for one call; YAML (a JSON superset) then parses the
 * rest, trailing commas included, and reports node ranges.
 */
export function blankJsoncComments(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      let j = i + 1;
      while (j < text.length && text[j] !== '"' && text[j] !== "\n") j += text[j] === "\\" ? 2 : 1;
      out += text.slice(i, j + 1);
      i = j + 1;
    } else if (char === "/" && text[i + 1] === "/") {
      const j = text.indexOf("\n", i);
      const stop = j === -1 ? text.length : j;
      out += " ".repeat(stop - i);
      i = stop;
    } else if (char === "/" && text[i + 1] === "*") {
      const j = text.indexOf("*/", i + 2);
      const stop = j === -1 ? text.length : j + 2;
      out += text.slice(i, stop).replace(/[^\n\r]/g, " ");
      i = stop;
    } else {
      out += char;
      i++;
    }
  }
  return out;
}

function toTree(node: unknown): TreeNode | undefined {
  const n = node as Node | null;
  const { isMap, isScalar, isSeq } = yaml();
  if (n === null || n === undefined || !n.range) return undefined;
  const [start, , end] = n.range;
  if (isMap(n)) {
    const entries: TreeEntry[] = [];
    for (const pair of n.items) {
      const key = pair.key as Node | null;
      const value = toTree(pair.value);
      if (!isScalar(key) || key.range === undefined || key.range === null || value === undefined)
        continue;
      entries.push({ key: String(key.value), keyStart: key.range[0], value });
    }
    return { kind: "object", start, end, entries };
  }
  if (isSeq(n)) {
    const items = n.items.map(toTree).filter((item) => item !== undefined);
    return { kind: "array", start, end, items };
  }
  if (isScalar(n)) {
    return typeof n.value === "string"
      ? { kind: "string", start, end, value: n.value }
      : { kind: "other", start, end, value: String(n.value) };
  }
  return undefined;
}

/** Parses YAML, JSON or (with `jsonc`) JSON with comments. Undefined when the text does not parse. */
export function parseStructured(
  text: string,
  options: { jsonc?: boolean } = {},
): ParsedDocument | undefined {
  const { LineCounter, parseDocument } = yaml();
  const lineCounter = new LineCounter();
  const source = options.jsonc ? blankJsoncComments(text) : text;
  const doc = parseDocument(source, { lineCounter, uniqueKeys: false, prettyErrors: false });
  if (doc.errors.length > 0) return undefined;
  return {
    root: toTree(doc.contents),
    position(offset) {
      const { line, col } = lineCounter.linePos(offset);
      return { line, column: col };
    },
  };
}

export function entry(node: TreeNode | undefined, key: string): TreeNode | undefined {
  return node?.kind === "object" ? node.entries.find((e) => e.key === key)?.value : undefined;
}

export function stringValue(node: TreeNode | undefined): string | undefined {
  return node?.kind === "string" ? node.value : undefined;
}

/** 1-based line of `offset` in `text` (for line-oriented files: .env, Dockerfile, Markdown). */
export function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

// ---------------------------------------------------------------------------------------------
// Credential names and values

/** Words that make a name a credential: GITHUB_PERSONAL_ACCESS_TOKEN, apiKey, X-API-Key, Authorization, DB_PASS. */
const CREDENTIAL_WORDS = new Set([
  "token",
  "secret",
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "pass",
  "apikey",
  "key",
  "pat",
  "auth",
  "authorization",
  "credential",
  "credentials",
  "cookie",
  "bearer",
]);

/**
 * Last words that make a name describe something about a credential rather than hold it
 * (CodeQL's not-sensitive override, SensitiveDataHeuristics.qll): JIRA_USERNAME, KEY_ID,
 * GITHUB_APP_PRIVATE_KEY_PATH, TOKEN_URL, GITHUB_OAUTH_SCOPES, MAX_TOKEN_LENGTH.
 */
const DESCRIPTIVE_LAST_WORDS = new Set([
  "url",
  "uri",
  "endpoint",
  "host",
  "hostname",
  "domain",
  "port",
  "path",
  "file",
  "filename",
  "dir",
  "directory",
  "id",
  "ids",
  "name",
  "user",
  "username",
  "login",
  "email",
  "region",
  "type",
  "mode",
  "enabled",
  "disabled",
  "scope",
  "scopes",
  "timeout",
  "ttl",
  "expiry",
  "expires",
  "expiration",
  "length",
  "size",
  "prefix",
  "format",
  "count",
  "limit",
  "max",
  "min",
  "version",
  "label",
  "description",
  "helper",
  "command",
  "header",
  "env",
  "var",
  "field",
  "hint",
  "algorithm",
  "provider",
  "issuer",
  "audience",
]);

/** Words before KEY that make it a lookup key or a public one, not a credential. */
const NON_SECRET_KEY_QUALIFIERS = new Set([
  "public",
  "publishable",
  "sort",
  "cache",
  "primary",
  "partition",
  "foreign",
  "idempotency",
  "hot",
  "map",
  "lookup",
]);

/** `GITHUB_PERSONAL_ACCESS_TOKEN`, `apiKey`, `X-API-Key`, `OAuth` → lower-case words. */
export function nameWords(name: string): string[] {
  return name
    .split(/[^A-Za-z0-9]+/)
    .flatMap((part) => part.split(/(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])/))
    .filter((word) => word !== "")
    .map((word) => word.toLowerCase());
}

/** True when a variable, header, flag or parameter name says it holds a credential. */
export function isCredentialName(name: string): boolean {
  const words = nameWords(name);
  const last = words[words.length - 1];
  if (last === undefined || DESCRIPTIVE_LAST_WORDS.has(last)) return false;
  if (words.includes("public") || words.includes("publishable")) return false;
  return words.some(
    (word, i) =>
      CREDENTIAL_WORDS.has(word) &&
      !(word === "key" && NON_SECRET_KEY_QUALIFIERS.has(words[i - 1] ?? "")),
  );
}

/** `Bearer x`, `Basic x`, `token x` → `x`: the scheme is not part of the secret. */
export function stripAuthScheme(value: string): string {
  return value.trim().replace(/^(?:bearer|basic|token|apikey)\s+/i, "");
}

/**
 * A literal under a credential name that looks like a real secret rather than a setting:
 * not a placeholder, no spaces, not a URL or path, at least 8 characters and at least
 * 3 bits of entropy per character (so `hunter22`, `postgres`, `localdev` pass unflagged).
 */
export function looksLikeSecretValue(raw: string): boolean {
  const value = stripAuthScheme(raw);
  if (value.length < 8 || value.length > 8192) return false;
  if (isPlaceholder(value) || /\s/.test(value)) return false;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value) || /^[~.]?[/\\]/.test(value)) return false;
  if (/^[\d.,:+-]+$/.test(value)) return false;
  return shannonEntropy(value) >= 3;
}

/** The strongest token-format match in a value: a checksum-valid one first. */
export function strongestToken(value: string): TokenMatch | undefined {
  const matches = scanText(value);
  return matches.find((m) => m.validation === "valid") ?? matches[0];
}

export interface SecretVerdict {
  /** the secret itself (a token inside the value, or the whole value without its auth scheme) */
  secret: string;
  /** the token rule that matched, when one did */
  token?: TokenMatch;
}

/**
 * Is this literal a secret? Yes when it holds a known token format (whatever its name), or when
 * its name is credential-like and the value looks real. Placeholders and references never are.
 */
export function judgeLiteral(name: string, value: string): SecretVerdict | undefined {
  const token = strongestToken(value);
  if (token !== undefined) return { secret: token.secret, token };
  if (!isCredentialName(name)) return undefined;
  if (looksLikeSecretValue(value)) return { secret: stripAuthScheme(value) };
  // `${GITHUB_PAT:-<literal>}`: the reference is fine, its fallback is a literal like any other.
  for (const [, fallback = ""] of value.matchAll(/\$\{[A-Za-z_][A-Za-z0-9_]*:-([^}]{1,4096})\}/g)) {
    if (looksLikeSecretValue(fallback)) return { secret: fallback };
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Findings

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * SHA-256 over rule id, path and the SHA-256 of the subject (the secret value, or a key path such
 * as `mcpServers.github.args` for findings without one), NUL-separated so fields cannot run
 * together. Moving lines does not change it; the value itself is never stored.
 */
export function fingerprint(ruleId: string, path: string, subject: string): string {
  return sha256(`${ruleId}\0${path}\0${sha256(subject)}`);
}

export interface ConfigFindingInput {
  ruleId: string;
  axis: Axis;
  severity: Severity;
  message: string;
  why: string;
  fix: string;
  path: string;
  line: number;
  column?: number;
  /** what the finding is about when it carries no secret: a key path, package name… */
  subject: string;
  /** the secret, when the finding is about one: hashed into the fingerprint and masked, never stored */
  secret?: string;
  token?: TokenMatch;
}

export function configFinding(input: ConfigFindingInput): Finding {
  const finding: Finding = {
    ruleId: input.ruleId,
    kind: "config",
    axis: input.axis,
    severity: input.severity,
    message: input.message,
    why: input.why,
    fix: input.fix,
    location: { path: input.path, line: input.line },
    fingerprint: fingerprint(input.ruleId, input.path, input.secret ?? input.subject),
  };
  if (input.column !== undefined) finding.location.column = input.column;
  if (input.secret !== undefined) {
    finding.masked = mask(input.secret);
    finding.validation = input.token?.validation ?? "unknown";
  }
  return finding;
}

/** Critical when an offline checksum proves the token format, high otherwise. */
export function secretSeverity(verdict: SecretVerdict): Severity {
  return verdict.token?.validation === "valid" ? "critical" : "high";
}

/** "a literal credential (github-pat format, checksum valid)" for messages: the kind, never the value. */
export function describeSecret(verdict: SecretVerdict): string {
  if (verdict.token === undefined) return "a literal credential";
  const proof = verdict.token.validation === "valid" ? ", checksum valid" : "";
  return `a literal credential (${verdict.token.ruleId} format${proof})`;
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}
