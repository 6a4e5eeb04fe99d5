/**
 * The PostgreSQL store against the real server on 127.0.0.1:5432 (database `test`): every store
 * in a schema of its own, dropped afterwards (src/store/testing/postgres.ts).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { defaultMetadata } from "../core/types.js";
import { Envelope, type KeyHeader } from "../crypto/envelope.js";
import { encodedForms } from "../testing/cli.js";
import {
  assertHandlesShareWrites,
  rejectsWithFix as rejectsWith,
  runSecretStoreConformance,
} from "./conformance.js";
import { PostgresStore, postgresBackend, SCHEMA_VERSION } from "./postgres.js";
import {
  assertRaceKept,
  ChildWorker,
  expectOk,
  killLoopingWriters,
  raceRounds,
} from "./testing/child.js";
import { loopSurvivor } from "./testing/loop-value.js";
import { PgProxy } from "./testing/pg-proxy.js";
import {
  dropSchema,
  PG_TEST_ENV,
  pgOptions,
  terminateBackends,
  testSchema,
  withAdmin,
} from "./testing/postgres.js";
import type { WorkerCommand, WorkerReply } from "./testing/store-worker.js";

/** Values the crash test's writer stores: large enough that a kill often lands mid-write. */
const LOOP_BYTES = 64 * 1024;

const schemas: string[] = [];
after(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

interface Fixture {
  schema: string;
  master: Buffer;
  envelope: Envelope;
  header: KeyHeader;
  store: PostgresStore;
}

async function newStore(tag: string, extra: Record<string, unknown> = {}): Promise<Fixture> {
  const schema = testSchema(tag);
  schemas.push(schema);
  const master = randomBytes(32);
  const { envelope, header } = Envelope.create(master, "raw", "env");
  const store = await PostgresStore.create(pgOptions(schema, extra), PG_TEST_ENV, envelope, header);
  return { schema, master, envelope, header, store };
}

function openStore(schema: string, master: Buffer, extra: Record<string, unknown> = {}) {
  return PostgresStore.open(pgOptions(schema, extra), PG_TEST_ENV, async (header) =>
    Envelope.unlock(master, header, "test key"),
  );
}

runSecretStoreConformance("postgres", async () => {
  const schema = testSchema("conf");
  const { envelope, header } = Envelope.create(randomBytes(32), "raw", "env");
  const store = await PostgresStore.create(pgOptions(schema), PG_TEST_ENV, envelope, header);
  return {
    store,
    cleanup: async () => {
      await store.close();
      await dropSchema(schema);
    },
  };
});

describe("postgres store: init, open and migrations", () => {
  it("init builds the schema at the current version; a second init is refused", async () => {
    const { schema, envelope, header, store } = await newStore("init");
    await store.close();
    const tables = await withAdmin(async (c) => {
      const { rows } = await c.query<{ t: string }>(
        "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 ORDER BY 1",
        [schema],
      );
      const version = await c.query(
        `SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`,
      );
      return { names: rows.map((r) => r.t), version: version.rows[0]?.value };
    });
    assert.deepEqual(tables.names, [
      "changes",
      "locks",
      "meta",
      "retired_names",
      "rotations",
      "secret_values",
      "secrets",
      "stages",
      "versions",
    ]);
    assert.equal(tables.version, String(SCHEMA_VERSION));
    await rejectsWith(
      PostgresStore.create(pgOptions(schema), PG_TEST_ENV, envelope, header),
      "already_initialized",
      schema,
    );
  });

  it("init refuses a schema that holds other tables, and leaves them alone", async () => {
    const schema = testSchema("foreign");
    schemas.push(schema);
    await withAdmin(async (c) => {
      await c.query(`CREATE SCHEMA "${schema}"`);
      await c.query(`CREATE TABLE "${schema}".notes (body text)`);
    });
    const { envelope, header } = Envelope.create(randomBytes(32), "raw", "env");
    await rejectsWith(
      PostgresStore.create(pgOptions(schema), PG_TEST_ENV, envelope, header),
      "refused",
      schema,
    );
    const left = await withAdmin(
      async (c) =>
        (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1", [schema]))
          .rows[0]?.n,
    );
    assert.equal(left, 1);
  });

  it("two inits racing on one schema: exactly one succeeds", async () => {
    const schema = testSchema("initrace");
    schemas.push(schema);
    const inits = await Promise.allSettled(
      [0, 1].map(() => {
        const { envelope, header } = Envelope.create(randomBytes(32), "raw", "env");
        return PostgresStore.create(pgOptions(schema), PG_TEST_ENV, envelope, header);
      }),
    );
    const won = inits.filter((r) => r.status === "fulfilled");
    assert.equal(won.length, 1);
    const lost = inits.find((r) => r.status === "rejected");
    assert.ok(lost && isKeywardError(lost.reason) && lost.reason.code === "already_initialized");
    for (const r of won) await r.value.close();
  });

  it("open without a store is not_initialized naming the schema and database", async () => {
    await rejectsWith(
      openStore(testSchema("missing"), randomBytes(32)),
      "not_initialized",
      "kwt_missing_",
      "postgres://postgres@127.0.0.1:5432/test",
    );
  });

  it("a wrong master key is wrong_master_key; a closed handle refuses further use", async () => {
    const { schema, master, store } = await newStore("wrongkey");
    await store.create("s", defaultMetadata(), "v");
    await store.close();
    await rejectsWith(openStore(schema, randomBytes(32)), "wrong_master_key");
    const opened = await openStore(schema, master);
    await opened.close();
    await rejectsWith(opened.read("s"), "refused", "closed");
    await rejectsWith(opened.list(), "refused", "closed");
  });

  it("migrates a schema 1 store to the current schema after the key unlocks, keeping every secret", async () => {
    const { schema, master, store } = await newStore("migrate");
    await store.create("kept/one", defaultMetadata(), "one-v1");
    await store.putVersion("kept/one", "one-v2", { expectedRevision: 1, stages: ["pending"] });
    await store.close();
    await downgradeToSchema1(schema);

    await rejectsWith(openStore(schema, randomBytes(32)), "wrong_master_key");
    assert.equal(await schemaVersion(schema), "1", "a failed unlock leaves the schema as it was");

    const migrated = await openStore(schema, master);
    assert.equal(await schemaVersion(schema), String(SCHEMA_VERSION));
    assert.equal((await migrated.read("kept/one")).value, "one-v1");
    assert.equal((await migrated.read("kept/one", { stage: "pending" })).value, "one-v2");
    assert.equal(await migrated.acquireLock("rotation/kept/one", "me", 60), true);
    const started = await migrated.putRotation({
      rotationId: "r1",
      secret: "kept/one",
      step: "create",
      attempts: 0,
      startedAt: "2030-01-01T00:00:00.000Z",
      updatedAt: "2030-01-01T00:00:00.000Z",
    });
    assert.equal(started.revision, 1);
    assert.equal(
      await migrated.changes().head(),
      0,
      "changes before the feed existed are not invented",
    );
    await migrated.close();
    const again = await openStore(schema, master);
    assert.equal((await again.getRotation("kept/one"))?.rotationId, "r1");
    await again.close();
  });

  it("refuses a store from a newer keyward", async () => {
    const { schema, master, store } = await newStore("newer");
    await store.close();
    await withAdmin((c) =>
      c.query(`UPDATE "${schema}".meta SET value = $1 WHERE key = 'schema_version'`, [
        String(SCHEMA_VERSION + 1),
      ]),
    );
    await rejectsWith(openStore(schema, master), "refused", `schema version ${SCHEMA_VERSION + 1}`);
  });

  it("a schema with a broken key header is corrupt_store", async () => {
    const { schema, master, store } = await newStore("corrupt");
    await store.close();
    await withAdmin((c) =>
      c.query(`UPDATE "${schema}".meta SET value = '{"v":9}' WHERE key = 'key_header'`),
    );
    await rejectsWith(openStore(schema, master), "corrupt_store", schema);
  });

  it("the backend describes itself without a credential", async () => {
    const { schema, store } = await newStore("describe", { applicationName: "kw-describe" });
    const d = store.describe();
    assert.equal(d.backend, "postgres");
    assert.equal(d.details?.schema, schema);
    assert.equal(d.details?.applicationName, "kw-describe");
    assert.match(d.location, /^postgres:\/\/postgres@127\.0\.0\.1:5432\/test/);
    await store.close();
    const facts = postgresBackend.facts(pgOptions(schema, { passwordEnv: "KW_DB_PW" }), {
      env: { KW_DB_PW: "hunter2-not-shown", HOME: "/nonexistent" },
    });
    assert.match(facts.auth, /password from KW_DB_PW \(passwordEnv\)/);
    assert.ok(!JSON.stringify(facts).includes("hunter2-not-shown"));
    assert.equal(facts.grade, "B");
    assert.match(facts.why ?? "", /master key sits on each host/);
  });
});

describe("postgres store: roles", () => {
  it("a host whose role may only SELECT opens, follows and reads; its writes are upstream_forbidden", async () => {
    const { schema, master, store: admin } = await newStore("reader");
    await admin.create("s", defaultMetadata(), "readable");
    // Roles are cluster-wide: a random name, dropped at the end.
    const role = `kwt_reader_${randomBytes(5).toString("hex")}`;
    await withAdmin(async (c) => {
      await c.query(`CREATE ROLE "${role}" LOGIN`);
      await c.query(`GRANT USAGE ON SCHEMA "${schema}" TO "${role}"`);
      await c.query(`GRANT SELECT ON ALL TABLES IN SCHEMA "${schema}" TO "${role}"`);
    });
    try {
      const reader = await openStore(schema, master, { user: role });
      const seen: string[] = [];
      let heard: () => void = () => {};
      const next = new Promise<void>((resolve) => {
        heard = resolve;
      });
      const sub = await reader.changes().subscribe(0, (c) => {
        seen.push(c.kind);
        if (seen.length === 2) heard();
      });
      assert.equal((await reader.read("s")).value, "readable");
      await admin.setVersionState("s", 1, "disabled", { expectedRevision: 1, compromised: true });
      await next;
      assert.deepEqual(seen, ["version", "state"]);
      await rejectsWith(reader.read("s"), "disabled");
      await rejectsWith(
        reader.putVersion("s", "x", { expectedRevision: 2 }),
        "upstream_forbidden",
        `user ${role} lacks a privilege on schema ${schema}`,
      );
      await sub.close();
      await reader.close();
    } finally {
      await admin.close();
      await withAdmin(async (c) => {
        await c.query(`DROP OWNED BY "${role}"`);
        await c.query(`DROP ROLE "${role}"`);
      });
    }
  });
});

describe("postgres store: integrity", () => {
  it("a flipped ciphertext byte is tampered, naming secret and version, never the value", async () => {
    const { schema, master, store } = await newStore("flip");
    await store.create("github/token", defaultMetadata(), "ghp_secret_value_123");
    await store.close();
    await withAdmin((c) =>
      c.query(
        `UPDATE "${schema}".secret_values
         SET ciphertext = overlay(ciphertext placing '\\xff'::bytea from length(ciphertext))`,
      ),
    );
    const reopened = await openStore(schema, master);
    const e = await rejectsWith(
      reopened.read("github/token"),
      "tampered",
      "secret github/token version 1 failed authentication",
    );
    assert.ok(!JSON.stringify(e).includes("ghp_secret_value_123"));
    assert.ok(!(e.stack ?? "").includes("ghp_secret_value_123"));
    await reopened.close();
  });

  it("ciphertexts swapped between versions or secrets, and a moved data key, are tampered", async () => {
    const { schema, master, store } = await newStore("swap");
    await store.create("a", defaultMetadata(), "a-one");
    await store.putVersion("a", "a-two", { expectedRevision: 1 });
    await store.create("b", defaultMetadata(), "b-one");
    await store.create("c", defaultMetadata(), "c-one");
    await store.close();
    await withAdmin(async (c) => {
      const s = `"${schema}"`;
      const id = (name: string) => `(SELECT id FROM ${s}.secrets WHERE name = '${name}')`;
      const ct = (name: string, v: number) =>
        `(SELECT ciphertext FROM ${s}.secret_values WHERE secret_id = ${id(name)} AND version = ${v})`;
      await c.query(
        `UPDATE ${s}.secret_values SET ciphertext = ${ct("a", 1)} WHERE secret_id = ${id("b")}`,
      );
      await c.query(
        `UPDATE ${s}.secret_values SET ciphertext = ${ct("a", 2)} WHERE secret_id = ${id("a")} AND version = 1`,
      );
      await c.query(
        `UPDATE ${s}.secrets SET data_key = (SELECT data_key FROM ${s}.secrets WHERE name = 'a') WHERE name = 'c'`,
      );
    });
    const reopened = await openStore(schema, master);
    assert.equal((await reopened.read("a")).value, "a-two");
    await rejectsWith(reopened.read("a", { version: 1 }), "tampered", "secret a version 1");
    await rejectsWith(reopened.read("b"), "tampered", "secret b version 1");
    await rejectsWith(reopened.read("c"), "tampered", "data key of secret c");
    await reopened.close();
  });

  it("the schema itself refuses a second holder of a stage", async () => {
    const { schema, store } = await newStore("stagepk");
    await store.create("s", defaultMetadata(), "one");
    await store.putVersion("s", "two", { expectedRevision: 1, stages: ["pending"] });
    await store.close();
    await assert.rejects(
      withAdmin((c) =>
        c.query(
          `INSERT INTO "${schema}".stages (secret_id, stage, version) SELECT id, 'current', 2 FROM "${schema}".secrets`,
        ),
      ),
      (e: unknown) => (e as { code?: string }).code === "23505",
    );
  });

  it("lock expiry is judged by the database clock", async () => {
    const { schema, store } = await newStore("lockclock");
    assert.equal(await store.acquireLock("rotation/x", "a", 3600), true);
    // Expire it in the database: a host with a fast or slow clock sees the same thing.
    await withAdmin((c) =>
      c.query(`UPDATE "${schema}".locks SET expires_at = now() - interval '1 second'`),
    );
    assert.equal(await store.acquireLock("rotation/x", "b", 60), true);
    assert.equal(await store.acquireLock("rotation/x", "a", 60), false);
    await store.close();
  });
});

describe("postgres store: rekey and several handles", () => {
  it("rekey rewraps every data key in one transaction; the old key no longer opens the store", async () => {
    const { schema, master, envelope, header, store } = await newStore("rekey");
    const values: Record<string, string> = { a: "alpha", "b/c": "beta" };
    for (const [name, value] of Object.entries(values)) {
      await store.create(name, defaultMetadata(), `${value}-old`);
      await store.putVersion(name, value, { expectedRevision: 1 });
    }
    const other = await openStore(schema, master);
    const newMaster = randomBytes(32);
    const next = Envelope.create(newMaster, "raw", "env", { storeId: header.storeId });
    const count = await store.rekey(next.header, (wrapped, aad) =>
      next.envelope.wrapDataKey(envelope.unwrapDataKey(wrapped, aad), aad),
    );
    assert.equal(count, 2);
    await rejectsWith(store.create("new", defaultMetadata(), "x"), "refused");
    await rejectsWith(
      other.create("new", defaultMetadata(), "x"),
      "wrong_master_key",
      "rekeyed by another process",
    );
    await other.close();
    await store.close();
    await rejectsWith(openStore(schema, master), "wrong_master_key");
    const reopened = await openStore(schema, newMaster);
    for (const [name, value] of Object.entries(values)) {
      assert.equal((await reopened.read(name)).value, value);
      assert.equal((await reopened.read(name, { stage: "previous" })).value, `${value}-old`);
    }
    await reopened.close();
  });

  it("one handle sees another handle's writes, deletes and re-creates at once", async () => {
    const { schema, master, store: a } = await newStore("handles");
    const b = await openStore(schema, master);
    await assertHandlesShareWrites(a, b);
    await a.close();
    await b.close();
  });
});

describe("postgres store: connection faults", () => {
  it("a write whose COMMIT reply is lost is reported done and applied once", async () => {
    const proxy = await PgProxy.start();
    try {
      const { schema, master, store: direct } = await newStore("commitlost");
      await direct.create("s", defaultMetadata(), "one");
      await direct.close();
      const store = await openStore(schema, master, { port: proxy.port, host: "127.0.0.1" });
      proxy.failNextCommit("drop-reply");
      const put = await store.putVersion("s", "two", { expectedRevision: 1 });
      assert.equal(proxy.faults["drop-reply"], 1, "the fault fired");
      assert.equal(put.version.version, 2);
      const record = await store.get("s");
      assert.equal(record?.revision, 2);
      assert.deepEqual(
        record?.versions.map((v) => v.version),
        [1, 2],
        "written once, not retried into a second version",
      );
      assert.equal((await store.read("s")).value, "two");
      await store.close();
    } finally {
      await proxy.close();
    }
  });

  it("a write whose connection drops before COMMIT is rolled back and retried once", async () => {
    const proxy = await PgProxy.start();
    try {
      const { schema, master, store: direct } = await newStore("commitcut");
      await direct.create("s", defaultMetadata(), "one");
      await direct.close();
      const store = await openStore(schema, master, { port: proxy.port, host: "127.0.0.1" });
      proxy.failNextCommit("drop-before");
      const put = await store.putVersion("s", "two", { expectedRevision: 1 });
      assert.equal(proxy.faults["drop-before"], 1);
      assert.equal(put.version.version, 2);
      assert.deepEqual(
        (await store.get("s"))?.versions.map((v) => v.version),
        [1, 2],
      );
      const changes = await withAdmin(async (c) =>
        (await c.query(`SELECT kind FROM "${schema}".changes ORDER BY seq`)).rows.map(
          (r) => r.kind,
        ),
      );
      assert.deepEqual(changes, ["version", "version"], "one change row per committed write");
      await store.close();
    } finally {
      await proxy.close();
    }
  });

  it("a server restart mid-run (every connection cut, refused for a while) is ridden out", async () => {
    const proxy = await PgProxy.start();
    try {
      const { schema, master, store: direct } = await newStore("restart");
      await direct.create("s", defaultMetadata(), "one");
      await direct.close();
      const store = await openStore(schema, master, { port: proxy.port, host: "127.0.0.1" });
      assert.equal((await store.read("s")).value, "one");
      proxy.cutAll();
      proxy.refuse(true);
      setTimeout(() => proxy.refuse(false), 150);
      const put = await store.putVersion("s", "two", { expectedRevision: 1 });
      assert.equal(put.version.version, 2);
      assert.equal((await store.read("s")).value, "two");
      await store.close();
    } finally {
      await proxy.close();
    }
  });

  it("pool connections terminated by the server (pg_terminate_backend) are replaced", async () => {
    const app = `kw-term-${randomBytes(4).toString("hex")}`;
    const { store } = await newStore("terminate", { applicationName: app });
    await store.create("s", defaultMetadata(), "one");
    assert.ok((await terminateBackends(app)) >= 1);
    assert.equal((await store.read("s")).value, "one");
    await store.putVersion("s", "two", { expectedRevision: 1 });
    assert.equal((await store.read("s")).value, "two");
    await store.close();
  });
});

describe("postgres store: no value reaches the database in clear", () => {
  it("no table, notification payload or session query text holds a canary or its encodings", async () => {
    const app = `kw-noleak-${randomBytes(4).toString("hex")}`;
    const { schema, store } = await newStore("noleak", { applicationName: app });
    const canaries = Array.from(
      { length: 4 },
      () => `CANARY-${randomBytes(18).toString("base64url")}`,
    );
    const [c0, c1, c2, c3] = canaries as [string, string, string, string];
    const payloads: string[] = [];
    const feed = await store.changes().subscribe(0, () => {});
    await withAdmin(async (listener) => {
      listener.on("notification", (n) => payloads.push(`${n.channel} ${n.payload ?? ""}`));
      await listener.query(`LISTEN "${schema}.changes"`);
      await store.create("leak/one", defaultMetadata(), c0);
      await store.putVersion("leak/one", c1, { expectedRevision: 1, stages: ["pending"] });
      await store.putVersions([
        { name: "leak/one", value: c2, expectedRevision: 2 },
        { name: "leak/two", value: c3, expectedRevision: 0, metadata: defaultMetadata() },
      ]);
      await store.setVersionState("leak/one", 3, "disabled", {
        expectedRevision: 3,
        compromised: true,
      });
      await rejectsWith(store.read("leak/one", { version: 3 }), "disabled");
      await rejectsWith(store.putVersion("leak/one", c0, { expectedRevision: 1 }), "conflict");
      await store.destroyVersion("leak/one", 1, 4);
      // Read back through the store: pg_stat_activity keeps each session's last query text.
      assert.equal((await store.read("leak/one", { version: 2 })).value, c1);
      assert.equal((await store.read("leak/two")).value, c3);
      await new Promise((resolve) => setTimeout(resolve, 100));
    });
    const dump = await withAdmin(async (c) => {
      const { rows: tables } = await c.query<{ t: string }>(
        "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1",
        [schema],
      );
      const parts: string[] = [];
      for (const { t } of tables) {
        const { rows } = await c.query(`SELECT x::text AS row FROM "${schema}"."${t}" x`);
        parts.push(...rows.map((r) => String(r.row)));
      }
      const activity = await c.query("SELECT coalesce(query, '') AS q FROM pg_stat_activity");
      parts.push(...activity.rows.map((r) => String(r.q)));
      return parts.join("\n");
    });
    assert.ok(dump.includes("leak/one"), "the dump covers the store's tables");
    await feed.close();
    await store.close();
    for (const canary of canaries) {
      for (const form of encodedForms(canary)) {
        assert.ok(!dump.includes(form), "a canary (or an encoding of it) is in the database");
        assert.ok(!payloads.join("\n").includes(form), "a canary is in a NOTIFY payload");
      }
    }
    assert.ok(payloads.length >= 5, "the listener heard the writes");
    for (const p of payloads)
      assert.match(p, /^\S+\.changes \d+ (version|stage|state|metadata|delete)$/);
  });
});

/** A child process running testing/store-worker. */
class Worker extends ChildWorker<WorkerCommand, WorkerReply> {
  constructor() {
    super("store-worker");
  }
}

describe("postgres store: crashes and concurrent processes", () => {
  it("survives SIGKILL mid-write: what is read back is exactly one value written, with its change row", async () => {
    const { schema, master, store: setup } = await newStore("sigkill");
    const name = "crash/target";
    await setup.create(name, defaultMetadata());
    await setup.close();
    await killLoopingWriters({
      rounds: 5,
      maxPauseMs: 40,
      spawn: () => new Worker(),
      open: { op: "open-postgres", options: pgOptions(schema), keyHex: master.toString("hex") },
      loop: (firstIndex) => ({ op: "write-loop", name, firstIndex, bytes: LOOP_BYTES }),
      survivor: async () => {
        const store = await openStore(schema, master);
        const { index, current } = await loopSurvivor(store, name, LOOP_BYTES);
        await store.close();
        const changes = await withAdmin(
          async (c) =>
            (
              await c.query<{ n: number }>(
                `SELECT count(*)::int AS n FROM "${schema}".changes WHERE secret = $1 AND kind = 'version'`,
                [name],
              )
            ).rows[0]?.n,
        );
        assert.equal(
          changes,
          current.record.versions.length,
          "one change row per committed version, no more",
        );
        return index;
      },
    });
  });

  it("two processes racing compare-and-set: exactly one wins each round, no lost update", async () => {
    const { schema, master, store: setup } = await newStore("race");
    const name = "race/target";
    await setup.create(name, defaultMetadata());
    await setup.close();
    const workers = [new Worker(), new Worker()];
    try {
      for (const w of workers) {
        expectOk(
          await w.request({
            op: "open-postgres",
            options: pgOptions(schema),
            keyHex: master.toString("hex"),
          }),
        );
      }
      const winners = await raceRounds(workers, name, 15);
      const store = await openStore(schema, master);
      await assertRaceKept(store, name, winners);
      await store.close();
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  });

  it("two processes opening a schema 1 store at once migrate it once", async () => {
    const { schema, master, store: setup } = await newStore("migrace");
    await setup.create("kept", defaultMetadata(), "value");
    await setup.close();
    for (let round = 0; round < 3; round++) {
      await downgradeToSchema1(schema);
      const workers = [new Worker(), new Worker()];
      try {
        const replies = await Promise.all(
          workers.map((w) =>
            w.request({
              op: "open-postgres",
              options: pgOptions(schema),
              keyHex: master.toString("hex"),
            }),
          ),
        );
        for (const r of replies) expectOk(r);
      } finally {
        await Promise.all(workers.map((w) => w.stop()));
      }
      assert.equal(await schemaVersion(schema), String(SCHEMA_VERSION));
    }
    const store = await openStore(schema, master);
    assert.equal((await store.read("kept")).value, "value");
    await store.close();
  });
});

/** Turns a store back into what a schema 1 keyward wrote: migrations 2 and 3 only added tables. */
async function downgradeToSchema1(schema: string): Promise<void> {
  await withAdmin(async (c) => {
    const s = `"${schema}"`;
    await c.query(`DROP TABLE ${s}.changes, ${s}.rotations, ${s}.locks`);
    await c.query(`DELETE FROM ${s}.meta WHERE key = 'changes_pruned_through'`);
    await c.query(`UPDATE ${s}.meta SET value = '1' WHERE key = 'schema_version'`);
  });
}

async function schemaVersion(schema: string): Promise<string | undefined> {
  return withAdmin(
    async (c) =>
      (await c.query(`SELECT value FROM "${schema}".meta WHERE key = 'schema_version'`)).rows[0]
        ?.value,
  );
}
