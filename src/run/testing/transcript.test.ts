import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  type CanaryForms,
  compareDirection,
  differenceBetween,
  isRedactionOf,
  leaks,
  normaliser,
  secretForms,
} from "./transcript.js";

const value = "kwcanary_0123456789abcdefXYZ";
const canaries: CanaryForms[] = [{ name: "demo/key", forms: secretForms(value) }];
const marker = "[REDACTED:demo/key]";

const response = (id: number, text: string) => ({
  jsonrpc: "2.0",
  id,
  result: { content: [{ type: "text", text }] },
});
const progress = (n: number) => ({
  jsonrpc: "2.0",
  method: "notifications/progress",
  params: { progressToken: "p", progress: n },
});

// The differential tests are only as strict as these helpers: each way keyward could break a
// session must show up as a problem, and only redaction and the listed normalisations may not.
describe("transcript comparison", () => {
  const direct = [progress(1), progress(2), response(1, `key=${value}`), response(2, "plain")];

  it("accepts a redacted transcript, and streams interleaved differently", () => {
    const wrapped = [response(2, "plain"), progress(1), progress(2), response(1, `key=${marker}`)];
    assert.deepEqual(compareDirection(direct, wrapped, canaries), []);
  });

  it("reports a dropped, an added, a reordered and an altered message", () => {
    const [p1, p2, r1, r2] = direct;
    assert.deepEqual(compareDirection(direct, [p1, p2, r1], canaries), [
      "response 2: 1 messages directly, 0 through keyward",
    ]);
    assert.deepEqual(compareDirection(direct, [...direct, progress(3)], canaries), [
      'progress "p": 2 messages directly, 3 through keyward',
    ]);
    assert.deepEqual(compareDirection(direct, [p2, p1, r1, r2], canaries), [
      'progress "p" #1 differs at $.params.progress',
      'progress "p" #2 differs at $.params.progress',
    ]);
    assert.deepEqual(compareDirection(direct, [p1, p2, r1, response(2, "Plain")], canaries), [
      "response 2 #1 differs at $.result.content[0].text",
    ]);
  });

  it("accepts a marker only where a form of the named secret was", () => {
    assert.ok(isRedactionOf(`a ${value} b`, `a ${marker} b`, canaries));
    const b64 = Buffer.from(value).toString("base64");
    assert.ok(isRedactionOf(`data:${b64}`, `data:${marker}`, canaries));
    assert.ok(!isRedactionOf("a plain b", `a ${marker} b`, canaries), "nothing secret was there");
    assert.ok(!isRedactionOf(`a ${value} b`, `a ${marker} c`, canaries), "the rest changed");
    assert.ok(!isRedactionOf(`a ${value} b`, "a [REDACTED:other] b", canaries), "wrong name");
  });

  it("compares structure and key order, not only text", () => {
    assert.equal(
      differenceBetween({ a: 1, b: 2 }, { b: 2, a: 1 }, canaries),
      "$ (keys a,b vs b,a)",
    );
    assert.equal(differenceBetween([1, 2], [1, 2, 3], canaries), "$ (length)");
    assert.equal(differenceBetween({ n: 1 }, { n: "1" }, canaries), "$.n");
  });

  it("normalises only the listed run-to-run fields, keeping equal ids equal", () => {
    const normalise = normaliser();
    const taskId = "0123456789abcdef0123456789abcdef";
    const out = normalise({
      task: { taskId, createdAt: "2026-11-27T07:11:45.089Z", note: "2026-11-27T07:11:45.089Z" },
      again: `task ${taskId}`,
      text: "Resource 5: created at 7:11:50\u202fAM",
      blob: Buffer.from("Resource 5: This is a base64 blob created at 7:11:50 AM").toString(
        "base64",
      ),
      other: Buffer.from("created later").toString("base64"),
    });
    assert.deepEqual(out, {
      task: { taskId: "<task-1>", createdAt: "<time>", note: "2026-11-27T07:11:45.089Z" },
      again: "task <task-1>",
      text: "Resource 5: created at <time>",
      blob: "<base64:Resource 5: This is a base64 blob created at <time>>",
      other: Buffer.from("created later").toString("base64"),
    });
  });

  it("finds every encoded form of a value in raw lines", () => {
    const b = Buffer.from(value);
    for (const form of [
      value,
      b.toString("base64"),
      b.toString("hex").toUpperCase(),
      Buffer.concat([Buffer.from("x"), b]).toString("base64"), // at an offset in a base64 run
    ]) {
      assert.equal(leaks([`{"x":"${form}"}`], canaries).length > 0, true, form.slice(0, 8));
    }
    assert.deepEqual(leaks(['{"x":"nothing here"}'], canaries), []);
  });
});
