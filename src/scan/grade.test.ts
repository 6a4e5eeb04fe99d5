import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { failOn, type GradeFacts, grade, RUBRIC } from "./grade.js";
import type { AuditReport, Axis, Finding, FindingKind, Grade, Severity } from "./types.js";

function finding(
  severity: Severity,
  axis: Axis,
  kind: FindingKind = axis === "security" ? "config" : "flow",
  presentInTree?: boolean,
): Finding {
  const f: Finding = {
    ruleId: `${kind}/example-${severity}`,
    kind,
    axis,
    severity,
    message: "m",
    why: "w",
    fix: "f",
    location: { path: "a.ts", line: 1 },
    fingerprint: "0".repeat(64),
  };
  if (presentInTree !== undefined) f.location.presentInTree = presentInTree;
  return f;
}

/** One case per rubric line (docs/grading.md): the findings and facts, and the two grades. */
const CASES: Array<{
  line: string;
  findings: Finding[];
  facts?: GradeFacts;
  exposure: Grade;
  security: Grade;
}> = [
  {
    line: "secret-in-tree",
    findings: [finding("critical", "security", "secret")],
    exposure: "A",
    security: "F",
  },
  {
    line: "secret-in-history",
    findings: [finding("critical", "security", "secret", false)],
    exposure: "A",
    security: "D",
  },
  { line: "critical", findings: [finding("critical", "exposure")], exposure: "F", security: "A" },
  { line: "high", findings: [finding("high", "exposure")], exposure: "D", security: "A" },
  {
    line: "overdue-rotation",
    findings: [],
    facts: { overdueRotations: 2 },
    exposure: "A",
    security: "C",
  },
  { line: "medium", findings: [finding("medium", "security")], exposure: "A", security: "C" },
  {
    line: "no-secrets-manager",
    findings: [],
    facts: { usesSecretsManager: false },
    exposure: "A",
    security: "B",
  },
  { line: "low", findings: [finding("low", "exposure")], exposure: "B", security: "A" },
];

describe("grade: one case per rubric line", () => {
  test("every rubric line has a case", () => {
    assert.deepEqual(CASES.map((c) => c.line).sort(), RUBRIC.map((r) => r.id).sort());
  });
  for (const c of CASES) {
    test(`${c.line} → exposure ${c.exposure}, security ${c.security}`, () => {
      const grades = grade(c.findings, c.facts);
      assert.equal(grades.exposure, c.exposure);
      assert.equal(grades.security, c.security);
      const capped = c.exposure === "A" ? grades.reasons.security : grades.reasons.exposure;
      const line = RUBRIC.find((r) => r.id === c.line);
      assert.ok(
        capped.some((reason) => reason.includes(line?.summary ?? "?")),
        capped.join("\n"),
      );
    });
  }
});

describe("grade: how lines combine", () => {
  test("no findings and no facts: A on both axes, with a reason", () => {
    assert.deepEqual(grade([]), {
      exposure: "A",
      security: "A",
      reasons: {
        exposure: ["A: no findings on this axis"],
        security: ["A: no findings on this axis"],
      },
    });
  });

  test("info findings cap nothing", () => {
    const grades = grade([finding("info", "exposure"), finding("info", "security")]);
    assert.equal(grades.exposure, "A");
    assert.equal(grades.security, "A");
  });

  test("the worst cap wins and every applied line is listed, worst first", () => {
    const grades = grade([
      finding("medium", "security"),
      finding("critical", "security", "secret"),
    ]);
    assert.equal(grades.security, "F");
    assert.equal(grades.reasons.security.length, 2);
    assert.match(grades.reasons.security[0] ?? "", /^F: /);
    assert.match(grades.reasons.security[1] ?? "", /^C: /);
  });

  test("the guide's example: env-var keys, logged on error, never rotated → C or D", () => {
    const logged = finding("high", "exposure");
    const grades = grade([logged], { usesSecretsManager: false, overdueRotations: 3 });
    assert.equal(grades.exposure, "D");
    assert.equal(grades.security, "C");
  });

  test("a secrets manager in use, nothing leaked, nothing overdue → A", () => {
    assert.equal(
      grade([], { usesSecretsManager: true, overdueRotations: 0, secretsManaged: 4 }).security,
      "A",
    );
    assert.equal(grade([], { usesSecretsManager: false, secretsManaged: 4 }).security, "A");
  });

  test("reasons count findings per rule", () => {
    const f = finding("high", "exposure");
    const grades = grade([f, f, { ...f, ruleId: "flow/other" }]);
    assert.match(
      grades.reasons.exposure[0] ?? "",
      /3 findings: flow\/example-high ×2, flow\/other/,
    );
  });
});

function report(exposure: Grade, security: Grade, severities: Severity[]): AuditReport {
  return {
    root: "/x",
    grades: { exposure, security, reasons: { exposure: [], security: [] } },
    findings: severities.map((s) => finding(s, "exposure")),
    skipped: [],
    suppressed: 0,
    stats: { files: 0, bytes: 0, durationMs: 0 },
  };
}

describe("failOn", () => {
  const cases: Array<[spec: string, AuditReport, boolean]> = [
    ["C", report("B", "C", []), true],
    ["C", report("B", "B", []), false],
    ["c", report("F", "A", []), true],
    ["F", report("D", "D", []), false],
    ["A", report("A", "A", []), true],
    ["high", report("A", "A", ["medium", "critical"]), true],
    ["high", report("A", "A", ["medium", "low"]), false],
    ["HIGH", report("A", "A", ["high"]), true],
    ["info", report("A", "A", ["info"]), true],
    ["critical", report("A", "A", []), false],
  ];
  for (const [spec, r, fails] of cases) {
    test(`--fail-on ${spec} with grades ${r.grades.exposure}/${r.grades.security} and ${r.findings.length} findings → ${fails}`, () => {
      assert.equal(failOn(r, spec), fails);
    });
  }

  test("a bad spec is a usage error that lists what is accepted", () => {
    assert.throws(
      () => failOn(report("A", "A", []), "severe"),
      (error) => {
        assert.ok(isKeywardError(error));
        assert.equal(error.code, "usage");
        assert.match(error.message, /"severe" is neither a grade nor a severity/);
        assert.match(error.fix ?? "", /A, B, C, D, F/);
        assert.match(error.fix ?? "", /critical, high, medium, low, info/);
        return true;
      },
    );
  });
});
