import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "./cases.test-data.js";
import { NeedleIndex } from "./matcher.js";

/** Text over a 3-letter alphabet, so short needles occur often and overlap. */
function abcText(random: () => number, n: number): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = 0x61 + Math.floor(random() * 3);
  return out;
}

function naive(buf: Buffer, needles: Buffer[]): string[] {
  const found: string[] = [];
  needles.forEach((needle, id) => {
    for (let at = buf.indexOf(needle); at !== -1; at = buf.indexOf(needle, at + 1)) {
      found.push(`${id}@${at}`);
    }
  });
  return found.sort();
}

describe("NeedleIndex", () => {
  it("finds exactly what a per-needle indexOf finds, as needles of any length are added", () => {
    const random = seededRandom(42);
    const text = abcText(random, 20_000);
    const index = new NeedleIndex();
    const needles: Buffer[] = [];
    // Long needles first, then shorter ones: each shorter head re-indexes everything.
    for (const length of [30, 20, 17, 9, 12, 6, 4, 25]) {
      for (let i = 0; i < 5; i++) {
        const at = Math.floor(random() * (text.length - length));
        const needle =
          i < 3 ? Buffer.from(text.subarray(at, at + length)) : abcText(random, length);
        needles.push(needle);
        index.add(needle);
        const found: string[] = [];
        index.find(text, (id, start) => found.push(`${id}@${start}`));
        assert.deepEqual(found.sort(), naive(text, needles));
      }
    }
  });

  it("finds needles at the very start and end of the buffer", () => {
    const index = new NeedleIndex();
    index.add(Buffer.from("abcdefghijkl"));
    const found: number[] = [];
    index.find(Buffer.from("abcdefghijkl--abcdefghijkl"), (_id, start) => found.push(start));
    assert.deepEqual(found, [0, 14]);
  });

  it("reports a needle head cut off by the end of the buffer", () => {
    const index = new NeedleIndex();
    index.add(Buffer.from("0123456789abcdef"));
    assert.deepEqual(index.findCutOffHead(Buffer.from("log: 012345"), 0), { id: 0, start: 5 });
    assert.equal(index.findCutOffHead(Buffer.from("log: 012"), 0), undefined);
    assert.equal(index.findCutOffHead(Buffer.from("log: 0123x"), 0), undefined);
  });

  it("refuses needles shorter than a q-gram", () => {
    assert.throws(() => new NeedleIndex().add(Buffer.from("abc")), RangeError);
  });
});
