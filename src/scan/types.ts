/**
 * The auditor's shared vocabulary. Sources produce files (and, with --history, git changes);
 * analyzers turn them into findings; one grading function turns findings into two grades;
 * reporters render the same findings. A finding never carries a raw secret: only a masked
 * form (src/detect/mask.ts) and a fingerprint.
 */
import type { WordHits } from "../detect/index.js";

export type Severity = "critical" | "high" | "medium" | "low" | "info";
export const SEVERITIES: readonly Severity[] = ["critical", "high", "medium", "low", "info"];

/** The guide's two axes: are keys protected from leaking, and is their blast radius limited? */
export type Axis = "exposure" | "security";

export type FindingKind =
  /** a literal credential in a file or in history */
  | "secret"
  /** an MCP client config, .env, Dockerfile, workflow or doc that mishandles credentials */
  | "config"
  /** a credential flowing into a sink in source code */
  | "flow"
  /** a fact about a keyward-managed setup: age, overdue rotation, scope */
  | "posture";

export interface Location {
  /** Path relative to the audited root, with forward slashes. */
  path: string;
  line: number;
  column?: number;
  endLine?: number;
  endColumn?: number;
  /** For findings from --history. */
  commit?: string;
  commitDate?: string;
  /** For history findings: is the secret still in the working tree, or only in history? */
  presentInTree?: boolean;
}

export interface Finding {
  /** Stable rule id, e.g. "secret/github-pat", "config/mcp-literal-env", "flow/log-sink". */
  ruleId: string;
  kind: FindingKind;
  axis: Axis;
  severity: Severity;
  /** One line for people: what is wrong, never the value. */
  message: string;
  /** Why it matters (the leak path or blast radius). */
  why: string;
  /** How to fix it. */
  fix: string;
  location: Location;
  /** Masked value (at most ~20% shown) for secret findings; never the value. */
  masked?: string;
  /**
   * Stable identity for baselines and SARIF partialFingerprints: SHA-256 over rule id, path
   * and (for secrets) an HMAC-free hash of the value, so moving lines does not reopen it.
   */
  fingerprint: string;
  /** For secret findings: "valid" when an offline checksum confirmed the format. */
  validation?: "valid" | "invalid" | "unknown";
  /** For flow findings: the steps from source to sink, each a location and a short note. */
  trace?: Array<{ location: Location; note: string }>;
}

/** A file as analyzers see it: text already decoded, with what the walker knows. */
export interface SourceFile {
  path: string;
  text: string;
  /**
   * A bundle or generated file (a line over 5,000 characters and few newlines): still scanned
   * for tokens, but flow analysis may skip it.
   */
  minified?: boolean;
  /**
   * `text` is the one-byte stand-in of a text with characters over U+00FF (src/scan/stand-in.ts):
   * same offsets, lines and columns, same matches for every pattern, but not the characters.
   * Only analyzers that say they read one (`readsStandIn`) are handed one.
   */
  standIn?: boolean;
}

/** One analyzer per concern (secrets, configs, ts/js flow, python flow); each in its own file. */
export interface Analyzer {
  id: string;
  /** Titles of the rules it can report, for SARIF rule descriptors (optional). */
  rules?: readonly RuleInfo[];
  /** Cheap filter on the path before the file is read. */
  applies(path: string): boolean;
  /**
   * Loads what `analyze` needs (a parser, a grammar). The engine awaits it before the first file
   * the analyzer applies to, so an audit loads only what its files need; it may be called more
   * than once and must load once.
   */
  load?(): Promise<void>;
  /**
   * Why this analyzer leaves an applicable file out (a bundle, a minified file), or undefined.
   * The engine lists the file under `skipped` with code "partly-analysed" and does not call
   * `analyze` on it.
   */
  skipReason?(file: SourceFile): string | undefined;
  /**
   * Words (ASCII, found case-insensitively) whose occurrences `analyze` reads. The engine finds
   * every analyzer's words in one pass over a file and hands each analyzer its own hits; called
   * without them, `analyze` searches the text itself.
   */
  keywords?: readonly string[];
  /**
   * `analyze` may be handed a stand-in text (SourceFile.standIn): it reads characters above
   * U+00FF only through patterns written in ASCII, and judges values through src/detect (which
   * counts what it judged). Leave it out to be handed the text itself.
   */
  readsStandIn?: boolean;
  analyze(file: SourceFile, hits?: WordHits): Finding[];
}

/** What a tree analyzer keeps of one file; a `skip` reason lists the file as partly analysed. */
export type TreeSummary = { readonly skip?: string; readonly [key: string]: unknown };

/**
 * An analyzer that needs the whole tree (credential flow follows imports between files). Each
 * file is summarised where it is read — possibly in a worker thread, so a summary must survive
 * structured cloning and stay small — and after every file is read, `begin` gets all the
 * summaries and the engine asks for each file's findings in walk order, in one thread. Its
 * findings for a file come after those of the per-file analyzers.
 */
export interface TreeAnalyzer<S extends TreeSummary = TreeSummary> {
  id: string;
  rules?: readonly RuleInfo[];
  applies(path: string): boolean;
  /** As Analyzer.load, for the tree pass: `summarize` must not need it. */
  load?(): Promise<void>;
  /** As Analyzer.keywords, for `summarize`. */
  keywords?: readonly string[];
  /** As Analyzer.readsStandIn, for `summarize`. */
  readsStandIn?: boolean;
  summarize(file: SourceFile, hits?: WordHits): S;
  begin(summaries: ReadonlyMap<string, S>): { analyze(path: string): Finding[] };
}

/** A rule's name for people, e.g. { id: "secret/github-pat", title: "GitHub personal access token (classic)" }. */
export interface RuleInfo {
  id: string;
  title: string;
}

export type Grade = "A" | "B" | "C" | "D" | "F";
export const GRADES: readonly Grade[] = ["A", "B", "C", "D", "F"];

export interface Grades {
  exposure: Grade;
  security: Grade;
  /** Why each grade is what it is: the rubric lines that applied (docs/grading.md). */
  reasons: { exposure: string[]; security: string[] };
}

/** Something the auditor did not read, and why (binary, too large, unreadable, symlink loop…). */
export interface Skip {
  path: string;
  reason: string;
  /** Machine-readable reason (src/scan/walk.ts). */
  code?: SkipCode;
}

export type SkipCode =
  | "binary"
  | "too-large"
  | "unreadable"
  | "symlink-loop"
  | "symlink-outside"
  | "broken-symlink"
  | "not-regular"
  | "submodule"
  | "missing"
  | "analyzer-error"
  /** read and scanned, but one analyzer left it out (e.g. flow analysis of a bundle) */
  | "partly-analysed";

export interface AuditReport {
  root: string;
  grades: Grades;
  findings: Finding[];
  skipped: Skip[];
  /** Findings matched by the baseline file or an inline ignore, counted but not listed. */
  suppressed: number;
  /** Fingerprints the baseline file matched, so a rewritten baseline keeps them. */
  baselined?: string[];
  /** Titles of the rules that produced findings (from the analyzers' `rules`). */
  rules?: RuleInfo[];
  stats: {
    files: number;
    bytes: number;
    commits?: number;
    /** files left out by .keywardignore or --exclude (present when any were) */
    excluded?: number;
    durationMs: number;
  };
}
