import assert from "node:assert/strict";
import { test } from "node:test";
import { KeywordLists, KeywordSearch } from "./keywords.js";

test("finds every occurrence of every keyword, case-insensitively, with its end offset", () => {
  const search = new KeywordSearch(["key", "token", "apikey", "ghp_"]);
  const text = "ApiKey=1; TOKEN=2; keys; GHP_x";
  const hits: Array<[string, number]> = [];
  search.scan(text, (word, end) => hits.push([search.words[word] as string, end]));
  assert.deepEqual(hits, [
    ["apikey", 6],
    ["key", 6],
    ["token", 15],
    ["key", 22],
    ["ghp_", 29],
  ]);
});

test("present() names the keywords a text holds; non-ASCII text is read past", () => {
  const search = new KeywordSearch(["secret", "eyj", "private key"]);
  assert.deepEqual([...search.present("naïve — 秘密 SECRET, eyJ0…")].sort(), ["eyj", "secret"]);
  assert.deepEqual([...search.present("-----BEGIN PRIVATE KEY-----")], ["private key"]);
  assert.equal(search.present("nothing here").size, 0);
  assert.equal(search.present("").size, 0);
});

test("presentInBytes() gives present() of the bytes read as latin1, within a range", () => {
  const search = new KeywordSearch(["secret", "eyj", "private key", "sk_test_", "test"]);
  const texts = [
    "naïve — 秘密 SECRET, eyJ0…",
    "-----BEGIN PRIVATE KEY-----",
    "rk_sk_test_x",
    "",
    "none",
  ];
  for (const text of texts) {
    const bytes = Buffer.from(text, "utf8");
    assert.deepEqual(
      [...search.presentInBytes(bytes)].sort(),
      [...search.present(bytes.toString("latin1"))].sort(),
      text,
    );
  }
  const bytes = Buffer.from("a secret, then eyJ");
  assert.deepEqual([...search.presentInBytes(bytes, 2, 8)], ["secret"]);
  assert.deepEqual([...search.presentInBytes(bytes, 3, 8)], [], "a keyword cut by the range");
  assert.deepEqual([...search.presentInBytes(bytes, 9)], ["eyj"]);
});

test("overlapping and nested keywords are all reported", () => {
  const search = new KeywordSearch(["sk_test_", "test", "st"]);
  assert.deepEqual([...search.present("rk_sk_test_x")].sort(), ["sk_test_", "st", "test"]);
});

test("only ASCII keywords are accepted", () => {
  assert.throws(() => new KeywordSearch(["clé"]));
});

test("lists searched together each get their own hits, numbered by their own words", () => {
  const lists = new KeywordLists([["token", "key"], [], ["process", "key"]]);
  const [first, none, last] = lists.hits("apiKey = process.env.TOKEN");
  // Pairs: the word's index in its own list, the offset just past it.
  assert.deepEqual(first, [1, 6, 0, 26]);
  assert.deepEqual(none, []);
  // A word in two lists is a hit in each.
  assert.deepEqual(last, [1, 6, 0, 16]);
});
