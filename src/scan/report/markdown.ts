/**
 * Markdown for pull-request comments: grades first, then a table of findings (capped, so the
 * comment stays well under GitHub's 65,536-character limit) and the skipped files folded away.
 */
import type { AuditReport, Grade } from "../types.js";
import { formatLocation } from "./text.js";

export interface MarkdownOptions {
  /** rows of the findings table before the rest is summarised (50 by default) */
  maxFindings?: number;
}

const GRADE_MARK: Record<Grade, string> = { A: "🟢", B: "🟢", C: "🟡", D: "🔴", F: "🔴" };

/** Table-cell text: no pipes, no newlines, no HTML. */
function cell(text: string): string {
  return text
    .replace(/\\/g, "\\\\")
    .replace(/\|/g, "\\|")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\r?\n/g, " ");
}

/** Inline code that survives backticks in the text. */
function code(text: string): string {
  const fence = text.includes("`") ? "``" : "`";
  return `${fence}${text.replace(/\|/g, "\\|").replace(/\r?\n/g, " ")}${fence}`;
}

export function renderMarkdown(report: AuditReport, options: MarkdownOptions = {}): string {
  const { exposure, security, reasons } = report.grades;
  const out: string[] = [];
  out.push(`## keyward audit: Credential Exposure ${exposure} · Security ${security}`);
  out.push("");
  out.push("| Axis | Grade | Why |");
  out.push("| --- | --- | --- |");
  out.push(
    `| Credential Exposure | ${GRADE_MARK[exposure]} **${exposure}** | ${reasons.exposure.map(cell).join("<br>")} |`,
  );
  out.push(
    `| Security | ${GRADE_MARK[security]} **${security}** | ${reasons.security.map(cell).join("<br>")} |`,
  );
  out.push("");

  if (report.findings.length === 0) {
    out.push("No findings.");
  } else {
    const limit = options.maxFindings ?? 50;
    out.push(`### Findings (${report.findings.length})`);
    out.push("");
    out.push("| Severity | Where | Finding | Fix |");
    out.push("| --- | --- | --- | --- |");
    for (const finding of report.findings.slice(0, limit)) {
      out.push(
        `| ${finding.severity} | ${code(formatLocation(finding))} | ${cell(finding.message)}<br><sub>${code(finding.ruleId)}</sub> | ${cell(finding.fix)} |`,
      );
    }
    if (report.findings.length > limit) {
      out.push("");
      out.push(
        `… and ${report.findings.length - limit} more: run \`keyward audit\` locally for the full list.`,
      );
    }
  }

  if (report.skipped.length > 0) {
    out.push("");
    out.push(`<details><summary>Not scanned (${report.skipped.length})</summary>`);
    out.push("");
    for (const skip of report.skipped.slice(0, 200))
      out.push(`- ${code(skip.path)}: ${cell(skip.reason)}`);
    if (report.skipped.length > 200) out.push(`- … and ${report.skipped.length - 200} more`);
    out.push("");
    out.push("</details>");
  }
  out.push("");
  out.push(
    `<sub>${report.stats.files} files scanned; ${report.suppressed} findings suppressed by \`keyward:ignore\` or the baseline. Rubric: docs/grading.md.</sub>`,
  );
  return `${out.join("\n")}\n`;
}
