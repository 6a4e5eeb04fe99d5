/**
 * The file pass of `keyward audit`: one file read, decoded and handed to every analyzer that
 * applies to it — per-file analyzers give findings, tree analyzers a summary for the tree pass
 * (audit.ts). It runs in the audit's own thread or in worker threads (workers.ts); an outcome is
 * plain data, so both give the same report.
 *
 * Findings that an inline comment suppresses are taken out here, where the text is at hand; only
 * their fingerprints travel on (the same secret in history stays suppressed).
 */
import { basename } from "node:path";
import { hasNonAscii, KeywordLists, nonAsciiJudged } from "../detect/index.js";
import { lineStarts } from "./analyzers/secrets.js";
import { isInlineIgnored } from "./ignore.js";
import type { Analyzer, Finding, Skip, SourceFile, TreeAnalyzer, TreeSummary } from "./types.js";
import { readSourceSync } from "./walk.js";

export type AnyAnalyzer = Analyzer | TreeAnalyzer;

export function isTreeAnalyzer(analyzer: AnyAnalyzer): analyzer is TreeAnalyzer {
  return "summarize" in analyzer;
}

/** What the file pass made of one listed file. */
export type FileOutcome =
  /** no analyzer applies to it: not read */
  | { kind: "none" }
  | { kind: "skip"; skip: Skip }
  | {
      kind: "file";
      /** the file's name in findings: its path, or its base name when the root is the file */
      path: string;
      bytes: number;
      /** per-file analyzers' findings, in analyzer order, inline-suppressed ones taken out */
      findings: Finding[];
      /** fingerprints of the findings an inline comment suppressed */
      ignored: string[];
      skips: Skip[];
      /** tree analyzers' summaries, by the analyzer's index in the list */
      summaries: Array<[index: number, summary: TreeSummary]>;
    };

export class FilePass {
  /** analyzers whose parsers are loaded: each is loaded when the first file it applies to comes up */
  private readonly loaded = new Set<AnyAnalyzer>();
  /** every analyzer's keywords (by the analyzer's index), found in one pass over a file */
  private readonly keywords: KeywordLists;

  constructor(
    private readonly root: string,
    private readonly analyzers: readonly AnyAnalyzer[],
    private readonly maxFileBytes: number,
  ) {
    this.keywords = new KeywordLists(analyzers.map((analyzer) => analyzer.keywords ?? []));
  }

  async scan(path: string): Promise<FileOutcome> {
    const name = path === "" ? basename(this.root) : path;
    const applicable = this.analyzers.flatMap((analyzer, index) =>
      analyzer.applies(name) ? [index] : [],
    );
    if (applicable.length === 0) return { kind: "none" };
    for (const index of applicable) {
      const analyzer = this.analyzers[index] as AnyAnalyzer;
      // A tree analyzer needs its parser only in the tree pass, not to summarise.
      if (isTreeAnalyzer(analyzer)) continue;
      if (analyzer.load !== undefined && !this.loaded.has(analyzer)) {
        await analyzer.load();
        this.loaded.add(analyzer);
      }
    }
    const standIn = applicable.every((index) => this.analyzers[index]?.readsStandIn === true);
    const read = readSourceSync(this.root, path, this.maxFileBytes, standIn);
    if (read.kind === "skip") return read;
    const judgedBefore = nonAsciiJudged();
    const outcome = this.analyze(read.file, read.bytes, applicable);
    if (
      read.file.standIn !== true ||
      (nonAsciiJudged() === judgedBefore && !mentionsStandIn(read.file.text, outcome))
    )
      return outcome;
    // A detector judged a value holding a character the stand-in only stands for (its entropy,
    // say), a finding lies on a line with one (its masked value and fingerprint come from the
    // characters), or a summary names one: the file is read again and analyzed as it is.
    const exact = readSourceSync(this.root, path, this.maxFileBytes);
    return exact.kind === "skip" ? exact : this.analyze(exact.file, exact.bytes, applicable);
  }

  private analyze(
    file: SourceFile,
    bytes: number,
    applicable: readonly number[],
  ): FileOutcome & { kind: "file" } {
    const hits = applicable.some((index) => this.analyzers[index]?.keywords !== undefined)
      ? this.keywords.hits(file.text)
      : undefined;
    const found: Finding[] = [];
    const skips: Skip[] = [];
    const summaries: Array<[number, TreeSummary]> = [];
    for (const index of applicable) {
      const analyzer = this.analyzers[index] as AnyAnalyzer;
      try {
        const own = analyzer.keywords === undefined ? undefined : hits?.[index];
        if (isTreeAnalyzer(analyzer)) {
          summaries.push([index, analyzer.summarize(file, own)]);
          continue;
        }
        const reason = analyzer.skipReason?.(file);
        if (reason !== undefined) {
          skips.push({ path: file.path, code: "partly-analysed", reason });
          continue;
        }
        found.push(...analyzer.analyze(file, own));
      } catch (error) {
        skips.push(analyzerError(file.path, analyzer.id, error));
      }
    }
    const { kept, ignored } = withoutInlineIgnored(file, found);
    return { kind: "file", path: file.path, bytes, findings: kept, ignored, skips, summaries };
  }
}

/**
 * Whether a finding's lines or a summary hold a character over U+007F: in a stand-in text,
 * possibly one that stands for another.
 */
function mentionsStandIn(text: string, outcome: FileOutcome & { kind: "file" }): boolean {
  if (outcome.summaries.some(([, summary]) => hasNonAscii(JSON.stringify(summary)))) return true;
  // An inline-suppressed finding's fingerprint travels on too (its line was not kept).
  if (outcome.ignored.length > 0) return true;
  if (outcome.findings.length === 0) return false;
  const starts = lineStarts(text);
  return outcome.findings.some(({ location }) => {
    for (let line = location.line; line <= (location.endLine ?? location.line); line++)
      if (hasNonAscii(lineOf(text, starts, line))) return true;
    return false;
  });
}

/** The error's message may quote the file (a parser error), so only its class is reported. */
export function analyzerError(path: string, analyzerId: string, error: unknown): Skip {
  const kind = error instanceof Error ? error.name : typeof error;
  return {
    path,
    code: "analyzer-error",
    reason: `analyzer "${analyzerId}" failed on this file (${kind})`,
  };
}

/** Splits findings into those listed and the fingerprints an inline comment on their line suppresses. */
export function withoutInlineIgnored(
  file: SourceFile,
  findings: Finding[],
): { kept: Finding[]; ignored: string[] } {
  const kept: Finding[] = [];
  const ignored: string[] = [];
  if (findings.length === 0) return { kept, ignored };
  const starts = lineStarts(file.text);
  for (const finding of findings) {
    if (isInlineIgnored(lineOf(file.text, starts, finding.location.line), finding.ruleId)) {
      ignored.push(finding.fingerprint);
    } else kept.push(finding);
  }
  return { kept, ignored };
}

function lineOf(text: string, starts: readonly number[], line: number): string {
  const start = starts[line - 1];
  if (start === undefined) return "";
  const next = starts[line];
  return text.slice(start, next === undefined ? text.length : next - 1);
}
