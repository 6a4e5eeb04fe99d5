import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { tokenRules } from "./rules/index.js";
import { scanText } from "./scan.js";

const CATEGORIES = new Set([
  "token",
  "api-key",
  "private-key",
  "cloud-key",
  "jwt",
  "password",
  "url-credential",
  "connection-string",
]);

test("rule ids are unique kebab-case and every rule is well formed", () => {
  const ids = new Set<string>();
  for (const rule of tokenRules) {
    assert.match(rule.id, /^[a-z0-9]+(?:-[a-z0-9]+)*$/, rule.id);
    assert.ok(!ids.has(rule.id), `duplicate rule id ${rule.id}`);
    ids.add(rule.id);
    assert.ok(CATEGORIES.has(rule.category), rule.id);
    assert.ok(rule.title.length > 0 && rule.provider.length > 0, rule.id);
    assert.ok(rule.pattern.global, `${rule.id}: pattern must be global`);
    assert.ok(!rule.pattern.sticky, `${rule.id}: pattern must not be sticky`);
    assert.ok(rule.keywords.length > 0, `${rule.id}: needs keywords`);
    for (const keyword of rule.keywords) assert.equal(keyword, keyword.toLowerCase(), rule.id);
    assert.ok(rule.truePositives.length > 0, `${rule.id}: needs true positives`);
    assert.ok(rule.falsePositives.length > 0, `${rule.id}: needs false positives`);
  }
});

// Catastrophic backtracking needs an unbounded repetition; every rule bounds its quantifiers.
test("rule patterns use only bounded quantifiers", () => {
  for (const rule of tokenRules) {
    const outsideClasses = rule.pattern.source.replace(/\\./g, "").replace(/\[[^\]]*\]/g, "");
    assert.doesNotMatch(outsideClasses, /[*+]|\{\d+,\}/, `${rule.id}: unbounded quantifier`);
  }
});

for (const rule of tokenRules) {
  test(`${rule.id}: every true positive is found and no false positive is`, () => {
    for (const [index, example] of rule.truePositives.entries()) {
      const matches = scanText(example, { rules: [rule] });
      assert.ok(matches.length > 0, `${rule.id}: true positive #${index} not found`);
      for (const match of matches) {
        assert.equal(match.ruleId, rule.id);
        assert.notEqual(match.validation, "invalid", `${rule.id}: true positive #${index}`);
        assert.equal(example.slice(match.start, match.end), match.secret);
      }
    }
    for (const [index, example] of rule.falsePositives.entries()) {
      assert.deepEqual(
        scanText(example, { rules: [rule] }).map((m) => m.ruleId),
        [],
        `${rule.id}: false positive #${index} was reported`,
      );
    }
  });
}

test("with the whole registry, each true positive is reported under its own rule", () => {
  for (const rule of tokenRules) {
    for (const [index, example] of rule.truePositives.entries()) {
      const ids = scanText(example).map((m) => m.ruleId);
      assert.ok(
        ids.includes(rule.id),
        `${rule.id}: true positive #${index} reported as ${ids.join(", ")}`,
      );
    }
  }
});

// The repository's pre-stop hook flags these shapes outside test and fixture paths, so rule files
// must assemble their examples instead of spelling them out.
test("no token-shaped literal sits in the non-test files of src/detect", () => {
  const hookShape = /ghp_[A-Za-z0-9]{36}|xox[bp]-[0-9]{10,}-|AKIA[A-Z2-7]{16}|sk-ant-api03-/;
  const root = fileURLToPath(new URL(".", import.meta.url));
  // Compiled runs read dist/, which holds no README; check sources and docs where they exist.
  const files = readdirSync(root, { recursive: true, encoding: "utf8" }).filter(
    (file) =>
      /\.(ts|js|md)$/.test(file) && !/\.test\.(ts|js)$/.test(file) && !file.endsWith(".d.ts"),
  );
  assert.ok(files.length > 0);
  for (const file of files) {
    const text = readFileSync(new URL(file, new URL(".", import.meta.url)), "utf8");
    assert.ok(!hookShape.test(text), `token-shaped literal in ${file}`);
  }
});
