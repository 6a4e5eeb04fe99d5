/**
 * The JSON report: the AuditReport as it is (types in src/scan/types.ts), for scripts and
 * `keyward audit --format json`. Findings carry masked values and fingerprints only.
 */
import type { AuditReport } from "../types.js";

export function renderJson(report: AuditReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
