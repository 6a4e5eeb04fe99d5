import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AccessLog, currentActor } from "../accesslog/log.js";
import { isKeywardError } from "../core/errors.js";
import { defaultMetadata, type SecretRecord } from "../core/types.js";
import { Envelope } from "../crypto/envelope.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import { SqliteStore } from "../store/sqlite.js";
import type { SecretStore } from "../store/types.js";
import { migrateStores } from "./migrate.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Two real SQLite stores under one master key, and an access log beside the source. */
function stores() {
  const dir = mkdtempSync(join(tmpdir(), "keyward-migrate-"));
  dirs.push(dir);
  const { envelope, header } = Envelope.create(randomBytes(32), "raw", "env");
  const make = (name: string) => {
    const home = join(dir, name);
    ensurePrivateDir(home);
    return { home, store: SqliteStore.create(home, envelope, header) };
  };
  const from = make("from");
  const to = make("to");
  const log = AccessLog.create(from.home, envelope);
  return { from: from.store, to: to.store, log, actor: currentActor("store migrate") };
}

const value = (tag: string) => `migrate-${tag}-${randomBytes(12).toString("hex")}`;

/** A secret with every kind of version: previous, current, pending, disabled, compromised, destroyed. */
async function richSecret(store: SecretStore, name: string): Promise<Map<number, string>> {
  const values = new Map<number, string>();
  const meta = {
    ...defaultMetadata("high"),
    provider: "github",
    scope: ["repo"],
    tags: { t: "1" },
  };
  values.set(1, value("v1"));
  let record = await store.create(name, meta, values.get(1));
  const put = async (v: number, stages: ("current" | "pending")[]) => {
    values.set(v, value(`v${v}`));
    record = (
      await store.putVersion(name, values.get(v)!, { expectedRevision: record.revision, stages })
    ).record;
  };
  await put(2, ["current"]); // v1 becomes previous
  await put(3, []);
  record = await store.setVersionState(name, 3, "disabled", { expectedRevision: record.revision });
  await put(4, []);
  record = await store.setVersionState(name, 4, "disabled", {
    expectedRevision: record.revision,
    compromised: true,
  });
  await put(5, []);
  record = await store.destroyVersion(name, 5, record.revision);
  await put(6, ["pending"]);
  return values;
}

function shape(record: SecretRecord) {
  return record.versions.map((v) => ({
    version: v.version,
    state: v.state,
    stages: [...v.stages].sort(),
  }));
}

describe("migrateStores", () => {
  it("copies versions, stages, states and metadata, keeping numbers, and verifies values", async () => {
    const s = stores();
    const values = await richSecret(s.from, "github/pat");
    await s.from.create("slack/bot", defaultMetadata(), value("slack"));

    const result = await migrateStores(s);
    assert.deepEqual(
      result.secrets.map((x) => [x.name, x.outcome]),
      [
        ["github/pat", "copied"],
        ["slack/bot", "copied"],
      ],
    );
    const copied = (await s.to.get("github/pat"))!;
    assert.deepEqual(copied.metadata, (await s.from.get("github/pat"))!.metadata);
    assert.deepEqual(shape(copied), [
      { version: 1, state: "enabled", stages: ["previous"] },
      { version: 2, state: "enabled", stages: ["current"] },
      { version: 3, state: "destroyed", stages: [] },
      { version: 4, state: "destroyed", stages: [] },
      { version: 5, state: "destroyed", stages: [] },
      { version: 6, state: "enabled", stages: ["pending"] },
    ]);
    for (const v of [1, 2, 6]) {
      assert.equal((await s.to.read("github/pat", { version: v })).value, values.get(v));
    }
    const notCopied = result.secrets[0]!.notCopied;
    assert.deepEqual(
      notCopied.map((n) => n.version),
      [3, 4, 5],
    );
    assert.match(notCopied[0]!.why, /disabled: enable it in the source first/);
    assert.match(notCopied[1]!.why, /compromised/);
    // The compromised value went nowhere, and the access log holds no value.
    const entries = JSON.stringify(s.log.query({}));
    for (const v of values.values()) assert.ok(!entries.includes(v));
    assert.ok(s.log.query({ action: "migrate" }).length === 2);
  });

  it("a re-run verifies and writes nothing", async () => {
    const s = stores();
    await richSecret(s.from, "a/b");
    await migrateStores(s);
    const before = (await s.to.get("a/b"))!.revision;
    const again = await migrateStores(s);
    assert.equal(again.secrets[0]!.outcome, "verified");
    assert.equal((await s.to.get("a/b"))!.revision, before);
  });

  it("continues an interrupted copy from where it stopped", async () => {
    const s = stores();
    const values = await richSecret(s.from, "a/b");
    // The destination fails on its fourth write, as a crash or a network cut would leave it.
    let writes = 0;
    const flaky = new Proxy(s.to, {
      get(target, prop, receiver) {
        const original = Reflect.get(target, prop, receiver);
        if (typeof original !== "function") return original;
        if (!["create", "putVersion", "destroyVersion", "moveStage"].includes(String(prop)))
          return original.bind(target);
        return async (...args: unknown[]) => {
          if (++writes === 4) throw new Error("connection lost");
          return original.apply(target, args);
        };
      },
    });
    await assert.rejects(migrateStores({ ...s, to: flaky }), /connection lost/);
    assert.ok((await s.to.get("a/b"))!.versions.length < 6, "the copy stopped part-way");
    const result = await migrateStores(s);
    assert.equal(result.secrets[0]!.outcome, "copied");
    assert.equal((await s.to.read("a/b")).value, values.get(2));
    assert.equal((await s.to.read("a/b", { stage: "pending" })).value, values.get(6));
  });

  it("refuses a destination secret it did not make, leaving it untouched", async () => {
    const s = stores();
    await s.from.create("a/b", defaultMetadata(), value("src"));
    const theirs = value("theirs");
    let record = await s.to.create("a/b", defaultMetadata(), theirs);
    record = (await s.to.putVersion("a/b", value("x"), { expectedRevision: record.revision }))
      .record;
    await assert.rejects(migrateStores(s), (e: unknown) => {
      assert.ok(isKeywardError(e));
      assert.equal(e.code, "conflict");
      assert.match(e.message, /versions the source does not have \(2\)/);
      return true;
    });
    assert.equal((await s.to.get("a/b"))!.revision, record.revision);
  });

  it("a dry run writes nothing", async () => {
    const s = stores();
    await s.from.create("a/b", defaultMetadata(), value("src"));
    const result = await migrateStores({ ...s, dryRun: true });
    assert.equal(result.secrets[0]!.outcome, "planned");
    assert.equal(await s.to.get("a/b"), undefined);
  });
});
