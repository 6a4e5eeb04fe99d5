import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findNodeAtLocation, parseTree } from "jsonc-parser";
import { applyEdits, detectLayout, removeProperty, renderStringArray } from "./jsonc-edit.js";

/** Removes `key` from the object at `path` in `text`. */
function remove(text: string, path: string[], key: string): string {
  const root = parseTree(text, [], { allowTrailingComma: true })!;
  const object = findNodeAtLocation(root, path)!;
  const property = object.children!.find((p) => p.children?.[0]?.value === key)!;
  return applyEdits(text, removeProperty(text, object, property));
}

describe("removeProperty", () => {
  it("removes a middle property with its trailing comment, keeping the neighbours' comments", () => {
    const text = [
      "{",
      "  // a",
      '  "a": 1,',
      '  "b": 2, // about b',
      '  "c": 3 // about c',
      "}",
    ].join("\n");
    assert.equal(
      remove(text, [], "b"),
      ["{", "  // a", '  "a": 1,', '  "c": 3 // about c', "}"].join("\n"),
    );
  });

  it("removes the last property and the comma before it, without a blank line", () => {
    const text = ["{", '  "a": 1, // about a', '  "b": 2', "}"].join("\n");
    assert.equal(remove(text, [], "b"), ["{", '  "a": 1 // about a', "}"].join("\n"));
  });

  it("removes a last property that has a trailing comma (JSONC)", () => {
    const text = ["{", '\t"a": 1,', '\t"b": 2,', "}"].join("\n");
    assert.equal(remove(text, [], "b"), ["{", '\t"a": 1', "}"].join("\n"));
  });

  it("handles properties on one line", () => {
    assert.equal(remove('{ "a": "1", "b": "2" }', [], "b"), '{ "a": "1" }');
    assert.equal(remove('{ "a": "1", "b": "2" }', [], "a"), '{ "b": "2" }');
    assert.equal(remove('{ "a": "1", "b": "2", "c": "3" }', [], "b"), '{ "a": "1", "c": "3" }');
  });

  it("keeps CRLF line ends", () => {
    const text = ["{", '  "a": 1,', '  "b": 2', "}"].join("\r\n");
    assert.equal(remove(text, [], "b"), ["{", '  "a": 1', "}"].join("\r\n"));
    assert.equal(remove(text, [], "a"), ["{", '  "b": 2', "}"].join("\r\n"));
  });

  it("leaves an empty object when the only property goes", () => {
    assert.equal(remove('{"x": {"a": 1}}', ["x"], "a"), '{"x": {}}');
  });
});

describe("layout", () => {
  it("detects the indentation unit and line ends", () => {
    assert.deepEqual(detectLayout('{\n\t"a": {\n\t\t"b": 1\n\t}\n}'), { eol: "\n", unit: "\t" });
    assert.deepEqual(detectLayout('{\r\n    "a": 1\r\n}'), { eol: "\r\n", unit: "    " });
  });

  it("renders arrays inline or one element per line", () => {
    const layout = { eol: "\n", unit: "  " };
    assert.equal(renderStringArray(["a", "b"], true, "    ", layout), '["a", "b"]');
    assert.equal(
      renderStringArray(["a", "b"], false, "    ", layout),
      '[\n      "a",\n      "b"\n    ]',
    );
    assert.equal(renderStringArray([], false, "", layout), "[]");
  });
});
