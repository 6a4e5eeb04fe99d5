/**
 * `keyward audit`: files (and, with `history`, git commits) stream through the analyzers; inline
 * ignores and the baseline take out what the user accepted; one grading function turns the rest
 * into two grades. The CLI renders the report with src/scan/report/*.
 *
 * Memory stays bounded: one file's text at a time (at most maxFileBytes), plus the findings.
 */

import { lstat } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { KeywardError } from "../core/errors.js";
import {
  type AnyAnalyzer,
  analyzerError,
  type FileOutcome,
  FilePass,
  isTreeAnalyzer,
  withoutInlineIgnored,
} from "./file-pass.js";
import { type GradeFacts, grade } from "./grade.js";
import { requireGitWorkTree, scanHistory } from "./history.js";
import { loadBaseline } from "./ignore.js";
import { analyzersFor } from "./registry.js";
import type { AuditReport, Finding, RuleInfo, Skip, TreeSummary } from "./types.js";
import { SEVERITIES } from "./types.js";
import { DEFAULT_MAX_FILE_BYTES, readSourceSync, type WalkEntry, walk } from "./walk.js";
import { filePassInWorkers } from "./workers.js";

export interface AuditOptions {
  /** the directory (or single file) to audit */
  root: string;
  /** also scan every commit on every ref (the root must be inside a git work tree) */
  history?: boolean;
  /** path of a baseline file (src/scan/ignore.ts) whose fingerprints are suppressed */
  baseline?: string;
  /**
   * the analyzers to run; src/scan/registry.ts by default. Given analyzers run in this thread
   * (functions cannot be handed to a worker).
   */
  analyzers?: readonly AnyAnalyzer[];
  /** files larger than this are skipped with a note; 2 MiB by default */
  maxFileBytes?: number;
  /** live facts from a keyward store for the grade (docs/grading.md) */
  facts?: GradeFacts;
  /** called every 50 files and every 100 commits; the CLI prints it on a TTY */
  onProgress?: (progress: { files: number; commits?: number }) => void;
  /**
   * Threads that read and scan files. By default one per CPU core when the tree has at least
   * WORKERS_FROM_FILES files, else this thread alone; 1 keeps everything in this thread. The
   * report is the same either way.
   */
  workers?: number;
}

const PROGRESS_EVERY_FILES = 50;
/** Below this many files, starting worker threads (each loads the analyzers) costs more than it saves. */
const WORKERS_FROM_FILES = 400;
/** More threads than this only add start-up cost: the pass is bound by reading and memory too. */
const MAX_WORKERS = 8;

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

  const keep = (finding: Finding): boolean => {
    if (!baseline?.has(finding.fingerprint)) return true;
    baselined.add(finding.fingerprint);
    return false;
  };

  // The listing first (paths only), then the file pass over it, then the tree pass.
  const entries: WalkEntry[] = [];
  for await (const entry of walk(root)) entries.push(entry);
  const outcomes = await filePass(root, entries, analyzers, maxFileBytes, options);

  const summaries = new Map<number, Map<string, TreeSummary>>();
  /** where each summarised file is read from again: its name, or "" when the root is the file */
  const readPaths = new Map<string, string>();
  entries.forEach((entry, index) => {
    if (entry.kind === "skip") {
      skipped.push(entry.skip);
      return;
    }
    const outcome = outcomes[index];
    if (outcome === undefined || outcome.kind === "none") return;
    if (outcome.kind === "skip") {
      skipped.push(outcome.skip);
      return;
    }
    files++;
    bytes += outcome.bytes;
    skipped.push(...outcome.skips);
    for (const fingerprint of outcome.ignored) ignoredInline.add(fingerprint);
    for (const finding of outcome.findings) if (keep(finding)) findings.push(finding);
    for (const [analyzer, summary] of outcome.summaries) {
      const byPath = summaries.get(analyzer) ?? new Map<string, TreeSummary>();
      summaries.set(analyzer, byPath);
      byPath.set(outcome.path, summary);
      readPaths.set(outcome.path, entry.path);
    }
  });

  // The tree pass: each tree analyzer over its summaries, in walk order, in this thread.
  for (const [index, byPath] of summaries) {
    const analyzer = analyzers[index] as AnyAnalyzer;
    if (!isTreeAnalyzer(analyzer)) continue;
    await analyzer.load?.();
    const tree = analyzer.begin(byPath);
    for (const [path, summary] of byPath) {
      if (summary.skip !== undefined) {
        skipped.push({ path, code: "partly-analysed", reason: summary.skip });
        continue;
      }
      let found: Finding[];
      try {
        found = tree.analyze(path);
      } catch (error) {
        skipped.push(analyzerError(path, analyzer.id, error));
        continue;
      }
      if (found.length === 0) continue;
      // Inline comments are read from the file again: only files with such findings are.
      const read = readSourceSync(root, readPaths.get(path) ?? path, maxFileBytes);
      const { kept, ignored } =
        read.kind === "file"
          ? withoutInlineIgnored(read.file, found)
          : { kept: found, ignored: [] };
      for (const fingerprint of ignored) ignoredInline.add(fingerprint);
      for (const finding of kept) if (keep(finding)) findings.push(finding);
    }
  }

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

/**
 * Every listed file through the file pass, in worker threads when the tree is large enough (see
 * AuditOptions.workers): outcomes by walk index.
 */
async function filePass(
  root: string,
  entries: readonly WalkEntry[],
  analyzers: readonly AnyAnalyzer[],
  maxFileBytes: number,
  options: AuditOptions,
): Promise<Array<FileOutcome | undefined>> {
  const paths: Array<[number, string]> = [];
  entries.forEach((entry, index) => {
    if (entry.kind === "file") paths.push([index, entry.path]);
  });
  const outcomes = new Array<FileOutcome | undefined>(entries.length);
  /** files read so far */
  let done = 0;
  const progress = (outcome: FileOutcome): void => {
    if (outcome.kind === "file" && ++done % PROGRESS_EVERY_FILES === 0)
      options.onProgress?.({ files: done });
  };
  const workers =
    options.analyzers !== undefined
      ? 1
      : (options.workers ??
        (paths.length >= WORKERS_FROM_FILES ? Math.min(availableParallelism(), MAX_WORKERS) : 1));
  if (workers > 1) {
    await filePassInWorkers({ root, maxFileBytes }, paths, workers, (index, outcome) => {
      outcomes[index] = outcome;
      progress(outcome);
    });
  } else {
    const pass = new FilePass(root, analyzers, maxFileBytes);
    for (const [index, path] of paths) {
      const outcome = await pass.scan(path);
      outcomes[index] = outcome;
      progress(outcome);
    }
  }
  options.onProgress?.({ files: done });
  return outcomes;
}
