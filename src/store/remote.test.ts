import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { backoffDelay, mapLimit } from "./remote.js";

describe("backoffDelay", () => {
  it("grows by the factor from the base, stops at the cap, and keeps half of each wait fixed", () => {
    const doubling = { baseDelayMs: 100, maxDelayMs: 1_000 };
    const caps = [100, 200, 400, 800, 1_000, 1_000];
    for (const [retry, cap] of caps.entries()) {
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelay(retry, doubling);
        assert.ok(
          delay >= cap / 2 && delay <= cap,
          `retry ${retry}: ${delay} outside [${cap / 2}, ${cap}]`,
        );
      }
    }
    const tripling = { baseDelayMs: 50, maxDelayMs: 2_000, factor: 3 };
    for (const [retry, cap] of [50, 150, 450, 1_350, 2_000].entries()) {
      const delay = backoffDelay(retry, tripling);
      assert.ok(
        delay >= cap / 2 && delay <= cap,
        `retry ${retry}: ${delay} outside [${cap / 2}, ${cap}]`,
      );
    }
  });

  it("is jittered: clients that failed together do not all wait the same", () => {
    const delays = new Set(
      Array.from({ length: 20 }, () => backoffDelay(3, { baseDelayMs: 100, maxDelayMs: 5_000 })),
    );
    assert.ok(delays.size > 1);
  });
});

describe("mapLimit", () => {
  it("keeps the input order and never runs more than `limit` calls at once", async () => {
    let running = 0;
    let most = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const out = await mapLimit(items, 3, async (i) => {
      running++;
      most = Math.max(most, running);
      // Later items finish first, so order comes from the index, not from completion.
      await new Promise((resolve) => setImmediate(resolve));
      if (i % 2 === 0) await new Promise((resolve) => setImmediate(resolve));
      running--;
      return i * 10;
    });
    assert.deepEqual(
      out,
      items.map((i) => i * 10),
    );
    assert.equal(most, 3);
  });

  it("handles no items, and fewer items than the limit", async () => {
    assert.deepEqual(await mapLimit([], 8, async (x: number) => x), []);
    assert.deepEqual(await mapLimit(["a"], 8, async (x) => x.toUpperCase()), ["A"]);
  });

  it("rejects with the first failure", async () => {
    await assert.rejects(
      mapLimit([1, 2, 3], 2, async (x) => {
        if (x === 2) throw new Error("two failed");
        return x;
      }),
      /two failed/,
    );
  });
});
