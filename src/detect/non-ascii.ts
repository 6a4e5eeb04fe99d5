/**
 * A count of the candidate values holding a character over U+007F that the detectors judged
 * (entropy, repetition, placeholder words) in this thread. The audit reads a text with
 * characters over U+00FF as a one-byte stand-in (src/scan/stand-in.ts) whose characters match
 * every pattern as the real ones do, but are not the real ones: when a judgement read any, the
 * file pass analyzes the text itself instead. A count, not a flag per call, so that callers need
 * not thread it through every detector.
 */
const NON_ASCII = /[^\x00-\x7f]/;

let judged = 0;

/** Whether `text` holds a character over U+007F. */
export function hasNonAscii(text: string): boolean {
  return NON_ASCII.test(text);
}

/** Called by a detector with each value it judges. */
export function noteJudged(value: string): void {
  if (hasNonAscii(value)) judged++;
}

/** For a memoised answer: the judgements it stands for count again. */
export function countJudgedAgain(count: number): void {
  judged += count;
}

/** Non-ASCII values judged in this thread so far: compare two readings. */
export function nonAsciiJudged(): number {
  return judged;
}
