import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { withClassicChecksum } from "../detect/index.js";
import { PatternScrubber } from "./patterns.js";
import { Redactor } from "./redactor.js";

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const githubToken = () =>
  withClassicChecksum("gh" + "p_", Array.from(randomBytes(30), (b) => BASE62[b % 62]).join(""));

describe("the pattern layer", () => {
  it("redacts a token format keyward did not inject, and names the rule", () => {
    const scrubber = new PatternScrubber(new Redactor([]));
    const token = githubToken();
    const line = Buffer.from(JSON.stringify({ result: { text: `found ${token} in a file` } }));
    const out = scrubber.redactBuffer(line);
    assert.ok(!out.buffer.includes(token));
    assert.match(out.buffer.toString(), /\[REDACTED:pattern\/github-/);
    assert.equal(out.hits[0]?.form, "pattern");
    assert.doesNotThrow(() => JSON.parse(out.buffer.toString()));
    assert.equal(
      scrubber.redactText(line.toString()).text,
      out.buffer.toString(),
      "text and buffer paths agree",
    );
  });

  it("finds tokens on either side of every window boundary of a large buffer", () => {
    const scrubber = new PatternScrubber(new Redactor([]));
    // Tokens back to back over 1.2 MiB: whatever the window size, tokens straddle every window
    // boundary and sit in every overlap.
    const tokens = Array.from({ length: 30_000 }, githubToken);
    const text = `filler ${tokens.join(" ")} end`;
    const out = scrubber.redactBuffer(Buffer.from(text, "latin1"));
    assert.ok(!out.buffer.includes("gh" + "p_"), "a token survived at a window boundary");
    assert.equal(out.hits.length, tokens.length, "each token reported once, not once per window");
  });

  it("redacts private-key blocks and leaves clean text byte for byte", () => {
    const scrubber = new PatternScrubber(new Redactor([]));
    const pem = generateKeyPairSync("ec", { namedCurve: "P-256" })
      .privateKey.export({ type: "pkcs8", format: "pem" })
      .toString();
    const out = scrubber.redactText(`key:\n${pem}`);
    assert.ok(!out.text.includes(pem.split("\n")[1]!));
    const clean = Buffer.from('{"jsonrpc":"2.0","id":1,"result":{"text":"nothing to see"}}');
    assert.equal(scrubber.redactBuffer(clean).buffer, clean, "no copy when nothing is found");
  });
});
