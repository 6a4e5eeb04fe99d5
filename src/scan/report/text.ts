/**
 * The terminal report: the two grades and why, then each finding with its place, why it matters
 * and how to fix it, then what was not scanned. ANSI colours only when the caller asks (the CLI
 * decides from the TTY and NO_COLOR).
 */
import type { AuditReport, Finding, Grade, Severity } from "../types.js";

export interface TextOptions {
  color?: boolean;
  /** how many skipped files to list before summarising the rest (20 by default) */
  maxSkipped?: number;
}

const CODES = { red: 31, yellow: 33, green: 32, cyan: 36, bold: 1, dim: 2 } as const;
type Style = keyof typeof CODES;

const GRADE_STYLE: Record<Grade, Style> = {
  A: "green",
  B: "green",
  C: "yellow",
  D: "red",
  F: "red",
};
const SEVERITY_STYLE: Record<Severity, Style> = {
  critical: "red",
  high: "red",
  medium: "yellow",
  low: "cyan",
  info: "dim",
};

function styler(color: boolean) {
  return (style: Style, text: string) => (color ? `\u001b[${CODES[style]}m${text}\u001b[0m` : text);
}

export function formatLocation(finding: Finding): string {
  const { path, line, column } = finding.location;
  return column === undefined ? `${path}:${line}` : `${path}:${line}:${column}`;
}

export function renderText(report: AuditReport, options: TextOptions = {}): string {
  const paint = styler(options.color ?? false);
  const out: string[] = [];
  const { exposure, security, reasons } = report.grades;
  out.push(`keyward audit of ${report.root}`);
  out.push("");
  out.push(`  Credential Exposure  ${paint("bold", paint(GRADE_STYLE[exposure], exposure))}`);
  for (const reason of reasons.exposure) out.push(`    ${reason}`);
  out.push(`  Security             ${paint("bold", paint(GRADE_STYLE[security], security))}`);
  for (const reason of reasons.security) out.push(`    ${reason}`);
  out.push("");

  if (report.findings.length === 0) {
    out.push("No findings.");
  } else {
    out.push(paint("bold", `Findings (${report.findings.length})`));
    for (const finding of report.findings) {
      out.push("");
      const severity = paint(
        SEVERITY_STYLE[finding.severity],
        finding.severity.toUpperCase().padEnd(8),
      );
      out.push(`${severity} ${formatLocation(finding)}  ${paint("dim", finding.ruleId)}`);
      out.push(`  ${finding.message}`);
      for (const step of finding.trace ?? []) {
        out.push(`    ${paint("dim", `${step.location.path}:${step.location.line}`)} ${step.note}`);
      }
      out.push(`  Why: ${finding.why}`);
      out.push(`  Fix: ${finding.fix}`);
    }
  }

  if (report.skipped.length > 0) {
    const limit = options.maxSkipped ?? 20;
    out.push("");
    out.push(paint("bold", `Not scanned (${report.skipped.length})`));
    for (const skip of report.skipped.slice(0, limit)) out.push(`  ${skip.path}: ${skip.reason}`);
    if (report.skipped.length > limit) {
      out.push(`  … and ${report.skipped.length - limit} more (--format json lists them all)`);
    }
  }

  const { files, bytes, commits, excluded, durationMs } = report.stats;
  const history = commits === undefined ? "" : `, ${commits} commit${commits === 1 ? "" : "s"}`;
  const left =
    excluded === undefined ? "" : ` ${excluded} excluded by .keywardignore or --exclude;`;
  out.push("");
  out.push(
    paint(
      "dim",
      `${files} file${files === 1 ? "" : "s"} (${bytes} bytes)${history} in ${(durationMs / 1000).toFixed(1)} s;${left} ${report.suppressed} suppressed by keyward:ignore or the baseline.`,
    ),
  );
  return `${out.join("\n")}\n`;
}
