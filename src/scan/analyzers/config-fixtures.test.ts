/**
 * secretlint-style fixtures: every folder under fixtures/config/<area>/ holding an expected.json is
 * one case. Its other files are inputs, analysed under their path relative to the case folder;
 * expected.json lists the findings as {ruleId, line[, path]}, the raw secrets planted in the
 * inputs ("secrets") and, for look-alike negative cases, the rules they guard ("guards").
 * Adding a case is adding a folder.
 *
 * Inputs may write `@@ghp:<label>@@` / `@@npm:<label>@@` (a checksum-valid classic token built
 * here), `@@pem:<label>@@` (a fresh Ed25519 private key; put it last, it spans lines) or
 * `@@chars:<label>:<n>@@` (n random-looking characters): no such token is ever committed,
 * and each built value joins the case's secrets.
 */
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { withClassicChecksum } from "../../detect/index.js";
import { exampleChars } from "../../detect/rules/examples.js";
import type { Finding } from "../types.js";
import { configAnalyzers, configRules } from "./config-index.js";

interface Expected {
  findings: Array<{ ruleId: string; line: number; path?: string }>;
  secrets?: string[];
  guards?: string[];
}

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, "package.json not found above the test file");
    dir = parent;
  }
  return dir;
}

const FIXTURES = join(repoRoot(), "src/scan/analyzers/fixtures/config");

function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((file) => statSync(join(dir, file)).isFile())
    .map((file) => file.replaceAll("\\", "/"));
}

function caseFolders(): string[] {
  return filesUnder(FIXTURES)
    .filter((file) => file.endsWith("/expected.json"))
    .map((file) => file.slice(0, -"/expected.json".length))
    .sort();
}

/** Replaces the `@@…@@` markers and reports the values built. */
function materialise(text: string, built: Set<string>): string {
  return text.replace(
    /@@(ghp|npm|chars|pem):([\w.-]+)(?::(\d+))?@@/g,
    (_, kind: string, label: string, n?: string) => {
      const value =
        kind === "chars"
          ? exampleChars(label, Number(n ?? 32))
          : kind === "pem"
            ? generateKeyPairSync("ed25519")
                .privateKey.export({ type: "pkcs8", format: "pem" })
                .toString()
                .trim()
            : withClassicChecksum(`${kind}_`, exampleChars(label, 30));
      built.add(value);
      return value;
    },
  );
}

interface CaseRun {
  expected: Expected;
  findings: Finding[];
  secrets: string[];
}

function runCase(folder: string): CaseRun {
  const dir = join(FIXTURES, folder);
  const expected = JSON.parse(readFileSync(join(dir, "expected.json"), "utf8")) as Expected;
  const built = new Set<string>(expected.secrets ?? []);
  const findings: Finding[] = [];
  for (const path of filesUnder(dir).filter((file) => file !== "expected.json")) {
    const text = materialise(readFileSync(join(dir, path), "utf8"), built);
    for (const analyzer of configAnalyzers) {
      if (analyzer.applies(path)) findings.push(...analyzer.analyze({ path, text }));
    }
  }
  return { expected, findings, secrets: [...built] };
}

const folders = caseFolders();
const runs = new Map(folders.map((folder) => [folder, runCase(folder)]));

describe("config analyzer fixtures", () => {
  it("finds the fixture folders", () => {
    assert.ok(
      folders.length >= 20,
      `only ${folders.length} cases under ${relative(repoRoot(), FIXTURES)}`,
    );
  });

  for (const folder of folders) {
    it(folder, () => {
      const { expected, findings } = runs.get(folder)!;
      const multipleInputs = expected.findings.some((f) => f.path !== undefined);
      const key = (f: { ruleId: string; line: number; path?: string }) =>
        `${f.ruleId}@${multipleInputs ? `${f.path}:` : ""}${f.line}`;
      const actual = findings.map((f) => key({ ...f.location, ruleId: f.ruleId })).sort();
      assert.deepEqual(actual, expected.findings.map(key).sort());
    });
  }

  it("never puts a raw secret into a finding", () => {
    for (const [folder, { findings, secrets }] of runs) {
      const json = JSON.stringify(findings);
      for (const secret of secrets) {
        assert.ok(!json.includes(secret), `${folder}: a finding carries a planted secret`);
      }
    }
  });

  it("emits only catalogued rules with their catalogued axis and severities", () => {
    for (const { findings } of runs.values()) {
      for (const finding of findings) {
        const rule = configRules.find((r) => r.id === finding.ruleId);
        assert.ok(rule, `${finding.ruleId} is not in configRules`);
        assert.equal(finding.axis, rule.axis, finding.ruleId);
        assert.ok(
          rule.severities.includes(finding.severity),
          `${finding.ruleId}: ${finding.severity}`,
        );
        assert.equal(finding.kind, "config");
        assert.match(finding.fingerprint, /^[0-9a-f]{64}$/);
      }
    }
  });

  it("has a positive case and a look-alike negative case for every rule", () => {
    const found = new Set(
      [...runs.values()].flatMap((r) => r.expected.findings.map((f) => f.ruleId)),
    );
    const guarded = new Set([...runs.values()].flatMap((r) => r.expected.guards ?? []));
    for (const rule of configRules) {
      assert.ok(found.has(rule.id), `no fixture produces ${rule.id}`);
      assert.ok(guarded.has(rule.id), `no negative fixture guards ${rule.id}`);
    }
  });

  it("reports a checksum-valid token as critical with its validation", () => {
    const critical = [...runs.values()]
      .flatMap((r) => r.findings)
      .filter((f) => f.severity === "critical");
    assert.ok(critical.length > 0);
    for (const finding of critical) {
      assert.equal(finding.validation, "valid");
      assert.ok(finding.masked?.includes("…"));
    }
  });
});
