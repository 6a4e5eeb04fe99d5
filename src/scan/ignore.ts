/**
 * Suppressions: an inline comment on the finding's line, or a baseline file of fingerprints.
 * Suppressed findings are counted (AuditReport.suppressed) but not listed or graded.
 *
 * Inline: `keyward:ignore` on a line suppresses every finding on that line;
 * `keyward:ignore secret/github-pat,secret/generic-password` only those rules (full rule ids,
 * comma- or space-separated; text after them is free). `gitleaks:allow` works too, so files
 * already annotated for gitleaks need no second comment.
 *
 * Baseline: `{ "version": 1, "fingerprints": ["<sha256 hex>", …] }`. Fingerprints hash the rule,
 * the path and the value, so a baseline holds no secret and survives lines moving.
 */
import { readFile, writeFile } from "node:fs/promises";
import { KeywardError } from "../core/errors.js";
import type { AuditReport } from "./types.js";

const MARKER =
  /keyward:ignore\b((?:[ \t,]{1,8}[a-z0-9][a-z0-9-]{0,63}\/[a-z0-9][a-z0-9/-]{0,127}){0,32})/i;

/** Does a comment on this line suppress `ruleId`? */
export function isInlineIgnored(lineText: string, ruleId: string): boolean {
  if (lineText.includes("gitleaks:allow")) return true;
  const match = MARKER.exec(lineText);
  if (match === null) return false;
  const ids = (match[1] ?? "").split(/[\s,]+/).filter((id) => id !== "");
  return ids.length === 0 || ids.includes(ruleId);
}

export interface BaselineFile {
  version: 1;
  fingerprints: string[];
}

const FINGERPRINT = /^[0-9a-f]{64}$/;

/** Reads a baseline file; a missing or malformed one is an error that says how to make one. */
export async function loadBaseline(path: string): Promise<Set<string>> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw code === "ENOENT"
      ? new KeywardError(
          "not_found",
          `Baseline file ${path} does not exist.`,
          "Create it with `keyward audit --write-baseline <file>`, or leave out --baseline.",
        )
      : new KeywardError(
          "io",
          `Baseline file ${path} cannot be read (${code ?? "unknown error"}).`,
        );
  }
  const invalid = (detail: string) =>
    new KeywardError(
      "config_invalid",
      `Baseline file ${path} is not a keyward baseline: ${detail}.`,
      'A baseline is JSON: { "version": 1, "fingerprints": ["<64 hex characters>", …] }; rewrite it with `keyward audit --write-baseline <file>`.',
    );
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid("not valid JSON");
  }
  if (typeof parsed !== "object" || parsed === null) throw invalid("not a JSON object");
  const { version, fingerprints } = parsed as Partial<Record<string, unknown>>;
  if (version !== 1) throw invalid(`version is ${JSON.stringify(version)}, expected 1`);
  if (!Array.isArray(fingerprints)) throw invalid('"fingerprints" is not an array');
  const bad = fingerprints.findIndex((f) => typeof f !== "string" || !FINGERPRINT.test(f));
  if (bad !== -1) throw invalid(`fingerprints[${bad}] is not a SHA-256 hex digest`);
  return new Set(fingerprints as string[]);
}

/**
 * Writes a baseline that accepts every finding in `report`, plus those the report's own baseline
 * already accepted, so rewriting a baseline never reopens what it held.
 */
export async function writeBaseline(report: AuditReport, path: string): Promise<void> {
  const fingerprints = new Set([
    ...report.findings.map((f) => f.fingerprint),
    ...(report.baselined ?? []),
  ]);
  const baseline: BaselineFile = { version: 1, fingerprints: [...fingerprints].sort() };
  await writeFile(path, `${JSON.stringify(baseline, null, 2)}\n`);
}
