import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { isInlineIgnored, loadBaseline, writeBaseline } from "./ignore.js";
import type { AuditReport, Finding } from "./types.js";

const dir = mkdtempSync(join(tmpdir(), "keyward-ignore-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("isInlineIgnored", () => {
  const cases: Array<[line: string, rule: string, ignored: boolean]> = [
    ['key = "x" # keyward:ignore', "secret/github-pat", true],
    ['key = "x" // keyward:ignore -- test fixture', "secret/github-pat", true],
    ['key = "x" // keyward:ignore secret/github-pat', "secret/github-pat", true],
    [
      'key = "x" // keyward:ignore secret/generic-password,secret/github-pat',
      "secret/github-pat",
      true,
    ],
    ['key = "x" // keyward:ignore secret/generic-password', "secret/github-pat", false],
    ['key = "x" # gitleaks:allow', "secret/github-pat", true],
    ['key = "x" # keyward: ignore', "secret/github-pat", false],
    ['key = "x"', "secret/github-pat", false],
  ];
  for (const [line, rule, ignored] of cases) {
    test(`${line} → ${ignored ? "ignored" : "reported"} for ${rule}`, () => {
      assert.equal(isInlineIgnored(line, rule), ignored);
    });
  }
});

function finding(fingerprint: string): Finding {
  return {
    ruleId: "secret/generic-password",
    kind: "secret",
    axis: "security",
    severity: "medium",
    message: "m",
    why: "w",
    fix: "f",
    location: { path: "a.ts", line: 1 },
    fingerprint,
  };
}

function report(findings: Finding[], baselined?: string[]): AuditReport {
  const r: AuditReport = {
    root: dir,
    grades: { exposure: "A", security: "C", reasons: { exposure: [], security: [] } },
    findings,
    skipped: [],
    suppressed: 0,
    stats: { files: 1, bytes: 1, durationMs: 1 },
  };
  if (baselined !== undefined) r.baselined = baselined;
  return r;
}

describe("baseline", () => {
  test("round-trips: written fingerprints load back, sorted and unique, old ones kept", async () => {
    const a = "a".repeat(64);
    const b = "b".repeat(64);
    const c = "c".repeat(64);
    const path = join(dir, "baseline.json");
    await writeBaseline(report([finding(b), finding(a), finding(b)], [c]), path);
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), {
      version: 1,
      fingerprints: [a, b, c],
    });
    assert.deepEqual([...(await loadBaseline(path))], [a, b, c]);
  });

  test("a missing file is not_found with a fix", async () => {
    await assert.rejects(loadBaseline(join(dir, "none.json")), (error) => {
      assert.ok(isKeywardError(error));
      assert.equal(error.code, "not_found");
      assert.match(error.fix ?? "", /--write-baseline/);
      return true;
    });
  });

  const malformed: Array<[string, string, RegExp]> = [
    ["not-json.json", "{", /not valid JSON/],
    ["array.json", "[]", /version is undefined/],
    ["version.json", '{"version":2,"fingerprints":[]}', /version is 2/],
    ["no-list.json", '{"version":1}', /"fingerprints" is not an array/],
    [
      "raw-secret.json",
      '{"version":1,"fingerprints":["hunter2"]}',
      /fingerprints\[0\] is not a SHA-256/,
    ],
  ];
  for (const [name, content, message] of malformed) {
    test(`rejects ${name}`, async () => {
      const path = join(dir, name);
      writeFileSync(path, content);
      await assert.rejects(loadBaseline(path), (error) => {
        assert.ok(isKeywardError(error));
        assert.equal(error.code, "config_invalid");
        assert.match(error.message, message);
        assert.ok(!error.message.includes("hunter2"));
        return true;
      });
    });
  }
});
