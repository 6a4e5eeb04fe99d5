/**
 * The history source of `keyward audit --history` (and, through walkHistory, of the history
 * step of `keyward revoke`): one `git log -p --all --unified=0` process,
 * parsed as it streams, never buffered whole. Only added lines are decoded and scanned (plus the
 * removed lines of deleted files, whose content would otherwise be seen only where it was
 * added); every other line costs a look at its first byte. The added lines of one file in one
 * commit are scanned as one block, so the token rules' keyword prefilter runs once per block.
 *
 * Each secret is reported once, at the commit that added it (git log runs newest first, so the
 * last sighting wins), with whether its value is still in the working-tree file at that path.
 * Raw values stay in this module's memory for that check and never reach a finding.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { KeywardError } from "../core/errors.js";
import {
  findSecrets,
  fingerprint,
  lineStarts,
  position,
  type SecretHit,
  type Span,
  secretFinding,
} from "./analyzers/secrets.js";
import { isInlineIgnored } from "./ignore.js";
import type { Finding } from "./types.js";
import { gitOutput, isGitWorkTree } from "./walk.js";

export interface HistoryOptions {
  /**
   * Only the commits reachable from HEAD and not from this revision (`git log <since>..HEAD`):
   * a pull request's commits, say. Every commit on every ref by default. Check it with
   * requireCommit first: a name git does not know fails the walk.
   */
  since?: string;
  /** paths whose changes are not scanned (src/scan/exclude.ts) */
  excluded?: (path: string) => boolean;
  /** called with the number of commits read so far, every 100 commits and at the end */
  onProgress?: (commits: number) => void;
  /** flush a file's added lines for scanning once they reach this many characters */
  maxBlockChars?: number;
}

export interface HistoryResult {
  findings: Finding[];
  commits: number;
  /**
   * Fingerprints an inline `keyward:ignore` / `gitleaks:allow` suppressed in some commit. Such a
   * secret is not reported from any other commit either: the comment states intent for the value.
   */
  suppressed: string[];
}

const COMMIT_MARK = 0x01;
const PLUS = 0x2b;
const MINUS = 0x2d;
const AT = 0x40;
const LOG_FORMAT = "--format=%x01%H %cI";
const DEFAULT_BLOCK_CHARS = 2 * 1024 * 1024;
const PROGRESS_EVERY = 100;

/** A path from a `--- a/x` / `+++ b/x` header: unquoted, prefix and patch-compat tab removed. */
export function diffHeaderPath(raw: string): string | undefined {
  let text = raw.endsWith("\t") ? raw.slice(0, -1) : raw;
  if (text === "/dev/null") return undefined;
  if (text.startsWith('"') && text.endsWith('"')) text = unquoteC(text.slice(1, -1));
  return text.replace(/^[ab]\//, "");
}

/** git's C-style quoting: \" \\ \t \n and octal byte escapes (UTF-8 sequences). */
function unquoteC(text: string): string {
  const bytes: number[] = [];
  const simple: Record<string, number> = {
    n: 10,
    t: 9,
    r: 13,
    '"': 34,
    "\\": 92,
    a: 7,
    b: 8,
    f: 12,
    v: 11,
  };
  for (let i = 0; i < text.length; i++) {
    const char = text[i] as string;
    if (char !== "\\") {
      bytes.push(...Buffer.from(char));
      continue;
    }
    const next = text[i + 1] ?? "";
    if (/[0-7]/.test(next)) {
      bytes.push(Number.parseInt(text.slice(i + 1, i + 4), 8));
      i += 3;
    } else {
      bytes.push(simple[next] ?? next.charCodeAt(0));
      i += 1;
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** One secret in one commit; `hit.secret` (the raw value) lives only until presentInTree is known. */
interface Sighting {
  hit: SecretHit;
  path: string;
  span: Span;
  commit: string;
  date: string;
  added: boolean;
}

/**
 * The scanned lines of one file in one commit: its added lines, or the removed lines of a file the
 * commit deleted (`added` false). Handed to a walker's `onBlock` and reused afterwards: copy what
 * must outlive the call.
 */
export interface HistoryBlock {
  readonly path: string;
  readonly commit: string;
  /** The committer date, ISO 8601. */
  readonly date: string;
  readonly added: boolean;
  readonly lines: readonly string[];
  /** Each line's number in the new file (added) or the old one (deleted). */
  readonly numbers: readonly number[];
}

/** Collects one file's scanned lines in one commit and hands them to the walker's sink. */
class Block implements HistoryBlock {
  lines: string[] = [];
  numbers: number[] = [];
  chars = 0;

  constructor(
    readonly path: string,
    readonly commit: string,
    readonly date: string,
    readonly added: boolean,
  ) {}

  push(line: string, number: number): void {
    this.lines.push(line);
    this.numbers.push(number);
    this.chars += line.length + 1;
  }

  flush(sink: (block: HistoryBlock) => void): void {
    if (this.lines.length === 0) return;
    sink(this);
    this.lines = [];
    this.numbers = [];
    this.chars = 0;
  }
}

/** The secret detectors' sink: each secret found in a block becomes (or updates) a sighting. */
function secretSighter(sightings: Map<string, Sighting>, suppressed: Set<string>) {
  return (block: HistoryBlock): void => {
    const text = block.lines.join("\n");
    const starts = lineStarts(text);
    for (const hit of findSecrets(text, block.path)) {
      const start = position(starts, hit.start);
      const end = position(starts, hit.end);
      const key = fingerprint(hit.ruleId, block.path, hit.secret);
      if (isInlineIgnored(block.lines[start.line - 1] ?? "", hit.ruleId)) {
        suppressed.add(key);
        continue;
      }
      const span = {
        line: block.numbers[start.line - 1] ?? start.line,
        column: start.column,
        endLine: block.numbers[end.line - 1] ?? end.line,
        endColumn: end.column,
      };
      const previous = sightings.get(key);
      // Newest first: a later sighting of an addition is an older commit, closer to the leak's start.
      if (previous === undefined || block.added || !previous.added) {
        const { path, commit, date, added } = block;
        sightings.set(key, { hit, path, span, commit, date, added });
      }
    }
  };
}

/** Parses `git log -p --unified=0` output line by line (as Buffers) and scans as it goes. */
class LogParser {
  commits = 0;
  private commit = "";
  private date = "";
  private oldPath: string | undefined;
  private deleted = false;
  private block: Block | undefined;
  private oldLine = 0;
  private newLine = 0;
  private oldLeft = 0;
  private newLeft = 0;

  constructor(
    private readonly maxBlockChars: number,
    private readonly onCommit: () => void,
    private readonly sink: (block: HistoryBlock) => void,
  ) {}

  line(bytes: Buffer): void {
    const first = bytes[0];
    if (this.oldLeft > 0 || this.newLeft > 0) {
      this.hunkLine(first, bytes);
      return;
    }
    if (first === COMMIT_MARK) {
      this.flush();
      const header = bytes.toString("utf8", 1);
      const space = header.indexOf(" ");
      this.commit = header.slice(0, space);
      this.date = header.slice(space + 1);
      this.commits++;
      this.onCommit();
    } else if (first === AT) {
      this.hunkHeader(bytes.toString("latin1"));
    } else if (first === 0x64 /* d */) {
      const text = bytes.toString("utf8");
      if (text.startsWith("diff --git ")) {
        this.flush();
        this.oldPath = undefined;
        this.deleted = false;
      } else if (text.startsWith("deleted file mode")) {
        this.deleted = true;
      }
    } else if (first === MINUS && bytes[1] === MINUS && bytes[2] === MINUS && bytes[3] === 0x20) {
      this.oldPath = diffHeaderPath(bytes.toString("utf8", 4));
    } else if (first === PLUS && bytes[1] === PLUS && bytes[2] === PLUS && bytes[3] === 0x20) {
      const path = diffHeaderPath(bytes.toString("utf8", 4)) ?? this.oldPath;
      this.block =
        path === undefined ? undefined : new Block(path, this.commit, this.date, !this.deleted);
    }
  }

  private hunkHeader(text: string): void {
    const match = /^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@/.exec(text);
    if (match === null) return;
    this.oldLine = Number(match[1]);
    this.oldLeft = match[2] === undefined ? 1 : Number(match[2]);
    this.newLine = Number(match[3]);
    this.newLeft = match[4] === undefined ? 1 : Number(match[4]);
  }

  private hunkLine(first: number | undefined, bytes: Buffer): void {
    if (first === PLUS) {
      this.newLeft--;
      const number = this.newLine++;
      if (this.block?.added) this.record(bytes, number);
    } else if (first === MINUS) {
      this.oldLeft--;
      const number = this.oldLine++;
      if (this.block !== undefined && !this.block.added) this.record(bytes, number);
    }
    // "\ No newline at end of file" and anything else inside a hunk carries no content line.
  }

  private record(bytes: Buffer, number: number): void {
    const block = this.block as Block;
    block.push(bytes.toString("utf8", 1), number);
    if (block.chars >= this.maxBlockChars) block.flush(this.sink);
  }

  flush(): void {
    this.block?.flush(this.sink);
    this.block = undefined;
  }
}

/** Builds the findings, checking each value against the working-tree file at its path. */
async function toFindings(root: string, sightings: Iterable<Sighting>): Promise<Finding[]> {
  const files = new Map<string, string | undefined>();
  const findings: Finding[] = [];
  for (const { hit, path, span, commit, date } of sightings) {
    if (!files.has(path)) {
      files.set(
        path,
        await readFile(join(root, ...path.split("/")), "utf8").catch(() => undefined),
      );
    }
    const presentInTree = files.get(path)?.includes(hit.encoded ?? hit.secret) ?? false;
    findings.push(secretFinding(hit, path, span, { commit, commitDate: date, presentInTree }));
  }
  return findings;
}

/** Throws the usage error of `--history` on a path that is not in a git work tree. */
export async function requireGitWorkTree(root: string): Promise<void> {
  if (!(await isGitWorkTree(root))) {
    throw new KeywardError(
      "usage",
      `--history needs a git repository, and ${root} is not inside a git work tree.`,
      "Run the audit without --history, or point it at a git checkout (in CI, a full clone: fetch-depth 0).",
    );
  }
}

/** Fails with a usage error unless `revision` names a commit of the repository at `root`. */
export async function requireCommit(root: string, revision: string): Promise<void> {
  const result = await gitOutput(root, [
    "rev-parse",
    "--verify",
    "--quiet",
    "--end-of-options",
    `${revision}^{commit}`,
  ]);
  if (result?.status !== 0) {
    throw new KeywardError(
      "usage",
      `--since: "${revision}" is not a commit of the repository at ${root}.`,
      "Name a branch, tag or commit it has (in CI, fetch it: actions/checkout with fetch-depth 0).",
    );
  }
}

/**
 * Scans every commit reachable from any ref under `root` (or those after `options.since`) for
 * secrets (token rules and the keyword detector). `root` must be inside a git work tree; paths
 * are relative to it.
 */
export async function scanHistory(
  root: string,
  options: HistoryOptions = {},
): Promise<HistoryResult> {
  const sightings = new Map<string, Sighting>();
  const suppressed = new Set<string>();
  const sight = secretSighter(sightings, suppressed);
  const { excluded } = options;
  const onBlock =
    excluded === undefined
      ? sight
      : (block: HistoryBlock) => {
          if (!excluded(block.path)) sight(block);
        };
  const commits = await walkHistory(root, onBlock, options);
  const reported = [...sightings].filter(([key]) => !suppressed.has(key)).map(([, s]) => s);
  return {
    findings: await toFindings(root, reported),
    commits,
    suppressed: [...suppressed].sort(),
  };
}

export interface WalkOptions extends HistoryOptions {
  /** Called with git's pid once it runs (e.g. to lower its priority). */
  onSpawn?: (pid: number) => void;
}

/**
 * Streams `git log -p --all --unified=0` (or `<since>..HEAD`) under `root` and hands every block (one file's added
 * lines in one commit, or the removed lines of a file it deleted) to `onBlock`, newest commit
 * first. Returns the number of commits read. The one history walker: `keyward audit --history`
 * runs the secret detectors over the blocks, `keyward revoke` looks for one leaked value.
 */
export async function walkHistory(
  root: string,
  onBlock: (block: HistoryBlock) => void,
  options: WalkOptions = {},
): Promise<number> {
  await requireGitWorkTree(root);
  const args = [
    "-c",
    "core.quotePath=false",
    "log",
    "-p",
    "--no-color",
    "--unified=0",
    "--no-ext-diff",
    "--no-textconv",
    "--relative",
    LOG_FORMAT,
    // A revision is never read as an option, whatever it starts with.
    ...(options.since === undefined ? ["--all"] : ["--end-of-options", `${options.since}..HEAD`]),
  ];
  const child = spawn("git", args, { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
  if (child.pid !== undefined) options.onSpawn?.(child.pid);
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (chunk: string) => {
    if (stderr.length < 4096) stderr += chunk;
  });
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => resolve(-1));
    child.on("close", (status) => resolve(status ?? 1));
  });
  const parser = new LogParser(
    options.maxBlockChars ?? DEFAULT_BLOCK_CHARS,
    () => {
      if (parser.commits % PROGRESS_EVERY === 0) options.onProgress?.(parser.commits);
    },
    onBlock,
  );
  try {
    let rest: Buffer | undefined;
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) {
      const data = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
      let start = 0;
      for (let newline = data.indexOf(10); newline !== -1; newline = data.indexOf(10, start)) {
        parser.line(data.subarray(start, newline));
        start = newline + 1;
      }
      rest = start < data.length ? Buffer.from(data.subarray(start)) : undefined;
    }
    if (rest !== undefined) parser.line(rest);
    parser.flush();
  } finally {
    if (child.exitCode === null) child.kill();
  }
  const status = await exited;
  if (status !== 0) {
    const detail = stderr.split("\n").find((line) => line.trim() !== "") ?? `exit status ${status}`;
    throw new KeywardError("io", `git log failed while reading history: ${detail.trim()}`);
  }
  options.onProgress?.(parser.commits);
  return parser.commits;
}
