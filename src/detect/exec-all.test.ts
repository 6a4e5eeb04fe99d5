import assert from "node:assert/strict";
import { test } from "node:test";
import { execAll } from "./exec-all.js";

test("gives what matchAll gives, empty matches and astral characters included", () => {
  const cases: Array<[RegExp, string]> = [
    [/to(k)en/dg, "token, TOKEN, tokens"],
    [/x*/g, "axxb"],
    [/(?:)/gu, "a😀b"],
    [/\b/g, "one two"],
    [/(?<key>\w+)=(?<value>\w*)/dg, "a=1;b=;c=3"],
  ];
  for (const [pattern, text] of cases) {
    const expected = [...text.matchAll(pattern)].map((m) => [m.index, [...m], m.indices]);
    const actual = [...execAll(pattern, text)].map((m) => [m.index, [...m], m.indices]);
    assert.deepEqual(actual, expected, `${pattern} on ${text}`);
  }
});

test("starts over from the beginning whatever lastIndex the pattern was left with", () => {
  const pattern = /a/g;
  pattern.lastIndex = 3;
  assert.equal([...execAll(pattern, "aaaa")].length, 4);
});

test("refuses a regex without the g flag instead of finding its first match forever", () => {
  assert.throws(() => [...execAll(/a/, "aaa")], /needs a global regex/);
});
