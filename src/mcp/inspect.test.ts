import assert from "node:assert/strict";
import { isUtf8 } from "node:buffer";
import { describe, it } from "node:test";
import { envelopeOf } from "./framing.js";
import { inspectLine } from "./inspect.js";

/** What the JSON.parse path makes of a line: undefined when it is not JSON. */
function parsedEnvelopes(line: Buffer): unknown[] | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(line.toString("utf8"));
  } catch {
    return undefined;
  }
  return (Array.isArray(parsed) ? parsed : [parsed]).map(envelopeOf);
}

/** The inspector's promise: it accepts only JSON, with JSON.parse's envelopes. */
function assertAgrees(line: Buffer): boolean {
  const info = inspectLine(line, true);
  if (info === undefined) return false;
  const expected = parsedEnvelopes(line);
  assert.ok(expected !== undefined, `accepted a line JSON.parse rejects: ${line.toString()}`);
  assert.deepEqual(info.envelopes, expected, line.toString());
  if (info.canonical && isUtf8(line)) {
    const text = line.toString("utf8");
    const parsed = JSON.parse(text);
    assert.equal(JSON.stringify(parsed), text, "canonical but not JSON.stringify's");
    const args = parsed?.params?.arguments;
    if (info.argumentsAt === undefined) {
      assert.ok(Array.isArray(parsed) || args === undefined, `arguments not found in ${text}`);
    } else {
      assert.equal(line.subarray(...info.argumentsAt).toString(), JSON.stringify(args), text);
    }
  }
  return true;
}

describe("inspectLine", () => {
  it("reads the envelopes JSON.parse would give", () => {
    const lines = [
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{}}}',
      '{"jsonrpc":"2.0","method":"notifications/initialized"}',
      '{"jsonrpc":"2.0","id":"a-1","result":{"content":[{"type":"text","text":"hi"}]}}',
      '{"jsonrpc":"2.0","id":7,"error":{"code":-32601,"message":"nope"}}',
      '{"id":1,"result":null}',
      '{"id":1}',
      '{"id":null,"error":{}}',
      '{"id":true,"method":"m"}',
      '{"id":1,"id":"two","method":"x","method":3}',
      '{"id":1.5e2,"result":1}',
      '{"id":-0,"result":1}',
      '{"id":1e400,"result":1}',
      '{"\\u0069d":5,"m\\u0065thod":"a\\/b","result":1}',
      '{"id":"\\u00e9\\n","method":"caf\\u00e9"}',
      '{"id":"é","method":"ünïcode"}',
      '[{"id":1,"method":"a"},{"jsonrpc":"2.0","method":"b"},3,[],{"id":2,"result":0}]',
      "[]",
      "{}",
      '"just a string"',
      "42",
      ' \t{ "id" : 1 , "result" : [ 1 , { } ] } \r',
      '{"result":{"id":9,"method":"nested is not the envelope"}}',
      '{"id":{"x":1},"method":"m"}',
      '{"method":["m"],"id":1,"error":1}',
      '{"a":[[[[[[[[[[]]]]]]]]]],"id":1,"result":"\\"\\\\\\/\\b\\f\\n\\r\\t"}',
    ];
    for (const line of lines) {
      assert.ok(assertAgrees(Buffer.from(line)), `not recognised as JSON: ${line}`);
    }
  });

  it("never accepts what JSON.parse rejects", () => {
    const bad = [
      "",
      " ",
      "{",
      "}",
      '{"id":1,}',
      '{"id":1 "method":"x"}',
      '{"id" 1}',
      "{id:1}",
      "[1,]",
      "[,1]",
      '{"a":"raw\ttab"}',
      '{"a":"\\x"}',
      '{"a":"\\u12g4"}',
      '{"a":"unterminated}',
      '{"a":01}',
      '{"a":1.}',
      '{"a":.5}',
      '{"a":1e}',
      '{"a":+1}',
      '{"a":-}',
      '{"a":tru}',
      '{"a":nul}',
      '{"a":NaN}',
      '{"a":1} x',
      '{"a":1}{"b":2}',
      "\ufeff{}",
      '{"a":1}\u00a0',
      "'single'",
    ];
    for (const line of bad) {
      assert.equal(inspectLine(Buffer.from(line)), undefined, line);
      assert.equal(parsedEnvelopes(Buffer.from(line)), undefined, line);
    }
  });

  it("accepts invalid UTF-8 inside strings, as JSON.parse of the decoded line does", () => {
    const line = Buffer.concat([
      Buffer.from('{"id":"'),
      Buffer.from([0xff, 0xe2, 0x82]),
      Buffer.from('","result":1}'),
    ]);
    assert.ok(assertAgrees(line));
  });

  it("finds where params.arguments sits in a line with one message", () => {
    const at = (line: string) => {
      const info = inspectLine(Buffer.from(line), true);
      return info?.argumentsAt && line.slice(...info.argumentsAt);
    };
    const call = (args: string) =>
      `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":${args},"_meta":{}}}`;
    assert.equal(at(call('{"q":[1,{"arguments":2}]}')), '{"q":[1,{"arguments":2}]}');
    assert.equal(at(call("[]")), "[]");
    assert.equal(at(call('"text"')), '"text"');
    assert.equal(at(call("null")), "null");
    assert.equal(at('{"params":{"name":"x"},"arguments":{}}'), undefined, "not in params");
    assert.equal(at('{"result":{"arguments":{}}}'), undefined, "not the params member");
    assert.equal(at(`[${call("{}")}]`), undefined, "not looked for in a batch");
  });

  it("leaves deep nesting to JSON.parse", () => {
    const deep = `${"[".repeat(100)}${"]".repeat(100)}`;
    assert.equal(inspectLine(Buffer.from(deep)), undefined);
    assert.ok(parsedEnvelopes(Buffer.from(deep)));
  });

  it("calls a line canonical only when JSON.stringify would write it the same way", () => {
    const keysOf = (count: number, prefix: string, value: string): string =>
      Array.from({ length: count }, (_, i) => `"${prefix}${i}":${value}`).join(",");
    const canonical = [
      '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"x","arguments":{"a":[1,-2,true,null,"é"]}}}',
      "[]",
      "{}",
      '{"n":123456789012345}',
      // The same key in sibling or nested objects is no duplicate.
      '{"a":{"a":1,"b":{"a":2}},"b":{"a":3},"c":[{"a":1},{"a":2}]}',
      // Up to 32 keys per object are checked, counted per object.
      `{${keysOf(20, "o", '{"x":1}')},"inner":{${keysOf(20, "i", "1")}}}`,
    ];
    for (const line of canonical) {
      assert.equal(inspectLine(Buffer.from(line), true)?.canonical, true, line);
    }
    const not = [
      '{"a": 1}',
      '{"a":"\\u0041"}',
      '{"a":1.0}',
      '{"a":1e3}',
      '{"a":-0}',
      '{"a":12345678901234567}',
      '{"b":1,"1":2}',
      '{"a":1,"a":2}',
      '{"a":{"b":1,"c":2,"b":3}}',
      '{"a":{"b":1},"a":2}',
      '[{"a":1},{"b":{"c":1,"d":[{"e":1}]},"c":2,"b":3}]',
      ' {"a":1}',
    ];
    for (const line of not) {
      assert.equal(inspectLine(Buffer.from(line), true)?.canonical, false, line);
      assert.notEqual(JSON.stringify(JSON.parse(line)), line);
    }
    // An object with more keys than are checked is not vouched for, duplicates or not.
    assert.equal(inspectLine(Buffer.from(`{${keysOf(33, "k", "1")}}`), true)?.canonical, false);
    // Without checkKeys, any object makes the line not canonical.
    assert.equal(inspectLine(Buffer.from('{"a":1}'))?.canonical, false);
  });

  it("agrees with JSON.parse on thousands of generated and mutated lines", () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    const space = (): string => (random() < 0.8 ? "" : pick([" ", "\t", "\r", "  "]));
    const strings = [
      "",
      "id",
      "method",
      "result",
      "error",
      "params",
      "arguments",
      "a",
      "é",
      "\\u0069d",
      '\\"',
      "x\\ny",
    ];
    const numbers = ["0", "-0", "1", "-12", "1.5", "2e3", "1E-2", "123456789012345678", "7"];
    const value = (depth: number): string => {
      const r = random();
      if (depth > 3 || r < 0.3) return `"${pick(strings)}"`;
      if (r < 0.5) return pick(numbers);
      if (r < 0.6) return pick(["true", "false", "null"]);
      if (r < 0.8) {
        const items = Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
        return `[${space()}${items.join(`${space()},${space()}`)}${space()}]`;
      }
      const members = Array.from(
        { length: Math.floor(random() * 5) },
        () => `"${pick(strings)}"${space()}:${space()}${value(depth + 1)}`,
      );
      return `{${space()}${members.join(`${space()},${space()}`)}${space()}}`;
    };
    const alphabet = Buffer.from('{}[]":,\\ 0123456789-.eE+tfnulrsaid\t\x01\xff');
    let accepted = 0;
    for (let n = 0; n < 5000; n++) {
      const line = Buffer.from(`${space()}${value(0)}${space()}`, "latin1");
      if (assertAgrees(line)) accepted++;
      for (let m = 0; m < 3; m++) {
        const at = Math.floor(random() * (line.length + 1));
        const mutated = Buffer.concat([
          line.subarray(0, at),
          random() < 0.5 ? Buffer.from([pick([...alphabet])]) : Buffer.alloc(0),
          line.subarray(at + (random() < 0.5 ? 1 : 0)),
        ]);
        assertAgrees(mutated);
      }
    }
    // Every generated line is JSON (latin1 "é" is one byte, valid inside a string).
    assert.equal(accepted, 5000);
  });
});
