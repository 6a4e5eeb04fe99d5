import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ENCODING_CASES, SAMPLE_SECRETS, seededRandom } from "./cases.test-data.js";
import { base64Cores, deriveNeedles } from "./forms.js";
import { Redactor } from "./redactor.js";

const redactor = new Redactor(SAMPLE_SECRETS);
const markerOf = (name: string): string => `[REDACTED:${name}]`;

/** The example as a log line, as a JSON-RPC tool result, and streamed in 7-byte chunks. */
function contexts(text: string): { plain: string; json: string } {
  const plain = `log: «${text}» end`;
  const json = JSON.stringify({
    jsonrpc: "2.0",
    id: 7,
    result: { content: [{ type: "text", text: plain }], isError: true },
  });
  return { plain, json };
}

function streamed(input: string): string {
  const stream = redactor.stream();
  const bytes = Buffer.from(input, "utf8");
  const out: Buffer[] = [];
  stream.on("data", (b: Buffer) => out.push(b));
  for (let i = 0; i < bytes.length; i += 7) stream.write(bytes.subarray(i, i + 7));
  stream.end();
  return Buffer.concat(out).toString("utf8");
}

describe("every encoding of every sample secret (true positives)", () => {
  for (const secret of SAMPLE_SECRETS) {
    for (const encoding of ENCODING_CASES) {
      const examples = encoding.truePositives(secret.value, seededRandom(secret.name.length));
      for (const example of examples) {
        it(`${secret.name}: ${encoding.form} — ${example.label}`, () => {
          const { plain, json } = contexts(example.text);

          const asText = redactor.redactText(plain);
          for (const e of example.evidence) assert.ok(!asText.text.includes(e), "left in text");
          assert.ok(asText.text.includes(markerOf(secret.name)), "no marker");
          assert.ok(
            asText.hits.some((h) => h.secret === secret.name && h.form === encoding.form),
            `hits: ${JSON.stringify(asText.hits)}`,
          );

          const asJson = redactor.redactText(json);
          const decoded = JSON.parse(asJson.text).result.content[0].text as string;
          for (const e of example.evidence) assert.ok(!decoded.includes(e), "left in JSON");
          assert.ok(decoded.includes(markerOf(secret.name)), "no marker in JSON");

          const out = streamed(plain);
          for (const e of example.evidence) assert.ok(!out.includes(e), "left in stream");
          assert.equal(out, asText.text);
        });
      }
    }
  }
});

describe("near misses pass untouched (false positives)", () => {
  for (const secret of SAMPLE_SECRETS) {
    for (const encoding of ENCODING_CASES) {
      encoding.nearMisses(secret.value).forEach((text, i) => {
        it(`${secret.name}: ${encoding.form} near miss #${i + 1}`, () => {
          for (const input of Object.values(contexts(text))) {
            const result = redactor.redactText(input);
            assert.deepEqual(result.hits, []);
            assert.equal(result.text, input);
          }
        });
      });
    }
  }
});

describe("base64Cores", () => {
  it("cuts each alignment to the characters that hold only the value's bits", () => {
    const value = Buffer.from("0123456789");
    for (let k = 0; k < 3; k++) {
      const core = base64Cores(value)[k]!;
      for (const filler of ["", "x", "xy", "xyz"].map((s) => Buffer.from(s))) {
        const before = Buffer.concat([Buffer.from("ab".repeat(3)).subarray(0, k), filler]);
        // Only offsets ≡ k (mod 3) share this core.
        if (before.length % 3 !== k) continue;
        const around = Buffer.concat([before, value, Buffer.from("tail")]).toString("base64");
        assert.ok(around.includes(core.text), `core ${k} missing`);
      }
      assert.equal(core.left, k !== 0);
    }
  });

  it("keeps only needles of at least the minimum length", () => {
    const needles = deriveNeedles("Zx9kQ2vW", 8);
    assert.ok(
      needles.every((n) => n.bytes.length >= 8),
      "a needle is too short",
    );
    assert.ok(
      needles.some((n) => n.form === "base64"),
      "no base64 core of 8+ characters",
    );
  });

  it("derives fragments only for values longer than 12 characters", () => {
    const forms = (v: string) => new Set(deriveNeedles(v, 8).map((n) => n.form));
    assert.equal(forms("abcdefghijkl").has("prefix"), false);
    assert.equal(forms("abcdefghijklm").has("prefix"), true);
    assert.equal(forms("abcdefghijklm").has("suffix"), true);
  });
});
