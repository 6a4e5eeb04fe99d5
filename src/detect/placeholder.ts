/**
 * Placeholder and template filter (reference token-formats.md §4: gitleaks' global allowlist,
 * detect-secrets' filters, documentation conventions, MCP client config references).
 * A candidate that only stands in for a secret is not a leak, and redacting it live would only
 * mangle harmless text. Checksum-valid tokens are never passed through this filter by scanText.
 */

import { isAlphanumeric } from "./ascii.js";

/** Whole values, lower-cased, that are words or literals rather than secrets. */
const WORDS = new Set([
  "true",
  "false",
  "null",
  "undefined",
  "none",
  "nil",
  "empty",
  "password",
  "passwd",
  "pass",
  "pwd",
  "secret",
  "token",
  "apikey",
  "api_key",
  "api-key",
  "key",
  "test",
  "changeit",
  "foo",
  "bar",
  "baz",
  "qux",
  "foobar",
]);

/**
 * Values published as examples in specifications, copied into the docstrings and tests of every
 * library that implements them: RFC 6749's access token, refresh token, authorization code and
 * client secret.
 */
const PUBLISHED_EXAMPLES = new Set([
  "2YotnFZFEjr1zCsicMWpAA",
  "tGzv3JOkF0XG5Qx2TlKWIA",
  "SplxlOBeZQQYbYS6WxSbIA",
  "7Fjfp0ZBr1KtDRbnfVdmIw",
]);

/** The whole value is template or reference syntax. */
const WHOLE = [
  /^\$[A-Za-z_][A-Za-z0-9_]*$/, // $VAR
  /^\$\d+$/, // $1
  /^%[A-Za-z_][A-Za-z0-9_]*%$/, // %VAR%
  /^%[-+# 0]*\d*(?:\.\d+)?[sdvqxXfg]$/, // printf verbs
  /^\{[A-Za-z0-9_.]*\}$/, // {0}, {name}
  /^@[A-Za-z_][A-Za-z0-9_]*@$/, // @VAR@
  /^\[[A-Z][A-Z0-9_ -]*\]$/, // [YOUR_KEY]
  /^(?:op|pass|se):\/\//, // secret-manager references resolved at launch
  /^\/(?:Users|bin|etc|home|opt|tmp|usr|var)\//, // paths
  // somepassword, my-api-key, the_secret: documentation filler
  /^(?:some|my|the|our|a)[_-]?(?:(?:db|database|api|app|admin|user|super|strong)[_-]?)?(?:password|passwd|pass|pwd|secret|token|key|apikey)\d{0,3}$/i,
];

/** Somewhere in the value: template syntax, code that reads the secret elsewhere, documentation filler. */
const CONTAINS = [
  /\$\{/, // ${VAR}, ${VAR:-x}, ${{ secrets.X }}, ${input:id}, ${env:NAME}
  /\{\{[^}]{0,80}\}\}/, // {{ x }}
  /<[A-Za-z_][\w .:-]{0,63}>/, // <your-key>, <token>
  /\bprocess\.env\b|\bimport\.meta\.env\b|\bos\.environ\b|\bgetenv\s*\(|\bENV\[/,
  /x{4,}/i, // xxxx-xxxxxxxxx-xxxx
  /\*{3,}|•{3,}/, // masked
  /example|placeholder|redacted|dummy|sample/i,
  /change[_-]?me|replace[_-]?me/i,
  /your[_-]?(?:[a-z0-9]{1,16}[_-]?){0,3}(?:key|token|secret|password|pass)/i, // your_api_key, YOUR-TOKEN, your-sendgrid-api-key
  /014df517-39d1-4453-b7b3-9930c563627c/, // gitleaks stopword sample UUID
];

/**
 * True when the longest run of one repeated character, or of ascending neighbours in either case
 * (abcdef, 123456, `defGHijkLMNo` in a made-up documentation value), is long enough to be filler.
 */
function hasFillerRun(value: string): boolean {
  let same = 1;
  let ascending = 1;
  for (let i = 1; i < value.length; i++) {
    const code = value.charCodeAt(i);
    const previous = value.charCodeAt(i - 1);
    same = code === previous ? same + 1 : 1;
    // `| 32` lower-cases a letter and leaves a digit as it is.
    ascending =
      (code | 32) === (previous | 32) + 1 && isAlphanumeric(code) && isAlphanumeric(previous)
        ? ascending + 1
        : 1;
    if (same >= 8 || ascending >= 6) return true;
  }
  return false;
}

export function isPlaceholder(value: string): boolean {
  const trimmed = value.trim();
  if (trimmed === "") return true;
  if (WORDS.has(trimmed.toLowerCase()) || PUBLISHED_EXAMPLES.has(trimmed)) return true;
  // A single repeated character of any length: aaaa, ****, ....
  if (/^(.)\1*$/su.test(trimmed)) return true;
  if (WHOLE.some((re) => re.test(trimmed))) return true;
  if (CONTAINS.some((re) => re.test(trimmed))) return true;
  return hasFillerRun(trimmed);
}
