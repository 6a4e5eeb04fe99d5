/**
 * `keyward audit`: files (and, with `history`, git commits) stream through the analyzers; inline
 * ignores and the baseline take out what the user accepted; one grading function turns the rest
 * into two grades. The CLI renders the report with src/scan/report/*.
 *
 * Memory stays bounded: one file's text at a time (at most maxFileBytes), plus the findings.
 */
import { lstat } from "node:fs/promises";
import { basename, resolve } from "node:path";
import { KeywardError } from "../core/errors.js";
import { lineStarts } from "./analyzers/secrets.js";
import { type GradeFacts, grade } from "./grade.js";
import { requireGitWorkTree, scanHistory } from "./history.js";
import { isInlineIgnored, loadBaseline } from "./ignore.js";
import { analyzersFor } from "./registry.js";
import type { Analyzer, AuditReport, Finding, RuleInfo, Skip, SourceFile } from "./types.js";
import { SEVERITIES } from "./types.js";
import { DEFAULT_MAX_FILE_BYTES, readSource, walk } from "./walk.js";

export interface AuditOptions {
  /** the directory (or single file) to audit */
  root: string;
  /** also scan every commit on every ref (the root must be inside a git work tree) */
  history?: boolean;
  /** path of a baseline file (src/scan/ignore.ts) whose fingerprints are suppressed */
  baseline?: string;
  /** the analyzers to run; src/scan/registry.ts by default */
  analyzers?: readonly Analyzer[];
  /** files larger than this are skipped with a note; 2 MiB by default */
  maxFileBytes?: number;
  /** live facts from a keyward store for the grade (docs/grading.md) */
  facts?: GradeFacts;
  /** called every 50 files and every 100 commits; the CLI prints it on a TTY */
  onProgress?: (progress: { files: number; commits?: number }) => void;
}

const PROGRESS_EVERY_FILES = 50;

/** Most severe first, then by place, so every report format lists findings in the same order. */
function compareFindings(a: Finding, b: Finding): number {
  return (
    SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity) ||
    (a.location.path < b.location.path ? -1 : a.location.path > b.location.path ? 1 : 0) ||
    a.location.line - b.location.line ||
    (a.location.column ?? 0) - (b.location.column ?? 0) ||
    (a.ruleId < b.ruleId ? -1 : a.ruleId > b.ruleId ? 1 : 0)
  );
}

/**
 * Two analyzers may report the same literal (the secret analyzer and a config analyzer, on a
 * `.env` line): same file, line and masked value. The most severe is kept. Values masked to
 * `****` (too short to show any of) are not compared, nor are history findings.
 */
function dropDuplicates(sorted: Finding[]): Finding[] {
  const seen = new Set<string>();
  return sorted.filter((finding) => {
    if (
      finding.masked === undefined ||
      !finding.masked.includes("…") ||
      finding.location.commit !== undefined
    ) {
      return true;
    }
    const key = `${finding.location.path}\0${finding.location.line}\0${finding.masked}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function lineOf(text: string, starts: readonly number[], line: number): string {
  const start = starts[line - 1];
  if (start === undefined) return "";
  const next = starts[line];
  return text.slice(start, next === undefined ? text.length : next - 1);
}

function runAnalyzers(
  file: SourceFile,
  applicable: readonly Analyzer[],
  skipped: Skip[],
): Finding[] {
  const findings: Finding[] = [];
  for (const analyzer of applicable) {
    try {
      const reason = analyzer.skipReason?.(file);
      if (reason !== undefined) {
        skipped.push({ path: file.path, code: "partly-analysed", reason });
        continue;
      }
      findings.push(...analyzer.analyze(file));
    } catch (error) {
      // The error's message may quote the file (a parser error), so only its class is reported.
      const kind = error instanceof Error ? error.name : typeof error;
      skipped.push({
        path: file.path,
        code: "analyzer-error",
        reason: `analyzer "${analyzer.id}" failed on this file (${kind})`,
      });
    }
  }
  return findings;
}

export async function audit(options: AuditOptions): Promise<AuditReport> {
  const started = performance.now();
  const root = resolve(options.root);
  try {
    await lstat(root);
  } catch {
    throw new KeywardError(
      "not_found",
      `${options.root} does not exist.`,
      "Pass a directory or file to audit.",
    );
  }
  if (options.history) await requireGitWorkTree(root);
  const baseline =
    options.baseline === undefined ? undefined : await loadBaseline(options.baseline);
  const analyzers = options.analyzers ?? analyzersFor(root);
  const maxFileBytes = options.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;

  const findings: Finding[] = [];
  const skipped: Skip[] = [];
  const baselined = new Set<string>();
  /** fingerprints an inline comment suppressed: the same secret in history stays suppressed */
  const ignoredInline = new Set<string>();
  let files = 0;
  let bytes = 0;
  /** analyzers whose parsers are loaded: each is loaded when the first file it applies to comes up */
  const loaded = new Set<Analyzer>();

  const keep = (finding: Finding): boolean => {
    if (!baseline?.has(finding.fingerprint)) return true;
    baselined.add(finding.fingerprint);
    return false;
  };

  for await (const entry of walk(root)) {
    if (entry.kind === "skip") {
      skipped.push(entry.skip);
      continue;
    }
    const name = entry.path === "" ? basename(root) : entry.path;
    const applicable = analyzers.filter((analyzer) => analyzer.applies(name));
    if (applicable.length === 0) continue;
    for (const analyzer of applicable) {
      if (analyzer.load !== undefined && !loaded.has(analyzer)) {
        await analyzer.load();
        loaded.add(analyzer);
      }
    }
    const read = await readSource(root, entry.path, maxFileBytes);
    if (read.kind === "skip") {
      skipped.push(read.skip);
      continue;
    }
    files++;
    bytes += read.bytes;
    const found = runAnalyzers(read.file, applicable, skipped);
    const starts = found.length > 0 ? lineStarts(read.file.text) : [];
    for (const finding of found) {
      if (isInlineIgnored(lineOf(read.file.text, starts, finding.location.line), finding.ruleId)) {
        ignoredInline.add(finding.fingerprint);
      } else if (keep(finding)) {
        findings.push(finding);
      }
    }
    if (files % PROGRESS_EVERY_FILES === 0) options.onProgress?.({ files });
  }
  options.onProgress?.({ files });

  let commits: number | undefined;
  if (options.history) {
    const history = await scanHistory(root, {
      onProgress: (count) => options.onProgress?.({ files, commits: count }),
    });
    commits = history.commits;
    const inTree = new Map(findings.map((f) => [f.fingerprint, f]));
    for (const key of history.suppressed) if (!inTree.has(key)) ignoredInline.add(key);
    for (const finding of history.findings) {
      // An ignore comment in the tree or in any commit covers the secret everywhere.
      if (ignoredInline.has(finding.fingerprint)) continue;
      const current = inTree.get(finding.fingerprint);
      if (current !== undefined) {
        // Still in the tree: one finding, dated by the commit that introduced it.
        current.location.commit = finding.location.commit;
        current.location.commitDate = finding.location.commitDate;
        current.location.presentInTree = true;
      } else if (keep(finding)) {
        findings.push(finding);
      }
    }
  }

  const listed = dropDuplicates(findings.sort(compareFindings));
  const titles = new Map<string, RuleInfo>();
  for (const analyzer of analyzers)
    for (const rule of analyzer.rules ?? []) titles.set(rule.id, rule);
  const rules = [...new Set(listed.map((f) => f.ruleId))]
    .sort()
    .flatMap((id) => (titles.has(id) ? [titles.get(id) as RuleInfo] : []));
  skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const report: AuditReport = {
    root,
    grades: grade(listed, options.facts),
    findings: listed,
    skipped,
    // Each suppressed secret counts once, however many lines or commits it appears on.
    suppressed: new Set([...ignoredInline, ...baselined]).size,
    stats: { files, bytes, durationMs: Math.round(performance.now() - started) },
  };
  if (commits !== undefined) report.stats.commits = commits;
  if (baselined.size > 0) report.baselined = [...baselined].sort();
  if (rules.length > 0) report.rules = rules;
  return report;
}
