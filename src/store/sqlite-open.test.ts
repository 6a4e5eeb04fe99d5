import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { openSqlite } from "./sqlite-open.js";

const require = createRequire(import.meta.url);

test("openSqlite loads the addon npm built without better-sqlite3's path search", () => {
  const dir = mkdtempSync(join(tmpdir(), "keyward-sqlite-open-"));
  try {
    const db = openSqlite(join(dir, "t.db"), { timeout: 100 });
    db.exec("CREATE TABLE t (v TEXT); INSERT INTO t VALUES ('ok')");
    assert.equal(db.prepare("SELECT v FROM t").pluck().get(), "ok");
    db.close();
    const loaded = Object.keys(require.cache);
    assert.ok(
      loaded.includes(require.resolve("better-sqlite3/build/Release/better_sqlite3.node")),
      "the addon at its known place is the one loaded",
    );
    // Each test file runs in its own process, so nothing else here could have searched.
    assert.ok(
      !loaded.some((path) => /[/\\]node_modules[/\\]bindings[/\\]/.test(path)),
      "the bindings package (the search) is never loaded",
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("openSqlite passes the caller's options through", () => {
  const dir = mkdtempSync(join(tmpdir(), "keyward-sqlite-open-"));
  try {
    assert.throws(() => openSqlite(join(dir, "missing.db"), { fileMustExist: true }), {
      code: "SQLITE_CANTOPEN",
    });
    openSqlite(join(dir, "created.db")).close();
    assert.throws(
      () => openSqlite(join(dir, "created.db"), { readonly: true }).exec("CREATE TABLE t (v)"),
      {
        code: "SQLITE_READONLY",
      },
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
