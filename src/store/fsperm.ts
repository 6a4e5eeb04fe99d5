import { randomBytes } from "node:crypto";
import {
  chmodSync,
  closeSync,
  existsSync,
  fsyncSync,
  mkdirSync,
  openSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join } from "node:path";
import { KeywardError } from "../core/errors.js";

/**
 * Owner-only permissions for everything under KEYWARD_HOME: the folder 0700, files 0600.
 * A store that others can read is refused rather than silently fixed, because the user
 * should know their ciphertexts and access log were exposed.
 */
export function ensurePrivateDir(path: string): void {
  if (!existsSync(path)) {
    mkdirSync(path, { recursive: true, mode: 0o700 });
    chmodSync(path, 0o700);
    return;
  }
  assertPrivate(path, "folder", "700");
}

export function assertPrivateDir(path: string): void {
  assertPrivate(path, "folder", "700");
}

export function assertPrivateFile(path: string): void {
  assertPrivate(path, "file", "600");
}

function assertPrivate(path: string, what: string, wanted: string): void {
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new KeywardError(
      "unsafe_permissions",
      `the keyward ${what} ${path} is readable or writable by group or others (mode ${mode.toString(8)})`,
      `chmod ${wanted} ${path}${what === "folder" ? ` && chmod 600 ${path}/*` : ""}, then rotate any secret you think was read`,
    );
  }
}

/** Creates `path` (never overwriting), writes and fsyncs it. */
export function writeNew(path: string, bytes: Buffer | string, mode: number): void {
  const fd = openSync(path, "wx", mode);
  try {
    writeFileSync(fd, bytes);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Replaces the file's content atomically: a temp file beside the real file (so rename stays
 * on one filesystem), the same mode, fsync, rename. Through a symlink, the target is replaced.
 */
export function replaceFileAtomic(
  path: string,
  content: Buffer | string,
  fallbackMode = 0o600,
): void {
  let target = path;
  let mode = fallbackMode;
  try {
    target = realpathSync(path);
    mode = statSync(target).mode & 0o7777;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
  }
  const temp = join(
    dirname(target),
    `.${basename(target)}.keyward-${process.pid}-${randomBytes(4).toString("hex")}.tmp`,
  );
  try {
    writeNew(temp, content, mode);
    chmodSync(temp, mode);
    renameSync(temp, target);
  } catch (e) {
    try {
      unlinkSync(temp);
    } catch {
      // already renamed or never created
    }
    throw e;
  }
}
