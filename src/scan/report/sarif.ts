/**
 * SARIF 2.1.0 for GitHub code scanning (github/codeql-action/upload-sarif) and other SARIF
 * viewers. One rule descriptor per rule id that produced a finding, with GitHub's
 * `security-severity` (a number as a string: ≥ 9 critical, ≥ 7 high, ≥ 4 medium, else low) and
 * tags; results carry a relative artifact URI, the region, and keyward's fingerprint as a
 * partial fingerprint so code scanning tracks an alert across commits. Only masked values
 * appear; grades and skipped files travel in run properties and tool notifications.
 */
import type { AuditReport, Finding, Location, RuleInfo, Severity } from "../types.js";
import { SEVERITIES } from "../types.js";

export const SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json";
export const FINGERPRINT_KEY = "keywardFingerprint/v1";

export interface SarifOptions {
  /** keyward's version, for tool.driver.version */
  toolVersion?: string;
}

const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
  info: "0.0",
};

const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** CWE for hard-coded credentials; other kinds name their own weakness in their rule ids. */
const CWE_BY_KIND: Partial<Record<Finding["kind"], string>> = { secret: "external/cwe/cwe-798" };

/** A relative URI with forward slashes, each segment percent-encoded (spaces, #, %). */
export function artifactUri(path: string): string {
  return path.split("/").map(encodeURIComponent).join("/");
}

function region(location: Location): Record<string, number> {
  const region: Record<string, number> = { startLine: Math.max(1, location.line) };
  if (location.column !== undefined) region.startColumn = Math.max(1, location.column);
  if (location.endLine !== undefined)
    region.endLine = Math.max(region.startLine as number, location.endLine);
  if (location.endColumn !== undefined) region.endColumn = Math.max(1, location.endColumn);
  return region;
}

function physicalLocation(location: Location) {
  return {
    physicalLocation: {
      artifactLocation: { uri: artifactUri(location.path), uriBaseId: "%SRCROOT%" },
      region: region(location),
    },
  };
}

function humanize(ruleId: string): string {
  const name = (ruleId.split("/").pop() ?? ruleId).replace(/-/g, " ");
  return name.charAt(0).toUpperCase() + name.slice(1);
}

function ruleDescriptor(ruleId: string, findings: Finding[], titles: Map<string, RuleInfo>) {
  const first = findings[0] as Finding;
  const worst = SEVERITIES[
    Math.min(...findings.map((f) => SEVERITIES.indexOf(f.severity)))
  ] as Severity;
  const title = titles.get(ruleId)?.title ?? humanize(ruleId);
  const tags = [
    "security",
    "credentials",
    first.kind,
    first.axis === "exposure" ? "credential-exposure" : "blast-radius",
  ];
  const cwe = CWE_BY_KIND[first.kind];
  if (cwe !== undefined) tags.push(cwe);
  return {
    id: ruleId,
    name: ruleId.replace(/[^A-Za-z0-9]+(.)?/g, (_, c: string | undefined) =>
      (c ?? "").toUpperCase(),
    ),
    shortDescription: { text: title },
    fullDescription: { text: first.why },
    help: {
      text: `${first.why}\n\nHow to fix: ${first.fix}`,
      markdown: `${first.why}\n\n**How to fix:** ${first.fix}`,
    },
    defaultConfiguration: { level: LEVEL[worst] },
    properties: { "security-severity": SECURITY_SEVERITY[worst], tags, precision: "high" },
  };
}

function result(finding: Finding, ruleIndex: number) {
  const properties: Record<string, unknown> = {
    severity: finding.severity,
    axis: finding.axis,
    kind: finding.kind,
  };
  if (finding.masked !== undefined) properties.masked = finding.masked;
  if (finding.validation !== undefined) properties.validation = finding.validation;
  const { commit, commitDate, presentInTree } = finding.location;
  if (commit !== undefined) properties.commit = commit;
  if (commitDate !== undefined) properties.commitDate = commitDate;
  if (presentInTree !== undefined) properties.presentInTree = presentInTree;
  const sarif: Record<string, unknown> = {
    ruleId: finding.ruleId,
    ruleIndex,
    level: LEVEL[finding.severity],
    message: { text: `${finding.message}\n\nWhy: ${finding.why}\n\nFix: ${finding.fix}` },
    locations: [physicalLocation(finding.location)],
    partialFingerprints: { [FINGERPRINT_KEY]: finding.fingerprint },
    properties,
  };
  if (finding.trace !== undefined && finding.trace.length > 0) {
    sarif.codeFlows = [
      {
        threadFlows: [
          {
            locations: finding.trace.map((step) => ({
              location: { ...physicalLocation(step.location), message: { text: step.note } },
            })),
          },
        ],
      },
    ];
  }
  return sarif;
}

/** The SARIF log object (JSON.stringify it, or use renderSarif). */
export function toSarif(report: AuditReport, options: SarifOptions = {}) {
  const titles = new Map((report.rules ?? []).map((rule) => [rule.id, rule]));
  const byRule = new Map<string, Finding[]>();
  for (const finding of report.findings)
    byRule.set(finding.ruleId, [...(byRule.get(finding.ruleId) ?? []), finding]);
  const ruleIds = [...byRule.keys()].sort();
  const ruleIndex = new Map(ruleIds.map((id, i) => [id, i]));
  const driver: Record<string, unknown> = {
    name: "keyward",
    rules: ruleIds.map((id) => ruleDescriptor(id, byRule.get(id) as Finding[], titles)),
  };
  if (options.toolVersion !== undefined) driver.version = options.toolVersion;
  return {
    $schema: SARIF_SCHEMA,
    version: "2.1.0" as const,
    runs: [
      {
        tool: { driver },
        invocations: [
          {
            executionSuccessful: true,
            toolExecutionNotifications: report.skipped.map((skip) => ({
              level: "note",
              message: { text: `Not scanned: ${skip.reason}` },
              locations: [
                {
                  physicalLocation: {
                    artifactLocation: { uri: artifactUri(skip.path), uriBaseId: "%SRCROOT%" },
                  },
                },
              ],
            })),
          },
        ],
        columnKind: "utf16CodeUnits",
        results: report.findings.map((finding) =>
          result(finding, ruleIndex.get(finding.ruleId) as number),
        ),
        properties: {
          grades: { credentialExposure: report.grades.exposure, security: report.grades.security },
          reasons: report.grades.reasons,
          suppressed: report.suppressed,
          stats: report.stats,
        },
      },
    ],
  };
}

export function renderSarif(report: AuditReport, options: SarifOptions = {}): string {
  return `${JSON.stringify(toSarif(report, options), null, 2)}\n`;
}
