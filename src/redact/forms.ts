/**
 * Derived forms ("needles") of a secret value: every byte string under which the value, or a
 * recognisable piece of it, can appear in a server's output. See
 * ../shared/reference/mcp-protocol.md §7 for where each encoding arises.
 */

export type Form = "raw" | "json" | "url" | "hex" | "base64" | "base64url" | "prefix" | "suffix";

/**
 * A whole encoded form that a needle (its first or last characters) may grow into: the span
 * grows forwards (or backwards) over as much of `full` as the text repeats, and growing to all
 * of it reports `form` instead of prefix/suffix.
 */
export interface Growth {
  direction: "forward" | "backward";
  full: Uint8Array;
  form: Form;
}

/** How a match of a needle grows into the span that is replaced. */
export type Extension =
  | { kind: "none" }
  /**
   * Several forms can share the needle's bytes (a head without escapable characters is the
   * same raw and JSON-escaped): every one is tried and the longest growth wins.
   */
  | { kind: "grow"; targets: Growth[] }
  /**
   * An alignment core of a base64 run: the characters next to the core mix the value's bits
   * with its neighbours' (partial characters), so one alphabet character on each such side and
   * trailing `=` padding are redacted with it.
   */
  | Base64Extension;

export interface Base64Extension {
  kind: "base64";
  left: boolean;
  right: boolean;
  urlSafe: boolean;
}

export interface Needle {
  bytes: Uint8Array;
  form: Form;
  extension: Extension;
}

/** Fragments of at least this many characters of a longer value are redacted. */
export const FRAGMENT_CHARS = 12;

const NONE: Extension = { kind: "none" };
const utf8 = (s: string): Uint8Array => Buffer.from(s, "utf8");

/** A value's length in characters (code points), the unit of the minimum-length rule. */
export function charLength(value: string): number {
  let n = 0;
  for (const _ of value) n++;
  return n;
}

/**
 * All needles of `value` that are at least `minLength` bytes long, without duplicates.
 * The caller has already checked that the value itself is long enough to redact.
 */
export function deriveNeedles(value: string, minLength: number): Needle[] {
  const out: Needle[] = [];
  const byBytes = new Map<string, Needle>();
  const push = (bytes: Uint8Array, form: Form, extension: Extension = NONE): void => {
    if (bytes.length < minLength) return;
    const key = Buffer.from(bytes).toString("latin1");
    const seen = byBytes.get(key);
    if (seen !== undefined) {
      // The same bytes under another form: keep the first, but keep every growth target,
      // or a value escaped only in its middle would grow over its raw form alone.
      seen.extension = withTargets(seen.extension, extension);
      return;
    }
    const needle = { bytes, form, extension };
    byBytes.set(key, needle);
    out.push(needle);
  };

  const raw = utf8(value);
  const chars = Array.from(value);
  const head = chars.slice(0, FRAGMENT_CHARS).join("");
  const tail = chars.slice(-FRAGMENT_CHARS).join("");
  const seenTexts = new Set<string>();
  for (const [encode, form] of TEXT_FORMS) {
    const full = encode(value);
    if (seenTexts.has(full)) continue; // this escaping changes nothing in this value
    seenTexts.add(full);
    if (chars.length <= FRAGMENT_CHARS) {
      push(utf8(full), form);
      continue;
    }
    // Found through its first and last FRAGMENT_CHARS characters (escaped alike): any longer
    // prefix contains the short one, and the match then grows over as much of the whole form
    // as the text repeats, so the whole form needs no needle of its own.
    const fullBytes = utf8(full);
    const grow = (direction: Growth["direction"]): Extension => ({
      kind: "grow",
      targets: [{ direction, full: fullBytes, form }],
    });
    push(utf8(encode(head)), "prefix", grow("forward"));
    push(utf8(encode(tail)), "suffix", grow("backward"));
  }
  for (const encoded of urlEncodings(value)) push(utf8(encoded), "url");
  const hex = Buffer.from(raw).toString("hex");
  push(utf8(hex), "hex");
  push(utf8(hex.toUpperCase()), "hex");
  for (const core of base64Cores(raw)) {
    const extension = { kind: "base64", left: core.left, right: core.right } as const;
    push(utf8(core.text), "base64", { ...extension, urlSafe: false });
    push(utf8(toBase64Url(core.text)), "base64url", { ...extension, urlSafe: true });
  }
  return out;
}

/**
 * `into` with the growth targets of `from` added (into's list is extended in place). Other
 * kinds of extension do not combine (a base64 core equal to a text fragment): the first stays.
 */
function withTargets(into: Extension, from: Extension): Extension {
  if (from.kind !== "grow" || into.kind === "base64") return into;
  if (into.kind === "none") return from;
  for (const target of from.targets) into.targets.push(target);
  return into;
}

const jsonOnce = (s: string): string => JSON.stringify(s).slice(1, -1);
const escapeSolidus = (s: string): string => jsonOnce(s).replaceAll("/", "\\/");
const unicodeEscape = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`;
const escapeNonAscii = (s: string): string =>
  jsonOnce(s).replace(/[\u0080-\uffff]/g, unicodeEscape);
const escapeHtml = (s: string): string => jsonOnce(s).replace(/[<>&\u2028\u2029]/g, unicodeEscape);

/**
 * The raw text and its JSON string escapings: JSON.stringify's, the `\/` variant (PHP), the
 * ASCII-only `\uXXXX` variant (Python's default), the HTML-safe variant (Go's encoding/json:
 * `<`, `>`, `&`, U+2028, U+2029 as `\uXXXX`), each also a second time for JSON carried
 * inside a JSON string (structuredContent serialised into a text block). All escape character
 * by character, so the escaping of a prefix is a prefix of the escaping of the whole.
 */
const TEXT_FORMS: Array<[(s: string) => string, Form]> = [
  [(s) => s, "raw"],
  ...[jsonOnce, escapeSolidus, escapeNonAscii, escapeHtml].flatMap(
    (encode): Array<[(s: string) => string, Form]> => [
      [encode, "json"],
      [(s) => jsonOnce(encode(s)), "json"],
    ],
  ),
];

/** Percent-encodings: encodeURIComponent, form encoding (`+` for space, WHATWG set), lower-case hex. */
function urlEncodings(value: string): string[] {
  let component: string;
  try {
    component = encodeURIComponent(value);
  } catch {
    return []; // a lone surrogate has no UTF-8 form, so no percent-encoding either
  }
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  const variants = new Set<string>([component, component.replaceAll("%20", "+"), form]);
  for (const v of [...variants]) {
    variants.add(v.replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase()));
  }
  variants.delete(value);
  return [...variants];
}

export interface Base64Core {
  /** Standard-alphabet characters that depend only on the value's bytes. */
  text: string;
  /** A partial character (value bits mixed with a neighbour's) sits just before / after. */
  left: boolean;
  right: boolean;
}

/**
 * Base64 alignment cores. A value that starts at byte offset k (mod 3) of a longer buffer is
 * encoded from bit 8k on; the characters that hold only the value's bits are those from
 * ceil(8k/6) to floor(8(k+n)/6), whatever the neighbouring bytes are. Encoding k zero bytes
 * followed by the value and cutting there gives that core for k = 0, 1, 2.
 *
 * This also covers HTTP Basic credentials: `base64(user:token)` encodes the token at offset
 * (length of "user:") mod 3, so one of the three cores appears in the header whatever the
 * user name is. A value encoded on its own is the k = 0 core plus one padded final character.
 */
export function base64Cores(bytes: Uint8Array): Base64Core[] {
  const cores: Base64Core[] = [];
  for (let k = 0; k < 3; k++) {
    const padded = Buffer.concat([Buffer.alloc(k), bytes]);
    const encoded = padded.toString("base64");
    const from = Math.ceil((8 * k) / 6);
    const to = Math.floor((8 * padded.length) / 6);
    cores.push({
      text: encoded.slice(from, to),
      left: k !== 0,
      right: padded.length % 3 !== 0,
    });
  }
  return cores;
}

function toBase64Url(s: string): string {
  return s.replaceAll("+", "-").replaceAll("/", "_");
}
