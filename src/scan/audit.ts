/**
 * `keyward audit`: files (and, with `history`, git commits) stream through the analyzers; inline
 * ignores and the baseline take out what the user accepted; one grading function turns the rest
 * into two grades. The CLI renders the report with src/scan/report/*.
 *
 * Two passes: the file pass (file-pass.ts) reads each listed file once and runs the per-file
 * analyzers and the tree analyzers' summaries on it, in worker threads for large trees
 * (workers.ts); the tree pass (credential flow, which follows imports) then runs over the
 * summaries in walk order, in this thread, while the workers read the rest. Outcomes are put
 * together in walk order, so the report does not depend on the number of threads.
 *
 * Memory stays bounded: one file's text at a time per thread (at most maxFileBytes), plus the
 * listing, the findings and the summaries.
 */

import { lstat } from "node:fs/promises";
import { availableParallelism, type CpuInfo, cpus } from "node:os";
import { basename, resolve } from "node:path";
import { KeywardError } from "../core/errors.js";
import { loadExcludes } from "./exclude.js";
import {
  type AnyAnalyzer,
  analyzerError,
  type FileOutcome,
  FilePass,
  isTreeAnalyzer,
  withoutInlineIgnored,
} from "./file-pass.js";
import { type GradeFacts, grade } from "./grade.js";
import { requireCommit, requireGitWorkTree, scanHistory } from "./history.js";
import { loadBaseline } from "./ignore.js";
import { analyzersFor } from "./registry.js";
import type { AuditReport, Finding, RuleInfo, Skip, TreeSummary } from "./types.js";
import { SEVERITIES } from "./types.js";
import {
  DEFAULT_MAX_FILE_BYTES,
  readSourceSync,
  type WalkEntry,
  type WalkRecord,
  walk,
} from "./walk.js";
import { filePassInThreads, WorkerPool } from "./workers.js";

export interface AuditOptions {
  /** the directory (or single file) to audit */
  root: string;
  /** also scan every commit on every ref (the root must be inside a git work tree) */
  history?: boolean;
  /**
   * with `history`: only the commits after this revision (reachable from HEAD, not from it), a
   * pull request's commits say
   */
  historySince?: string;
  /**
   * paths to leave out, in .gitignore syntax, besides those the root's .keywardignore lists
   * (src/scan/exclude.ts)
   */
  exclude?: readonly string[];
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
   * Threads that read and scan files, this one included (so n - 1 worker threads). By default
   * one per idle CPU core (idleCores) when the tree has at least WORKERS_FROM_FILES files, else
   * this thread alone; 1 keeps everything in this thread. The report is the same either way.
   */
  workers?: number;
}

const PROGRESS_EVERY_FILES = 50;
/** Below this many files, starting worker threads (each loads the analyzers) costs more than it saves. */
const WORKERS_FROM_FILES = 400;
/** More threads than this only add start-up cost: the pass is bound by reading and memory too. */
const MAX_WORKERS = 8;
/** How long the tree pass runs before it lets worker messages in. */
const YIELD_EVERY_MS = 10;

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
  if (options.history && options.historySince !== undefined)
    await requireCommit(root, options.historySince);
  const baseline =
    options.baseline === undefined ? undefined : await loadBaseline(options.baseline);
  const walked: WalkRecord = { listings: new Map() };
  const analyzers = options.analyzers ?? analyzersFor(root, walked.listings);
  const excluded = loadExcludes(root, options.exclude);
  /** files and skips left out by .keywardignore or `exclude` */
  let excludedCount = 0;
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

  // The listing first (paths only); then the file pass, files a tree analyzer applies to first,
  // so that the tree pass (this thread) runs while workers read the rest. Worker threads start
  // as soon as the number of threads is known, and load their analyzers while the walk goes on.
  const entries: WalkEntry[] = [];
  const cpusAtStart = { cpus: cpus(), own: process.cpuUsage() };
  let pool: WorkerPool | undefined;
  const startWorkers = (threads: number): void => {
    if (threads > 1) pool = new WorkerPool({ root, maxFileBytes }, threads - 1);
  };
  // Given analyzers are functions, which cannot be handed to a worker.
  const decide = options.analyzers === undefined && options.workers === undefined;
  if (options.analyzers === undefined && options.workers !== undefined)
    startWorkers(options.workers);
  let tree: TreeResults;
  let outcomes: Array<FileOutcome | undefined>;
  try {
    let listed = 0;
    for await (const batch of walk(root, walked)) {
      for (const entry of batch) {
        if (excluded?.(entry.kind === "file" ? entry.path : entry.skip.path)) {
          excludedCount++;
          continue;
        }
        entries.push(entry);
        if (decide && entry.kind === "file" && ++listed === WORKERS_FROM_FILES)
          startWorkers(idleCores(cpusAtStart, walked.gitListing === true));
      }
    }
    outcomes = new Array<FileOutcome | undefined>(entries.length);
    let treeRunning: Promise<TreeResults> | undefined;
    const pass = startFilePass(
      root,
      entries,
      analyzers,
      maxFileBytes,
      options,
      outcomes,
      pool,
      () => treeRunning,
    );
    await pass.treeFiles;
    treeRunning = treePass(root, entries, analyzers, maxFileBytes, outcomes);
    tree = await treeRunning;
    treeRunning = undefined;
    await pass.all;
  } finally {
    await pool?.terminate();
  }

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
  });
  skipped.push(...tree.skips);
  for (const fingerprint of tree.ignored) ignoredInline.add(fingerprint);
  for (const finding of tree.findings) if (keep(finding)) findings.push(finding);

  let commits: number | undefined;
  if (options.history) {
    const history = await scanHistory(root, {
      ...(options.historySince === undefined ? {} : { since: options.historySince }),
      ...(excluded === undefined ? {} : { excluded }),
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
  if (excludedCount > 0) report.stats.excluded = excludedCount;
  if (baselined.size > 0) report.baselined = [...baselined].sort();
  if (rules.length > 0) report.rules = rules;
  return report;
}

/**
 * Starts the file pass over every listed file, in the pool's worker threads and this thread when
 * there is a pool, else in this thread alone. Outcomes land in `outcomes` by walk index; `treeFiles` settles when
 * every file a tree analyzer applies to has its outcome, `all` when every file has.
 */
function startFilePass(
  root: string,
  entries: readonly WalkEntry[],
  analyzers: readonly AnyAnalyzer[],
  maxFileBytes: number,
  options: AuditOptions,
  outcomes: Array<FileOutcome | undefined>,
  pool: WorkerPool | undefined,
  /** the tree pass while it runs: this thread leaves the file pass to the workers meanwhile */
  treeRunning: () => Promise<unknown> | undefined,
): { treeFiles: Promise<void>; all: Promise<void> } {
  const treeAnalyzers = analyzers.filter(isTreeAnalyzer);
  const forTree: Array<[number, string]> = [];
  const rest: Array<[number, string]> = [];
  entries.forEach((entry, index) => {
    if (entry.kind !== "file") return;
    const name = entry.path === "" ? basename(root) : entry.path;
    (treeAnalyzers.some((analyzer) => analyzer.applies(name)) ? forTree : rest).push([
      index,
      entry.path,
    ]);
  });
  const treeIndexes = new Set(forTree.map(([index]) => index));
  let treeLeft = forTree.length;
  let treeDone = (): void => {};
  const treeFiles = new Promise<void>((resolve) => {
    treeDone = resolve;
  });
  if (treeLeft === 0) treeDone();
  /** files read so far */
  let read = 0;
  const record = (index: number, outcome: FileOutcome): void => {
    outcomes[index] = outcome;
    if (outcome.kind === "file" && ++read % PROGRESS_EVERY_FILES === 0)
      options.onProgress?.({ files: read });
    if (treeIndexes.has(index) && --treeLeft === 0) treeDone();
  };
  const paths = [...forTree, ...rest];
  const all = (async () => {
    const pass = new FilePass(root, analyzers, maxFileBytes);
    if (pool !== undefined) {
      // This thread is one of them: it has the analyzers loaded already.
      await filePassInThreads(pool, paths, { pass, paused: treeRunning }, record);
      // The workers are done: their memory goes back before the tree pass ends.
      await pool.terminate();
    } else {
      for (const [index, path] of paths) record(index, await pass.scan(path));
    }
    options.onProgress?.({ files: read });
  })();
  // A failed pass fails the audit where `all` is awaited, whichever promise is awaited first.
  all.catch(() => {});
  return { treeFiles: Promise.race([treeFiles, all]), all };
}

/**
 * Cores free now, for this audit's threads: the cores less those other processes kept busy since
 * `before` (a reading taken when the audit started). A worker on a busy core only adds its
 * start-up to the audit's CPU time. This process's own time (this thread, and V8's compiler and
 * collector threads) is taken out of the busy time: counted in, it made an idle 2-core machine
 * look busy in about one run of three, and those audits ran in one thread. The one-minute load
 * average lagged: right after a heavy job an idle machine still looked busy.
 */
function idleCores(
  before: { cpus: readonly CpuInfo[]; own: NodeJS.CpuUsage },
  /** git is listing the files: see freeCores */
  gitListing: boolean,
): number {
  const ownMs = (usage: NodeJS.CpuUsage) => (usage.user + usage.system) / 1000;
  const threads = freeCores(
    coreTimes(before.cpus),
    coreTimes(cpus()),
    ownMs(process.cpuUsage()) - ownMs(before.own),
    availableParallelism(),
    { gitListing },
  );
  return Math.min(threads, MAX_WORKERS);
}

/** Busy and total time (ms) summed over the cores. */
function coreTimes(infos: readonly CpuInfo[]): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const { times: t } of infos) {
    busy += t.user + t.nice + t.sys + t.irq;
    total += t.user + t.nice + t.sys + t.irq + t.idle;
  }
  return { busy, total };
}

/**
 * Below this much time per core between the readings, they cannot tell load: the kernel counts
 * CPU time in ticks of 10 ms, and one tick of a 10 ms window read as a busy core.
 */
const LOAD_WINDOW_MS = 30;

/**
 * Cores not kept busy by other processes between two readings, `ownMs` being this process's CPU
 * time in between. Over a window too short to tell (LOAD_WINDOW_MS), or while this audit's own
 * git process lists a work tree's files (its CPU time is not this process's, and read as another
 * process's load it left audits of git repositories in one thread), every core counts as free.
 */
export function freeCores(
  before: { busy: number; total: number },
  after: { busy: number; total: number },
  ownMs: number,
  cores: number,
  during: { gitListing?: boolean } = {},
): number {
  const elapsedPerCore = (after.total - before.total) / cores;
  if (elapsedPerCore < LOAD_WINDOW_MS || during.gitListing) return cores;
  const othersBusy = Math.max(0, after.busy - before.busy - ownMs) / elapsedPerCore;
  return Math.max(1, Math.min(cores, cores - Math.round(othersBusy)));
}

interface TreeResults {
  findings: Finding[];
  skips: Skip[];
  /** fingerprints of findings an inline comment suppressed */
  ignored: string[];
}

/**
 * The tree pass: each tree analyzer over the summaries the file pass made, in walk order, in
 * this thread. It yields now and then so that worker messages (and new batches) keep flowing.
 */
async function treePass(
  root: string,
  entries: readonly WalkEntry[],
  analyzers: readonly AnyAnalyzer[],
  maxFileBytes: number,
  outcomes: ReadonlyArray<FileOutcome | undefined>,
): Promise<TreeResults> {
  const results: TreeResults = { findings: [], skips: [], ignored: [] };
  let lastYield = performance.now();
  for (const [index, analyzer] of analyzers.entries()) {
    if (!isTreeAnalyzer(analyzer)) continue;
    const summaries = new Map<string, TreeSummary>();
    /** where each file is read again: its path, or "" when the root is the file */
    const readPaths = new Map<string, string>();
    entries.forEach((entry, at) => {
      const outcome = outcomes[at];
      if (entry.kind !== "file" || outcome?.kind !== "file") return;
      for (const [owner, summary] of outcome.summaries) {
        if (owner !== index) continue;
        summaries.set(outcome.path, summary);
        readPaths.set(outcome.path, entry.path);
      }
    });
    if ([...summaries.values()].every((summary) => summary.skip !== undefined)) {
      for (const [path, summary] of summaries)
        results.skips.push({ path, code: "partly-analysed", reason: summary.skip as string });
      continue;
    }
    await analyzer.load?.();
    const tree = analyzer.begin(summaries);
    for (const [path, summary] of summaries) {
      if (performance.now() - lastYield > YIELD_EVERY_MS) {
        await new Promise((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (summary.skip !== undefined) {
        results.skips.push({ path, code: "partly-analysed", reason: summary.skip });
        continue;
      }
      let found: Finding[];
      try {
        found = tree.analyze(path);
      } catch (error) {
        results.skips.push(analyzerError(path, analyzer.id, error));
        continue;
      }
      if (found.length === 0) continue;
      // Inline comments are read from the file again: only files with such findings are.
      const read = readSourceSync(root, readPaths.get(path) ?? path, maxFileBytes);
      const { kept, ignored } =
        read.kind === "file"
          ? withoutInlineIgnored(read.file, found)
          : { kept: found, ignored: [] };
      results.ignored.push(...ignored);
      results.findings.push(...kept);
    }
  }
  return results;
}
