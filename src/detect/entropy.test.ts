import assert from "node:assert/strict";
import { test } from "node:test";
import { shannonEntropy } from "./entropy.js";

test("Shannon entropy in bits per character", () => {
  assert.equal(shannonEntropy(""), 0);
  assert.equal(shannonEntropy("aaaa"), 0);
  assert.equal(shannonEntropy("ab"), 1);
  assert.equal(shannonEntropy("abcd"), 2);
  assert.equal(shannonEntropy("0123456789abcdef"), 4);
  assert.ok(Math.abs(shannonEntropy("aab") - 0.9182958340544896) < 1e-12);
});

test("never exceeds log2 of the length", () => {
  const value = "q83vEjRWeJ0mLq17zQWBuTSOoRi4A9spHcVY5nc";
  assert.ok(shannonEntropy(value) <= Math.log2(value.length));
});
