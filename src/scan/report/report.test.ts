import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import addFormats from "ajv-formats";
import { BASE62 } from "../../detect/checksum.js";
import { withClassicChecksum } from "../../detect/index.js";
import { git } from "../../testing/git.js";
import { secretsAnalyzer } from "../analyzers/secrets.js";
import { audit } from "../audit.js";
import type { Analyzer, AuditReport } from "../types.js";
import { renderJson } from "./json.js";
import { renderMarkdown } from "./markdown.js";
import { artifactUri, FINGERPRINT_KEY, renderSarif, toSarif } from "./sarif.js";
import { renderText } from "./text.js";

function write(root: string, path: string, content: string | Buffer): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content);
}

function githubToken(): string {
  const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
  return withClassicChecksum(`${"gh"}p_`, body);
}

/** The repository root, found from this file whether it runs as .ts (tsx) or compiled .js. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return dir;
}

/** A flow-style analyzer, so the reports also carry a trace. */
const traceAnalyzer: Analyzer = {
  id: "trace-example",
  applies: (path) => path.endsWith("server.ts"),
  analyze: (file) => [
    {
      ruleId: "flow/log",
      kind: "flow",
      axis: "exposure",
      severity: "high",
      message: "GITHUB_TOKEN from process.env reaches console.error | in the catch block",
      why: "Logs are shipped and kept.",
      fix: "Log the credential's name, never its value.",
      location: { path: file.path, line: 3, column: 5 },
      fingerprint: "e".repeat(64),
      trace: [
        { location: { path: file.path, line: 1 }, note: "read from process.env.GITHUB_TOKEN" },
        { location: { path: file.path, line: 3 }, note: "passed to console.error" },
      ],
    },
  ],
};

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

let report: AuditReport;
const secrets: string[] = [];

before(async () => {
  const root = mkdtempSync(join(tmpdir(), "keyward-report-"));
  temps.push(root);
  git(root, "init", "-q", "-b", "main");
  const live = githubToken();
  const gone = githubToken();
  const password = `pw-${randomBytes(9).toString("base64url")}`;
  secrets.push(live, gone, password);
  write(root, "src/app config.ts", `export const token = "${live}";\n`);
  write(root, "settings.yaml", `password: ${password}\n`);
  write(root, "src/server.ts", "const t = process.env.GITHUB_TOKEN;\n\n    console.error(t);\n");
  write(root, "assets/my logo#1.png", Buffer.from([0x89, 0x50, 0x00]));
  write(root, "old.env", `GITHUB_TOKEN=${gone}\n`);
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", "init");
  rmSync(join(root, "old.env"));
  git(root, "commit", "-q", "-am", "remove env");
  report = await audit({ root, history: true, analyzers: [secretsAnalyzer, traceAnalyzer] });
});

describe("the test report", () => {
  test("has the findings every format must render", () => {
    assert.deepEqual(report.findings.map((f) => f.ruleId).sort(), [
      "flow/log",
      "secret/generic-password",
      "secret/github-pat",
      "secret/github-pat",
    ]);
    assert.equal(report.skipped.length, 1);
  });
});

describe("no raw secret in any report format", () => {
  const encodings = (value: string): string[] => [
    value,
    Buffer.from(value).toString("base64"),
    Buffer.from(value).toString("base64url"),
    Buffer.from(value).toString("hex"),
    encodeURIComponent(value),
  ];
  const formats: Record<string, () => string> = {
    text: () => renderText(report, { color: true }),
    json: () => renderJson(report),
    sarif: () => renderSarif(report, { toolVersion: "0.1.0" }),
    markdown: () => renderMarkdown(report),
  };
  for (const [name, render] of Object.entries(formats)) {
    test(`${name}`, () => {
      const output = render();
      for (const secret of secrets) {
        for (const encoded of encodings(secret)) {
          assert.ok(
            !output.includes(encoded),
            `${name} report contains a secret (or an encoding of it)`,
          );
        }
        // …nor any 8-character run of it, beyond the masked prefix.
        for (let i = 4; i + 8 <= secret.length; i++)
          assert.ok(!output.includes(secret.slice(i, i + 8)));
      }
      assert.ok(output.includes(report.findings[0]?.masked ?? report.findings[1]?.masked ?? "?"));
    });
  }
});

describe("sarif", () => {
  test("validates against the official SARIF 2.1.0 schema (OASIS, errata 01)", () => {
    const path = join(repositoryRoot(), "src/scan/report/fixtures/sarif-schema-2.1.0.json");
    const official = JSON.parse(readFileSync(path, "utf8")) as Record<string, unknown>;
    assert.equal(
      official.title,
      "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema",
    );
    // The schema is draft-04 (`id`, draft-04 `$schema`); Ajv 8 speaks draft-07, whose keywords
    // are the same for everything this schema uses once `id` is spelled `$id`.
    const { $schema: _draft, id, ...rest } = official;
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats.default(ajv);
    const validate = ajv.compile({ ...rest, $id: String(id) });
    const log = toSarif(report, { toolVersion: "0.1.0" });
    const valid = validate(log);
    assert.ok(valid, ajv.errorsText(validate.errors, { separator: "\n" }));
    // The schema really checks: a result without a message is rejected.
    const broken = structuredClone(log);
    const [firstResult] = broken.runs[0]?.results ?? [];
    assert.ok(firstResult !== undefined);
    delete (firstResult as Record<string, unknown>).message;
    assert.equal(validate(broken), false);
  });

  test("rules carry GitHub's security-severity, tags and help; results carry location and fingerprint", () => {
    const log = toSarif(report);
    const run = log.runs[0];
    assert.ok(run !== undefined);
    const rules = run.tool.driver.rules as Array<{
      id: string;
      properties: Record<string, unknown>;
      help: { text: string };
    }>;
    assert.deepEqual(
      rules.map((r) => r.id),
      ["flow/log", "secret/generic-password", "secret/github-pat"],
    );
    const pat = rules.find((r) => r.id === "secret/github-pat");
    assert.ok(pat !== undefined);
    assert.equal(pat.properties["security-severity"], "9.5");
    assert.ok((pat.properties.tags as string[]).includes("external/cwe/cwe-798"));
    assert.match(pat.help.text, /How to fix:/);
    const live = run.results.find(
      (r) =>
        (r.locations as Array<{ physicalLocation: { artifactLocation: { uri: string } } }>)[0]
          ?.physicalLocation.artifactLocation.uri === "src/app%20config.ts",
    ) as Record<string, unknown> | undefined;
    assert.ok(live !== undefined);
    assert.equal(live.level, "error");
    assert.equal(live.ruleId, "secret/github-pat");
    assert.equal(rules[live.ruleIndex as number]?.id, "secret/github-pat");
    assert.match(
      (live.partialFingerprints as Record<string, string>)[FINGERPRINT_KEY] ?? "",
      /^[0-9a-f]{64}$/,
    );
    const flow = run.results.find((r) => r.ruleId === "flow/log") as Record<string, unknown>;
    assert.ok(Array.isArray(flow.codeFlows));
    assert.deepEqual(run.properties.grades, { credentialExposure: "D", security: "F" });
  });

  test("artifact URIs are relative, forward-slashed and percent-encoded", () => {
    assert.equal(artifactUri("assets/my logo#1.png"), "assets/my%20logo%231.png");
    assert.equal(artifactUri("src/index.ts"), "src/index.ts");
  });
});

describe("text", () => {
  test("grades come first; each finding has its place, why and fix; no colour unless asked", () => {
    const text = renderText(report);
    assert.ok(!text.includes("\u001b["));
    const lines = text.split("\n");
    assert.match(lines[2] ?? "", /Credential Exposure\s+D/);
    assert.ok(lines.some((l) => /Security\s+F/.test(l)));
    assert.match(text, /CRITICAL +src\/app config\.ts:1:\d+ +secret\/github-pat/);
    assert.match(text, /\n {2}Why: /);
    assert.match(text, /\n {2}Fix: /);
    assert.match(text, /src\/server\.ts:1 read from process\.env\.GITHUB_TOKEN/);
    assert.match(text, /Not scanned \(1\)\n {2}assets\/my logo#1\.png: binary file/);
    assert.ok(renderText(report, { color: true }).includes("\u001b[31m"));
  });
});

describe("markdown", () => {
  test("has a grade table and escapes table cells", () => {
    const markdown = renderMarkdown(report);
    assert.match(markdown, /^## keyward audit: Credential Exposure D · Security F/);
    assert.match(markdown, /\| Security \| 🔴 \*\*F\*\* \|/);
    assert.ok(markdown.includes("console.error \\| in the catch block"));
    assert.match(markdown, /<details><summary>Not scanned \(1\)<\/summary>/);
  });

  test("caps the findings table", () => {
    const markdown = renderMarkdown(report, { maxFindings: 1 });
    assert.match(markdown, /… and 3 more/);
  });
});
