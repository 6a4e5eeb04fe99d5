import { Transform } from "node:stream";
import type { Hit, Redactor } from "./redactor.js";
import type { Span } from "./spans.js";

export interface StreamOptions {
  /** Called once per redacted occurrence (name and form only). */
  onHit?: (hit: Hit) => void;
  /**
   * Send held-back bytes after this many milliseconds without input, so an idle child's last
   * log line is not kept back (default: hold until more input or the end). A flush redacts a
   * trailing head of any needle (≥ 4 bytes) and keeps the sent bytes as look-behind, so the
   * rest of a value that arrives later is still redacted; at most 3 leading bytes of a needle
   * can go out unredacted this way.
   */
  idleFlushMs?: number;
}

const EMPTY = Buffer.alloc(0);

/**
 * Chunk-safe redaction of an arbitrary byte stream. Each push keeps the last
 * `redactor.lookbehind` bytes unsent (the longest span a value can produce, a few bytes more
 * than the longest needle) because a value may continue in the next chunk; it also keeps that
 * many already-sent bytes as look-behind context. The held bytes go out at `end`, or at an
 * idle flush. Spans are fitted as plain text (escape-safe, not JSON-aware).
 */
export class StreamRedactor {
  /** Bytes already sent, kept so a match can be recognised across the boundary. */
  private context: Buffer = EMPTY;
  /** Bytes not yet sent. */
  private held: Buffer = EMPTY;

  constructor(
    private readonly redactor: Redactor,
    private readonly options: StreamOptions = {},
  ) {}

  /** Bytes held back, waiting for more input. */
  get pending(): number {
    return this.held.length;
  }

  /** Takes the next chunk and returns the redacted bytes that are now safe to send. */
  push(chunk: Uint8Array): Buffer {
    const data = Buffer.concat([this.context, this.held, chunk]);
    const sendFrom = this.context.length;
    const keep = this.redactor.lookbehind;
    let cut = data.length - keep;
    if (cut <= sendFrom) {
      this.held = data.subarray(sendFrom);
      this.context = data.subarray(0, sendFrom);
      return EMPTY;
    }
    const chosen: Span[] = [];
    for (const span of this.spans(data)) {
      if (span.start >= cut) break; // may still grow: found again on the next push
      if (span.end <= sendFrom) continue;
      chosen.push(span);
      if (span.end > cut) cut = span.end;
    }
    return this.send(data, sendFrom, cut, chosen);
  }

  /** Sends everything held now, redacting a needle head cut off by the end of the input. */
  flush(): Buffer {
    if (this.held.length === 0) return EMPTY;
    const data = Buffer.concat([this.context, this.held]);
    const sendFrom = this.context.length;
    const spans = this.spans(data).filter((span) => span.end > sendFrom);
    const cutOff = this.redactor.cutOffSpan(data, spans.at(-1)?.end ?? 0);
    if (cutOff !== undefined && cutOff.end > sendFrom) spans.push(cutOff);
    return this.send(data, sendFrom, data.length, spans);
  }

  /** Sends everything held; the stream is over. */
  end(): Buffer {
    const out = this.flush();
    this.context = EMPTY;
    return out;
  }

  /** A Transform over this redactor (idle flushes per the options). */
  transform(): Transform {
    const idleMs = this.options.idleFlushMs;
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    };
    const stream = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        stop();
        const out = this.push(chunk);
        if (idleMs !== undefined && this.pending > 0) {
          timer = setTimeout(() => {
            timer = undefined;
            const flushed = this.flush();
            if (flushed.length > 0) stream.push(flushed);
          }, idleMs);
          timer.unref();
        }
        done(null, out.length > 0 ? out : undefined);
      },
      flush: (done) => {
        stop();
        const out = this.end();
        done(null, out.length > 0 ? out : undefined);
      },
    });
    stream.once("close", stop);
    return stream;
  }

  private spans(data: Buffer): Span[] {
    return this.redactor.widenPlain(data, this.redactor.spansIn(data));
  }

  /**
   * Sends `data[from, to)` with `spans` replaced. A span reaching back before `from` continues
   * one whose start was sent at a flush: only its unsent part is replaced, and it is not
   * reported again.
   */
  private send(data: Buffer, from: number, to: number, spans: Span[]): Buffer {
    const clipped: Span[] = [];
    for (const span of spans) {
      if (span.start >= from) {
        clipped.push(span);
        for (const hit of this.redactor.hits([span])) this.options.onHit?.(hit);
      } else {
        clipped.push({ ...span, start: from });
      }
    }
    const out = this.redactor.render(data, clipped, from, to);
    const keep = this.redactor.lookbehind;
    this.context = Buffer.from(data.subarray(Math.max(0, to - keep), to));
    this.held = Buffer.from(data.subarray(to));
    return out;
  }
}
