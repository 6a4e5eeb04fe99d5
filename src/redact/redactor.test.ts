import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import {
  isStrictBase64,
  randomBytesFrom,
  randomWords,
  SAMPLE_SECRETS,
  seededRandom,
} from "./cases.test-data.js";
import { base64Cores } from "./forms.js";
import { markerName, Redactor } from "./redactor.js";
import { StreamRedactor } from "./stream.js";

const TOKEN = "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";

describe("Redactor", () => {
  it("reports values shorter than the minimum length as unredactable", () => {
    const redactor = new Redactor([
      { name: "pin", value: "1234" },
      { name: "seven", value: "abcdefg" },
      { name: "emoji7", value: "🔑🔑🔑🔑🔑🔑🔑" },
      { name: "ok", value: "abcdefgh" },
    ]);
    assert.deepEqual(redactor.unredactable, ["pin", "seven", "emoji7"]);
    assert.equal(redactor.redactText("pin 1234 seven abcdefg").hits.length, 0);
    assert.equal(redactor.redactText("x abcdefgh y").text, "x [REDACTED:ok] y");
    assert.equal(
      new Redactor([{ name: "pin", value: "1234" }], { minLength: 4 }).unredactable.length,
      0,
    );
  });

  it("refuses a minimum length below 4 with an error value", () => {
    assert.throws(
      () => new Redactor([], { minLength: 3 }),
      (e: unknown) => isKeywardError(e) && e.code === "invalid_value",
    );
  });

  it("writes odd characters of a name as _ in the marker", () => {
    const name = 'we"ird\\name]\n\u0000ü';
    assert.equal(markerName(name), "we_ird_name____");
    const out = new Redactor([{ name, value: TOKEN }]).redactText(JSON.stringify({ t: TOKEN }));
    assert.equal(JSON.parse(out.text).t, "[REDACTED:we_ird_name____]");
    assert.equal(out.hits[0]!.secret, name);
  });

  it("never puts a value in a hit", () => {
    const redactor = new Redactor(SAMPLE_SECRETS);
    const text = SAMPLE_SECRETS.map((s) => s.value).join(" | ");
    const { hits } = redactor.redactText(text);
    assert.equal(hits.length, SAMPLE_SECRETS.length);
    for (const s of SAMPLE_SECRETS) assert.ok(!JSON.stringify(hits).includes(s.value), s.name);
  });

  it("keeps old values redacted after rotation, under the same name", () => {
    const redactor = new Redactor([{ name: "gh", value: TOKEN }]);
    const next = "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";
    assert.equal(redactor.add({ name: "gh", value: next }), true);
    assert.equal(redactor.add({ name: "gh2", value: "short" }), false);
    assert.equal(redactor.redactText(`${TOKEN} ${next}`).text, "[REDACTED:gh] [REDACTED:gh]");
  });

  it("re-indexes when a shorter value arrives and still finds the longer ones", () => {
    const redactor = new Redactor([{ name: "long", value: TOKEN }]);
    redactor.add({ name: "short", value: "Zx9kQ2vW" });
    assert.equal(
      redactor.redactText(`a ${TOKEN} b Zx9kQ2vW c`).text,
      "a [REDACTED:long] b [REDACTED:short] c",
    );
  });

  it("merges overlapping and adjacent matches, named after the one that starts first", () => {
    const a = "AAAAbbbbCCCCdddd";
    const b = "CCCCddddEEEEffff"; // overlaps the end of a
    const redactor = new Redactor([
      { name: "b", value: b },
      { name: "a", value: a },
    ]);
    const { text, hits } = redactor.redactText("x AAAAbbbbCCCCddddEEEEffff y");
    assert.equal(text, "x [REDACTED:a] y");
    assert.deepEqual(hits, [{ secret: "a", form: "raw" }]);
    assert.equal(redactor.redactText(`${a}${a}`).text, "[REDACTED:a]");
  });

  it("redactBuffer gives the bytes of redactText", () => {
    const redactor = new Redactor(SAMPLE_SECRETS);
    const text = JSON.stringify({ list: SAMPLE_SECRETS.map((s) => `é ${s.value} ü`) });
    const fromText = redactor.redactText(text);
    const fromBuffer = redactor.redactBuffer(Buffer.from(text));
    assert.equal(fromBuffer.buffer.toString("utf8"), fromText.text);
    assert.deepEqual(fromBuffer.hits, fromText.hits);
    const clean = Buffer.from("nothing here");
    assert.equal(redactor.redactBuffer(clean).buffer, clean);
  });

  it("redacts in place when asked and the markers fit, else into a new buffer", () => {
    const redactor = new Redactor([
      { name: "gh", value: TOKEN },
      { name: "a-rather-long-secret-name", value: "Zx9kQ2vW" },
    ]);
    const line = Buffer.from(JSON.stringify({ t: `x ${TOKEN} y` }));
    const expected = redactor.redactBuffer(line).buffer;
    const owned = Buffer.from(line);
    const inPlace = redactor.redactBuffer(owned, { inPlace: true }).buffer;
    assert.deepEqual(inPlace, expected);
    assert.equal(inPlace.buffer, owned.buffer);
    const short = Buffer.from("k=Zx9kQ2vW;");
    const grown = redactor.redactBuffer(short, { inPlace: true }).buffer;
    assert.equal(grown.toString(), "k=[REDACTED:a-rather-long-secret-name];");
    assert.equal(
      short.toString(),
      "k=Zx9kQ2vW;",
      "a marker that does not fit leaves the input alone",
    );
  });

  it("turns a JSON number holding a secret into a string marker", () => {
    const redactor = new Redactor([{ name: "acct", value: "83620194750" }]);
    const out = redactor.redactText('{"id":1,"account":83620194750,"n":[1083620194750.5]}');
    assert.deepEqual(JSON.parse(out.text), {
      id: 1,
      account: "[REDACTED:acct]",
      n: ["[REDACTED:acct]"],
    });
  });

  it("widens over escapes a match would cut, in JSON and in plain text", () => {
    // The value ends in a backslash: in JSON it is the first half of `\\`.
    const value = "secret-with-trailing\\";
    const redactor = new Redactor([{ name: "s", value }]);
    const json = JSON.stringify({ v: `${value}n` }); // {"v":"secret-with-trailing\\n"}
    const out = redactor.redactText(json);
    assert.deepEqual(JSON.parse(out.text), { v: "[REDACTED:s]n" });
    // A raw match that begins on the second byte of `\\` in text that is not JSON.
    const plain = redactor.redactText(`log \\${value.slice(0, -1)}\\"`).text;
    assert.ok(!plain.includes("trailing"), plain);
  });

  it("keeps a line JSON when a raw value with quotes straddles strings", () => {
    const value = 'abc","k":"defghijk';
    const redactor = new Redactor([{ name: "q", value }]);
    const line = `{"x":"${value}"}`; // the raw value forms structure here
    const out = redactor.redactText(line);
    // Each string piece is replaced, the key included; the structure the value forms stays.
    assert.deepEqual(JSON.parse(out.text), { x: "[REDACTED:q]", "[REDACTED:q]": "[REDACTED:q]" });
  });

  it("produces parseable JSON with strings kept strings (property test)", () => {
    const secrets = [
      ...SAMPLE_SECRETS,
      { name: "slash", value: "a/b\\c/d\\\\e/f\\u0041g" },
      { name: "ctl", value: "\u0001\u001f\u007fctl-😀-\u2028-end" },
    ];
    const redactor = new Redactor(secrets);
    const random = seededRandom(7);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
    const jsonEscaped = (v: string): string => JSON.stringify(v).slice(1, -1);
    const encodings: Array<(v: string) => string> = [
      (v) => v,
      jsonEscaped,
      (v) => Buffer.from(`u:${v}`).toString("base64"),
      (v) => Buffer.from(v).toString("hex"),
      (v) => encodeURIComponent(v),
      (v) =>
        Array.from(v)
          .slice(0, 12 + Math.floor(random() * 5))
          .join(""),
      (v) =>
        Array.from(v)
          .slice(-12 - Math.floor(random() * 5))
          .join(""),
      // a random cut of the value, possibly too short to redact
      (v) => v.slice(Math.floor(random() * v.length)),
    ];
    // Set when a line carries a value escaped three times, which only its ends are redacted.
    let threeLevels = false;
    const stringWithSecrets = (inString: boolean): string => {
      let s = randomWords(random, Math.floor(random() * 4));
      while (random() < 0.6) {
        const encode = pick(encodings);
        if (encode === jsonEscaped && inString) threeLevels = true;
        s += encode(pick(secrets).value) + randomWords(random, 1);
      }
      return s;
    };
    // `inString`: already inside JSON carried in a string; the redactor knows two levels of
    // escaping (a JSON-RPC line carrying serialised structuredContent), not more.
    const value = (depth: number, inString: boolean): unknown => {
      const r = random();
      if (depth > 3 || r < 0.4) return stringWithSecrets(inString);
      if (r < 0.5) return Math.floor(random() * 1e6) / 7;
      if (r < 0.55) return pick([true, false, null]);
      if (r < 0.6 && !inString) return JSON.stringify(value(depth + 1, true));
      const child = () => value(depth + 1, inString);
      if (r < 0.8) return Array.from({ length: Math.floor(random() * 4) }, child);
      return Object.fromEntries(
        Array.from({ length: Math.floor(random() * 4) }, (_, i) => [`k${i}`, child()]),
      );
    };
    const sameShape = (a: unknown, b: unknown, path: string): void => {
      if (typeof a === "string") assert.equal(typeof b, "string", path);
      else if (Array.isArray(a)) {
        assert.ok(Array.isArray(b), path);
        for (const [i, x] of a.entries()) sameShape(x, (b as unknown[])[i], `${path}[${i}]`);
      } else if (a !== null && typeof a === "object") {
        assert.deepEqual(Object.keys(b as object), Object.keys(a), path);
        for (const [k, x] of Object.entries(a)) {
          sameShape(x, (b as Record<string, unknown>)[k], `${path}.${k}`);
        }
      } else assert.equal(b, a, path);
    };

    // Every 12-character piece of every value, as the line carries it (escaped once, or twice
    // inside a JSON string): a value replaced only at its ends leaks its middle.
    const pieces = new Set<string>();
    for (const { value: v } of secrets) {
      const once = JSON.stringify(v).slice(1, -1);
      for (const form of [once, JSON.stringify(once).slice(1, -1)]) {
        const chars = Array.from(form);
        for (let i = 0; i + 12 <= chars.length; i++) pieces.add(chars.slice(i, i + 12).join(""));
      }
    }
    let redactedLines = 0;
    let checkedLines = 0;
    for (let round = 0; round < 400; round++) {
      threeLevels = false;
      const doc = { jsonrpc: "2.0", id: round, result: value(0, false) };
      const line = JSON.stringify(doc);
      const out = redactor.redactText(line);
      const parsed = JSON.parse(out.text);
      sameShape(doc, parsed, "$");
      if (out.hits.length > 0) redactedLines++;
      // Nothing redactable is left, in the line or in any decoded string.
      assert.deepEqual(redactor.redactText(out.text).hits, [], out.text);
      if (!threeLevels) {
        checkedLines++;
        for (const piece of pieces) assert.ok(!out.text.includes(piece), `${round}: ${out.text}`);
      }
    }
    assert.ok(redactedLines > 150, `only ${redactedLines} of 400 lines held a secret`);
    assert.ok(checkedLines > 300, `only ${checkedLines} of 400 lines checked for pieces`);
  });

  it("finds nothing in 10 MB of random text with 100 random secrets", () => {
    const alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    const token = (prefix: string, n: number) =>
      prefix + Array.from(randomBytes(n), (b) => alphabet[b % 62]).join("");
    const shapes = [() => token("ghp_", 36), () => token("xoxb-", 40), () => token("sk-", 48)];
    const secrets = Array.from({ length: 100 }, (_, i) => ({
      name: `s${i}`,
      value: shapes[i % 3]!(),
    }));
    const redactor = new Redactor(secrets);
    const random = seededRandom(99);
    const parts = [
      randomBytes(3 << 20).toString("base64"),
      randomBytes(1 << 20).toString("hex"),
      randomBytes(1 << 20).toString("base64url"),
      Buffer.from(randomBytes(1 << 20).map((b) => 0x20 + (b % 95))).toString("latin1"),
      randomWords(random, 300_000),
    ];
    const text = Buffer.from(parts.join("\n"));
    assert.ok(text.length >= 10_000_000, "payload too small");
    assert.deepEqual(redactor.redactBuffer(text).hits, []);
  });
});

describe("Redactor inside base64 content", () => {
  // `?`, `>` and `~` encode to `/` and `+`, so the url-safe runs differ from the standard ones.
  const value = "~~~???>>>key-0123456789-???>>>~~~";
  const redactor = new Redactor([{ name: "blob/key", value }]);
  const bytes = Buffer.from(value);

  /**
   * An MCP tool result carrying `data` as image data, `blob` as a resource blob, and the value
   * itself in text after them (a marker there moves the bytes after it, in place).
   */
  const resultLine = (data: string, blob: string): string =>
    JSON.stringify({
      jsonrpc: "2.0",
      id: 3,
      result: {
        content: [
          { type: "image", mimeType: "image/png", data },
          { type: "resource", resource: { uri: "file:///k", mimeType: "x/y", blob } },
          { type: "text", text: `the key is ${value}.` },
        ],
      },
    });

  function streamed(line: string): string {
    const stream = new StreamRedactor(redactor);
    const input = Buffer.from(line);
    const out: Buffer[] = [];
    for (let i = 0; i < input.length; i += 7) out.push(stream.push(input.subarray(i, i + 7)));
    out.push(stream.end());
    return Buffer.concat(out).toString();
  }

  for (const encoding of ["base64", "base64url"] as const) {
    it(`keeps ${encoding} data valid and decoding without the value, at every alignment`, () => {
      const random = seededRandom(encoding.length);
      const forms = new Set<string>();
      for (const offset of [0, 1, 2, 30, 31, 32]) {
        for (const after of [0, 1, 2, 29]) {
          const before = randomBytesFrom(random, offset);
          const original = Buffer.concat([before, bytes, randomBytesFrom(random, after)]);
          const data = original.toString(encoding);
          const blob = bytes.toString(encoding);
          const line = resultLine(data, blob);
          const label = `${encoding} at ${offset}, ${after} bytes after`;

          const out = redactor.redactBuffer(Buffer.from(line), { inPlace: true });
          const text = out.buffer.toString();
          const [image, resource, note] = JSON.parse(text).result.content;
          assert.equal(note.text, "the key is [REDACTED:blob/key].");
          for (const [redacted, source] of [
            [image.data as string, original],
            [resource.resource.blob as string, bytes],
          ] as const) {
            assert.equal(redacted.length, source.toString(encoding).length, label);
            assert.ok(isStrictBase64(redacted, encoding), `${label}: ${redacted}`);
            const decoded = Buffer.from(redacted, encoding);
            assert.equal(decoded.length, source.length, label);
            assert.ok(!decoded.includes(bytes), label);
          }
          // The value's bytes decode to zero; a neighbour sharing a partial character may lose
          // bits; every other byte is as it was.
          const decoded = Buffer.from(image.data as string, encoding);
          const end = offset + bytes.length;
          assert.ok(
            decoded.subarray(offset, end).every((b) => b === 0),
            label,
          );
          const from = Math.max(0, offset - 1);
          assert.deepEqual(decoded.subarray(0, from), original.subarray(0, from), label);
          assert.deepEqual(decoded.subarray(end + 1), original.subarray(end + 1), label);

          assert.equal(out.hits.at(-1)?.form, "raw");
          assert.ok(out.hits.length > 1, label);
          for (const hit of out.hits.slice(0, -1)) {
            assert.equal(hit.secret, "blob/key");
            forms.add(hit.form);
          }
          assert.equal(streamed(line), text, `${label}: the stream differs`);
          assert.equal(redactor.redactText(line).text, text, `${label}: redactText differs`);
        }
      }
      assert.deepEqual([...forms], [encoding], "each hit names the encoding");
    });
  }

  it("uses the marker where the span would take in a non-base64 byte", () => {
    // PHP-style JSON writes `/` as `\/`. A core whose partial character before it is such a
    // `/` grows over it, and then over the backslash (a span never cuts an escape).
    const core = base64Cores(bytes)[1]!.text;
    const line = `{"data":"QUJD\\/${core}QUJD"}`;
    const out = redactor.redactText(line);
    // The partial character after the core goes too.
    assert.equal(JSON.parse(out.text).data, "QUJD[REDACTED:blob/key]UJD");
    assert.deepEqual(out.hits, [{ secret: "blob/key", form: "base64" }]);
  });
});
