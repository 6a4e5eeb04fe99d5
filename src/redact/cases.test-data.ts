/**
 * Shared test data for the redaction tests: sample secrets of awkward shapes, a seeded random
 * source, and the per-encoding table of true positives (must be redacted) and near misses
 * (must pass untouched), in the manner of gitleaks' per-rule examples.
 */
import { generateKeyPairSync } from "node:crypto";
import type { Form } from "./forms.js";

/**
 * A PEM private key made for this run, without its final newline: JSON escapes only its
 * middle (the newlines between the BEGIN and END lines).
 */
function pemPrivateKey(type: "ec" | "ed25519"): string {
  const { privateKey } =
    type === "ec"
      ? generateKeyPairSync("ec", { namedCurve: "P-256" })
      : generateKeyPairSync("ed25519");
  return privateKey.export({ type: "pkcs8", format: "pem" }).toString().trim();
}

/**
 * Values whose escapable characters all lie in the middle: their first and last 12
 * characters read the same raw and JSON-escaped. The two keys share their BEGIN and END lines.
 */
export const MIDDLE_ESCAPED_SECRETS = [
  { name: "pem/ec", value: pemPrivateKey("ec") },
  { name: "pem/ed25519", value: pemPrivateKey("ed25519") },
  { name: "quoted-middle", value: 'abcdefghijkl"SECRET-MIDDLE"mnopqrstuvwx' },
  { name: "html-middle", value: "abcdefghijkl<b>SECRET&MIDDLE</b>mnopqrstuvwx" },
  { name: "multi-line", value: "first-line-0123\r\nsecond-line-4567\r\nthird-line-89ab" },
];

export const SAMPLE_SECRETS = [
  // Synthetic, checksum-valid GitHub token shape (token-formats.md §1.1 test vector).
  // Concatenated so no token-shaped literal is committed outside test files.
  { name: "github/pat", value: `${"gh"}p_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq17` },
  { name: "quoted", value: 'pa"ss\\wo\nrd\t-0123456789/xyz' },
  { name: "unicode", value: "clé-sécrète-ü-🔑-0123456789" },
  { name: "url-unsafe", value: "a b+c/d=e&f?g#h%i 0123456789" },
  { name: "eight", value: "Zx9kQ2vW" },
  { name: "digits", value: "83620194750" },
  { name: "ends-escaped", value: '"edge\tcase-0123456789-middle-plain-end\\' },
  ...MIDDLE_ESCAPED_SECRETS,
];

/** mulberry32: a small seeded generator, so failures reproduce. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomBytesFrom(random: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(random() * 256);
  return out;
}

const WORDS = "the quick brown fox jumps over lazy dog issue request failed token user".split(" ");

export function randomWords(random: () => number, count: number): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) out.push(WORDS[Math.floor(random() * WORDS.length)]!);
  return out.join(" ");
}

export interface Example {
  /** What the test prints on failure. */
  label: string;
  text: string;
  /** Substrings that must not survive redaction (computed here, not by forms.ts). */
  evidence: string[];
  /** For base64 forms: the base64 run in `text` that must still be valid base64 afterwards. */
  run?: string;
  /** Levels of JSON string escaping in `text` (none when absent). */
  escapes?: number;
}

export interface EncodingCase {
  form: Form;
  /** Matches are replaced by base64 characters of the same length, not by the marker. */
  masked?: boolean;
  truePositives: (value: string, random: () => number) => Example[];
  nearMisses: (value: string) => string[];
}

const b64 = (b: Uint8Array): string => Buffer.from(b).toString("base64");
const b64url = (b: Uint8Array): string => Buffer.from(b).toString("base64url");
const utf8 = (s: string): Buffer => Buffer.from(s, "utf8");
const chars = (s: string): string[] => Array.from(s);

/**
 * The text and every 12-character piece of it: a text replaced only at its ends (a value
 * escaped in its middle) leaks pieces, though the whole no longer appears.
 */
function wholeAndPieces(text: string): string[] {
  const c = chars(text);
  const pieces = [text];
  for (let i = 0; i + 12 < c.length; i++) pieces.push(c.slice(i, i + 12).join(""));
  return pieces;
}

/** The value with every third character changed: no run of 3+ characters of it survives. */
export function scramble(value: string): string {
  return chars(value)
    .map((c, i) => (i % 3 === 0 ? (c === "#" ? "$" : "#") : c))
    .join("");
}

/**
 * The base64 characters of `encoded` (of `buffer`) that hold only bits of buffer[from, to):
 * an independent statement of the alignment rule.
 */
function innerBase64(encoded: string, from: number, to: number): string {
  return encoded.slice(Math.ceil((8 * from) / 6), Math.floor((8 * to) / 6));
}

export const ENCODING_CASES: EncodingCase[] = [
  {
    form: "raw",
    truePositives: (v) => [{ label: "raw", text: v, evidence: wholeAndPieces(v) }],
    nearMisses: (v) => [
      scramble(v),
      chars(v)
        .slice(0, Math.min(11, chars(v).length - 1))
        .join(""),
      chars(v)
        .slice(-Math.min(11, chars(v).length - 1))
        .join(""),
    ],
  },
  {
    form: "json",
    truePositives: (v) => {
      const once = JSON.stringify(v).slice(1, -1);
      const twice = JSON.stringify(once).slice(1, -1);
      const ascii = once.replace(
        /[\u0080-\uffff]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      );
      const solidus = once.replaceAll("/", "\\/");
      const goHtmlSafe = once.replace(
        /[<>&\u2028\u2029]/g,
        (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
      );
      return [
        { label: "JSON.stringify", text: once, evidence: wholeAndPieces(once), escapes: 1 },
        { label: "JSON in JSON", text: twice, evidence: wholeAndPieces(twice), escapes: 2 },
        { label: "ASCII-only escapes", text: ascii, evidence: wholeAndPieces(ascii), escapes: 1 },
        { label: "escaped solidus", text: solidus, evidence: wholeAndPieces(solidus), escapes: 1 },
        {
          label: "Go HTML-safe",
          text: goHtmlSafe,
          evidence: wholeAndPieces(goHtmlSafe),
          escapes: 1,
        },
      ].filter((e) => e.text !== v);
    },
    nearMisses: (v) => [JSON.stringify(scramble(v)).slice(1, -1)],
  },
  {
    form: "url",
    truePositives: (v) => {
      const component = encodeURIComponent(v);
      return [
        { label: "encodeURIComponent", text: component, evidence: [component] },
        {
          label: "form encoding",
          text: new URLSearchParams({ q: v }).toString().slice(2),
          evidence: [new URLSearchParams({ q: v }).toString().slice(2)],
        },
        {
          label: "lower-case percent",
          text: component.replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase()),
          evidence: [component.replace(/%[0-9A-F]{2}/g, (p) => p.toLowerCase())],
        },
        {
          label: "in a query string",
          text: `https://api.example.com/v1?key=${component}&page=2`,
          evidence: [component],
        },
      ].filter((e) => !e.evidence.includes(v));
    },
    nearMisses: (v) => [encodeURIComponent(scramble(v))],
  },
  {
    form: "hex",
    truePositives: (v) => {
      const hex = utf8(v).toString("hex");
      return [
        { label: "hex lower", text: hex, evidence: [hex] },
        { label: "hex upper", text: hex.toUpperCase(), evidence: [hex.toUpperCase()] },
        { label: "hex in a dump", text: `00ff${hex}0a0d`, evidence: [hex] },
      ];
    },
    nearMisses: (v) => [
      utf8(scramble(v)).toString("hex"),
      utf8(v).subarray(0, -1).toString("hex"),
      utf8(v).subarray(1).toString("hex"),
    ],
  },
  {
    form: "base64",
    masked: true,
    truePositives: (v, random) => {
      const bytes = utf8(v);
      const whole = b64(bytes);
      const unpadded = whole.replace(/=+$/, "");
      const out: Example[] = [
        { label: "padded", text: whole, evidence: [unpadded], run: whole },
        { label: "unpadded", text: unpadded, evidence: [unpadded], run: unpadded },
      ];
      for (let k = 0; k < 3; k++) {
        const before = randomBytesFrom(random, 30 + k);
        const buffer = Buffer.concat([before, bytes, randomBytesFrom(random, 29)]);
        const encoded = b64(buffer);
        out.push({
          label: `inside a longer run at offset ${(30 + k) % 3}`,
          text: encoded,
          evidence: [innerBase64(encoded, before.length + 1, before.length + bytes.length - 1)],
          run: encoded,
        });
      }
      for (const user of ["bob", "alice", "svc-x"]) {
        const encoded = b64(utf8(`${user}:${v}`));
        out.push({
          label: `HTTP Basic for user ${user}`,
          text: `Authorization: Basic ${encoded}`,
          evidence: [innerBase64(encoded, user.length + 2, user.length + 1 + bytes.length - 1)],
          run: encoded,
        });
      }
      return out;
    },
    nearMisses: (v) => [b64(utf8(scramble(v))), b64(utf8(`user:${scramble(v)}`))],
  },
  {
    form: "base64url",
    masked: true,
    truePositives: (v, random) => {
      const bytes = utf8(v);
      const out: Example[] = [];
      for (let k = 0; k < 3; k++) {
        const before = randomBytesFrom(random, 30 + k);
        const encoded = b64url(Buffer.concat([before, bytes, randomBytesFrom(random, 29)]));
        out.push({
          label: `url-safe at offset ${k}`,
          text: encoded,
          evidence: [innerBase64(encoded, before.length + 1, before.length + bytes.length - 1)],
          run: encoded,
        });
      }
      const whole = b64url(bytes);
      out.push({ label: "url-safe unpadded", text: whole, evidence: [whole], run: whole });
      // Where the url-safe text equals the standard one, the hit is named "base64".
      return out.filter((e) => /[-_]/.test(e.evidence[0]!));
    },
    nearMisses: (v) => [b64url(utf8(scramble(v)))],
  },
  {
    form: "prefix",
    truePositives: (v) =>
      chars(v).length <= 12
        ? []
        : [12, chars(v).length - 1].map((n) => {
            const head = chars(v).slice(0, n).join("");
            return { label: `first ${n} characters`, text: `${head}…`, evidence: [head] };
          }),
    nearMisses: (v) => (chars(v).length <= 12 ? [] : [chars(v).slice(0, 11).join("")]),
  },
  {
    form: "suffix",
    truePositives: (v) =>
      chars(v).length <= 12
        ? []
        : [12, chars(v).length - 1].map((n) => {
            const tail = chars(v).slice(-n).join("");
            return { label: `last ${n} characters`, text: `…${tail}`, evidence: [tail] };
          }),
    nearMisses: (v) => (chars(v).length <= 12 ? [] : [chars(v).slice(-11).join("")]),
  },
];

/**
 * True when `text` is strict base64 (or base64url): whole quanta with correct `=` padding (or
 * none), and canonical, so a strict decoder takes it and re-encoding gives it back.
 */
export function isStrictBase64(text: string, encoding: "base64" | "base64url"): boolean {
  const c = encoding === "base64" ? "[A-Za-z0-9+/]" : "[A-Za-z0-9_-]";
  const shape = new RegExp(`^(?:${c}{4})*(?:${c}{2}(?:==)?|${c}{3}=?)?$`);
  const bare = (s: string) => s.replace(/=+$/, "");
  return shape.test(text) && bare(Buffer.from(text, encoding).toString(encoding)) === bare(text);
}
