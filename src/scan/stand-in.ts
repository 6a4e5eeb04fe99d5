/**
 * A one-byte stand-in for the text of a UTF-8 file that is not all ASCII.
 *
 * V8 keeps a string in one byte per character only when every character is below U+0100; one
 * character above makes the whole file two bytes a character, decoded by a slower path into
 * twice the memory (on node_modules, 61 MB of such files — TypeScript's lib.dom.d.ts has 45 such
 * characters in 1.9 MB — cost about a tenth of an audit's CPU, much of it in page faults).
 *
 * The stand-in has the decoded text's length in UTF-16 code units, so every offset, line and
 * column is the decoded text's: ASCII and U+0080–U+00FF stand for themselves; each character
 * above stands in as one Latin-1 character of the same kind to every pattern the analyzers use
 * (no pattern names a character above U+007F): white space (`\s`, `trim`) as U+00A0, any other
 * character as a non-space Latin-1 character chosen by its code point, so distinct characters
 * mostly stay distinct for entropy; an astral character as two, like its surrogate pair; each
 * invalid sequence as one, like the U+FFFD the decoder puts there.
 *
 * What a stand-in cannot tell is the characters themselves: when a detector judged a value holding
 * one, a finding lies on a line with one or a summary names one, the file pass analyzes the
 * decoded text instead (file-pass.ts), so findings, masked values and fingerprints are exact.
 * U+2028 and U+2029 end lines for JavaScript's patterns, which no Latin-1 character does: the
 * caller decodes a file holding either.
 *
 * Written by hand because no decoder maps to a same-length one-byte text: Buffer's latin1 and
 * transcode() give one character per byte or per code point.
 */

/** The white space characters above U+00FF that `\s` and String.prototype.trim match. */
function isSpace(code: number): boolean {
  return (
    code === 0x1680 ||
    (code >= 0x2000 && code <= 0x200a) ||
    code === 0x202f ||
    code === 0x205f ||
    code === 0x3000 ||
    code === 0xfeff
  );
}

const SPACE = 0xa0;
/** The Latin-1 character a non-space character above U+00FF stands in as (never U+00A0). */
function standIn(code: number): number {
  const byte = 0x80 + (code % 0x7f);
  return byte === SPACE ? 0xff : byte;
}

/**
 * The length (2–4) of the well-formed sequence at `at`, or, negated, the length of the maximal
 * subpart there that the decoder replaces with one U+FFFD (WHATWG's UTF-8 decoder, as V8's).
 */
function sequenceAt(bytes: Buffer, at: number): number {
  const lead = bytes[at] as number;
  let length: number;
  let low = 0x80;
  let high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) length = 2;
  else if (lead >= 0xe0 && lead <= 0xef) {
    length = 3;
    if (lead === 0xe0) low = 0xa0;
    if (lead === 0xed) high = 0x9f;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    length = 4;
    if (lead === 0xf0) low = 0x90;
    if (lead === 0xf4) high = 0x8f;
  } else return -1;
  for (let next = 1; next < length; next++) {
    const byte = bytes[at + next];
    if (byte === undefined || byte < low || byte > high) return -next;
    low = 0x80;
    high = 0xbf;
  }
  return length;
}

/**
 * The stand-in text of `bytes` (UTF-8 with neither U+2028 nor U+2029), written over `bytes`
 * itself (the stand-in is never longer); `standsIn` is false when every character is itself
 * (the text is ASCII and Latin-1 only, and valid).
 */
export function standInText(bytes: Buffer): { text: string; standsIn: boolean } {
  const end = bytes.length;
  // Four bytes at a time through the ASCII runs, from the first aligned byte.
  const skew = (4 - (bytes.byteOffset % 4)) % 4;
  const words =
    end - skew >= 4
      ? new Uint32Array(bytes.buffer, bytes.byteOffset + skew, (end - skew) >> 2)
      : new Uint32Array(0);
  let read = 0;
  let write = 0;
  let standsIn = false;
  while (read < end) {
    // ASCII runs move as one block (most of these files are ASCII but for a few characters).
    let run = read;
    while (run < end && (run - skew) % 4 !== 0 && (bytes[run] as number) < 0x80) run++;
    if ((run - skew) % 4 === 0 && run >= skew) {
      let word = (run - skew) >> 2;
      while (word < words.length && ((words[word] as number) & 0x80808080) === 0) word++;
      run = skew + word * 4;
    }
    while (run < end && (bytes[run] as number) < 0x80) run++;
    if (run > read) {
      if (write !== read) bytes.copyWithin(write, read, run);
      write += run - read;
      read = run;
      if (read === end) break;
    }
    const length = sequenceAt(bytes, read);
    if (length < 0) {
      standsIn = true;
      bytes[write++] = standIn(0xfffd);
      read -= length;
      continue;
    }
    let code = (bytes[read] as number) & (0x7f >> length);
    for (let next = 1; next < length; next++)
      code = (code << 6) | ((bytes[read + next] as number) & 0x3f);
    read += length;
    if (code > 0xff) standsIn = true;
    if (code > 0xffff) {
      // Two UTF-16 code units, as the surrogate pair is.
      bytes[write++] = standIn(0xd800 + ((code - 0x10000) >> 10));
      bytes[write++] = standIn(0xdc00 + ((code - 0x10000) & 0x3ff));
    } else bytes[write++] = code <= 0xff ? code : isSpace(code) ? SPACE : standIn(code);
  }
  return { text: bytes.toString("latin1", 0, write), standsIn };
}
