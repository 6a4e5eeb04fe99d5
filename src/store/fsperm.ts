import { chmodSync, existsSync, mkdirSync, statSync } from "node:fs";
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
