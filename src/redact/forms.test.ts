import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  ENCODING_CASES,
  type Example,
  isStrictBase64,
  SAMPLE_SECRETS,
  seededRandom,
} from "./cases.test-data.js";
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

/**
 * A masked base64 match: only the example's run changed, to valid base64 of the same length
 * that no longer decodes to the value.
 */
function assertMaskedRun(
  before: string,
  after: string,
  example: Example,
  value: string,
  encoding: "base64" | "base64url",
): void {
  const run = example.run!;
  const at = before.indexOf(run);
  assert.equal(after.slice(0, at), before.slice(0, at), "text before the run changed");
  assert.equal(after.length, before.length, "the run changed length");
  assert.equal(after.slice(at + run.length), before.slice(at + run.length), "text after changed");
  const masked = after.slice(at, at + run.length);
  assert.ok(isStrictBase64(masked, encoding), `not strict ${encoding}: ${masked}`);
  assert.ok(!Buffer.from(masked, encoding).includes(Buffer.from(value)), "decodes to the value");
}

describe("every encoding of every sample secret (true positives)", () => {
  for (const secret of SAMPLE_SECRETS) {
    for (const encoding of ENCODING_CASES) {
      const examples = encoding.truePositives(secret.value, seededRandom(secret.name.length));
      for (const example of examples) {
        it(`${secret.name}: ${encoding.form} — ${example.label}`, () => {
          const { plain, json } = contexts(example.text);

          // A 12-character fragment shared by several values (PEM BEGIN/END lines) is named
          // after the first of them.
          const fragment = example.evidence[0]!;
          const sharing = (shares: (value: string) => boolean): string[] =>
            SAMPLE_SECRETS.filter((o) => o === secret || shares(o.value)).map((o) => o.name);
          let owners = [secret.name];
          if (encoding.form === "prefix") owners = sharing((v) => v.startsWith(fragment));
          if (encoding.form === "suffix") owners = sharing((v) => v.endsWith(fragment));
          const replaced = (after: string): void => {
            if (encoding.masked === true) {
              assert.ok(!after.includes("[REDACTED:"), "a marker inside a base64 run");
              assertMaskedRun(plain, after, example, secret.value, encoding.form as "base64");
            } else {
              assert.ok(
                owners.some((name) => after.includes(markerOf(name))),
                "no marker",
              );
            }
          };
          const asText = redactor.redactText(plain);
          for (const e of example.evidence) assert.ok(!asText.text.includes(e), "left in text");
          replaced(asText.text);
          assert.ok(
            asText.hits.some((h) => owners.includes(h.secret) && h.form === encoding.form),
            `hits: ${JSON.stringify(asText.hits)}`,
          );

          const asJson = redactor.redactText(json);
          const decoded = JSON.parse(asJson.text).result.content[0].text as string;
          // The line escapes the example once more; three levels are not covered (README),
          // only the ends of such a value are redacted, so only the whole is checked then.
          if ((example.escapes ?? 0) < 2) {
            for (const e of example.evidence) assert.ok(!decoded.includes(e), "left in JSON");
          } else {
            assert.ok(!decoded.includes(fragment), "left in JSON");
            const chars = Array.from(secret.value);
            const [head, tail] = [chars.slice(0, 12).join(""), chars.slice(-12).join("")];
            owners = sharing((v) => v.startsWith(head) || v.endsWith(tail));
          }
          replaced(decoded);

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

  it("keeps every form's growth target when escaping leaves the ends alone", () => {
    const value = 'abcdefghijkl"SECRET-MIDDLE"mnopqrstuvwx';
    const needles = deriveNeedles(value, 8);
    for (const [bytes, direction] of [
      ["abcdefghijkl", "forward"],
      ["mnopqrstuvwx", "backward"],
    ] as const) {
      const shared = needles.filter((n) => Buffer.from(n.bytes).toString() === bytes);
      assert.equal(shared.length, 1, "one needle for the shared bytes");
      const ext = shared[0]!.extension;
      assert.ok(ext.kind === "grow");
      const fulls = ext.targets.map((t) => Buffer.from(t.full).toString());
      assert.ok(ext.targets.every((t) => t.direction === direction));
      assert.ok(fulls.includes(value), "raw");
      const once = JSON.stringify(value).slice(1, -1);
      assert.ok(fulls.includes(once), "JSON");
      assert.ok(fulls.includes(JSON.stringify(once).slice(1, -1)), "JSON twice");
    }
  });

  it("derives fragments only for values longer than 12 characters", () => {
    const forms = (v: string) => new Set(deriveNeedles(v, 8).map((n) => n.form));
    assert.equal(forms("abcdefghijkl").has("prefix"), false);
    assert.equal(forms("abcdefghijklm").has("prefix"), true);
    assert.equal(forms("abcdefghijklm").has("suffix"), true);
  });
});
