import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { seededRandom } from "./cases.test-data.js";
import type { Growth } from "./forms.js";
import { GrowthIndex } from "./growth.js";

const NEEDLE = Buffer.from("[ne]");

/** Over a 2-letter alphabet, so targets share long runs with each other and the text. */
function abText(random: () => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => (random() < 0.5 ? "a" : "b")).join(""));
}

/** Bytes `target` grows over around the needle at [start, end), by a plain scan. */
function grownBy(target: Growth, buf: Buffer, start: number, end: number): number {
  const n = NEEDLE.length;
  let i = 0;
  if (target.direction === "forward") {
    while (n + i < target.full.length && buf[end + i] === target.full[n + i]) i++;
  } else {
    const before = target.full.length - n;
    while (i < before && start - 1 - i >= 0 && buf[start - 1 - i] === target.full[before - 1 - i])
      i++;
  }
  return i;
}

describe("GrowthIndex", () => {
  it("finds the growth a scan of every target finds", () => {
    const random = seededRandom(5);
    for (let round = 0; round < 300; round++) {
      const index = new GrowthIndex<Growth & { id: number }>();
      const targets: Array<Growth & { id: number }> = [];
      const count = 1 + Math.floor(random() * 40);
      for (let id = 0; id < count; id++) {
        const direction = random() < 0.5 ? "forward" : "backward";
        const other = abText(random, Math.floor(random() * 8));
        const full =
          direction === "forward" ? Buffer.concat([NEEDLE, other]) : Buffer.concat([other, NEEDLE]);
        const target = { direction, full, form: "raw", id } as const;
        targets.push(target);
        index.add(target, NEEDLE.length);
        // Repeats of earlier targets, so ties among equal targets occur.
        if (random() < 0.2) {
          const again = { ...targets[Math.floor(random() * targets.length)]!, id: id + 1000 };
          targets.push(again);
          index.add(again, NEEDLE.length);
        }
      }
      const before = abText(random, Math.floor(random() * 9));
      const buf = Buffer.concat([before, NEEDLE, abText(random, Math.floor(random() * 9))]);
      const start = before.length;
      const end = start + NEEDLE.length;

      const scanned = targets.map((t) => ({
        t,
        grown: grownBy(t, buf, start, end),
        whole: grownBy(t, buf, start, end) === t.full.length - NEEDLE.length,
      }));
      const best = Math.max(0, ...scanned.map((s) => s.grown));
      const found = index.longest(buf, start, end);
      if (best === 0) {
        assert.equal(found, undefined, `round ${round}`);
        continue;
      }
      assert.ok(found !== undefined, `round ${round}`);
      assert.equal(found.grown, best, `round ${round}`);
      assert.equal(grownBy(found.target, buf, start, end), best, `round ${round}`);
      const wholes = scanned.filter((s) => s.grown === best && s.whole);
      assert.equal(found.whole, wholes.length > 0, `round ${round}`);
      if (wholes.length > 0) {
        // The first added of the whole ones, forward before backward.
        const forward = wholes.filter((s) => s.t.direction === "forward");
        const expected = (forward.length > 0 ? forward : wholes).sort(
          (a, b) => targets.indexOf(a.t) - targets.indexOf(b.t),
        )[0]!;
        assert.equal(found.target.id, expected.t.id, `round ${round}`);
      }
    }
  });

  it("finds the whole target among thousands sharing a long head", () => {
    const random = seededRandom(9);
    const shared = Buffer.from("-----BEGIN PRIVATE KEY-----\\nMIGHAgEAMBMGByqGSM49AgEG");
    const index = new GrowthIndex<Growth>();
    const fulls: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const full = Buffer.concat([NEEDLE, shared, abText(random, 40)]);
      fulls.push(full);
      index.add({ direction: "forward", full, form: "json" }, NEEDLE.length);
    }
    const wanted = fulls[1234]!;
    const found = index.longest(Buffer.concat([wanted, Buffer.from('"}')]), 0, NEEDLE.length);
    assert.equal(found?.target.full, wanted);
    assert.equal(found?.whole, true);
  });
});
