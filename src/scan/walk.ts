/**
 * The tree source of `keyward audit`: lists the files under a root, one at a time, and reads each
 * one on demand. Inside a git work tree the list comes from git itself, so .gitignore is honoured
 * exactly as git honours it; elsewhere (or when the root itself is git-ignored, e.g. an audit of
 * node_modules/some-server) the file system is walked, skipping only `.git/`.
 *
 * Nothing is held beyond one directory's listing and one file's text. Whatever is not read is
 * reported as a Skip with a reason: binary, too large, unreadable, not a regular file, a symlink
 * that loops, dangles or leaves the root. Symlinks are never followed: a link to a file inside the
 * root is read at the target's own path, and a link that leaves the root would widen the audit
 * to places the user did not name.
 */
import { isAscii } from "node:buffer";
import { spawn } from "node:child_process";
import type { Stats } from "node:fs";
import {
  closeSync,
  existsSync,
  fstatSync,
  lstatSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
} from "node:fs";
import { lstat, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import { standInText } from "./stand-in.js";
import type { Skip, SkipCode, SourceFile } from "./types.js";

/** Files larger than this are skipped with a note (AuditOptions.maxFileBytes overrides it). */
export const DEFAULT_MAX_FILE_BYTES = 2 * 1024 * 1024;
/** A NUL byte in this much of a file's head marks it binary, as git and grep decide. */
const BINARY_SNIFF_BYTES = 8 * 1024;
/** A line this long, in a file with few newlines, marks a minified bundle or generated file. */
const MINIFIED_LINE_CHARS = 5000;
const MINIFIED_AVERAGE_LINE_CHARS = 500;

/** A file the walker found: its path relative to the root, with forward slashes. */
export type WalkEntry = { kind: "file"; path: string } | { kind: "skip"; skip: Skip };

export type ReadResult =
  | { kind: "file"; file: SourceFile; bytes: number }
  | { kind: "skip"; skip: Skip };

function skip(path: string, code: SkipCode, reason: string): { kind: "skip"; skip: Skip } {
  return { kind: "skip", skip: { path, code, reason } };
}

function errorCode(error: unknown): string {
  return (error as NodeJS.ErrnoException | undefined)?.code ?? "unknown error";
}

/** Runs git in `cwd` and returns its stdout, or undefined when git fails or is not installed. */
export function gitOutput(
  cwd: string,
  args: string[],
): Promise<{ status: number; stdout: string } | undefined> {
  return new Promise((resolve) => {
    const child = spawn("git", args, { cwd, stdio: ["ignore", "pipe", "ignore"] });
    let stdout = "";
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", () => resolve(undefined));
    child.on("close", (status) => resolve({ status: status ?? 1, stdout }));
  });
}

/**
 * Whether git can find a repository for `dir`: it looks for `.git` (a directory, or a file in a
 * linked work tree) in `dir` and each parent, unless GIT_DIR or GIT_WORK_TREE names one. Where
 * none exists, git is not asked: starting it costs tens of milliseconds of a short audit.
 */
function gitMayFindRepository(dir: string): boolean {
  if (process.env.GIT_DIR !== undefined || process.env.GIT_WORK_TREE !== undefined) return true;
  for (let at = resolve(dir); ; at = dirname(at)) {
    if (existsSync(join(at, ".git"))) return true;
    if (dirname(at) === at) return false;
  }
}

/** True when `dir` is inside a git work tree (and git is installed). */
export async function isGitWorkTree(dir: string): Promise<boolean> {
  if (!gitMayFindRepository(dir)) return false;
  const result = await gitOutput(dir, ["rev-parse", "--is-inside-work-tree"]);
  return result?.status === 0 && result.stdout.trim() === "true";
}

/**
 * git lists the files: tracked plus untracked-but-not-ignored, NUL-separated, streamed (the paths
 * of each chunk git writes).
 */
async function* gitListing(root: string): AsyncGenerator<string[]> {
  const child = spawn("git", ["ls-files", "-co", "--exclude-standard", "-z"], {
    cwd: root,
    stdio: ["ignore", "pipe", "ignore"],
  });
  const exited = new Promise<number>((resolve) => {
    child.on("error", () => resolve(1));
    child.on("close", (status) => resolve(status ?? 1));
  });
  let rest = "";
  let previous: string | undefined;
  try {
    child.stdout.setEncoding("utf8");
    for await (const chunk of child.stdout as AsyncIterable<string>) {
      const parts = (rest + chunk).split("\0");
      rest = parts.pop() ?? "";
      const paths: string[] = [];
      for (const path of parts) {
        // An unmerged path is listed once per conflict stage, consecutively.
        if (path !== "" && path !== previous) paths.push(path);
        previous = path;
      }
      if (paths.length > 0) yield paths;
    }
  } finally {
    if (child.exitCode === null) child.kill();
  }
  if ((await exited) !== 0) throw new Error("git ls-files failed");
}

/** A symlink's verdict: undefined when its target is inside the root and so read on its own. */
function classifySymlink(rootReal: string, absolute: string, path: string): WalkEntry | undefined {
  let target: string;
  try {
    target = realpathSync(absolute);
  } catch (error) {
    return errorCode(error) === "ELOOP"
      ? skip(path, "symlink-loop", "symbolic link loop")
      : skip(path, "broken-symlink", "symbolic link to a missing target");
  }
  const inside = relative(rootReal, target);
  if (inside !== ".." && !inside.startsWith(`..${sep}`) && !isAbsolute(inside)) return undefined;
  return skip(
    path,
    "symlink-outside",
    "symbolic link to a place outside the audited root (not followed)",
  );
}

/**
 * One path from git's listing: a file to read, a skip, or nothing (an in-root symlink).
 * Synchronous, as directory listings are: a thread-pool round trip per path cost more than the
 * system call.
 */
function classifyListed(root: string, rootReal: string, path: string): WalkEntry | undefined {
  const absolute = join(root, ...path.split("/"));
  let stats: Stats;
  try {
    stats = lstatSync(absolute);
  } catch (error) {
    return errorCode(error) === "ENOENT"
      ? skip(path, "missing", "tracked by git but missing from the working tree")
      : skip(path, "unreadable", `cannot be read (${errorCode(error)})`);
  }
  if (stats.isFile()) return { kind: "file", path };
  if (stats.isSymbolicLink()) return classifySymlink(rootReal, absolute, path);
  if (stats.isDirectory()) return skip(path, "submodule", "git submodule (audit it on its own)");
  return skip(path, "not-regular", "not a regular file");
}

/**
 * The regular files and subdirectories of each directory a walk read, by root-relative path
 * ("" for the root): import resolution (src/scan/registry.ts) looks names up in them instead of
 * reading each directory again.
 */
export type DirectoryListings = Map<string, { files: Set<string>; dirs: Set<string> }>;

/** What a walk tells its caller as it goes. */
export interface WalkRecord {
  /** the directories it read (none when git lists the files) */
  listings: DirectoryListings;
  /** set before the first batch: git lists the files of a work tree (its own process) */
  gitListing?: boolean;
}

/**
 * Depth-first file-system walk, sorted per directory so reports come out in a stable order.
 * Directory listings are read synchronously: one call per directory, where the promise API's
 * thread-pool round trip per entry batch dominated audits of trees with thousands of files.
 */
function* fileSystemWalk(
  root: string,
  rootReal: string,
  listings: DirectoryListings | undefined,
): Generator<WalkEntry[]> {
  const pending: string[] = [""];
  while (pending.length > 0) {
    const dir = pending.pop() as string;
    const batch: WalkEntry[] = [];
    const names: Array<{ name: string; type: "file" | "dir" | "link" | "other" }> = [];
    try {
      for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
        const type = entry.isFile()
          ? "file"
          : entry.isDirectory()
            ? "dir"
            : entry.isSymbolicLink()
              ? "link"
              : "other";
        names.push({ name: entry.name, type });
      }
    } catch (error) {
      yield [skip(dir || ".", "unreadable", `directory cannot be read (${errorCode(error)})`)];
      continue;
    }
    if (listings !== undefined) {
      const files = new Set<string>();
      const dirs = new Set<string>();
      for (const { name, type } of names) {
        if (type === "file") files.add(name);
        else if (type === "dir") dirs.add(name);
      }
      listings.set(dir, { files, dirs });
    }
    names.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const subdirectories: string[] = [];
    for (const { name, type } of names) {
      const path = dir === "" ? name : `${dir}/${name}`;
      if (type === "dir") {
        if (name !== ".git") subdirectories.push(path);
      } else if (type === "file") {
        batch.push({ kind: "file", path });
      } else {
        const entry =
          type === "link"
            ? classifySymlink(rootReal, join(root, path), path)
            : classifyListed(root, rootReal, path);
        if (entry !== undefined) batch.push(entry);
      }
    }
    if (batch.length > 0) yield batch;
    pending.push(...subdirectories.reverse());
  }
}

/**
 * Every file under `root` as a path relative to it (forward slashes), or a Skip for what cannot be
 * listed, in batches: a directory's entries, or the paths of a chunk of git's listing. A root
 * that is a single file yields that file under its own name. How the files are listed, and the
 * directories read, go into `record` when given.
 */
export async function* walk(root: string, record?: WalkRecord): AsyncGenerator<WalkEntry[]> {
  const rootStats = await lstat(root);
  const rootReal = await realpath(root);
  if (!rootStats.isDirectory()) {
    yield [{ kind: "file", path: "" }];
    return;
  }
  // Both questions at once: each is a git process to start and wait for.
  const [inWorkTree, ignored] = gitMayFindRepository(root)
    ? await Promise.all([isGitWorkTree(root), gitOutput(root, ["check-ignore", "-q", "."])])
    : [false, undefined];
  const useGit = inWorkTree && ignored?.status === 1;
  if (record !== undefined) record.gitListing = useGit;
  if (useGit) {
    for await (const paths of gitListing(root)) {
      const batch: WalkEntry[] = [];
      for (const path of paths) {
        const entry = classifyListed(root, rootReal, path);
        if (entry !== undefined) batch.push(entry);
      }
      if (batch.length > 0) yield batch;
    }
    return;
  }
  yield* fileSystemWalk(root, rootReal, record?.listings);
}

const LINE_SEPARATOR = Buffer.from("\u2028");
const PARAGRAPH_SEPARATOR = Buffer.from("\u2029");

function hasNul(buffer: Buffer): boolean {
  return buffer.subarray(0, BINARY_SNIFF_BYTES).includes(0);
}

/**
 * UTF-8 by default, UTF-16 when a byte-order mark says so; invalid bytes become U+FFFD. Unless
 * `exact`, a UTF-8 text with characters over U+00FF comes as its one-byte stand-in (stand-in.ts),
 * written over `buffer`; `standIn` says so.
 */
function decode(buffer: Buffer, exact: boolean): { text: string; standIn?: true } | undefined {
  if (buffer[0] === 0xff && buffer[1] === 0xfe)
    return { text: new TextDecoder("utf-16le").decode(buffer) };
  if (buffer[0] === 0xfe && buffer[1] === 0xff)
    return { text: new TextDecoder("utf-16be").decode(buffer) };
  if (hasNul(buffer)) return undefined;
  // ASCII (most source files) reads the same in any of these encodings, and latin1 is a plain
  // copy where the UTF-8 decoder checks every byte again.
  if (isAscii(buffer)) return { text: buffer.toString("latin1") };
  // U+2028 and U+2029 end lines for JavaScript's patterns, which no Latin-1 character does.
  if (!exact && !buffer.includes(LINE_SEPARATOR) && !buffer.includes(PARAGRAPH_SEPARATOR)) {
    const { text, standsIn } = standInText(buffer);
    return standsIn ? { text, standIn: true } : { text };
  }
  // Buffer's decoder replaces invalid sequences like TextDecoder and is faster on large files.
  return { text: buffer.toString("utf8") };
}

export function isMinified(text: string): boolean {
  if (text.length <= MINIFIED_LINE_CHARS) return false;
  // Few newlines is the rarer condition: counting stops as soon as there are too many for the
  // average line to exceed the limit, after a small part of an ordinary file.
  const mostNewlines = text.length / MINIFIED_AVERAGE_LINE_CHARS;
  let newlines = 0;
  let longest = 0;
  let start = 0;
  for (let newline = text.indexOf("\n"); newline !== -1; newline = text.indexOf("\n", start)) {
    if (++newlines >= mostNewlines) return false;
    longest = Math.max(longest, newline - start);
    start = newline + 1;
  }
  longest = Math.max(longest, text.length - start);
  return longest > MINIFIED_LINE_CHARS;
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 && bytes % (1024 * 1024) === 0
    ? `${bytes / (1024 * 1024)} MiB`
    : `${bytes} bytes`;
}

/**
 * Reads one listed file. `path` is relative to `root` ("" when the root is the file itself, in
 * which case the file is named by its base name).
 */
export async function readSource(
  root: string,
  path: string,
  maxFileBytes = DEFAULT_MAX_FILE_BYTES,
): Promise<ReadResult> {
  return readSourceSync(root, path, maxFileBytes);
}

/**
 * readSource for callers that cannot wait (the flow analyzers reading an imported file). With
 * `standIn`, a text with characters over U+00FF may come as its one-byte stand-in (stand-in.ts;
 * the file says so): for a pass that reads it again where the characters matter.
 */
export function readSourceSync(
  root: string,
  path: string,
  maxFileBytes = DEFAULT_MAX_FILE_BYTES,
  standIn = false,
): ReadResult {
  const absolute = path === "" ? root : join(root, ...path.split("/"));
  const name = path === "" ? (root.split(/[\\/]/).pop() ?? root) : path;
  // Synchronous reads: a handful of system calls per file, where the promise API costs a
  // thread-pool round trip for each of open, stat, read and close (most of an audit's wall time
  // on trees of small files). The audit reads one file at a time either way.
  let fd: number | undefined;
  try {
    fd = openSync(absolute, "r");
    const stats = fstatSync(fd);
    if (!stats.isFile()) return skip(name, "not-regular", "not a regular file");
    if (stats.size > maxFileBytes) {
      return skip(
        name,
        "too-large",
        `${stats.size} bytes, over the ${formatBytes(maxFileBytes)} size limit`,
      );
    }
    const buffer = readAll(fd, stats.size, maxFileBytes);
    if (buffer === undefined) {
      return skip(name, "too-large", `grew over the ${formatBytes(maxFileBytes)} size limit`);
    }
    const decoded = decode(buffer, !standIn);
    if (decoded === undefined)
      return skip(name, "binary", "binary file (NUL byte in its first 8 KiB)");
    const file: SourceFile = { path: name, text: decoded.text };
    if (decoded.standIn) file.standIn = true;
    if (isMinified(decoded.text)) file.minified = true;
    return { kind: "file", file, bytes: buffer.length };
  } catch (error) {
    const code = errorCode(error);
    if (code === "ENOENT") return skip(name, "missing", "removed while the audit ran");
    if (code === "ELOOP") return skip(name, "symlink-loop", "symbolic link loop");
    return skip(name, "unreadable", `cannot be read (${code})`);
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * One read buffer per thread, grown to the largest file read (at most the size limit and a byte):
 * a file's bytes live only until they are decoded, and a fresh buffer per file made the garbage
 * collector's work a large part of an audit of many files.
 */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/**
 * The whole file from `fd` (which may have changed size since fstat), or undefined past `max`.
 * The bytes are a view of the thread's read buffer: decode them before the next read.
 */
function readAll(fd: number, size: number, max: number): Buffer | undefined {
  // A byte more than fstat said, so a file that grew since shows in the same read.
  if (scratch.length < size + 1) scratch = Buffer.allocUnsafeSlow(Math.min(size, max) + 1);
  let length = 0;
  for (;;) {
    if (length === scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.min(scratch.length * 2, max + 1));
      scratch.copy(grown, 0, 0, length);
      scratch = grown;
    }
    const read = readSync(fd, scratch, length, scratch.length - length, null);
    if (read === 0) return scratch.subarray(0, length);
    length += read;
    if (length > max) return undefined;
    // Ending where fstat said, short of the byte more asked for: the end of the file, as
    // readFileSync takes it, without a second read to see it (a system call per file).
    if (length === size && length < scratch.length) return scratch.subarray(0, length);
  }
}
