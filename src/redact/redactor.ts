import { createHash } from "node:crypto";
import type { Transform } from "node:stream";
import { KeywardError } from "../core/errors.js";
import {
  type Base64Extension,
  charLength,
  deriveNeedles,
  type Form,
  type Growth,
} from "./forms.js";
import { GrowthIndex } from "./growth.js";
import { MIN_NEEDLE_LENGTH, NeedleIndex } from "./matcher.js";
import { fitToJson, mergeSpans, mustBeInsideString, type Span, widenOverEscapes } from "./spans.js";
import { type StreamOptions, StreamRedactor } from "./stream.js";

export interface Secret {
  name: string;
  value: string;
}

/** One redacted occurrence. Names the secret and the encoding; never carries the value. */
export interface Hit {
  secret: string;
  form: Form;
}

export interface RedactorOptions {
  /** Values shorter than this many characters are not redacted (default 8, at least 4). */
  minLength?: number;
}

export const DEFAULT_MIN_LENGTH = 8;

/**
 * Bytes a match may grow beyond its longest needle: a base64 core's partial characters and
 * padding (4) and escape widening on both sides (2 × 5).
 */
const SPAN_SLACK = 14;

/** Largest text (UTF-8 bytes) encoded into the reused scratch buffer; the SDK caps lines at 10 MiB. */
const SCRATCH_LIMIT = 32 * 1024 * 1024;

/** A growth target and the secret whose value it is. */
interface OwnedGrowth extends Growth {
  secret: number;
}

interface NeedleInfo {
  bytes: Uint8Array;
  form: Form;
  /** The secret a bare match (one that grows into no target) is named after. */
  secret: number;
  /** For a base64 alignment core. */
  base64: Base64Extension | undefined;
  /** For the first or last characters of raw/JSON forms: the whole forms to grow into. */
  growth: GrowthIndex<OwnedGrowth> | undefined;
}

/**
 * Redacts live secret values and their derived forms (forms.ts) from server output.
 * Rotation: `add` the new value under the same name; old values stay redacted for the life of
 * the Redactor. When secrets overlap in one span, it is named after the match that starts
 * first (tie: the longer match, then the secret added first).
 */
export class Redactor {
  /** Names of secrets whose values are too short to redact reliably. */
  readonly unredactable: string[] = [];

  private readonly minLength: number;
  private readonly index = new NeedleIndex();
  private readonly needles: NeedleInfo[] = [];
  private readonly names: string[] = [];
  private readonly markers: Buffer[] = [];
  /** Needles by their bytes (latin1), so a repeat adds growth targets instead of a needle. */
  private readonly byBytes = new Map<string, NeedleInfo>();
  /** SHA-256 of each value added, so a repeat is skipped without keeping the value itself. */
  private readonly valueDigests = new Set<string>();
  private maxSpan = 0;
  private scratch = Buffer.alloc(0);

  constructor(secrets: Iterable<Secret> = [], options: RedactorOptions = {}) {
    const minLength = options.minLength ?? DEFAULT_MIN_LENGTH;
    if (!Number.isInteger(minLength) || minLength < MIN_NEEDLE_LENGTH) {
      throw new KeywardError(
        "invalid_value",
        `the redaction minimum length must be an integer of at least ${MIN_NEEDLE_LENGTH}`,
        `pass minLength >= ${MIN_NEEDLE_LENGTH} (default ${DEFAULT_MIN_LENGTH})`,
      );
    }
    this.minLength = minLength;
    for (const secret of secrets) this.add(secret);
  }

  /**
   * Starts redacting a value and its derived forms. Returns false (and lists the name in
   * `unredactable`) when the value is shorter than the minimum length. Indexing is
   * incremental, unless one of the new needles is shorter than all indexed so far (rare: a
   * value under 16 characters), which re-indexes every needle.
   */
  add(secret: Secret): boolean {
    if (charLength(secret.value) < this.minLength) {
      if (!this.unredactable.includes(secret.name)) this.unredactable.push(secret.name);
      return false;
    }
    // A value added before (under any name) stays named after its first name, and adding its
    // growth targets again would only slow matching down.
    const digest = createHash("sha256").update(secret.value).digest("base64");
    if (this.valueDigests.has(digest)) return true;
    this.valueDigests.add(digest);
    let secretIndex = this.names.indexOf(secret.name);
    if (secretIndex === -1) {
      secretIndex = this.names.push(secret.name) - 1;
      this.markers.push(Buffer.from(`[REDACTED:${markerName(secret.name)}]`, "latin1"));
    }
    for (const { bytes, form, extension } of deriveNeedles(secret.value, this.minLength)) {
      const key = Buffer.from(bytes).toString("latin1");
      let info = this.byBytes.get(key);
      if (info === undefined) {
        const base64 = extension.kind === "base64" ? extension : undefined;
        info = { bytes, form, secret: secretIndex, base64, growth: undefined };
        this.byBytes.set(key, info);
        this.needles.push(info);
        this.index.add(bytes);
      }
      // The bytes may be a needle of an earlier value (PEM keys share their BEGIN and END
      // lines; a rotated value may share its head): a bare match stays named after that one,
      // but this value's forms are grown into as well.
      if (extension.kind === "grow" && info.base64 === undefined) {
        info.growth ??= new GrowthIndex();
        for (const target of extension.targets) {
          info.growth.add({ ...target, secret: secretIndex }, bytes.length);
          this.maxSpan = Math.max(this.maxSpan, target.full.length);
        }
      }
      this.maxSpan = Math.max(this.maxSpan, bytes.length);
    }
    return true;
  }

  /** Bytes a stream must keep unsent so that a value split across reads is still caught. */
  get lookbehind(): number {
    return this.maxSpan === 0 ? 0 : this.maxSpan + SPAN_SLACK;
  }

  /**
   * Redacts one whole message. When something is found and the message is valid JSON, the
   * result stays valid JSON with every string still a string (see spans.ts fitToJson).
   */
  redactText(text: string): { text: string; hits: Hit[] } {
    if (this.needles.length === 0) return { text, hits: [] };
    const bytes = this.encode(text);
    const spans = this.spansIn(bytes);
    if (spans.length === 0) return { text, hits: [] };
    const fitted = this.fit(bytes, spans, text);
    const out = this.renderInPlace(bytes, fitted) ?? this.render(bytes, fitted);
    const result = { text: out.toString("utf8"), hits: this.hits(spans) };
    bytes.fill(0); // the scratch held secret bytes
    return result;
  }

  /**
   * UTF-8 bytes of `text` in a reused scratch buffer: encoding into fresh memory costs more
   * than the whole scan (first-touch page faults), so up to SCRATCH_LIMIT bytes are kept.
   */
  private encode(text: string): Buffer {
    const size = Buffer.byteLength(text, "utf8");
    if (size > SCRATCH_LIMIT) return Buffer.from(text, "utf8");
    if (this.scratch.length < size) this.scratch = Buffer.alloc(Math.max(size, 64 * 1024));
    return this.scratch.subarray(0, this.scratch.write(text, "utf8"));
  }

  /**
   * redactText for bytes (UTF-8), e.g. one JSON-RPC line as read from the pipe. Returns the
   * input itself when nothing is found. With `inPlace`, the caller hands the buffer over: the
   * result is written into its memory when it fits (markers are usually shorter than what
   * they replace) and the input's bytes are unspecified afterwards. This skips allocating a
   * fresh output, the main cost of redacting a large blob.
   */
  redactBuffer(buffer: Buffer, options?: { inPlace?: boolean }): { buffer: Buffer; hits: Hit[] } {
    const spans = this.spansIn(buffer);
    if (spans.length === 0) return { buffer, hits: [] };
    const fitted = this.fit(buffer, spans);
    const out =
      (options?.inPlace === true ? this.renderInPlace(buffer, fitted) : undefined) ??
      this.render(buffer, fitted);
    return { buffer: out, hits: this.hits(spans) };
  }

  /**
   * Fits spans to a whole message. The document is parsed (and its strings located) only when
   * some span could lie outside a string (spans.ts mustBeInsideString); text that is not JSON
   * gets plain fitting.
   */
  private fit(buf: Buffer, spans: Span[], text?: string): Span[] {
    if (spans.every((span) => mustBeInsideString(buf, span))) return this.widenPlain(buf, spans);
    return isJson(text ?? buf.toString("utf8"))
      ? fitToJson(buf, spans)
      : this.widenPlain(buf, spans);
  }

  /** A chunk-safe redacting Transform for byte streams such as a child's stderr. */
  stream(options: StreamOptions = {}): Transform {
    return new StreamRedactor(this, options).transform();
  }

  // The methods below are shared with StreamRedactor.

  /** Merged spans of every needle occurrence in `buf`, before any boundary fitting. */
  spansIn(buf: Uint8Array): Span[] {
    const spans: Span[] = [];
    this.index.find(buf, (id, start) => spans.push(this.grow(buf, id, start)));
    return mergeSpans(spans);
  }

  /** Plain-text fitting: only keep boundaries out of escape sequences. */
  widenPlain(buf: Uint8Array, spans: Span[]): Span[] {
    return mergeSpans(spans.map((span) => widenOverEscapes(buf, span, 0, buf.length)));
  }

  /** The span covering a value whose needle was cut off by the end of `buf`, if any. */
  cutOffSpan(buf: Uint8Array, from: number): Span | undefined {
    const found = this.index.findCutOffHead(buf, from);
    if (found === undefined) return undefined;
    const needle = this.needles[found.id]!;
    const span: Span = {
      start: found.start,
      end: buf.length,
      secret: needle.secret,
      form: needle.form,
    };
    if (needle.base64 !== undefined) span.mask = true;
    return span;
  }

  hits(spans: Span[]): Hit[] {
    return spans.map((span) => ({ secret: this.names[span.secret]!, form: span.form }));
  }

  /** `buf[from, to)` with each span (sorted, disjoint, inside the range) replaced. */
  render(buf: Uint8Array, spans: Span[], from = 0, to = buf.length): Buffer {
    const parts: Uint8Array[] = [];
    let at = from;
    for (const span of spans) {
      parts.push(buf.subarray(at, span.start));
      parts.push(this.replacementFor(buf, span));
      at = span.end;
    }
    parts.push(buf.subarray(at, to));
    return Buffer.concat(parts);
  }

  /**
   * render() written over `buf` itself, or undefined (buf untouched) when some marker would
   * overwrite bytes not yet moved: each marker must fit in its span plus the bytes saved by
   * the spans before it.
   */
  private renderInPlace(buf: Buffer, spans: Span[]): Buffer | undefined {
    const replacements = spans.map((span) => this.replacementFor(buf, span));
    let saved = 0;
    for (const [i, span] of spans.entries()) {
      saved += span.end - span.start - replacements[i]!.length;
      if (saved < 0) return undefined;
    }
    // Bytes before the first length-changing replacement stay where they are (a masked
    // base64 span keeps its length): only the rest is moved.
    let write = 0;
    let read = 0;
    const move = (from: number, to: number): number =>
      write === read ? to - from : buf.copy(buf, write, from, to);
    for (const [i, span] of spans.entries()) {
      write += move(read, span.start);
      write += replacements[i]!.copy(buf, write);
      read = span.end;
    }
    write += move(read, buf.length);
    return buf.subarray(0, write);
  }

  /**
   * The marker, or for a span inside a base64 run (mask) as many base64 zero digits (`A`),
   * padding kept: image/audio `data` and resource `blob` fields must stay valid base64 of
   * the same length, or SDK clients reject the whole result. The `A`s decode to zero bits,
   * so the value's bytes (and the bits of a neighbour sharing a partial character) become 0.
   */
  private replacementFor(buf: Uint8Array, span: Span): Buffer {
    const marker = this.markers[span.secret]!;
    if (span.quoted) return Buffer.from(`"${marker.toString("latin1")}"`, "latin1");
    if (span.mask !== true) return marker;
    const masked = Buffer.alloc(span.end - span.start);
    for (let i = span.start; i < span.end; i++) {
      const c = buf[i]!;
      if (c === PAD) masked[i - span.start] = PAD;
      else if (isBase64Char(c, false) || isBase64Char(c, true)) masked[i - span.start] = ZERO_DIGIT;
      else return marker; // widened over something else (an escape): not a plain base64 run
    }
    return masked;
  }

  /**
   * Grows a needle match into the span to replace (forms.ts Extension). Of several growth
   * targets the longest growth wins (growth.ts).
   */
  private grow(buf: Uint8Array, id: number, at: number): Span {
    const needle = this.needles[id]!;
    let start = at;
    let end = at + needle.bytes.length;
    let form = needle.form;
    let secret = needle.secret;
    const found = needle.growth?.longest(buf, start, end);
    if (found !== undefined) {
      const { target, grown, whole } = found;
      secret = target.secret;
      if (target.direction === "forward") end += grown;
      else start -= grown;
      form = whole ? target.form : target.direction === "forward" ? "prefix" : "suffix";
    }
    const ext = needle.base64;
    if (ext !== undefined) {
      if (ext.left && start > 0 && isBase64Char(buf[start - 1]!, ext.urlSafe)) start--;
      if (ext.right && end < buf.length && isBase64Char(buf[end]!, ext.urlSafe)) end++;
      for (let pad = 0; pad < 2 && buf[end] === PAD; pad++) end++;
    }
    // A grown boundary may stop inside a multi-byte UTF-8 character: take all of it.
    while (start > 0 && (buf[start]! & 0xc0) === 0x80) start--;
    while (end < buf.length && (buf[end]! & 0xc0) === 0x80) end++;
    const span: Span = { start, end, secret, form };
    if (ext !== undefined) span.mask = true;
    return span;
  }
}

const PAD = 0x3d; // "="
const ZERO_DIGIT = 0x41; // "A", six zero bits

function isBase64Char(c: number, urlSafe: boolean): boolean {
  if ((c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39)) {
    return true;
  }
  return urlSafe ? c === 0x2d || c === 0x5f : c === 0x2b || c === 0x2f;
}

/**
 * A secret name as it appears in the marker: characters outside letters, digits and
 * `._@+=/:-` become `_`, so the marker never holds a quote, backslash, bracket or control
 * character and stays valid inside a JSON string and on a terminal.
 */
export function markerName(name: string): string {
  return name.replace(/[^A-Za-z0-9._@+=/:-]/g, "_");
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
