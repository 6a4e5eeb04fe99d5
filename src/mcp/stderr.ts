import { StringDecoder } from "node:string_decoder";

export const DEFAULT_MAX_STDERR_LINE_CHARS = 1024 * 1024;
/** Held back from an over-long stderr line when the scrubber does not say how much it needs. */
const DEFAULT_HOLD_BACK_CHARS = 16 * 1024;

/**
 * Scrubs a child's stderr line by line. Complete lines are scrubbed whole, so a value split
 * across two reads is caught as long as it sits on one line. A line that grows past
 * `maxLineChars` without a newline is sent in pieces: each time, everything held is scrubbed and
 * sent except a tail of `holdBack` characters, which is kept for the next piece because a value
 * may continue there. Memory stays within about `maxLineChars + chunk`.
 *
 * Not caught: a value that itself contains a newline (a PEM key) split across two reads, unless
 * the scrubber recognises its fragments. A partial last line is held until its newline or the
 * end of the stream.
 */
export class StderrScrubber {
  private readonly decoder = new StringDecoder("utf8");
  private pending = "";

  constructor(
    private readonly scrub: (text: string) => string,
    private readonly write: (text: string) => void,
    private readonly holdBack = DEFAULT_HOLD_BACK_CHARS,
    private readonly maxLineChars = DEFAULT_MAX_STDERR_LINE_CHARS,
  ) {
    if (maxLineChars <= holdBack) this.maxLineChars = holdBack * 2;
  }

  push(chunk: Buffer): void {
    this.pending += this.decoder.write(chunk);
    const newline = this.pending.lastIndexOf("\n");
    if (newline !== -1) {
      const complete = this.pending.slice(0, newline + 1);
      this.pending = this.pending.slice(newline + 1);
      this.write(this.scrub(complete));
    }
    if (this.pending.length > this.maxLineChars) this.sendLongLinePiece();
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending.length > 0) this.write(`${this.scrub(this.pending)}\n`);
    this.pending = "";
  }

  /**
   * Characters after the last replacement are identical in the original and the scrubbed text;
   * at most `holdBack` of them are kept unsent, so a value cut off at the end of the piece is
   * kept whole for the next round, and no replaced text is ever held twice.
   */
  private sendLongLinePiece(): void {
    const scrubbed = this.scrub(this.pending);
    const keep = commonSuffixLength(scrubbed, this.pending, this.holdBack);
    this.write(scrubbed.slice(0, scrubbed.length - keep));
    this.pending = this.pending.slice(this.pending.length - keep);
  }
}

function commonSuffixLength(a: string, b: string, max: number): number {
  let n = 0;
  while (n < max && n < a.length && n < b.length) {
    if (a.charCodeAt(a.length - 1 - n) !== b.charCodeAt(b.length - 1 - n)) break;
    n++;
  }
  return n;
}
