/**
 * The grading rubric (published in docs/grading.md — keep the two in step). Each axis starts at
 * A; every rubric line that applies caps it at a grade, and the axis gets the worst cap. Nothing
 * is weighted or summed, so a grade can always be explained by the lines in `reasons`, and a
 * change to a grade is always a change to one of those lines.
 */
import { KeywardError } from "../core/errors.js";
import type { AuditReport, Axis, Finding, Grade, Grades } from "./types.js";
import { GRADES, SEVERITIES } from "./types.js";

/** Live facts from a keyward store, when the audit has one (src/cli passes them in). */
export interface GradeFacts {
  /** secrets past their rotation policy */
  overdueRotations?: number;
  /** secrets keyward manages for this server; more than zero counts as using a secrets manager */
  secretsManaged?: number;
  /** whether the server reads its keys from a secrets manager (keyward, Vault, AWS, GCP) */
  usesSecretsManager?: boolean;
}

export interface RubricLine {
  id: string;
  /** the axis it caps; "both" = the axis of the finding */
  axis: Axis | "both";
  cap: Grade;
  summary: string;
}

/** The rubric, worst first. docs/grading.md shows the same table. */
export const RUBRIC: readonly RubricLine[] = [
  {
    id: "secret-in-tree",
    axis: "security",
    cap: "F",
    summary: "a live-format or checksum-valid credential is hard-coded in the working tree",
  },
  { id: "critical", axis: "both", cap: "F", summary: "a critical finding" },
  {
    id: "secret-in-history",
    axis: "security",
    cap: "D",
    summary:
      "a live-format or checksum-valid credential is in git history only (still valid until rotated)",
  },
  { id: "high", axis: "both", cap: "D", summary: "a high-severity finding" },
  {
    id: "overdue-rotation",
    axis: "security",
    cap: "C",
    summary: "keys are past their rotation policy",
  },
  { id: "medium", axis: "both", cap: "C", summary: "a medium-severity finding" },
  {
    id: "no-secrets-manager",
    axis: "security",
    cap: "B",
    summary:
      "keys are not read from a secrets manager (environment variables or files: manual rotation, no access audit)",
  },
  { id: "low", axis: "both", cap: "B", summary: "a low-severity finding" },
];

const LINES = new Map(RUBRIC.map((line) => [line.id, line]));

function rubric(id: string): RubricLine {
  return LINES.get(id) as RubricLine;
}

/** Which rubric line a finding falls under; info findings cap nothing. */
export function rubricLineFor(finding: Finding): RubricLine | undefined {
  if (finding.kind === "secret" && finding.severity === "critical") {
    return rubric(
      finding.location.presentInTree === false ? "secret-in-history" : "secret-in-tree",
    );
  }
  return finding.severity === "info" ? undefined : rubric(finding.severity);
}

function worse(a: Grade, b: Grade): Grade {
  return GRADES.indexOf(a) >= GRADES.indexOf(b) ? a : b;
}

interface Applied {
  line: RubricLine;
  detail: string;
}

function describeRules(findings: Finding[]): string {
  const counts = new Map<string, number>();
  for (const f of findings) counts.set(f.ruleId, (counts.get(f.ruleId) ?? 0) + 1);
  const rules = [...counts].map(([rule, n]) => (n > 1 ? `${rule} ×${n}` : rule)).join(", ");
  return `${findings.length} finding${findings.length === 1 ? "" : "s"}: ${rules}`;
}

function gradeAxis(
  axis: Axis,
  findings: Finding[],
  facts: GradeFacts,
): { grade: Grade; reasons: string[] } {
  const byLine = new Map<string, Finding[]>();
  for (const finding of findings) {
    if (finding.axis !== axis) continue;
    const line = rubricLineFor(finding);
    if (line === undefined) continue;
    byLine.set(line.id, [...(byLine.get(line.id) ?? []), finding]);
  }
  const applied: Applied[] = [...byLine].map(([id, hits]) => ({
    line: rubric(id),
    detail: describeRules(hits),
  }));
  if (axis === "security") {
    const overdue = facts.overdueRotations ?? 0;
    if (overdue > 0) {
      applied.push({
        line: rubric("overdue-rotation"),
        detail: `${overdue} key${overdue === 1 ? " is" : "s are"} past the rotation policy (keyward store)`,
      });
    }
    const managed = facts.usesSecretsManager === true || (facts.secretsManaged ?? 0) > 0;
    if (facts.usesSecretsManager === false && !managed) {
      applied.push({ line: rubric("no-secrets-manager"), detail: "reported by the audit's facts" });
    }
  }
  if (applied.length === 0) return { grade: "A", reasons: ["A: no findings on this axis"] };
  applied.sort((a, b) => RUBRIC.indexOf(a.line) - RUBRIC.indexOf(b.line));
  const grade = applied.map((a) => a.line.cap).reduce(worse, "A" as Grade);
  return { grade, reasons: applied.map((a) => `${a.line.cap}: ${a.line.summary} (${a.detail})`) };
}

/** Two grades from the findings (suppressed ones excluded by the caller) and optional store facts. */
export function grade(findings: readonly Finding[], facts: GradeFacts = {}): Grades {
  const exposure = gradeAxis("exposure", [...findings], facts);
  const security = gradeAxis("security", [...findings], facts);
  return {
    exposure: exposure.grade,
    security: security.grade,
    reasons: { exposure: exposure.reasons, security: security.reasons },
  };
}

/**
 * `--fail-on`: a grade ("C": fail when either axis is C or worse) or a severity ("high": fail
 * when any finding is high or critical). Case-insensitive.
 */
export function failOn(report: AuditReport, spec: string): boolean {
  const normalized = spec.trim();
  const gradeSpec = GRADES.find((g) => g === normalized.toUpperCase());
  if (gradeSpec !== undefined) {
    const threshold = GRADES.indexOf(gradeSpec);
    return (
      GRADES.indexOf(report.grades.exposure) >= threshold ||
      GRADES.indexOf(report.grades.security) >= threshold
    );
  }
  const severity = SEVERITIES.find((s) => s === normalized.toLowerCase());
  if (severity !== undefined) {
    const threshold = SEVERITIES.indexOf(severity);
    return report.findings.some((f) => SEVERITIES.indexOf(f.severity) <= threshold);
  }
  throw new KeywardError(
    "usage",
    `--fail-on "${spec}" is neither a grade nor a severity.`,
    `Use a grade (${GRADES.join(", ")}: fail when either grade is that or worse) or a severity (${SEVERITIES.join(", ")}: fail when any finding is that or worse), e.g. --fail-on C or --fail-on high.`,
  );
}
