/**
 * The secret analyzer: literal credentials in any text file. Token formats come from src/detect
 * (scanText: keyword prefilter, offline checksums, placeholder filter); credential-like
 * assignments without a fixed format come from the keyword detector (generic-secret.ts). The
 * same function serves the working tree (secretsAnalyzer) and git history (src/scan/history.ts).
 *
 * A finding carries the masked value and a fingerprint, never the value.
 */
import { createHash } from "node:crypto";
import {
  getRule,
  mask,
  scanText,
  searchOnFirstUse,
  type TokenMatch,
  tokenRules,
  type WordHits,
} from "../../detect/index.js";
import type { Analyzer, Finding, RuleInfo, Severity, SourceFile } from "../types.js";
import {
  findGenericSecrets,
  GENERIC_WORDS,
  type GenericMatch,
  judgeValue,
  looksRandom,
} from "./generic-secret.js";

/** A secret found in text: the finding-to-be plus the raw value, which never leaves the scan. */
export interface SecretHit {
  ruleId: string;
  start: number;
  end: number;
  secret: string;
  severity: Severity;
  validation: "valid" | "invalid" | "unknown";
  /** human name of the format, e.g. "GitHub personal access token (classic)" */
  title: string;
  /** what the text holds at start..end when it differs from `secret` (a base64 Secret value) */
  encoded?: string;
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/**
 * SHA-256 over rule id, path and the SHA-256 of the subject (for secrets: the value), separated
 * by NUL so fields cannot run together: moving a line does not change it, and the value is never
 * stored. The same recipe as the config and flow analyzers use.
 */
export function fingerprint(ruleId: string, path: string, subject: string): string {
  return sha256(`${ruleId}\0${path}\0${sha256(subject)}`);
}

/** Token categories that are issued credentials: a match is a live key unless it is a test key. */
const LIVE_CATEGORIES = new Set(["token", "api-key", "cloud-key", "private-key"]);

/**
 * critical: the format is proven (checksum or structure valid), or it is an issued credential
 * format (a provider token, API key, cloud key or private key);
 * high: the rest (JWTs, connection-string passwords, test-mode keys, an AWS key id on its own).
 */
function tokenSeverity(match: TokenMatch): Severity {
  if (match.validation === "valid") return "critical";
  const rule = getRule(match.ruleId);
  if (rule === undefined || !LIVE_CATEGORIES.has(rule.category)) return "high";
  // An access key id names the key; without its secret access key it grants nothing.
  if (match.ruleId === "aws-access-key-id") return "high";
  if (/^(?:sk|rk)_test_/.test(match.secret)) return "high";
  return "critical";
}

/** Code files (and source maps, which embed code): unquoted right-hand sides are expressions there, not literals. */
const CODE_EXTENSIONS =
  /\.(?:[cm]?[jt]sx?(?:\.map|\.flow)?|css\.map|py|pyi|pyx|pxd|go|rb|java|kt|kts|scala|cs|php|rs|swift|c|cc|cpp|h|hpp|m|dart|lua|ex|exs|clj|groovy|gradle|vue|svelte|ps1|pl|pm|vb|fs)$/i;
/** Build scripts in a programming language, named without an extension. */
const CODE_NAMES =
  /(?:^|\/)(?:Jenkinsfile|Vagrantfile|Rakefile|Gemfile|Podfile|Fastfile|Dangerfile|Guardfile|Brewfile|Berksfile)(?:\.[\w-]+)?$/;

export function isCodePath(path: string): boolean {
  return CODE_EXTENSIONS.test(path) || CODE_NAMES.test(path);
}

/**
 * Tests and fixtures: directories such as test/, __tests__/, spec/, fixtures/, testdata/, and files
 * named like tests in the usual frameworks (`*.test.ts`, `*_test.go`, `test_*.py`, `*Test.java`).
 */
const TEST_PATH =
  /(?:^|\/)(?:tests?|__tests__|spec|specs|fixtures?|__fixtures__|testdata|test-data|__mocks__|mocks?|e2e)\/|(?:^|\/)(?:test_[^/]*|[^/]*[._-](?:test|tests|spec)\.[A-Za-z0-9]{1,6}|[^/]*Tests?\.(?:java|kt|cs|scala|groovy|swift)|conftest\.py)$/;

export function isTestPath(path: string): boolean {
  return TEST_PATH.test(path);
}

/** Templates committed in place of the real file: `.env.example`, `config.sample.yml`, `app.json.dist`. */
const TEMPLATE_PATH =
  /(?:^|\/)(?:[^/]*\.(?:example|sample|template|tmpl|tpl|dist)(?:\.[\w-]{1,10})?|(?:example|sample)[._-][^/]*)$/i;

export function isTemplatePath(path: string): boolean {
  return TEMPLATE_PATH.test(path);
}

const GENERIC_TITLES: Record<string, string> = {
  "secret/generic-password": "password",
  "secret/generic-api-key": "secret or API key",
};

/** Token keywords, then the keyword detector's words: one pass over a text finds both. */
const TOKEN_KEYWORDS = [...new Set(tokenRules.flatMap((rule) => rule.keywords))];
const SECRET_WORDS: readonly string[] = [...TOKEN_KEYWORDS, ...GENERIC_WORDS];
const secretSearch = searchOnFirstUse(SECRET_WORDS);

function tokenHit(match: TokenMatch): SecretHit {
  return {
    ruleId: `secret/${match.ruleId}`,
    start: match.start,
    end: match.end,
    secret: match.secret,
    severity: tokenSeverity(match),
    validation: match.validation,
    title: getRule(match.ruleId)?.title ?? match.ruleId,
  };
}

function genericHit(generic: GenericMatch): SecretHit {
  return {
    ruleId: generic.ruleId,
    start: generic.start,
    end: generic.end,
    secret: generic.secret,
    severity: generic.severity,
    validation: "unknown",
    title: GENERIC_TITLES[generic.ruleId] ?? generic.ruleId,
  };
}

/** Passwords a person chose, in a URL or connection string; generated tokens have formats of their own. */
const PASSWORD_CATEGORIES = new Set(["connection-string", "url-credential"]);

/**
 * In tests, a password in a URL counts only when it looks generated, as a keyword assignment's
 * value does there: `https://anonymous:flabada@…` in a URL parser's tests guards nothing.
 */
function isSamplePassword(match: TokenMatch): boolean {
  const category = getRule(match.ruleId)?.category;
  return category !== undefined && PASSWORD_CATEGORIES.has(category) && !looksRandom(match.secret);
}

/**
 * Every secret in `text`: token formats first, then keyword assignments that no token covers,
 * then the base64 values of Kubernetes Secrets. In templates (`.env.example`) only token formats
 * count; in tests and fixtures a keyword assignment, or a password in a URL, counts only when its
 * value looks generated.
 */
export function findSecrets(
  text: string,
  path: string,
  /** where SECRET_WORDS occur in `text`, when the caller's own pass found them */
  secretWordHits: WordHits = secretSearch().hits(text),
): SecretHit[] {
  const present = new Set<string>();
  const wordHits: number[] = [];
  for (let at = 0; at < secretWordHits.length; at += 2) {
    const word = secretWordHits[at] as number;
    if (word < TOKEN_KEYWORDS.length) present.add(TOKEN_KEYWORDS[word] as string);
    else wordHits.push(word - TOKEN_KEYWORDS.length, secretWordHits[at + 1] as number);
  }
  const matches = scanText(text, { present });
  // Read only when needed: most files hold neither a token nor a credential word.
  const testCode = (matches.length > 0 || wordHits.length > 0) && isTestPath(path);
  const hits: SecretHit[] = matches
    .filter((match) => !testCode || !isSamplePassword(match))
    .map(tokenHit);
  if (wordHits.length > 0 && !isTemplatePath(path)) {
    const tokens = [...hits];
    const options = { unquoted: !isCodePath(path), testCode, wordHits };
    for (const generic of findGenericSecrets(text, options)) {
      // A token inside the assignment is the better finding: it names the provider.
      if (tokens.some((t) => t.start < generic.end && generic.start < t.end)) continue;
      hits.push(genericHit(generic));
    }
  }
  if (KUBERNETES_MANIFEST.test(path)) hits.push(...kubernetesSecretData(text));
  return hits.sort((a, b) => a.start - b.start);
}

const KUBERNETES_MANIFEST = /\.(?:ya?ml)$/i;
const SECRET_KIND = /^kind:[ \t]*["']?Secret["']?[ \t]*$/m;
const BASE64 = /^(?:[A-Za-z0-9+/]{4}){2,2048}(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The values under `data:` in a Kubernetes Secret are base64: decoded, each is scanned for token
 * formats and keyword assignments (a `.dockerconfigjson`, an embedded `.env`) and, failing
 * those, judged as the value of its key (`DB_PASSWORD: aHVudGVy…`). A hit spans the encoded
 * value in the file; `secret` is the decoded credential and `encoded` what the file holds.
 */
export function kubernetesSecretData(text: string): SecretHit[] {
  if (!SECRET_KIND.test(text)) return [];
  const hits: SecretHit[] = [];
  const bounds = [0];
  for (const separator of text.matchAll(/^---[^\n]*$/gm)) {
    bounds.push(separator.index, separator.index + separator[0].length);
  }
  bounds.push(text.length);
  for (let i = 0; i + 1 < bounds.length; i += 2) {
    const documentStart = bounds[i] as number;
    const document = text.slice(documentStart, bounds[i + 1]);
    if (!SECRET_KIND.test(document)) continue;
    for (const entry of secretDataEntries(document)) {
      const start = documentStart + entry.offset;
      const span = { start, end: start + entry.encoded.length, encoded: entry.encoded };
      hits.push(...decodedHits(entry.key, entry.decoded).map((hit) => ({ ...hit, ...span })));
    }
  }
  return hits;
}

interface DataEntry {
  key: string;
  encoded: string;
  decoded: string;
  /** offset of the encoded value in the document */
  offset: number;
}

const DATA_ENTRY =
  /^([ \t]+)["']?([\w.-]{1,253})["']?:[ \t]*["']?([A-Za-z0-9+/=]{8,16384})["']?[ \t]*$/;

/** `data:` then the `key: base64` lines indented under it, decoded to printable UTF-8. */
function secretDataEntries(document: string): DataEntry[] {
  const entries: DataEntry[] = [];
  const data = /^data:[ \t]*\r?$/m.exec(document);
  if (data === null) return entries;
  let indent: string | undefined;
  let offset = data.index + data[0].length + 1;
  while (offset < document.length) {
    const newline = document.indexOf("\n", offset);
    const end = newline === -1 ? document.length : newline;
    const line = document.slice(offset, end).replace(/\r$/, "");
    const match = DATA_ENTRY.exec(line);
    if (match === null && line.trim() !== "") break;
    const [, space = "", key = "", encoded = ""] = match ?? [];
    if (match !== null && indent !== undefined && space !== indent) break;
    if (match !== null && BASE64.test(encoded)) {
      indent = space;
      const decoded = Buffer.from(encoded, "base64").toString("utf8");
      if (!/[\u0000-\u0008\u000e-\u001f\ufffd]/.test(decoded)) {
        const at = line.indexOf(encoded, space.length + key.length);
        entries.push({ key, encoded, decoded, offset: offset + at });
      }
    }
    offset = end + 1;
  }
  return entries;
}

/** Secrets in one decoded Secret value; offsets are replaced by the caller. */
function decodedHits(key: string, decoded: string): SecretHit[] {
  const tokens = scanText(decoded).map(tokenHit);
  if (tokens.length > 0) return tokens;
  const generic = findGenericSecrets(decoded, { unquoted: true }).map(genericHit);
  if (generic.length > 0) return generic;
  const whole = judgeValue(key, decoded.trim(), { unquoted: true });
  return whole === undefined ? [] : [genericHit(whole)];
}

/** Line starts of `text`, for turning offsets into 1-based line and column. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = text.indexOf("\n"); i !== -1; i = text.indexOf("\n", i + 1)) starts.push(i + 1);
  return starts;
}

/** 1-based line and column (UTF-16 units, SARIF's default) of `offset`. */
export function position(
  starts: readonly number[],
  offset: number,
): { line: number; column: number } {
  let low = 0;
  let high = starts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if ((starts[mid] as number) <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - (starts[low] as number) + 1 };
}

const WHY_LIVE =
  "Anyone who can read this file — clones, forks, CI logs, package tarballs, the model that reads the repository — can act as the key's owner until the key is revoked.";
const WHY_OTHER =
  "A credential in a file travels with every copy of it; it cannot be rotated without a code change and it never expires on its own.";
const WHY_HISTORY =
  "Removing a key from the files does not remove it from git history: every clone, fork and mirror still holds it, and it stays valid until it is revoked.";
const FIX =
  "Revoke or rotate the credential at its provider first (deleting the line does not revoke it), then load it at run time from a secrets manager (e.g. `keyward secret set` and `keyward run`) or an environment variable injected by one.";
const FIX_HISTORY =
  "Revoke or rotate the credential at its provider (the only step that stops its use); then, if the repository is shared, consider rewriting history (git filter-repo) so the value stops spreading.";

export interface Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

/** Where a history finding was committed, and whether its value is still in the working tree. */
export interface Commit {
  commit: string;
  commitDate: string;
  presentInTree: boolean;
}

function historyNote(commit: Commit): string {
  const where = `committed in ${commit.commit.slice(0, 12)} (${commit.commitDate.slice(0, 10)})`;
  return commit.presentInTree
    ? `${where} and still in the working tree`
    : `${where}; gone from the working tree but kept in history`;
}

/** The finding for a hit at `span` (1-based lines, UTF-16 columns; endColumn exclusive). */
export function secretFinding(hit: SecretHit, path: string, span: Span, commit?: Commit): Finding {
  const proof = hit.validation === "valid" ? ", checksum valid" : "";
  const what = `${hit.title}${proof}`;
  const onlyInHistory = commit?.presentInTree === false;
  return {
    ruleId: hit.ruleId,
    kind: "secret",
    axis: "security",
    severity: hit.severity,
    message:
      commit === undefined
        ? `Hard-coded ${what}: ${mask(hit.secret)}`
        : `${what[0]?.toUpperCase()}${what.slice(1)}, ${historyNote(commit)}: ${mask(hit.secret)}`,
    why: onlyInHistory ? WHY_HISTORY : hit.severity === "critical" ? WHY_LIVE : WHY_OTHER,
    fix: onlyInHistory ? FIX_HISTORY : FIX,
    location: { path, ...span, ...commit },
    masked: mask(hit.secret),
    fingerprint: fingerprint(hit.ruleId, path, hit.secret),
    validation: hit.validation,
  };
}

export const secretRules: readonly RuleInfo[] = [
  ...tokenRules.map((rule) => ({ id: `secret/${rule.id}`, title: `Hard-coded ${rule.title}` })),
  ...Object.entries(GENERIC_TITLES).map(([id, title]) => ({ id, title: `Hard-coded ${title}` })),
];

export const secretsAnalyzer: Analyzer = {
  id: "secrets",
  rules: secretRules,
  applies: () => true,
  keywords: SECRET_WORDS,
  readsStandIn: true,
  analyze(file: SourceFile, wordHits?: WordHits): Finding[] {
    const hits = findSecrets(file.text, file.path, wordHits);
    if (hits.length === 0) return [];
    const starts = lineStarts(file.text);
    return hits.map((hit) => {
      const start = position(starts, hit.start);
      const end = position(starts, hit.end);
      const span = { ...start, endLine: end.line, endColumn: end.column };
      return secretFinding(hit, file.path, span);
    });
  },
};
