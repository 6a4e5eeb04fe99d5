/**
 * The PostgreSQL change feed against the real server (127.0.0.1:5432, database `test`), each
 * store in a schema of its own. A killed feed connection is what a server restart looks like to
 * a client (pg_terminate_backend ends the session with SQLSTATE 57P01); the shared server itself
 * is never restarted.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { defaultMetadata } from "../core/types.js";
import { Envelope } from "../crypto/envelope.js";
import { PostgresStore } from "./postgres.js";
import { PgProxy } from "./testing/pg-proxy.js";
import {
  backendPids,
  dropSchema,
  PG_TEST_ENV,
  pgOptions,
  terminateBackends,
  testSchema,
  withAdmin,
} from "./testing/postgres.js";
import type { StoreChange } from "./types.js";

const schemas: string[] = [];
after(async () => {
  for (const schema of schemas) await dropSchema(schema);
});

async function newStore(tag: string, extra: Record<string, unknown> = {}) {
  const schema = testSchema(tag);
  schemas.push(schema);
  const master = randomBytes(32);
  const { envelope, header } = Envelope.create(master, "raw", "env");
  const store = await PostgresStore.create(pgOptions(schema, extra), PG_TEST_ENV, envelope, header);
  const open = (more: Record<string, unknown> = {}) =>
    PostgresStore.open(pgOptions(schema, { ...extra, ...more }), PG_TEST_ENV, async (h) =>
      Envelope.unlock(master, h, "test key"),
    );
  return { schema, store, open };
}

/** Collects delivered changes; `until` resolves once `n` have arrived (no wall-clock assertion). */
function collector() {
  const got: StoreChange[] = [];
  const errors: unknown[] = [];
  let waiters: Array<{ n: number; resolve: () => void }> = [];
  const onChange = (c: StoreChange) => {
    got.push(c);
    waiters = waiters.filter((w) => {
      if (got.length < w.n) return true;
      w.resolve();
      return false;
    });
  };
  const until = (n: number) =>
    got.length >= n
      ? Promise.resolve()
      : new Promise<void>((resolve) => waiters.push({ n, resolve }));
  return { got, errors, onChange, onError: (e: unknown) => errors.push(e), until };
}

async function tableChanges(schema: string): Promise<Array<[number, string, string]>> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ seq: string; secret: string; kind: string }>(
      `SELECT seq, secret, kind FROM "${schema}".changes ORDER BY seq`,
    );
    return rows.map((r) => [Number(r.seq), r.secret, r.kind] as [number, string, string]);
  });
}

const brief = (changes: StoreChange[]) =>
  changes.map((c) => [c.seq, c.secret, c.kind] as [number, string, string]);

describe("postgres change feed", () => {
  it("reports each kind of write, in seq order, once; rotation records and locks are not changes", async () => {
    const { store } = await newStore("kinds");
    const feed = store.changes();
    assert.equal(await feed.head(), 0);
    const c = collector();
    const sub = await feed.subscribe(0, c.onChange, c.onError);
    await store.create("a", defaultMetadata(), "a1");
    await store.create("b", defaultMetadata());
    await store.putVersion("a", "a2", { expectedRevision: 1, stages: ["pending"] });
    await store.moveStage("a", "current", 2, 2);
    await store.setVersionState("a", 1, "disabled", { expectedRevision: 3, compromised: true });
    await store.destroyVersion("a", 1, 4);
    await store.updateMetadata("b", defaultMetadata("high"), 1);
    await store.putVersions([
      { name: "a", value: "a3", expectedRevision: 5 },
      { name: "c", value: "c1", expectedRevision: 0, metadata: defaultMetadata() },
    ]);
    await store.putRotation({
      rotationId: "r1",
      secret: "a",
      step: "create",
      attempts: 0,
      startedAt: "2030-01-01T00:00:00.000Z",
      updatedAt: "2030-01-01T00:00:00.000Z",
    });
    await store.acquireLock("rotation/a", "me", 60);
    await store.delete("b", 2);
    await c.until(10);
    assert.deepEqual(
      c.got.map((x) => [x.secret, x.kind]),
      [
        ["a", "version"],
        ["b", "metadata"],
        ["a", "version"],
        ["a", "stage"],
        ["a", "state"],
        ["a", "state"],
        ["b", "metadata"],
        ["a", "version"],
        ["c", "version"],
        ["b", "delete"],
      ],
    );
    assert.deepEqual(
      c.got.map((x) => x.seq),
      [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
    );
    for (const x of c.got) assert.ok(!Number.isNaN(Date.parse(x.at)) && x.at.endsWith("Z"));
    assert.equal(await feed.head(), 10);
    assert.deepEqual(c.errors, []);
    await sub.close();

    // A follower resuming after seq 7 gets exactly what came after it.
    const later = collector();
    const resumed = await feed.subscribe(7, later.onChange);
    await later.until(3);
    assert.deepEqual(
      later.got.map((x) => x.seq),
      [8, 9, 10],
    );
    await resumed.close();
    await store.close();
  });

  it("concurrent writers on several handles: every committed change is delivered once, in seq order", async () => {
    const { schema, store, open } = await newStore("concurrent");
    const writers = [store, await open(), await open()];
    const c = collector();
    const sub = await store.changes().subscribe(0, c.onChange, c.onError);
    const perWriter = 25;
    await Promise.all(
      writers.map(async (w, k) => {
        const name = `w${k}`;
        let revision = (await w.create(name, defaultMetadata(), "v0")).revision;
        for (let i = 1; i < perWriter; i++) {
          revision = (await w.putVersion(name, `v${i}`, { expectedRevision: revision })).record
            .revision;
        }
      }),
    );
    const total = writers.length * perWriter;
    await c.until(total);
    const table = await tableChanges(schema);
    assert.equal(table.length, total);
    assert.deepEqual(brief(c.got), table, "exactly the committed rows, in seq order");
    // A follower starting now replays the same history.
    const late = collector();
    const replay = await store.changes().subscribe(0, late.onChange);
    await late.until(total);
    assert.deepEqual(brief(late.got), table);
    await replay.close();
    await sub.close();
    for (const w of writers) await w.close();
  });

  it("a subscriber whose connection is killed reconnects and catches up with no lost or repeated change", async () => {
    const app = `kw-feedkill-${randomBytes(4).toString("hex")}`;
    const { schema, store, open } = await newStore("feedkill", { applicationName: app });
    const writer = await open({ applicationName: `${app}-writer` });
    const c = collector();
    const sub = await store.changes().subscribe(0, c.onChange, c.onError);
    let revision = (await writer.create("s", defaultMetadata(), "v0")).revision;
    await c.until(1);
    for (let round = 1; round <= 3; round++) {
      const [pid] = await backendPids(`${app} feed`);
      assert.ok(pid !== undefined, "the feed has its own session");
      assert.equal(await terminateBackends(`${app} feed`), 1);
      // Written while the subscriber has no connection: it must find these in the table.
      for (let i = 0; i < 3; i++) {
        revision = (await writer.putVersion("s", `r${round}-${i}`, { expectedRevision: revision }))
          .record.revision;
      }
      await c.until(1 + round * 3);
      const [again] = await backendPids(`${app} feed`);
      assert.ok(again !== undefined && again !== pid, "a new session took over");
    }
    await writer.setVersionState("s", 10, "disabled", { expectedRevision: revision });
    await c.until(11);
    assert.deepEqual(brief(c.got), await tableChanges(schema));
    const lost = c.errors.filter((e) => isKeywardError(e) && e.code === "upstream_unavailable");
    assert.equal(lost.length, 3, "each lost connection is reported once");
    for (const e of lost)
      assert.match((e as Error).message, /reconnecting and catching up after change \d+/);
    await sub.close();
    await writer.close();
    await store.close();
  });

  it("a follower holds one connection: its reads ride on the feed session", async () => {
    const app = `kw-onecon-${randomBytes(4).toString("hex")}`;
    const { store: writer, open } = await newStore("onecon");
    await writer.create("s", defaultMetadata(), "v1");
    const follower = await open({ applicationName: app });
    const c = collector();
    // From 0, not head(): head() before subscribing would itself open a pool connection.
    const sub = await follower.changes().subscribe(0, c.onChange);
    assert.equal((await follower.read("s")).value, "v1");
    await writer.setVersionState("s", 1, "disabled", { expectedRevision: 1, compromised: true });
    await c.until(2);
    const record = await follower.get("s");
    assert.equal(record?.versions[0]?.compromised, true);
    await assert.rejects(
      follower.read("s"),
      (e: unknown) => isKeywardError(e) && e.code === "disabled",
    );
    assert.deepEqual(await backendPids(app), [], "no pool connection was opened");
    assert.equal((await backendPids(`${app} feed`)).length, 1);
    await sub.close();
    await follower.close();
    await writer.close();
  });

  it("pruned changes: resuming before them is a conflict; from head() it works", async () => {
    const { schema, store } = await newStore("prune");
    for (const n of ["a", "b", "c"]) await store.create(n, defaultMetadata(), "v");
    assert.equal(await store.pruneChanges(), 0, "nothing is older than the retention");
    await withAdmin((c) =>
      c.query(`UPDATE "${schema}".changes SET at = at - interval '30 days' WHERE seq <= 2`),
    );
    assert.equal(await store.pruneChanges(), 2);
    const feed = store.changes();
    assert.equal(await feed.head(), 3);
    await assert.rejects(
      feed.subscribe(0, () => {}),
      (e: unknown) => {
        assert.ok(isKeywardError(e) && e.code === "conflict");
        assert.match(e.message, /changes after 0 .* were pruned \(up to change 2\)/);
        assert.match(e.fix ?? "", /re-read every secret/);
        return true;
      },
    );
    const c = collector();
    const sub = await feed.subscribe(2, c.onChange);
    await store.create("d", defaultMetadata(), "v");
    await c.until(2);
    assert.deepEqual(
      c.got.map((x) => [x.seq, x.secret]),
      [
        [3, "c"],
        [4, "d"],
      ],
    );
    // Pruning everything leaves head() where it was.
    await withAdmin((c2) =>
      c2.query(`UPDATE "${schema}".changes SET at = at - interval '30 days'`),
    );
    assert.equal(await store.pruneChanges(), 2);
    assert.equal(await feed.head(), 4);
    await sub.close();
    await store.close();
  });

  it("a handler that throws is reported and the feed goes on", async () => {
    const { store } = await newStore("throws");
    const errors: unknown[] = [];
    const seen: number[] = [];
    let done: () => void = () => {};
    const finished = new Promise<void>((resolve) => {
      done = resolve;
    });
    const sub = await store.changes().subscribe(
      0,
      (c) => {
        seen.push(c.seq);
        if (c.seq === 1) throw new Error("handler bug");
        if (c.seq === 2) done();
      },
      (e) => errors.push(e),
    );
    await store.create("a", defaultMetadata(), "v");
    await store.create("b", defaultMetadata(), "v");
    await finished;
    assert.deepEqual(seen, [1, 2]);
    assert.equal((errors[0] as Error).message, "handler bug");
    await sub.close();
    await store.close();
  });

  it("subscribing while the server refuses connections fails with a clear error", async () => {
    const proxy = await PgProxy.start();
    try {
      const { open } = await newStore("down");
      const store = await open({ port: proxy.port });
      proxy.refuse(true);
      await assert.rejects(
        store.changes().subscribe(0, () => {}),
        (e: unknown) => {
          assert.ok(isKeywardError(e) && e.code === "upstream_unavailable", String(e));
          assert.match(e.message, new RegExp(`127\\.0\\.0\\.1:${proxy.port}/test`));
          return true;
        },
      );
      await assert.rejects(
        store.changes().subscribe(-1, () => {}),
        (e: unknown) => isKeywardError(e) && e.code === "usage",
      );
      await store.close();
    } finally {
      await proxy.close();
    }
  });
});
