import assert from "node:assert/strict";
import { test } from "node:test";
import { mask } from "./mask.js";

test("short values show nothing", () => {
  for (const value of ["", "a", "hunter2", "12345678901"]) assert.equal(mask(value), "****");
});

test("a classic token shows its prefix and last two characters", () => {
  const token = `ghp_${"A".repeat(30)}0mLq3F`;
  assert.equal(mask(token), "ghp_…3F");
});

test("never more than 4 leading, 2 trailing, or 20% of the characters", () => {
  for (let length = 12; length <= 300; length++) {
    const value = Array.from({ length }, (_, i) => String.fromCharCode(65 + (i % 26))).join("");
    const masked = mask(value);
    const [head = "", tail = ""] = masked.split("…");
    assert.ok(head.length <= 4 && tail.length <= 2, `${length}: ${masked}`);
    assert.ok(head.length + tail.length <= length * 0.2, `${length}: ${masked}`);
    assert.ok(value.startsWith(head) && value.endsWith(tail));
  }
});

test("counts code points, so no surrogate pair is split", () => {
  const masked = mask("🔑".repeat(20));
  assert.equal(masked, "🔑🔑🔑…🔑");
});
