/** The conformance suite's own helpers: they must catch what they claim to catch. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KeywardError } from "../core/errors.js";
import { assertNoLeak, localOnlyFetch } from "./conformance.js";

const KEY = `key-${"Zx9".repeat(10)}`;

describe("conformance helpers", () => {
  it("assertNoLeak finds a key in any encoding, in the message, the fix or a nested field", () => {
    const found = [
      new KeywardError("refused", `bad ${KEY}`),
      new KeywardError("refused", "bad", `use ${Buffer.from(KEY).toString("base64")}`),
      new Error("x", { cause: { header: encodeURIComponent(KEY) } }),
      { detail: Buffer.from(KEY).toString("hex") },
      { detail: `…${KEY.slice(10, 30)}…` },
    ];
    for (const thing of found) assert.throws(() => assertNoLeak(thing, [KEY]));
    assertNoLeak(new KeywardError("refused", 'the key "demo/key" is bad', "store another"), [KEY]);
  });

  it("localOnlyFetch refuses any host but this machine", async () => {
    await assert.rejects(
      localOnlyFetch("https://api.github.com/rate_limit"),
      /refused a request to api\.github\.com/,
    );
  });
});
