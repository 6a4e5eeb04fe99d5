/**
 * File operations adopt and undo rely on: hashing, backups that only the user can read, and
 * atomic replacement (temp file in the same folder + rename) that keeps the file's mode and
 * writes through a symlink instead of replacing it.
 */
import { createHash } from "node:crypto";
import { chmodSync, readdirSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { writeNew } from "../store/fsperm.js";

export const BACKUP_MARKER = ".keyward-backup-";

export function sha256(bytes: Buffer): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** 20260827T120102123Z: sorts by time as text. */
export function backupStamp(date: Date): string {
  return date.toISOString().replace(/[-:.]/g, "");
}

const STAMP = /^\d{8}T\d{9}Z(?:-\d+)?$/;

/** Copies `bytes` to `<path>.keyward-backup-<stamp>` with mode 0600; never overwrites one. */
export function writeBackup(path: string, bytes: Buffer, date: Date): string {
  const base = `${path}${BACKUP_MARKER}${backupStamp(date)}`;
  for (let n = 1; ; n++) {
    const candidate = n === 1 ? base : `${base}-${n}`;
    try {
      writeNew(candidate, bytes, 0o600);
      chmodSync(candidate, 0o600); // in case a umask or ACL widened it
      return candidate;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
}

/** The backups of `path`, oldest first. */
export function listBackups(path: string): string[] {
  const prefix = `${basename(path)}${BACKUP_MARKER}`;
  let names: string[];
  try {
    names = readdirSync(dirname(path));
  } catch {
    return [];
  }
  return names
    .filter((name) => name.startsWith(prefix) && STAMP.test(name.slice(prefix.length)))
    .sort((a, b) => {
      const [sa = "", na = "1"] = a.slice(prefix.length).split("-");
      const [sb = "", nb = "1"] = b.slice(prefix.length).split("-");
      return sa === sb ? Number(na) - Number(nb) : sa < sb ? -1 : 1;
    })
    .map((name) => join(dirname(path), name));
}
