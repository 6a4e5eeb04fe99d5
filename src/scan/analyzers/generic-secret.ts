/**
 * The keyword detector: a literal assigned to a credential-like name (`password = "…"`,
 * `apiKey: '…'`, `DB_PASSWORD=…`, `<password>…</password>`, `<add key="ApiKey" value="…"/>`)
 * whose value looks like a real secret. It finds what token formats cannot: passwords and keys
 * with no fixed shape. Precision first, as in detect-secrets' keyword plugin and gitleaks'
 * generic rule: placeholders, references, env lookups, paths, URLs, UUIDs and digests are not
 * secrets, and a value must carry some entropy unless its name says it is a password.
 *
 * Works line by line on any text (a whole file, or the added lines of a git diff), with a cheap
 * keyword prefilter per line, and returns offsets into the text it was given.
 */
import { isPlaceholder, shannonEntropy } from "../../detect/index.js";

export interface GenericMatch {
  ruleId: "secret/generic-password" | "secret/generic-api-key";
  /** the credential-like name the value was assigned to */
  key: string;
  /** UTF-16 offsets of the value (quotes and auth scheme excluded) in the scanned text */
  start: number;
  end: number;
  secret: string;
  severity: "high" | "medium";
}

export interface GenericOptions {
  /**
   * Whether unquoted values count. In code (`password = getPassword()`) an unquoted value is an
   * expression; in .env, YAML, .properties or INI files it is the literal itself.
   */
  unquoted: boolean;
}

/**
 * A credential word close before an assignment operator (or the `>` of an XML tag) must occur on
 * a line before the full patterns run: it skips `Object.keys(…)` and prose cheaply.
 */
const LINE_PREFILTER =
  /(?:pass|pwd|secret|token|key|auth|credential)[\w.$"'\]-]{0,40}\s{0,4}(?:[:=>]|<-)/i;

/** `name` (optionally quoted), an optional type annotation, an operator, then the value. */
const ASSIGNMENT =
  /(?<![\w.$-])(?<q>["']?)(?<key>[A-Za-z_$][\w.$-]{0,79})\k<q>\]?(?:\??:\s{0,2}[A-Za-z_][\w.<>[\]|]{0,40}\s{0,2}(?==))?\s{0,4}(?::=|=>|={1,3}|:|<-)\s{0,4}(?<value>"(?:[^"\\\r\n]|\\.){0,512}"|'(?:[^'\\\r\n]|\\.){0,512}'|`[^`\r\n$]{0,512}`|(?:(?:Bearer|Basic|Token)\s{1,3})?[^\s"'`,;)}\]<>]{1,512})/dgi;
/** `<password>value</password>` */
const XML_ELEMENT = /<(?<key>[A-Za-z_][\w.-]{0,63})>(?<value>[^<\r\n]{1,512})<\/\k<key>>/dg;
/** .NET appSettings: `<add key="ApiKey" value="…" />` */
const XML_KEY_VALUE =
  /\bkey\s{0,2}=\s{0,2}["'](?<key>[A-Za-z_][\w.:-]{0,79})["']\s{1,8}value\s{0,2}=\s{0,2}(?<value>"[^"\r\n]{0,512}"|'[^'\r\n]{0,512}')/dgi;

/** Last words that name the credential itself. */
const PASSWORD_WORDS = new Set(["password", "passwd", "pwd", "passphrase", "pass"]);
const SECRET_WORDS = new Set([
  "secret",
  "token",
  "apikey",
  "accesskey",
  "secretkey",
  "privatekey",
  "clientsecret",
  "authtoken",
  "accesstoken",
  "refreshtoken",
  "credential",
  "credentials",
  "auth",
  "authorization",
]);
/** `<qualifier>_key` is a secret key; other `…_key`s (public_key, sort_key, cache_key) are not. */
const KEY_QUALIFIERS = new Set([
  "api",
  "access",
  "secret",
  "private",
  "signing",
  "encryption",
  "master",
  "client",
  "app",
  "service",
  "auth",
  "admin",
  "shared",
  "hmac",
  "session",
  "jwt",
  "webhook",
  "license",
]);
/** `<qualifier>_token` that is not a credential: pagination, CSRF, LLM token counts. */
const NOT_CREDENTIAL_TOKENS = new Set([
  "page",
  "next",
  "continuation",
  "cursor",
  "csrf",
  "xsrf",
  "sync",
  "pagination",
  "request",
  "idempotency",
  "max",
  "num",
  "input",
  "output",
  "completion",
  "prompt",
  "total",
  "cancel",
  "cancellation",
  "progress",
]);
/** Trailing words that describe the form of the value, not what it is: `secret_key_base`. */
const FORM_WORDS = new Set([
  "value",
  "val",
  "str",
  "string",
  "raw",
  "plain",
  "plaintext",
  "b64",
  "base64",
  "hex",
  "base",
  "bytes",
  "data",
]);

/** `AWS_SECRET_ACCESS_KEY`, `apiKey`, `APIKey`, `db.password` → lower-case words. */
function words(name: string): string[] {
  return (name.match(/[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+/g) ?? []).map((word) => word.toLowerCase());
}

/** Which kind of credential a name holds, judged by its last meaningful word. */
export function credentialKind(name: string): "password" | "secret" | undefined {
  const parts = words(name);
  while (parts.length > 1 && FORM_WORDS.has(parts[parts.length - 1] as string)) parts.pop();
  const last = parts[parts.length - 1];
  const previous = parts[parts.length - 2] ?? "";
  if (last === undefined || parts.includes("public") || parts.includes("publishable"))
    return undefined;
  if (PASSWORD_WORDS.has(last)) return "password";
  if (last === "token" && NOT_CREDENTIAL_TOKENS.has(previous)) return undefined;
  if (SECRET_WORDS.has(last)) return "secret";
  if (last === "key" && KEY_QUALIFIERS.has(previous)) return "secret";
  return undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DIGEST_PREFIX = /^(?:sha\d{1,3}|md5|blake2b?)[:-]/i;
const HEX_DIGEST = /^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64}|[0-9a-f]{128})$/i;
const DIGEST_CONTEXT = /sha\d|digest|checksum|hash|integrity|md5/i;
const URL = /^[a-z][a-z0-9+.-]{0,20}:\/\//i;
const PATH =
  /^(?:\.{0,2}\/|~\/|[A-Za-z]:\\|\\\\)|^[\w.-]{1,80}(?:[/\\][\w.-]{1,80}){0,20}\.[A-Za-z0-9]{1,6}$/;
/** References to a secret kept elsewhere: cloud secret ids, keyring and vault paths, env names. */
const REFERENCE =
  /^(?:arn:|projects\/[^/]{1,80}\/secrets\/|vault:|keyward:|keyring:|env:|file:|ssm:|secretsmanager:|azurekeyvault:)/i;
const ENV_NAME = /^[A-Z][A-Z0-9]{0,40}(?:_[A-Z0-9]{1,40}){1,10}$/;
/** `config.password`, `self.token`, `args.api_key`: an expression, not a value. */
const MEMBER_EXPRESSION = /^[A-Za-z_$][\w$]{0,60}(?:\??\.[A-Za-z_$][\w$]{0,60}){1,8}(?:\(\))?$/;

function charClasses(value: string): number {
  return [/[a-z]/, /[A-Z]/, /\d/, /[^A-Za-z\d]/].filter((re) => re.test(value)).length;
}

/** Does the literal look like a real credential for this kind of name? Returns its severity. */
function judge(
  kind: "password" | "secret",
  value: string,
  line: string,
): "high" | "medium" | undefined {
  if (value.length < 8 || value.length > 512) return undefined;
  if (isPlaceholder(value) || /\s/.test(value)) return undefined;
  if (URL.test(value) || PATH.test(value) || REFERENCE.test(value) || UUID.test(value))
    return undefined;
  if (ENV_NAME.test(value) || MEMBER_EXPRESSION.test(value) || /^[\d.,:+-]+$/.test(value))
    return undefined;
  if (DIGEST_PREFIX.test(value) || (HEX_DIGEST.test(value) && DIGEST_CONTEXT.test(line)))
    return undefined;
  const entropy = shannonEntropy(value);
  const strong = entropy >= 3.5 && value.length >= 16;
  if (kind === "password") {
    // A hard-coded password is a finding even when weak (`hunter2hunter2`), but a lone word
    // (`production`) is more often a setting or an example than a password.
    if (charClasses(value) < 2 && entropy < 3.5) return undefined;
    return strong ? "high" : "medium";
  }
  if (entropy < 3 || charClasses(value) < 2) return undefined;
  return strong ? "high" : "medium";
}

/** The value inside its quotes, without an auth scheme: offsets relative to the value group. */
function unwrap(raw: string): { value: string; offset: number; quoted: boolean } {
  let value = raw;
  let offset = 0;
  const first = raw[0];
  const quoted =
    (first === '"' || first === "'" || first === "`") && raw.length >= 2 && raw.endsWith(first);
  if (quoted) {
    value = raw.slice(1, -1);
    offset = 1;
  }
  const scheme = /^(?:bearer|basic|token)\s{1,3}/i.exec(value);
  if (scheme !== null) {
    value = value.slice(scheme[0].length);
    offset += scheme[0].length;
  }
  return { value, offset, quoted };
}

function matchLine(
  line: string,
  lineStart: number,
  options: GenericOptions,
  out: GenericMatch[],
): void {
  for (const pattern of [ASSIGNMENT, XML_ELEMENT, XML_KEY_VALUE]) {
    pattern.lastIndex = 0;
    for (const match of line.matchAll(pattern)) {
      const key = match.groups?.key;
      const raw = match.groups?.value;
      const span = match.indices?.groups?.value;
      if (key === undefined || raw === undefined || span === undefined) continue;
      const kind = credentialKind(key);
      if (kind === undefined) continue;
      const { value, offset, quoted } = unwrap(raw);
      if (!quoted && pattern === ASSIGNMENT && !options.unquoted) continue;
      const severity = judge(kind, value, line);
      if (severity === undefined) continue;
      const start = lineStart + span[0] + offset;
      out.push({
        ruleId: kind === "password" ? "secret/generic-password" : "secret/generic-api-key",
        key,
        start,
        end: start + value.length,
        secret: value,
        severity,
      });
    }
  }
}

/** Credential-like assignments in `text`, in order of position. */
export function findGenericSecrets(text: string, options: GenericOptions): GenericMatch[] {
  const out: GenericMatch[] = [];
  let start = 0;
  while (start <= text.length) {
    const newline = text.indexOf("\n", start);
    const end = newline === -1 ? text.length : newline;
    const line = text.slice(start, end);
    if (LINE_PREFILTER.test(line)) matchLine(line, start, options, out);
    if (newline === -1) break;
    start = newline + 1;
  }
  out.sort((a, b) => a.start - b.start);
  return out.filter((match, i) => i === 0 || out[i - 1]?.start !== match.start);
}
