import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StderrScrubber } from "./stderr.js";
import { TestScrubber } from "./testing/scrubber.js";

const VALUE = "sk_live_ABCDEFGHIJKLMNOP";
const scrubber = new TestScrubber([{ name: "KEY", value: VALUE }]);

function run(chunks: string[], holdBack?: number, maxLineChars?: number): string {
  let out = "";
  const stderr = new StderrScrubber(
    (text) => scrubber.redactText(text).text,
    (text) => {
      out += text;
    },
    holdBack,
    maxLineChars,
  );
  for (const chunk of chunks) stderr.push(Buffer.from(chunk, "utf8"));
  stderr.end();
  return out;
}

describe("StderrScrubber", () => {
  it("catches a value split across two reads", () => {
    const out = run(["starting with sk_live_ABCDEFG", "HIJKLMNOP as key\nnext line\n"]);
    assert.equal(out, "starting with [REDACTED:KEY] as key\nnext line\n");
  });

  it("ends a trailing partial line with a newline", () => {
    assert.equal(run(["no newline"]), "no newline\n");
  });

  it("sends an over-long line in pieces and still catches a value across a piece boundary", () => {
    const filler = "y".repeat(300);
    const text = `${filler}${VALUE}${filler}${VALUE}`;
    // Push in 7-character reads so that every boundary position is exercised.
    const chunks: string[] = [];
    for (let i = 0; i < text.length; i += 7) chunks.push(text.slice(i, i + 7));
    const out = run(chunks, 64, 128);
    assert.ok(!out.includes(VALUE));
    assert.equal(out, `${filler}[REDACTED:KEY]${filler}[REDACTED:KEY]\n`);
  });
});
