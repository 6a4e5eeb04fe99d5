import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { wholeNumber } from "./options.js";

describe("wholeNumber", () => {
  test("takes whole numbers in range", () => {
    assert.equal(wholeNumber("--limit", "1"), 1);
    assert.equal(wholeNumber("--limit", "2097152"), 2097152);
    assert.equal(wholeNumber("--threads", "64", 64), 64);
  });

  test("refuses the rest with a usage error naming the option, its range and the value", () => {
    for (const [text, max, range] of [
      ["0", undefined, "1 or more"],
      ["-3", undefined, "1 or more"],
      ["1.5", undefined, "1 or more"],
      ["", undefined, "1 or more"],
      ["ten", 64, "from 1 to 64"],
      ["65", 64, "from 1 to 64"],
    ] as const) {
      assert.throws(
        () => wholeNumber("--n", text, max),
        (error) =>
          isKeywardError(error) &&
          error.code === "usage" &&
          error.message === `--n must be a whole number ${range}, got "${text}"`,
        text,
      );
    }
  });
});
