/**
 * Spans to replace, and the rules that keep a replacement from breaking its surroundings:
 * never cut a JSON escape (`\"`, `\\`, `\uXXXX`) in half, and in a JSON document replace only
 * inside string literals (a number is replaced whole, by a quoted marker).
 */

import type { Form } from "./forms.js";

export interface Span {
  start: number;
  end: number;
  /** Index of the secret the span is named after. */
  secret: number;
  form: Form;
  /** The replacement needs surrounding quotes (it replaces a JSON number). */
  quoted?: boolean;
  /**
   * The span lies inside a base64 run (a base64/base64url match): it is replaced by base64
   * characters of the same length, not by the marker, so the run stays decodable.
   */
  mask?: boolean;
}

const BACKSLASH = 0x5c;
const QUOTE = 0x22;
const LETTER_U = 0x75;

/**
 * Sorts spans and merges overlapping or touching ones. A merged span keeps the name and form
 * of the span that starts first (on a tie, the longer one, then the earlier-added secret); it
 * is masked only when every span in it is.
 */
export function mergeSpans(spans: Span[]): Span[] {
  if (spans.length <= 1) return spans;
  spans.sort((a, b) => a.start - b.start || b.end - a.end || a.secret - b.secret);
  const out: Span[] = [{ ...spans[0]! }];
  for (let i = 1; i < spans.length; i++) {
    const span = spans[i]!;
    const last = out[out.length - 1]!;
    if (span.start <= last.end) {
      if (span.end > last.end) last.end = span.end;
      // Only identical whole-number pieces can overlap a quoted one.
      if (span.quoted) last.quoted = true;
      if (span.mask !== true) delete last.mask;
    } else {
      out.push({ ...span });
    }
  }
  return out;
}

/**
 * The escape sequence of a JSON string that has `pos` strictly inside it, as [start, end), or
 * undefined when `pos` is a character boundary. `lo` is where backslash counting may start
 * (the string's first content byte, or the buffer start for plain text).
 */
export function escapeAround(
  buf: Uint8Array,
  pos: number,
  lo: number,
): [number, number] | undefined {
  // An escape is at most 6 bytes (`\uXXXX`), so its opening backslash is within 5 bytes.
  for (let p = pos - 1; p >= lo && p >= pos - 5; p--) {
    if (buf[p] !== BACKSLASH) continue;
    let q = p - 1;
    while (q >= lo && buf[q] === BACKSLASH) q--;
    if ((p - 1 - q) % 2 !== 0) continue; // p closes a `\\` pair; it opens nothing
    const end = p + (buf[p + 1] === LETTER_U ? 6 : 2);
    return pos < end ? [p, end] : undefined;
  }
  return undefined;
}

/** Widens a span so neither boundary falls inside an escape sequence. */
export function widenOverEscapes(buf: Uint8Array, span: Span, lo: number, hi: number): Span {
  const before = escapeAround(buf, span.start, lo);
  const after = escapeAround(buf, span.end, lo);
  return {
    ...span,
    start: before === undefined ? span.start : before[0],
    end: after === undefined ? span.end : Math.min(hi, after[1]),
  };
}

/** Bytes that valid JSON can hold outside strings: white space, structure, numbers, literals. */
const OUTSIDE_STRINGS = new Uint8Array(256);
for (const c of " \t\r\n{}[],:0123456789+-.eEtruefalsn") OUTSIDE_STRINGS[c.charCodeAt(0)] = 1;

/**
 * True when, were `buf` valid JSON, the span could only lie inside one string literal: it
 * holds a byte that JSON allows only in strings and no unescaped quote. Such a span needs no
 * parse of the document: escape widening alone keeps JSON valid (and plain text redacted).
 * Nearly every real match qualifies; digit-only values are the usual exception.
 */
export function mustBeInsideString(buf: Uint8Array, span: Span): boolean {
  let stringOnly = false;
  for (let i = span.start; i < span.end; i++) {
    const c = buf[i]!;
    if (c === QUOTE && !isEscaped(buf, i, 0)) return false;
    if (OUTSIDE_STRINGS[c] === 0) stringOnly = true;
  }
  return stringOnly;
}

/** Byte ranges of a JSON document's string contents (between the quotes) and numbers. */
interface Token {
  start: number;
  end: number;
  kind: "string" | "number";
}

function jsonTokens(buf: Uint8Array): Token[] {
  const tokens: Token[] = [];
  const bytes = Buffer.from(buf.buffer, buf.byteOffset, buf.length);
  let i = 0;
  while (i < buf.length) {
    const c = buf[i]!;
    if (c === QUOTE) {
      const start = i + 1;
      let close = bytes.indexOf(QUOTE, start);
      while (close !== -1 && isEscaped(buf, close, start)) close = bytes.indexOf(QUOTE, close + 1);
      if (close === -1) close = buf.length;
      tokens.push({ start, end: close, kind: "string" });
      i = close + 1;
    } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
      const start = i;
      while (i < buf.length && isNumberByte(buf[i]!)) i++;
      tokens.push({ start, end: i, kind: "number" });
    } else {
      i++;
    }
  }
  return tokens;
}

function isEscaped(buf: Uint8Array, pos: number, lo: number): boolean {
  let q = pos - 1;
  while (q >= lo && buf[q] === BACKSLASH) q--;
  return (pos - 1 - q) % 2 === 1;
}

function isNumberByte(c: number): boolean {
  // digits, + - . e E
  return (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e || (c | 0x20) === 0x65;
}

/**
 * Fits merged spans to a valid JSON document: each span is clipped to the string contents it
 * touches and widened over escapes there; a number it touches is replaced whole by a quoted
 * marker (so the value becomes a string). Structural bytes are never replaced: a raw value
 * containing quotes can only straddle strings, and its structural characters stay.
 */
export function fitToJson(buf: Uint8Array, spans: Span[]): Span[] {
  const tokens = jsonTokens(buf);
  const out: Span[] = [];
  for (const span of spans) {
    let lo = 0;
    let hi = tokens.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (tokens[mid]!.end <= span.start) lo = mid + 1;
      else hi = mid;
    }
    for (let t = lo; t < tokens.length && tokens[t]!.start < span.end; t++) {
      const token = tokens[t]!;
      if (token.kind === "number") {
        out.push({ ...span, start: token.start, end: token.end, quoted: true });
        continue;
      }
      const clipped = {
        ...span,
        start: Math.max(span.start, token.start),
        end: Math.min(span.end, token.end),
      };
      if (clipped.start < clipped.end) {
        out.push(widenOverEscapes(buf, clipped, token.start, token.end));
      }
    }
  }
  return mergeSpans(out);
}
