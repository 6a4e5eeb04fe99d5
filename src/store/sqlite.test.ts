import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import Database from "better-sqlite3";
import { type ErrorCode, isKeywardError } from "../core/errors.js";
import { defaultMetadata } from "../core/types.js";
import { Envelope, type KeyHeader } from "../crypto/envelope.js";
import {
  assertHandlesShareWrites,
  rejectsWithFix as rejectsWith,
  runSecretStoreConformance,
} from "./conformance.js";
import { ensurePrivateDir } from "./fsperm.js";
import { SCHEMA_VERSION, SqliteStore, STORE_FILE } from "./sqlite.js";
import {
  assertRaceKept,
  ChildWorker,
  expectOk,
  killLoopingWriters,
  raceRounds,
} from "./testing/child.js";
import { loopSurvivor } from "./testing/loop-value.js";
import type { WorkerCommand, WorkerReply } from "./testing/store-worker.js";

/** Values the crash tests' writer stores: large enough that a kill often lands mid-write. */
const LOOP_BYTES = 64 * 1024;

const tempDirs: string[] = [];
after(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

/** A fresh KEYWARD_HOME (mode 0700) inside a temp folder removed after the run. */
function newHome(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-sqlite-"));
  tempDirs.push(dir);
  const home = join(dir, "home");
  ensurePrivateDir(home);
  return home;
}

interface Fixture {
  home: string;
  master: Buffer;
  envelope: Envelope;
  header: KeyHeader;
  store: SqliteStore;
}

function newStore(): Fixture {
  const home = newHome();
  const master = randomBytes(32);
  const { envelope, header } = Envelope.create(master, "raw", "env");
  return { home, master, envelope, header, store: SqliteStore.create(home, envelope, header) };
}

function unlockWith(master: Buffer) {
  return async (header: KeyHeader) => Envelope.unlock(master, header, "test key");
}

/** A second, raw connection to the file: how an attacker or a bad disk would see it. */
function rawDb(home: string): Database.Database {
  return new Database(join(home, STORE_FILE));
}

function throwsWith(action: () => unknown, code: ErrorCode, ...mentions: string[]) {
  return rejectsWith(
    (async () => {
      action();
    })(),
    code,
    ...mentions,
  );
}

runSecretStoreConformance("sqlite", async () => {
  const { home, store } = newStore();
  return {
    store,
    cleanup: async () => {
      await store.close();
      rmSync(home, { recursive: true, force: true });
    },
  };
});

describe("sqlite store: files and permissions", () => {
  it("creates store.db 0600 (and its WAL files 0600) in a 0700 home", async () => {
    const { home, store } = newStore();
    await store.create("s", defaultMetadata(), "v");
    assert.equal(statSync(home).mode & 0o777, 0o700);
    for (const file of [STORE_FILE, `${STORE_FILE}-wal`, `${STORE_FILE}-shm`]) {
      assert.equal(statSync(join(home, file)).mode & 0o777, 0o600, file);
    }
    const db = rawDb(home);
    assert.equal(db.pragma("journal_mode", { simple: true }), "wal");
    assert.equal(
      db.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(),
      String(SCHEMA_VERSION),
    );
    db.close();
    await store.close();
  });

  it("refuses a store.db readable by others with unsafe_permissions", async () => {
    const { home, master, store } = newStore();
    await store.close();
    chmodSync(join(home, STORE_FILE), 0o644);
    await rejectsWith(SqliteStore.open(home, unlockWith(master)), "unsafe_permissions", STORE_FILE);
    await throwsWith(() => SqliteStore.readHeader(home), "unsafe_permissions");
  });

  it("refuses a home folder readable by others", async () => {
    const { home, master, store } = newStore();
    await store.close();
    chmodSync(home, 0o755);
    await rejectsWith(SqliteStore.open(home, unlockWith(master)), "unsafe_permissions", home);
  });

  it("create refuses an existing store; open and readHeader report a missing one", async () => {
    const { home, master, envelope, header, store } = newStore();
    await store.close();
    await throwsWith(() => SqliteStore.create(home, envelope, header), "already_initialized");
    assert.deepEqual(SqliteStore.readHeader(home), header);

    const empty = newHome();
    assert.equal(SqliteStore.readHeader(empty), undefined);
    await assert.rejects(SqliteStore.open(empty, unlockWith(master)), (e: unknown) => {
      assert.ok(isKeywardError(e) && e.code === "not_initialized");
      assert.match(e.fix ?? "", /keyward init/);
      return true;
    });
  });

  it("a closed handle refuses further use with a KeywardError", async () => {
    const { store } = newStore();
    await store.create("s", defaultMetadata(), "v");
    await store.close();
    await rejectsWith(store.read("s"), "refused", "closed");
    await rejectsWith(store.list(), "refused", "closed");
  });

  it("leaves no temporary files behind after create", async () => {
    const { home, store } = newStore();
    await store.close();
    assert.deepEqual(
      readdirSync(home).filter((f) => f.includes("tmp")),
      [],
    );
  });
});

describe("sqlite store: integrity", () => {
  it("a flipped ciphertext byte is tampered, naming the secret and version, never the value", async () => {
    const { home, master, store } = newStore();
    await store.create("github/token", defaultMetadata(), "ghp_secret_value_123");
    await store.close();
    const db = rawDb(home);
    const ct = db.prepare("SELECT ciphertext FROM secret_values").pluck().get() as Buffer;
    ct[ct.length - 1] = (ct[ct.length - 1] ?? 0) ^ 0x01;
    db.prepare("UPDATE secret_values SET ciphertext = ?").run(ct);
    db.close();

    const reopened = await SqliteStore.open(home, unlockWith(master));
    const e = await rejectsWith(
      reopened.read("github/token"),
      "tampered",
      "secret github/token version 1 failed authentication",
    );
    assert.ok(!JSON.stringify(e).includes("ghp_secret_value_123"));
    assert.ok(!(e.stack ?? "").includes("ghp_secret_value_123"));
    await reopened.close();
  });

  it("ciphertexts swapped between versions or between secrets are tampered", async () => {
    const { home, master, store } = newStore();
    await store.create("a", defaultMetadata(), "a-one");
    await store.putVersion("a", "a-two", { expectedRevision: 1 });
    await store.create("b", defaultMetadata(), "b-one");
    await store.close();

    const db = rawDb(home);
    const rows = db
      .prepare(
        "SELECT s.name, x.version, x.ciphertext FROM secret_values x JOIN secrets s ON s.id = x.secret_id ORDER BY s.name, x.version",
      )
      .all() as Array<{ name: string; version: number; ciphertext: Buffer }>;
    const [a1, a2, b1] = rows;
    assert.ok(a1 && a2 && b1);
    const setCt = db.prepare(
      "UPDATE secret_values SET ciphertext = ? WHERE version = ? AND secret_id = (SELECT id FROM secrets WHERE name = ?)",
    );
    setCt.run(a2.ciphertext, 1, "a");
    setCt.run(a1.ciphertext, 2, "a");
    setCt.run(a1.ciphertext, 1, "b");
    db.close();

    const reopened = await SqliteStore.open(home, unlockWith(master));
    await rejectsWith(reopened.read("a"), "tampered", "secret a version 2");
    await rejectsWith(reopened.read("a", { version: 1 }), "tampered", "secret a version 1");
    await rejectsWith(reopened.read("b"), "tampered", "secret b version 1");
    await reopened.close();
  });

  it("a data key moved to another secret is tampered", async () => {
    const { home, master, store } = newStore();
    await store.create("a", defaultMetadata(), "a-one");
    await store.create("b", defaultMetadata(), "b-one");
    await store.close();
    const db = rawDb(home);
    db.prepare(
      "UPDATE secrets SET data_key = (SELECT data_key FROM secrets WHERE name = 'a') WHERE name = 'b'",
    ).run();
    db.close();
    const reopened = await SqliteStore.open(home, unlockWith(master));
    assert.equal((await reopened.read("a")).value, "a-one");
    await rejectsWith(reopened.read("b"), "tampered", "secret b");
    await reopened.close();
  });

  it("the schema itself refuses a second holder of a stage", async () => {
    const { home, store } = newStore();
    await store.create("s", defaultMetadata(), "one");
    await store.putVersion("s", "two", { expectedRevision: 1, stages: ["pending"] });
    await store.close();
    const db = rawDb(home);
    assert.throws(
      () =>
        db
          .prepare(
            "INSERT INTO stages (secret_id, stage, version) SELECT id, 'current', 2 FROM secrets",
          )
          .run(),
      /UNIQUE|PRIMARY KEY/,
    );
    db.close();
  });

  it("opens a schema 1 store and migrates it to the current schema, keeping every secret", async () => {
    const { home, master, store } = newStore();
    await store.create("kept/one", defaultMetadata(), "one-v1");
    await store.putVersion("kept/one", "one-v2", { expectedRevision: 1, stages: ["pending"] });
    await store.create("kept/two", defaultMetadata("high"), "two-v1");
    await store.close();
    // Schema 2 only added tables, so dropping them and the version mark gives exactly the file
    // a schema 1 keyward wrote; the table list below pins that.
    const v1 = rawDb(home);
    v1.exec("DROP TABLE rotations; DROP TABLE locks");
    v1.prepare("UPDATE meta SET value = '1' WHERE key = 'schema_version'").run();
    const tableNames = (db: Database.Database) =>
      db.prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name").pluck().all();
    assert.deepEqual(tableNames(v1), [
      "meta",
      "retired_names",
      "secret_values",
      "secrets",
      "sqlite_sequence",
      "stages",
      "versions",
    ]);
    v1.close();

    assert.ok(SqliteStore.readHeader(home), "reading the header does not need a migration");
    await rejectsWith(SqliteStore.open(home, unlockWith(randomBytes(32))), "wrong_master_key");
    const untouched = rawDb(home);
    assert.equal(
      untouched.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(),
      "1",
      "a failed unlock leaves the file as it was",
    );
    untouched.close();

    const migrated = await SqliteStore.open(home, unlockWith(master));
    assert.equal((await migrated.read("kept/one")).value, "one-v1");
    assert.equal((await migrated.read("kept/one", { stage: "pending" })).value, "one-v2");
    assert.equal((await migrated.read("kept/two")).value, "two-v1");
    assert.equal(await migrated.getRotation("kept/one"), undefined);
    const started = await migrated.putRotation({
      rotationId: "r1",
      secret: "kept/one",
      step: "create",
      attempts: 0,
      startedAt: "2030-01-01T00:00:00.000Z",
      updatedAt: "2030-01-01T00:00:00.000Z",
    });
    assert.equal(started.revision, 1);
    assert.equal(await migrated.acquireLock("rotation/kept/one", "me", 60), true);
    await migrated.close();

    const after = rawDb(home);
    assert.equal(
      after.prepare("SELECT value FROM meta WHERE key = 'schema_version'").pluck().get(),
      String(SCHEMA_VERSION),
    );
    assert.ok(tableNames(after).includes("rotations") && tableNames(after).includes("locks"));
    after.close();
    // Opening again is a no-op: the record written after the migration is still there.
    const again = await SqliteStore.open(home, unlockWith(master));
    assert.equal((await again.getRotation("kept/one"))?.rotationId, "r1");
    await again.close();
  });

  it("refuses a store from a newer keyward", async () => {
    const { home, master, store } = newStore();
    await store.close();
    const db = rawDb(home);
    db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(
      String(SCHEMA_VERSION + 1),
    );
    db.close();
    await rejectsWith(
      SqliteStore.open(home, unlockWith(master)),
      "refused",
      `schema version ${SCHEMA_VERSION + 1}`,
    );
  });

  it("a wrong master key is wrong_master_key", async () => {
    const { home, store } = newStore();
    await store.create("s", defaultMetadata(), "v");
    await store.close();
    await rejectsWith(SqliteStore.open(home, unlockWith(randomBytes(32))), "wrong_master_key");
  });

  it("random bytes in store.db are corrupt_store naming the file, not a crash", async () => {
    const { home, master, store } = newStore();
    await store.close();
    const path = join(home, STORE_FILE);
    rmSync(`${path}-wal`, { force: true });
    rmSync(`${path}-shm`, { force: true });
    writeFileSync(path, randomBytes(8192), { mode: 0o600 });
    await rejectsWith(SqliteStore.open(home, unlockWith(master)), "corrupt_store", path);
    await throwsWith(() => SqliteStore.readHeader(home), "corrupt_store", path);
  });

  it("a SQLite database without keyward's schema is corrupt_store", async () => {
    const home = newHome();
    const path = join(home, STORE_FILE);
    writeFileSync(path, "", { mode: 0o600 });
    const db = new Database(path);
    db.exec("CREATE TABLE notes (body TEXT)");
    db.close();
    await rejectsWith(SqliteStore.open(home, unlockWith(randomBytes(32))), "corrupt_store", path);
  });

  it("destroy and delete leave no trace of the ciphertext in store.db or its WAL", async () => {
    const { home, store } = newStore();
    await store.create("s", defaultMetadata(), "destroy-me");
    await store.putVersion("s", "keep-me", { expectedRevision: 1 });
    await store.create("t", defaultMetadata(), "delete-me");
    const db = rawDb(home);
    const ciphertexts = db
      .prepare("SELECT ciphertext FROM secret_values")
      .pluck()
      .all() as Buffer[];
    db.close();
    await store.destroyVersion("s", 1, 2);
    await store.delete("t", 1);
    const files = [STORE_FILE, `${STORE_FILE}-wal`].map((f) => {
      try {
        return readFileSync(join(home, f));
      } catch {
        return Buffer.alloc(0);
      }
    });
    const found = ciphertexts.map((ct) => files.some((bytes) => bytes.includes(ct)));
    // Three values were written: v1 of s (destroyed), v2 of s (kept), v1 of t (deleted).
    assert.deepEqual(found.filter(Boolean).length, 1);
    await store.close();
  });
});

describe("sqlite store: rekey and several handles", () => {
  it("rekey rewraps every data key; the new key reads everything, the old one fails", async () => {
    const { home, master, envelope, header, store } = newStore();
    const values: Record<string, string> = { a: "alpha", "b/c": "beta", d: "delta" };
    for (const [name, value] of Object.entries(values)) {
      await store.create(name, defaultMetadata(), `${value}-old`);
      await store.putVersion(name, value, { expectedRevision: 1 });
    }
    await store.create("empty", defaultMetadata());
    const newMaster = randomBytes(32);
    const next = Envelope.create(newMaster, "raw", "env", { storeId: header.storeId });
    const count = await store.rekey(next.header, (wrapped, aad) =>
      next.envelope.wrapDataKey(envelope.unwrapDataKey(wrapped, aad), aad),
    );
    assert.equal(count, 4);
    assert.deepEqual(store.keyHeader(), next.header);
    assert.equal((await store.read("a")).value, "alpha", "cached data keys still read");
    await rejectsWith(store.create("new", defaultMetadata(), "x"), "refused");
    await store.close();

    assert.deepEqual(SqliteStore.readHeader(home), next.header);
    await rejectsWith(SqliteStore.open(home, unlockWith(master)), "wrong_master_key");
    const reopened = await SqliteStore.open(home, unlockWith(newMaster));
    for (const [name, value] of Object.entries(values)) {
      assert.equal((await reopened.read(name)).value, value);
      assert.equal((await reopened.read(name, { stage: "previous" })).value, `${value}-old`);
    }
    await reopened.create("new", defaultMetadata(), "fresh");
    assert.equal((await reopened.read("new")).value, "fresh");
    await reopened.close();
  });

  it("a rekey that meets a tampered data key changes nothing and names the secret", async () => {
    const { home, master, envelope, header, store } = newStore();
    await store.create("good", defaultMetadata(), "g");
    await store.create("bad", defaultMetadata(), "b");
    await store.close();
    const db = rawDb(home);
    db.prepare(
      "UPDATE secrets SET data_key = (SELECT data_key FROM secrets WHERE name = 'good') WHERE name = 'bad'",
    ).run();
    db.close();
    const opened = await SqliteStore.open(home, unlockWith(master));
    const next = Envelope.create(randomBytes(32), "raw", "env");
    await rejectsWith(
      opened.rekey(next.header, (w, aad) =>
        next.envelope.wrapDataKey(envelope.unwrapDataKey(w, aad), aad),
      ),
      "tampered",
      "bad",
    );
    await opened.close();
    assert.deepEqual(SqliteStore.readHeader(home), header);
    const again = await SqliteStore.open(home, unlockWith(master));
    assert.equal((await again.read("good")).value, "g");
    await again.close();
  });

  it("a handle opened before another process rekeyed refuses to create with the old key", async () => {
    const { home, master, envelope, store } = newStore();
    await store.create("a", defaultMetadata(), "v");
    const other = await SqliteStore.open(home, unlockWith(master));
    const next = Envelope.create(randomBytes(32), "raw", "env");
    await other.rekey(next.header, (w, aad) =>
      next.envelope.wrapDataKey(envelope.unwrapDataKey(w, aad), aad),
    );
    await other.close();
    await rejectsWith(store.create("b", defaultMetadata(), "v"), "wrong_master_key", "rekeyed");
    await store.close();
  });

  it("one handle sees another handle's writes, deletes and re-creates", async () => {
    const { home, master, store: a } = newStore();
    const b = await SqliteStore.open(home, unlockWith(master));
    await assertHandlesShareWrites(a, b);
    await a.close();
    await b.close();
  });
});

/** A child process running testing/store-worker. */
class Worker extends ChildWorker<WorkerCommand, WorkerReply> {
  constructor() {
    super("store-worker");
  }
}

describe("sqlite store: crashes and concurrent processes", () => {
  let fixture: Fixture;
  before(async () => {
    fixture = newStore();
    await fixture.store.close();
  });

  it("survives SIGKILL mid-write: the value read back is exactly one that was written", async () => {
    const { home, master } = fixture;
    const name = "crash/target";
    const setup = await SqliteStore.open(home, unlockWith(master));
    await setup.create(name, defaultMetadata());
    await setup.close();
    await killLoopingWriters({
      rounds: 5,
      maxPauseMs: 40,
      spawn: () => new Worker(),
      open: { op: "open", home, keyHex: master.toString("hex") },
      loop: (firstIndex) => ({ op: "write-loop", name, firstIndex, bytes: LOOP_BYTES }),
      survivor: async () => {
        const store = await SqliteStore.open(home, unlockWith(master));
        const { index } = await loopSurvivor(store, name, LOOP_BYTES);
        await store.close();
        const db = rawDb(home);
        assert.equal(db.pragma("integrity_check", { simple: true }), "ok");
        db.close();
        return index;
      },
    });
  });

  it("two processes racing compare-and-set: exactly one wins each round, no lost update", async () => {
    const { home, master } = fixture;
    const name = "race/target";
    const setup = await SqliteStore.open(home, unlockWith(master));
    await setup.create(name, defaultMetadata());
    await setup.close();

    const workers = [new Worker(), new Worker()];
    try {
      for (const w of workers) {
        expectOk(await w.request({ op: "open", home, keyHex: master.toString("hex") }));
      }
      const winners = await raceRounds(workers, name, 15);
      const store = await SqliteStore.open(home, unlockWith(master));
      await assertRaceKept(store, name, winners);
      await store.close();
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });
});
