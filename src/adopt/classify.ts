/**
 * Which values in a client entry are secrets. A value is a secret when it is not a reference the
 * client resolves itself and either matches a token format (src/detect) or sits under a
 * credential-like name (TOKEN, KEY, SECRET, PASSWORD, PAT, AUTH, …) without being an obvious
 * setting (a path, a URL without credentials, a boolean). Moving a harmless value into the store
 * costs little; leaving a real token in the file is the failure to avoid, so the name rule leans
 * towards "secret".
 */
import { getRule, scanText } from "../detect/index.js";

export type ValueClass = "secret" | "placeholder" | "setting";

export interface Classified {
  class: ValueClass;
  /** the token format that matched, when one did */
  ruleId?: string;
  /** the upstream that issued it, when known */
  provider?: string;
}

const CREDENTIAL_WORDS = new Set([
  "TOKEN",
  "TOKENS",
  "KEY",
  "APIKEY",
  "SECRET",
  "SECRETS",
  "PASSWORD",
  "PASSWD",
  "PASSPHRASE",
  "PASS",
  "PWD",
  "PAT",
  "AUTH",
  "AUTHORIZATION",
  "CREDENTIAL",
  "CREDENTIALS",
  "PRIVATE",
  "COOKIE",
  "BEARER",
]);

/** Word endings that make a compound credential word: APIKEY, AUTHTOKEN, CLIENTSECRET. */
const CREDENTIAL_ENDINGS = ["TOKEN", "SECRET", "PASSWORD", "PASSWD", "APIKEY"];

/** A last word that makes the name a setting even when a credential word precedes it (GITHUB_APP_PRIVATE_KEY_PATH). */
const SETTING_LAST_WORDS = new Set([
  "URL",
  "URI",
  "HOST",
  "HOSTNAME",
  "PORT",
  "PATH",
  "FILE",
  "DIR",
  "ID",
  "USER",
  "USERNAME",
  "EMAIL",
  "NAME",
  "TYPE",
  "MODE",
  "SCOPE",
  "SCOPES",
  "REGION",
  "TIMEOUT",
  "LEVEL",
  "ENABLED",
  "DISABLED",
  "REQUIRED",
  "SERVER",
  "ENDPOINT",
  "ISSUER",
  "DOMAIN",
  "AUDIENCE",
  "CALLBACK",
  "REDIRECT",
  "METHOD",
  "HEADER",
  "PREFIX",
  "EXPIRY",
  "TTL",
]);

/** Upper-cased words of an env variable, header or query parameter name: GITHUB_PAT, X-Api-Key, apiKey. */
export function nameWords(name: string): string[] {
  return name
    .replace(/([a-z0-9])([A-Z])/g, "$1_$2")
    .split(/[^A-Za-z0-9]+/)
    .filter((w) => w !== "")
    .map((w) => w.toUpperCase());
}

export function isCredentialName(name: string): boolean {
  const words = nameWords(name);
  const last = words.at(-1);
  if (last === undefined || SETTING_LAST_WORDS.has(last)) return false;
  return words.some(
    (w) => CREDENTIAL_WORDS.has(w) || CREDENTIAL_ENDINGS.some((end) => w.endsWith(end)),
  );
}

/** References resolved at launch by a secret manager: not literal values. */
const REFERENCE = /^(?:op|pass|se):\/\//;

/** A value that is clearly not a credential even under a credential-like name. */
function isInert(value: string): boolean {
  const trimmed = value.trim();
  // Not detect's isPlaceholder: its filler rules (e.g. "123456" inside) would leave real
  // passwords in the file, and moving documentation filler into the store costs nothing.
  if (/^(?:|true|false|yes|no|on|off|null|none|\d{1,6})$/i.test(trimmed)) return true;
  // Paths to a key or credentials file: the file is the secret, not its name. An absolute path
  // must end in a file extension, since base64 secrets may start with "/" too.
  if (/^(?:~[/\\]|[A-Za-z]:[/\\]|\.{1,2}[/\\])/.test(trimmed)) return true;
  if (/^\/(?:[\w@ -]+\/)*[\w@ .-]+\.[A-Za-z0-9]{1,8}$/.test(trimmed)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(trimmed)) {
    try {
      const url = new URL(trimmed);
      if (url.username === "" && url.password === "") return true;
    } catch {
      return false;
    }
  }
  return false;
}

const PROVIDER_BY_WORD: Record<string, string> = {
  GITHUB: "github",
  GH: "github",
  SLACK: "slack",
  JIRA: "atlassian",
  CONFLUENCE: "atlassian",
  ATLASSIAN: "atlassian",
  GITLAB: "gitlab",
};

function providerFromName(name: string): string | undefined {
  for (const word of nameWords(name)) {
    const provider = PROVIDER_BY_WORD[word];
    if (provider !== undefined) return provider;
  }
  return undefined;
}

/**
 * Classifies one value found under `name` (an env variable, a header or a query parameter).
 * `isClientPlaceholder` is the client adapter's own reference test.
 */
export function classifyValue(
  name: string,
  value: string,
  isClientPlaceholder: (value: string) => boolean,
): Classified {
  if (isClientPlaceholder(value) || REFERENCE.test(value.trim())) return { class: "placeholder" };
  const match = scanText(value)[0];
  if (match !== undefined) {
    const provider = getRule(match.ruleId)?.provider ?? providerFromName(name);
    return provider === undefined
      ? { class: "secret", ruleId: match.ruleId }
      : { class: "secret", ruleId: match.ruleId, provider };
  }
  if (isCredentialName(name) && !isInert(value)) {
    const provider = providerFromName(name);
    return provider === undefined ? { class: "secret" } : { class: "secret", provider };
  }
  return { class: "setting" };
}

/** Authorization-style headers whose value is `<scheme> <credential>`. */
const SCHEMED_HEADERS = new Set(["authorization", "proxy-authorization"]);

/**
 * Splits a header value into the part kept in the profile's template and the credential:
 * `Bearer abc` → { prefix: "Bearer ", credential: "abc" }. Other headers: the whole value.
 */
export function splitHeaderValue(
  header: string,
  value: string,
): { prefix: string; credential: string } {
  if (SCHEMED_HEADERS.has(header.toLowerCase())) {
    const match = /^([A-Za-z][A-Za-z0-9._~+-]*[ \t]+)(\S+)$/.exec(value.trim());
    if (match !== null) return { prefix: match[1] ?? "", credential: match[2] ?? "" };
  }
  return { prefix: "", credential: value };
}
