/**
 * Every match of a global regex in a text, as String.prototype.matchAll gives them, without the
 * copy of the regex matchAll makes on each call: V8 looks the copy's source up again every time,
 * which cost more than the matching itself on the many short lines the audit's detectors read.
 * `pattern` must have the `g` flag; its lastIndex is reset, so it must not be used again inside
 * the loop.
 */
export function* execAll(pattern: RegExp, text: string): Generator<RegExpExecArray> {
  // Without `g`, exec would return the first match forever.
  if (!pattern.global) throw new Error(`execAll needs a global regex: /${pattern.source}/`);
  const unicode = pattern.unicode || pattern.flags.includes("v");
  pattern.lastIndex = 0;
  for (let match = pattern.exec(text); match !== null; match = pattern.exec(text)) {
    // An empty match would be found again at the same place: step over it, as matchAll does.
    if (match[0] === "") {
      const at = pattern.lastIndex;
      const wide = unicode && (text.codePointAt(at) ?? 0) > 0xffff;
      pattern.lastIndex = at + (wide ? 2 : 1);
    }
    yield match;
  }
}
