/**
 * Paths the user keeps out of an audit: a `.keywardignore` file at the audited root and
 * `--exclude` patterns, both in .gitignore syntax (read by the `ignore` package, which implements
 * git's rules: `vendor/`, `*.fixture.ts`, `!keep.ts`, `/top-level-only`). An excluded file is
 * not read, and no finding, skip or history sighting is reported for it; the report counts them.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import ignore from "ignore";
import { KeywardError } from "../core/errors.js";

export const IGNORE_FILE = ".keywardignore";

/** Tells whether a root-relative path (forward slashes) is excluded. */
export type PathFilter = (path: string) => boolean;

/**
 * The filter for `root` from its `.keywardignore` (when `root` is a directory that has one) and
 * `patterns`; undefined when neither excludes anything.
 */
export function loadExcludes(
  root: string,
  patterns: readonly string[] = [],
): PathFilter | undefined {
  const lines = [...readIgnoreFile(root), ...patterns].filter(
    (line) => line.trim() !== "" && !line.startsWith("#"),
  );
  if (lines.length === 0) return undefined;
  const matcher = ignore().add(lines);
  // The root itself ("" when the audited root is one file) is never excluded.
  return (path) => path !== "" && matcher.ignores(path);
}

function readIgnoreFile(root: string): string[] {
  let isDirectory = false;
  try {
    isDirectory = statSync(root).isDirectory();
  } catch {
    return [];
  }
  if (!isDirectory) return [];
  const path = join(root, IGNORE_FILE);
  try {
    return readFileSync(path, "utf8").split(/\r?\n/);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new KeywardError(
      "io",
      `${path} cannot be read (${(error as NodeJS.ErrnoException).code ?? "error"}).`,
      `Fix its permissions, or remove it to audit every file.`,
    );
  }
}
