/**
 * MCP stdio framing: one JSON-RPC message per `\n`-terminated UTF-8 line (both protocol eras;
 * see ../shared/reference/mcp-protocol.md §1). Our own splitter rather than the SDK's
 * ReadBuffer, because the SDK caps lines at 10 MiB and silently drops whatever fails its schema
 * (batches, unknown envelope fields); a transparent proxy must forward those untouched.
 */

import { inspectLine } from "./inspect.js";

/** One redacted occurrence: the secret's name and the encoding found. Never the value. */
export interface ScrubHit {
  secret: string;
  form: string;
}

/**
 * What the proxy needs from the redaction engine (src/redact's Redactor satisfies it). Both
 * methods must keep a valid JSON text valid JSON when they replace something inside it, and
 * return their input unchanged (same object) when they find nothing. Server lines go through
 * `redactBuffer`, so a large line is never also held as a JS string.
 */
export interface Scrubber {
  redactText(text: string): { text: string; hits: ScrubHit[] };
  /**
   * With `inPlace`, the caller hands the buffer over: the result may be written into its memory,
   * whose bytes are then unspecified (a scrubber may also ignore the option and copy).
   */
  redactBuffer(
    buffer: Buffer,
    options?: { inPlace?: boolean },
  ): { buffer: Buffer; hits: ScrubHit[] };
  /** Characters a stream must hold back so a value split across reads is still caught. */
  readonly lookbehind?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 256 * 1024 * 1024;

const NEWLINE = 0x0a;

/**
 * Splits a byte stream into lines. Memory is bounded by the longest line (its pieces, then one
 * contiguous copy while it is handed out). A line longer than `maxLineBytes` is never held
 * whole: once it crosses the limit its bytes are counted and dropped until the next newline,
 * and `onOversize` receives the total size.
 *
 * `onLine` gets the line without its newline and, when it had one, `framed`: the same bytes
 * followed by that newline, a view of the same memory (no copy), so a proxy can forward the
 * line as it came in with one write.
 */
export class LineSplitter {
  private readonly maxLineBytes: number;
  private parts: Buffer[] = [];
  private size = 0;
  private discarding = false;

  constructor(
    private readonly onLine: (line: Buffer, framed: Buffer | undefined) => void,
    private readonly onOversize: (bytes: number) => void,
    maxLineBytes = DEFAULT_MAX_LINE_BYTES,
  ) {
    this.maxLineBytes = maxLineBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(NEWLINE, start);
      if (newline === -1) {
        this.append(chunk.subarray(start));
        return;
      }
      if (this.size === 0 && !this.discarding && newline - start <= this.maxLineBytes) {
        // The whole line is in this chunk (the common case): hand out views, copy nothing.
        const framed =
          start === 0 && newline === chunk.length - 1 ? chunk : chunk.subarray(start, newline + 1);
        this.onLine(chunk.subarray(start, newline), framed);
      } else {
        this.append(chunk.subarray(start, newline));
        this.finishLine(chunk.subarray(newline, newline + 1));
      }
      start = newline + 1;
    }
  }

  /** End of stream: a last line without a newline still counts as a line. */
  end(): void {
    if (this.size > 0 || this.discarding) this.finishLine(undefined);
  }

  private append(piece: Buffer): void {
    if (piece.length === 0) return;
    this.size += piece.length;
    if (this.discarding) return;
    if (this.size > this.maxLineBytes) {
      this.discarding = true;
      this.parts = [];
      return;
    }
    this.parts.push(piece);
  }

  private finishLine(newline: Buffer | undefined): void {
    if (this.discarding) {
      const size = this.size;
      this.reset();
      this.onOversize(size);
    } else {
      const size = this.size;
      const framed = this.takeLine(newline);
      this.onLine(framed.subarray(0, size), newline === undefined ? undefined : framed);
    }
  }

  /**
   * The pieces (and the newline) joined into one buffer. A separate frame so the pieces are
   * unreachable while the joined line is being handled.
   */
  private takeLine(newline: Buffer | undefined): Buffer {
    if (newline !== undefined) this.parts.push(newline);
    const line = Buffer.concat(this.parts, this.size + (newline?.length ?? 0));
    this.reset();
    return line;
  }

  private reset(): void {
    this.parts = [];
    this.size = 0;
    this.discarding = false;
  }
}

export type JsonRpcId = string | number;

/** A message's envelope as far as the proxy cares; anything else in it is passed through. */
export type Envelope =
  | { kind: "request"; id: JsonRpcId; method: string }
  | { kind: "notification"; method: string }
  | { kind: "response"; id: JsonRpcId }
  | { kind: "other" };

export function envelopeOf(message: unknown): Envelope {
  if (typeof message !== "object" || message === null || Array.isArray(message)) {
    return { kind: "other" };
  }
  const m = message as { id?: unknown; method?: unknown };
  const hasId = typeof m.id === "string" || typeof m.id === "number";
  if (typeof m.method === "string") {
    return hasId
      ? { kind: "request", id: m.id as JsonRpcId, method: m.method }
      : { kind: "notification", method: m.method };
  }
  if (hasId && ("result" in m || "error" in m)) return { kind: "response", id: m.id as JsonRpcId };
  return { kind: "other" };
}

/** Map key for an id: `1` and `"1"` are different JSON-RPC ids. */
export function idKey(id: JsonRpcId): string {
  return typeof id === "number" ? `n:${id}` : `s:${id}`;
}

export function errorResponse(
  id: JsonRpcId | null,
  code: number,
  message: string,
  data?: unknown,
): Record<string, unknown> {
  const error = data === undefined ? { code, message } : { code, message, data };
  return { jsonrpc: "2.0", id, error };
}

/** Encodes a message for the wire: JSON on one line (JSON.stringify never emits a raw newline). */
export function frame(message: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(message)}\n`, "utf8");
}

/**
 * The result of scrubbing one line. `envelopes` has one envelope per message (one, or each
 * element of a batch); `message()` parses the line for the rare caller that needs more (with
 * strings over 64 KiB emptied, see jsonSkeleton).
 * - `clean`: nothing found; forward the original bytes unchanged (byte-identical passthrough).
 * - `scrubbed`: forward `line` (valid JSON, no newline), the redacted line.
 * - `unsafe`: a secret was found and no valid JSON without it could be produced; forward nothing.
 *   `batch` tells whether the envelopes are those of a batch's elements.
 * - `not-json`: the line is not JSON; `text` is the scrubbed line, for stderr only.
 */
export type LineScrub =
  | { kind: "clean"; envelopes: Envelope[]; message: () => unknown }
  | {
      kind: "scrubbed";
      envelopes: Envelope[];
      message: () => unknown;
      line: Buffer;
      hits: ScrubHit[];
    }
  | { kind: "unsafe"; envelopes: Envelope[]; batch: boolean; hits: ScrubHit[] }
  | { kind: "not-json"; text: string; hits: ScrubHit[] };

/**
 * Scrubs one line. Whether it is JSON, and its envelopes, come from inspectLine, which reads
 * the bytes without JSON.parse: a line without secrets is never parsed, and a 64 MiB tool
 * result is never also materialised as strings. JSON.parse only decides what inspectLine
 * leaves open (deep nesting, or not JSON at all) and repairs what a broken scrubber returns.
 * A line that holds a secret is redacted in its own memory: its bytes are unspecified after.
 */
export function scrubLine(line: Buffer, scrubber: Scrubber): LineScrub {
  let shape: { envelopes: Envelope[]; batch: boolean } | undefined = inspectLine(line);
  if (shape === undefined) {
    const message = parseSkeleton(line);
    if (message === NOT_JSON) {
      const scrubbed = scrubber.redactBuffer(line);
      return { kind: "not-json", text: scrubbed.buffer.toString("utf8"), hits: scrubbed.hits };
    }
    shape = { envelopes: asList(message).map(envelopeOf), batch: Array.isArray(message) };
  }
  const { envelopes, batch } = shape;
  // In place: a 64 MiB result with a secret in it is not copied once more.
  const scrubbed = scrubber.redactBuffer(line, IN_PLACE);
  if (scrubbed.hits.length === 0) {
    return { kind: "clean", envelopes, message: () => parseSkeleton(line) };
  }
  const { hits, buffer: out } = scrubbed;
  // The scrubber promises valid JSON: checked on the bytes, so a large result is not also held
  // as a string and a parsed copy.
  const outEnvelopes = inspectLine(out)?.envelopes;
  if (outEnvelopes !== undefined && scrubber.redactBuffer(out).hits.length === 0) {
    return {
      kind: "scrubbed",
      envelopes: outEnvelopes,
      message: () => parseSkeleton(out),
      line: out,
      hits,
    };
  }
  // Only a broken scrubber gets here. A repair needs the original, gone if redacted in place.
  const inPlace = out.buffer === line.buffer && out.byteOffset === line.byteOffset;
  const fixed = inPlace
    ? undefined
    : scrubParsed(() => JSON.parse(line.toString("utf8")), out.toString("utf8"), scrubber);
  if (fixed === undefined) return { kind: "unsafe", envelopes, batch, hits };
  return {
    kind: "scrubbed",
    envelopes: asList(fixed.message).map(envelopeOf),
    message: () => fixed.message,
    line: Buffer.from(fixed.text, "utf8"),
    hits,
  };
}

const IN_PLACE = { inPlace: true } as const;

const NOT_JSON = Symbol("not JSON");

/** JSON.parse of the line's skeleton (long strings emptied), or NOT_JSON. */
function parseSkeleton(line: Buffer): unknown {
  // A line no longer than the string limit cannot hold a string to empty.
  const skeleton =
    line.length <= SKELETON_MAX_STRING_BYTES ? line.toString("utf8") : jsonSkeleton(line);
  if (skeleton === undefined) return NOT_JSON;
  try {
    return JSON.parse(skeleton);
  } catch {
    return NOT_JSON;
  }
}

/** The messages of a parsed line: a batch's elements, or the message itself. */
export function asList(message: unknown): unknown[] {
  return Array.isArray(message) ? message : [message];
}

const STRING_ESCAPES = new Set([0x22, 0x5c, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]); // " \ / b f n r t
const SKELETON_MAX_STRING_BYTES = 64 * 1024;

/**
 * The line's JSON text with every string literal longer than `maxStringBytes` emptied, or
 * undefined when a string literal is malformed (unterminated, raw control character, bad
 * escape). JSON.parse of the skeleton checks the rest of the syntax. Hand-written because no
 * JSON parser can skip over a value without materialising it.
 */
export function jsonSkeleton(
  line: Buffer,
  maxStringBytes = SKELETON_MAX_STRING_BYTES,
): string | undefined {
  const kept: Buffer[] = [];
  let copyFrom = 0;
  let at = 0;
  for (;;) {
    const open = line.indexOf(0x22, at);
    if (open === -1) break;
    let i = open + 1;
    for (;;) {
      const c = line[i];
      if (c === undefined || c < 0x20) return undefined;
      if (c === 0x22) break;
      if (c !== 0x5c) {
        i++;
        continue;
      }
      const escaped = line[i + 1];
      if (escaped === 0x75) {
        if (!/^[0-9a-fA-F]{4}$/.test(line.toString("latin1", i + 2, i + 6))) return undefined;
        i += 6;
      } else if (escaped !== undefined && STRING_ESCAPES.has(escaped)) {
        i += 2;
      } else {
        return undefined;
      }
    }
    if (i - open - 1 > maxStringBytes) {
      kept.push(line.subarray(copyFrom, open + 1));
      copyFrom = i;
    }
    at = i + 1;
  }
  if (copyFrom === 0) return line.toString("utf8");
  kept.push(line.subarray(copyFrom));
  return Buffer.concat(kept).toString("utf8");
}

/**
 * Scrubs a JSON value (for example tools/call arguments). Returns undefined when the value
 * holds a secret and no clean JSON could be produced.
 */
export function scrubJsonValue(
  value: unknown,
  scrubber: Scrubber,
): { value: unknown; hits: ScrubHit[] } | undefined {
  const text = JSON.stringify(value) ?? "null";
  const scrubbed = scrubber.redactText(text);
  if (scrubbed.hits.length === 0) return { value, hits: [] };
  const fixed = scrubParsed(() => value, scrubbed.text, scrubber);
  return fixed === undefined ? undefined : { value: fixed.message, hits: scrubbed.hits };
}

/**
 * Turns a text-level redaction of a parsed message into a valid, verified result. The scrubber
 * promises to keep JSON valid; if its output does not parse anyway, every string, key and
 * number is scrubbed on its own and the message re-serialised. Either way the result is
 * scrubbed once more and rejected if a secret is still found.
 */
function scrubParsed(
  original: () => unknown,
  scrubbedText: string,
  scrubber: Scrubber,
): { message: unknown; text: string } | undefined {
  let message: unknown;
  let text = scrubbedText;
  try {
    message = JSON.parse(text);
  } catch {
    message = scrubLeaves(original(), scrubber);
    text = JSON.stringify(message);
  }
  if (scrubber.redactText(text).hits.length > 0) return undefined;
  return { message, text };
}

function scrubLeaves(value: unknown, scrubber: Scrubber): unknown {
  if (typeof value === "string") return scrubber.redactText(value).text;
  if (typeof value === "number") {
    const scrubbed = scrubber.redactText(String(value));
    return scrubbed.hits.length === 0 ? value : scrubbed.text;
  }
  if (Array.isArray(value)) return value.map((item) => scrubLeaves(item, scrubber));
  if (typeof value === "object" && value !== null) {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[scrubber.redactText(key).text] = scrubLeaves(item, scrubber);
    }
    return out;
  }
  return value;
}
