import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Scrubber } from "./framing.js";
import {
  envelopeOf,
  idKey,
  jsonSkeleton,
  LineSplitter,
  scrubJsonValue,
  scrubLine,
} from "./framing.js";
import { TestScrubber } from "./testing/scrubber.js";

const SECRET = { name: "TOKEN", value: "tok_0123456789abcdef" };

function split(chunks: Buffer[], max?: number): { lines: string[]; dropped: number[] } {
  const lines: string[] = [];
  const dropped: number[] = [];
  const splitter = new LineSplitter(
    (line) => lines.push(line.toString("utf8")),
    (bytes) => dropped.push(bytes),
    max,
  );
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return { lines, dropped };
}

describe("LineSplitter", () => {
  it("joins lines split across chunks, including a multi-byte character", () => {
    const bytes = Buffer.from('{"a":"é"}\n{"b":2}\r\n', "utf8");
    const chunks = [...bytes].map((byte) => Buffer.from([byte]));
    assert.deepEqual(split(chunks).lines, ['{"a":"é"}', '{"b":2}\r']);
  });

  it("hands out a last line without a newline at the end of the stream", () => {
    assert.deepEqual(split([Buffer.from("one\ntwo")]).lines, ["one", "two"]);
  });

  it("drops a line over the limit, reports its size and keeps going", () => {
    const long = "x".repeat(100);
    const { lines, dropped } = split(
      [Buffer.from(`short\n${long.slice(0, 30)}`), Buffer.from(`${long.slice(30)}\nafter\n`)],
      50,
    );
    assert.deepEqual(lines, ["short", "after"]);
    assert.deepEqual(dropped, [100]);
  });

  it("streams past a huge line without holding it", () => {
    const chunk = Buffer.alloc(1024 * 1024, 0x61); // the same 1 MiB pushed 1024 times: 1 GiB
    const lines: Buffer[] = [];
    const dropped: number[] = [];
    const splitter = new LineSplitter(
      (line) => lines.push(line),
      (bytes) => dropped.push(bytes),
      4 * 1024 * 1024,
    );
    for (let i = 0; i < 1024; i++) splitter.push(chunk);
    splitter.push(Buffer.from("\n{}\n"));
    assert.deepEqual(dropped, [1024 * 1024 * 1024]);
    assert.deepEqual(
      lines.map((line) => line.toString()),
      ["{}"],
    );
  });

  it("hands out each line with its newline as a view of the same memory, to forward as is", () => {
    const got: Array<[string, string | undefined, boolean]> = [];
    const splitter = new LineSplitter(
      (line, framed) =>
        got.push([
          line.toString(),
          framed?.toString(),
          framed !== undefined &&
            framed.buffer === line.buffer &&
            framed.byteOffset === line.byteOffset,
        ]),
      () => {},
    );
    splitter.push(Buffer.from('{"a":1}\n\n{"b":'));
    splitter.push(Buffer.from("2}\nlast"));
    splitter.end();
    assert.deepEqual(got, [
      ['{"a":1}', '{"a":1}\n', true],
      ["", "\n", true],
      ['{"b":2}', '{"b":2}\n', true],
      ["last", undefined, false],
    ]);
  });

  it("accepts a line exactly at the limit", () => {
    assert.deepEqual(split([Buffer.from("12345\n")], 5).lines, ["12345"]);
  });
});

describe("scrubLine", () => {
  const scrubber = new TestScrubber([SECRET]);

  it("leaves a line without secrets alone (the caller forwards the original bytes)", () => {
    const result = scrubLine(Buffer.from('{ "jsonrpc" : "2.0", "method": "x/y" }'), scrubber);
    assert.equal(result.kind, "clean");
  });

  it("returns scrubbed, valid JSON and the hits when a value is found", () => {
    const line = JSON.stringify({
      jsonrpc: "2.0",
      id: 1,
      result: { text: `key=${SECRET.value}`, blob: Buffer.from(SECRET.value).toString("base64") },
    });
    const result = scrubLine(Buffer.from(line), scrubber);
    assert.equal(result.kind, "scrubbed");
    if (result.kind !== "scrubbed") return;
    const text = result.line.toString("utf8");
    assert.ok(!text.includes(SECRET.value));
    assert.deepEqual(JSON.parse(text), result.message());
    assert.deepEqual(result.envelopes, [{ kind: "response", id: 1 }]);
    assert.deepEqual(
      result.hits.map((h) => h.form),
      ["raw", "base64"],
    );
  });

  it("falls back to scrubbing leaf by leaf when the scrubber breaks the JSON", () => {
    const broken = new TestScrubber([SECRET], "break-json");
    const line = JSON.stringify({ id: 2, result: { [SECRET.value]: [`a ${SECRET.value} b`, 1] } });
    const result = scrubLine(Buffer.from(line), broken);
    assert.equal(result.kind, "scrubbed");
    if (result.kind !== "scrubbed") return;
    assert.deepEqual(JSON.parse(result.line.toString("utf8")), {
      id: 2,
      result: { '"[REDACTED:TOKEN]"': ['a "[REDACTED:TOKEN]" b', 1] },
    });
  });

  it("reports unsafe when a secret survives every attempt", () => {
    const result = scrubLine(
      Buffer.from(JSON.stringify({ id: 3, result: SECRET.value })),
      new TestScrubber([SECRET], "report-only"),
    );
    assert.equal(result.kind, "unsafe");
  });

  it("lets the scrubber redact in the line's own memory; withholds what it then breaks", () => {
    /** Overwrites the value in place with `fill` (same length), when asked to work in place. */
    const overwriting = (fill: string): Scrubber => ({
      redactText: (text) => scrubber.redactText(text),
      redactBuffer(buffer, options) {
        const at = buffer.indexOf(SECRET.value);
        if (at === -1) return { buffer, hits: [] };
        assert.equal(options?.inPlace, true);
        buffer.write(fill.repeat(SECRET.value.length).slice(0, SECRET.value.length), at, "latin1");
        return { buffer, hits: [{ secret: SECRET.name, form: "raw" }] };
      },
    });
    const line = () => Buffer.from(JSON.stringify({ id: 3, result: { text: SECRET.value } }));
    const input = line();
    const result = scrubLine(input, overwriting("x"));
    assert.equal(result.kind, "scrubbed");
    if (result.kind !== "scrubbed") return;
    assert.equal(result.line.buffer, input.buffer, "no copy");
    assert.deepEqual(JSON.parse(result.line.toString()), {
      id: 3,
      result: { text: "x".repeat(20) },
    });
    // Broken JSON written in place cannot be repaired from the original: withheld.
    const broken = scrubLine(line(), overwriting('"'));
    assert.deepEqual(broken.kind === "unsafe" && broken.envelopes, [{ kind: "response", id: 3 }]);
  });

  it("scrubs a non-JSON line for stderr", () => {
    const result = scrubLine(Buffer.from(`oops ${SECRET.value}`), scrubber);
    assert.deepEqual(result, {
      kind: "not-json",
      text: "oops [REDACTED:TOKEN]",
      hits: [{ secret: "TOKEN", form: "raw" }],
    });
  });

  it("scrubs a number that spells a secret (leaf fallback turns it into a string)", () => {
    const digits = new TestScrubber([{ name: "PIN", value: "123456789012" }]);
    const result = scrubJsonValue({ n: 123456789012 }, digits);
    assert.deepEqual(result?.value, { n: "[REDACTED:PIN]" });
  });
});

describe("jsonSkeleton", () => {
  it("empties long strings and keeps everything else", () => {
    const line = Buffer.from(JSON.stringify({ id: 1, s: "x".repeat(20), t: 'q"é\n\u0001' }));
    assert.equal(jsonSkeleton(line, 100), line.toString());
    assert.deepEqual(JSON.parse(jsonSkeleton(line, 15)!), { id: 1, s: "", t: 'q"é\n\u0001' });
  });

  it("rejects malformed string literals", () => {
    for (const bad of [
      '{"a":"unterminated}',
      '{"a":"tab\there"}',
      '{"a":"\\x"}',
      '{"a":"\\u12"}',
    ]) {
      assert.equal(jsonSkeleton(Buffer.from(bad)), undefined, bad);
    }
  });
});

describe("envelopeOf", () => {
  it("tells requests, notifications and responses apart", () => {
    assert.deepEqual(envelopeOf({ id: 1, method: "m" }), { kind: "request", id: 1, method: "m" });
    assert.deepEqual(envelopeOf({ method: "n" }), { kind: "notification", method: "n" });
    assert.deepEqual(envelopeOf({ id: "x", result: {} }), { kind: "response", id: "x" });
    assert.deepEqual(envelopeOf({ id: "x", error: {} }), { kind: "response", id: "x" });
    assert.deepEqual(envelopeOf([1]), { kind: "other" });
    assert.notEqual(idKey(1), idKey("1"));
  });
});
