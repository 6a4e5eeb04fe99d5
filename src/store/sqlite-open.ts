import { createRequire } from "node:module";
import type BetterSqlite3 from "better-sqlite3";

const requireCjs = createRequire(import.meta.url);

/**
 * better-sqlite3 is CommonJS. Imported from ESM, Node first parses its sources for their export
 * names; required, it skips that, which is a few ms of every command's start.
 */
const Database: typeof BetterSqlite3 = requireCjs("better-sqlite3");

export const SqliteError = Database.SqliteError;

let addonPath: string | null | undefined;

/**
 * better-sqlite3's own lookup of its addon (the `bindings` package) probes a dozen paths on
 * every start; `keyward revoke` pays it before the store can refuse a leaked key. npm builds
 * the addon at one known place inside the package: pass that path when it is there, and let
 * better-sqlite3 search only when it is not (a prebuilt binary elsewhere).
 */
function addon(): string | undefined {
  if (addonPath === undefined) {
    try {
      addonPath = requireCjs.resolve("better-sqlite3/build/Release/better_sqlite3.node");
    } catch {
      addonPath = null;
    }
  }
  return addonPath ?? undefined;
}

/** `new Database(path, options)` with the addon found without a search. */
export function openSqlite(
  path: string,
  options: BetterSqlite3.Options = {},
): BetterSqlite3.Database {
  const nativeBinding = addon();
  return new Database(path, nativeBinding === undefined ? options : { ...options, nativeBinding });
}
