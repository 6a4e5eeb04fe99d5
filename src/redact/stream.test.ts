import assert from "node:assert/strict";
import { once } from "node:events";
import { describe, it } from "node:test";
import { ENCODING_CASES, SAMPLE_SECRETS, seededRandom } from "./cases.test-data.js";
import { type Hit, Redactor } from "./redactor.js";
import { StreamRedactor } from "./stream.js";

const redactor = new Redactor(SAMPLE_SECRETS);

function runChunks(chunks: Uint8Array[], onHit?: (hit: Hit) => void): string {
  const stream = new StreamRedactor(redactor, onHit === undefined ? {} : { onHit });
  const out = chunks.map((c) => stream.push(c));
  out.push(stream.end());
  return Buffer.concat(out).toString("utf8");
}

describe("StreamRedactor", () => {
  it("catches every example split at every byte position", () => {
    for (const secret of SAMPLE_SECRETS) {
      for (const encoding of ENCODING_CASES) {
        for (const example of encoding.truePositives(secret.value, seededRandom(1))) {
          const input = Buffer.from(`stderr: ${example.text} (pid 42)\n`, "utf8");
          const whole = redactor.redactText(input.toString("utf8")).text;
          const from = 8;
          const to = from + Buffer.byteLength(example.text);
          for (let cut = from; cut <= to; cut++) {
            const out = runChunks([input.subarray(0, cut), input.subarray(cut)]);
            assert.equal(out, whole, `${secret.name} ${example.label} split at ${cut}`);
          }
        }
      }
    }
  });

  it("catches values fed one byte at a time and reports each hit once", () => {
    const values = SAMPLE_SECRETS.map((s) => s.value);
    const input = Buffer.from(`a ${values.join(" b ")} c\n`.repeat(3), "utf8");
    const hits: Hit[] = [];
    const out = runChunks(
      Array.from(input, (b) => Uint8Array.of(b)),
      (hit) => hits.push(hit),
    );
    assert.equal(out, redactor.redactText(input.toString("utf8")).text);
    assert.equal(hits.length, 3 * SAMPLE_SECRETS.length);
    for (const value of values) assert.ok(!out.includes(value), "a value went through");
  });

  it("holds back only the tail that may still grow into a match", () => {
    const stream = new StreamRedactor(redactor);
    const text = Buffer.from("x".repeat(1000));
    const sent = stream.push(text);
    assert.equal(sent.length, 1000 - redactor.lookbehind);
    assert.equal(stream.pending, redactor.lookbehind);
    assert.equal(stream.end().length, redactor.lookbehind);
  });

  it("on flush redacts a cut-off head and still catches the rest that follows", () => {
    const token = SAMPLE_SECRETS[0]!.value;
    const stream = new StreamRedactor(redactor);
    const first = stream.push(Buffer.from(`listening; token=${token.slice(0, 9)}`));
    const flushed = stream.flush();
    const rest = stream.push(Buffer.from(`${token.slice(9)} done\n`));
    const out = Buffer.concat([first, flushed, rest, stream.end()]).toString();
    assert.equal(first.length, 0);
    assert.equal(flushed.toString(), "listening; token=[REDACTED:github/pat]");
    assert.ok(!out.includes(token.slice(4, 9)), "the flushed head went through");
    assert.ok(!out.includes(token.slice(9)), "the rest went through");
    assert.equal(out, "listening; token=[REDACTED:github/pat][REDACTED:github/pat] done\n");
  });

  it("works as a Transform, with idle flushes", async () => {
    const stream = redactor.stream({ idleFlushMs: 1 });
    stream.write(`ready ${SAMPLE_SECRETS[0]!.value}`);
    const [idle] = (await once(stream, "data")) as [Buffer];
    assert.equal(idle.toString(), "ready [REDACTED:github/pat]");
    const chunks: Buffer[] = [];
    stream.on("data", (b: Buffer) => chunks.push(b));
    stream.end(" bye");
    await once(stream, "end");
    assert.equal(Buffer.concat(chunks).toString(), " bye");
  });
});
