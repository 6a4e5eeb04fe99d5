/**
 * The Vault backend against a local fake of Vault's HTTP API (./testing/fake-vault.ts, which
 * cites the documents it follows: api-docs/index.mdx, secret/kv/kv-v2.mdx, the KV plugin's
 * handlers, auth/*.mdx, system/leases.mdx). Nothing here leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { defaultMetadata } from "../core/types.js";
import { encodedForms } from "../testing/cli.js";
import { runSecretStoreConformance } from "./conformance.js";
import {
  assertRaceKept,
  ChildWorker,
  expectOk,
  killLoopingWriters,
  raceRounds,
} from "./testing/child.js";
import { FakeVault } from "./testing/fake-vault.js";
import { loopSurvivor, loopValue, pairSurvivor } from "./testing/loop-value.js";
import type { VaultWorkerCommand, VaultWorkerReply } from "./testing/vault-worker.js";
import { VaultStore, VaultStoreOptionsSchema } from "./vault.js";
import { renewAt } from "./vault-leases.js";

const fakes: FakeVault[] = [];
after(async () => {
  for (const fake of fakes) await fake.close();
});

const fastRetry = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

runSecretStoreConformance("vault", async () => {
  const fake = await FakeVault.start();
  fakes.push(fake);
  fake.addToken("root-token");
  const store = await VaultStore.open(
    VaultStoreOptionsSchema.parse({}),
    { VAULT_ADDR: fake.url, VAULT_TOKEN: "root-token" },
    { retry: fastRetry },
  );
  return {
    store,
    cleanup: async () => {
      await store.close();
      await fake.close();
      fakes.splice(fakes.indexOf(fake), 1);
    },
  };
});

// ---- Vault-specific behaviour ------------------------------------------------------------------

const TOKEN = "s.test-root-token-41c7";

async function vaultFixture(options: Record<string, unknown> = {}) {
  const fake = await FakeVault.start();
  fakes.push(fake);
  fake.addToken(TOKEN);
  const store = await VaultStore.open(
    VaultStoreOptionsSchema.parse(options),
    { VAULT_ADDR: fake.url, VAULT_TOKEN: TOKEN },
    { retry: fastRetry },
  );
  return { fake, store };
}

/** The values entry of a secret's current life, as the fake stores it. */
function valuesEntry(fake: FakeVault, name: string) {
  const paths = fake.kvPaths("secret").filter((p) => p.startsWith(`keyward/values/${name}/`));
  assert.equal(paths.length, 1, `one values entry for ${name}: ${paths.join(", ")}`);
  return fake.kvKey("secret", paths[0]!)!;
}

function kvState(fake: FakeVault, name: string): Record<number, string> {
  const out: Record<number, string> = {};
  for (const [n, v] of valuesEntry(fake, name).versions) {
    out[n] = v.destroyed ? "destroyed" : v.deletion !== undefined ? "deleted" : "live";
  }
  return out;
}

describe("vault store: mapping onto KV v2", () => {
  it("writes every entry with cas, and Vault refuses a write without cas", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    await store.putVersion("s", "two", { expectedRevision: 1 });
    await store.acquireLock("l", "me", 60);
    const writes = fake.requests.filter((r) => r.method === "POST" && r.url.includes("/data/"));
    assert.ok(writes.length >= 4);
    for (const w of writes) {
      assert.equal(typeof JSON.parse(w.body).options?.cas, "number", `${w.url} without cas`);
    }
    // A blind `vault kv put` on keyward's entries is refused (cas_required on them).
    const blind = await fetch(`${fake.url}/v1/secret/data/keyward/secrets/s`, {
      method: "POST",
      headers: { "X-Vault-Token": TOKEN },
      body: JSON.stringify({ data: { value: "overwrite" } }),
    });
    assert.equal(blind.status, 400);
    assert.equal((await store.read("s")).value, "two");
    await store.close();
  });

  it("disable soft-deletes the KV version, enable undeletes it, destroy destroys it", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    await store.putVersion("s", "two", { expectedRevision: 1 });
    await store.setVersionState("s", 1, "disabled", { expectedRevision: 2, compromised: true });
    assert.deepEqual(kvState(fake, "s"), { 1: "deleted", 2: "live" });
    await store.putVersion("s", "three", { expectedRevision: 3, stages: [] });
    await store.setVersionState("s", 3, "disabled", { expectedRevision: 4 });
    await store.setVersionState("s", 3, "enabled", { expectedRevision: 5 });
    assert.deepEqual(kvState(fake, "s"), { 1: "deleted", 2: "live", 3: "live" });
    await store.destroyVersion("s", 2, 6);
    assert.deepEqual(kvState(fake, "s"), { 1: "deleted", 2: "destroyed", 3: "live" });
    assert.equal(valuesEntry(fake, "s").versions.get(2)?.data, undefined);
    await store.close();
  });

  it("an enable whose follow-up was lost is repaired by the next read", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    await store.setVersionState("s", 1, "disabled", { expectedRevision: 1 });
    // The undelete after the enable never reaches Vault (every attempt dropped).
    fake.addFault({ method: "POST", path: /^secret\/undelete\//, drop: "before", times: 10 });
    await store.setVersionState("s", 1, "enabled", { expectedRevision: 2 });
    assert.deepEqual(kvState(fake, "s"), { 1: "deleted" });
    fake.clearFaults();
    assert.equal((await store.read("s")).value, "one");
    assert.deepEqual(kvState(fake, "s"), { 1: "live" });
    await store.close();
  });

  it("delete erases the values entry (DELETE metadata) and a re-created name keeps counting", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    await store.putVersion("s", "two", { expectedRevision: 1 });
    await store.delete("s", 2);
    assert.deepEqual(
      fake.kvPaths("secret").filter((p) => p.startsWith("keyward/values/")),
      [],
    );
    const again = await store.create("s", defaultMetadata(), "three");
    assert.deepEqual(
      again.versions.map((v) => v.version),
      [3],
    );
    assert.deepEqual(kvState(fake, "s"), { 1: "live" });
    await store.close();
  });

  it("a lock expires by Vault's clock, not the caller's", async () => {
    const { fake, store } = await vaultFixture();
    assert.equal(await store.acquireLock("rotation/s", "host-a", 30), true);
    assert.equal(await store.acquireLock("rotation/s", "host-b", 30), false);
    // Vault's clock reaches keyward through the Date header, whole seconds (RFC 9110): the
    // lock is judged to within one second of its ttl.
    fake.advance(28_000);
    assert.equal(await store.acquireLock("rotation/s", "host-b", 30), false);
    fake.advance(3_000);
    assert.equal(await store.acquireLock("rotation/s", "host-b", 30), true);
    await store.close();
  });

  it("describes itself without a credential", async () => {
    const { fake, store } = await vaultFixture();
    const d = store.describe();
    assert.equal(d.backend, "vault");
    assert.equal(d.details?.mount, "secret");
    assert.equal(d.details?.address, fake.url);
    assert.ok(!JSON.stringify(d).includes(TOKEN));
    await store.close();
  });
});

describe("vault store: faults", () => {
  it("retries 503 and 412 on reads, within bounds, then fails naming the attempts", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    fake.addFault({ method: "GET", path: /^secret\/data\/keyward\/secrets\/s$/, status: 503 });
    fake.addFault({ method: "GET", path: /^secret\/data\/keyward\/secrets\/s$/, status: 412 });
    assert.equal((await store.read("s")).value, "one");
    const before = fake.requests.length;
    fake.addFault({
      method: "GET",
      path: /^secret\/data\/keyward\/secrets\/s$/,
      status: 503,
      times: 99,
    });
    await assert.rejects(store.read("s"), (e: unknown) => {
      assert.ok(isKeywardError(e) && e.code === "upstream_unavailable", String(e));
      assert.ok(e.message.includes(`${fastRetry.attempts} attempts`), e.message);
      assert.ok(e.message.includes("sealed"), e.message);
      return true;
    });
    assert.equal(fake.requests.length - before, fastRetry.attempts, "bounded retries");
    await store.close();
  });

  it("a write whose answer is lost after Vault applied it is not applied twice", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    const control = () => fake.kvKey("secret", "keyward/secrets/s")!.current;
    const controlBefore = control();
    fake.addFault({ method: "POST", path: /^secret\/data\/keyward\/values\//, drop: "after" });
    fake.addFault({ method: "POST", path: /^secret\/data\/keyward\/secrets\//, drop: "after" });
    const put = await store.putVersion("s", "two", { expectedRevision: 1 });
    assert.equal(put.version.version, 2);
    assert.equal(put.record.revision, 2);
    assert.deepEqual(kvState(fake, "s"), { 1: "live", 2: "live" }, "one KV version per value");
    assert.equal(control(), controlBefore + 1, "one control write");
    assert.equal((await store.read("s")).value, "two");
    assert.equal((await store.read("s", { stage: "previous" })).value, "one");
    await store.close();
  });

  it("a request that times out is retried", async () => {
    const { fake, store } = await vaultFixture({ timeoutSeconds: 0.2 });
    await store.create("s", defaultMetadata(), "one");
    fake.addFault({ method: "GET", path: /^secret\/data\/keyward\/values\//, delayMs: 600 });
    assert.equal((await store.read("s")).value, "one");
    fake.addFault({
      method: "GET",
      path: /^secret\/data\/keyward\/values\//,
      delayMs: 600,
      times: 9,
    });
    await assert.rejects(
      store.read("s"),
      (e: unknown) => isKeywardError(e) && e.code === "upstream_timeout" && e.message.includes("s"),
    );
    await store.close();
  });

  it("a write that keeps failing changes nothing and leaves no readable stray value", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("s", defaultMetadata(), "one");
    const before = await store.get("s");
    fake.addFault({
      method: "POST",
      path: /^secret\/data\/keyward\/secrets\//,
      status: 500,
      times: 99,
    });
    await assert.rejects(
      store.putVersion("s", "never-stored", { expectedRevision: 1 }),
      (e: unknown) => isKeywardError(e) && e.code === "upstream_unavailable",
    );
    fake.clearFaults();
    assert.deepEqual(await store.get("s"), before);
    assert.deepEqual(kvState(fake, "s"), { 1: "live", 2: "destroyed" });
    await store.close();
  });
});

// ---- several processes ----------------------------------------------------------------------

class Worker extends ChildWorker<VaultWorkerCommand, VaultWorkerReply> {
  constructor() {
    super("vault-worker");
  }
}

/** Values the crash tests' writer stores. */
const LOOP_BYTES = 16 * 1024;

describe("vault store: several processes", () => {
  it("two processes racing compare-and-set: exactly one wins each round, no lost update", async () => {
    const { fake, store } = await vaultFixture();
    await store.create("race/target", defaultMetadata());
    const workers = [new Worker(), new Worker()];
    try {
      for (const w of workers)
        expectOk(await w.request({ op: "open", address: fake.url, token: TOKEN }));
      const rounds = 12;
      await assertRaceKept(store, "race/target", await raceRounds(workers, "race/target", rounds));
      // The losers' values are destroyed in Vault, not left readable.
      const entry = valuesEntry(fake, "race/target");
      const kept = [...entry.versions.values()].filter((v) => !v.destroyed).length;
      assert.equal(kept, rounds);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await store.close();
    }
  });

  it("survives SIGKILL in the middle of putVersion: old or new value, strays erased", async () => {
    const { fake, store } = await vaultFixture();
    const name = "crash/target";
    await store.create(name, defaultMetadata());
    await killLoopingWriters({
      rounds: 4,
      maxPauseMs: 30,
      spawn: () => new Worker(),
      open: { op: "open", address: fake.url, token: TOKEN },
      loop: (firstIndex) => ({ op: "write-loop", name, firstIndex, bytes: LOOP_BYTES }),
      survivor: async (firstIndex) => {
        const { index, current } = await loopSurvivor(store, name, LOOP_BYTES);
        assert.ok(index >= firstIndex, "the current value is one this round's writer wrote");
        // The next write succeeds at once and erases anything the killed writer left. It
        // continues the loop's values, so the next round's first write has a loop value before it.
        const after = index + 1;
        const next = await store.putVersion(name, loopValue(after, LOOP_BYTES), {
          expectedRevision: current.record.revision,
        });
        const live = [...valuesEntry(fake, name).versions.values()].filter(
          (v) => !v.destroyed,
        ).length;
        const kept = next.record.versions.filter((v) => v.state !== "destroyed").length;
        assert.equal(live, kept, "no stray value left in Vault");
        return after;
      },
    });
    await store.close();
  });

  it("survives SIGKILL in the middle of putVersions: both secrets move together", async () => {
    const { fake, store } = await vaultFixture();
    const names = ["pair/access", "pair/refresh"];
    for (const n of names) await store.create(n, defaultMetadata());
    let round = 0;
    await killLoopingWriters({
      rounds: 4,
      maxPauseMs: 40,
      spawn: () => new Worker(),
      open: { op: "open", address: fake.url, token: TOKEN },
      loop: (firstIndex) => ({ op: "pair-loop", names, firstIndex, bytes: LOOP_BYTES }),
      survivor: async () => {
        const { index, reads } = await pairSurvivor(store, names, LOOP_BYTES);
        // A write left half-done blocks writers until it is stale by Vault's clock, then rolls back.
        fake.advance(62_000);
        const after = `after-${round++}`;
        const { results } = await store.putVersions(
          reads.map((r, i) => ({
            name: names[i]!,
            value: after,
            expectedRevision: r.record.revision,
          })),
        );
        for (const [i, n] of names.entries()) {
          assert.equal((await store.read(n)).value, after);
          const live = [...valuesEntry(fake, n).versions.values()].filter(
            (v) => !v.destroyed,
          ).length;
          const kept = results[i]!.record.versions.filter((v) => v.state !== "destroyed").length;
          assert.equal(live, kept, `no stray value of ${n}`);
        }
        return index;
      },
    });
    await store.close();
  });
});

// ---- no leak --------------------------------------------------------------------------------

describe("vault store: no value leaks", () => {
  it("values appear only as the value field of a values write, never in URLs, headers, control entries or errors", async () => {
    const { fake, store } = await vaultFixture();
    const canaries = [
      `CANARY-${randomBytes(18).toString("base64url")}`,
      `CANARY-${randomBytes(18).toString("base64url")}`,
      `CANARY-${randomBytes(18).toString("base64url")}`,
    ];
    const forms = canaries.flatMap((c) => encodedForms(c));
    const errors: unknown[] = [];
    const capture = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        errors.push(e);
      }
    };
    await store.create("leak/a", defaultMetadata(), canaries[0]);
    await capture(store.putVersion("leak/a", canaries[1]!, { expectedRevision: 7 }));
    await store.putVersion("leak/a", canaries[1]!, { expectedRevision: 1, stages: ["pending"] });
    await store.putVersions([
      { name: "leak/a", value: canaries[2]!, expectedRevision: 2 },
      { name: "leak/b", value: canaries[2]!, expectedRevision: 0, metadata: defaultMetadata() },
    ]);
    fake.addFault({
      method: "POST",
      path: /^secret\/data\/keyward\/values\//,
      status: 500,
      times: 99,
    });
    await capture(store.putVersion("leak/a", canaries[0]!, { expectedRevision: 3 }));
    fake.clearFaults();
    fake.addFault({
      method: "GET",
      path: /^secret\/data\/keyward\/values\//,
      drop: "after",
      times: 99,
    });
    await capture(store.read("leak/a"));
    fake.clearFaults();
    await store.setVersionState("leak/a", 1, "disabled", {
      expectedRevision: 3,
      compromised: true,
    });
    await capture(store.read("leak/a", { version: 1 }));
    await store.destroyVersion("leak/a", 2, 4);
    await store.delete("leak/b", 1);
    for (const c of canaries.slice(0, 1))
      assert.ok((await store.list()).every((r) => !JSON.stringify(r).includes(c)));
    await store.close();

    assert.ok(errors.length >= 4, `errors captured: ${errors.length}`);
    for (const e of errors) {
      const text = `${String(e)} ${JSON.stringify(isKeywardError(e) ? e.toJSON() : e)} ${(e as Error).stack}`;
      for (const f of [...forms, TOKEN])
        assert.ok(!text.includes(f), `an error reveals ${f}: ${text}`);
    }
    for (const r of fake.requests) {
      const where = `${r.method} ${r.url} ${JSON.stringify(r.headers)}`;
      for (const f of forms)
        assert.ok(!where.includes(f), `URL or header carries a value: ${where}`);
      if (!forms.some((f) => r.body.includes(f))) continue;
      // The one documented place: data.value of a write to a values entry.
      assert.equal(r.method, "POST");
      assert.match(r.url, /^\/v1\/secret\/data\/keyward\/values\//);
      const body = JSON.parse(r.body) as { data: Record<string, unknown> };
      assert.ok(canaries.includes(String(body.data.value)));
      const rest = JSON.stringify({ ...body, data: { ...body.data, value: undefined } });
      for (const f of forms) assert.ok(!rest.includes(f), `a value outside data.value: ${rest}`);
    }
    for (const path of fake.kvPaths("secret").filter((p) => !p.startsWith("keyward/values/"))) {
      const stored = JSON.stringify([...fake.kvKey("secret", path)!.versions.values()]);
      for (const f of forms) assert.ok(!stored.includes(f), `${path} holds a value`);
    }
  });
});

// ---- dynamic secrets ------------------------------------------------------------------------

describe("vault leases", () => {
  it("reads a dynamic secret with its lease, renews with Vault's duration, revokes with sync", async () => {
    const { fake, store } = await vaultFixture();
    const leases = store.leases();
    const first = await leases.read("database/creds/readonly");
    assert.equal(typeof first.data.username, "string");
    assert.ok(first.lease !== undefined, "a dynamic secret comes with a lease");
    assert.ok(first.lease.leaseId.startsWith("database/creds/readonly/"));
    assert.equal(first.lease.leaseDuration, 3600);
    assert.ok(renewAt(first.lease).getTime() < Date.parse(first.lease.expiresAt));
    const info = await leases.lookup(first.lease.leaseId);
    assert.equal(info.id, first.lease.leaseId);
    assert.equal(info.renewable, true);
    // Vault caps a renewal at the lease's max TTL (4 h in the fake): keyward keeps what Vault says.
    fake.advance(50 * 60_000);
    assert.equal((await leases.renew(first.lease.leaseId, 7200)).leaseDuration, 7200);
    fake.advance(110 * 60_000);
    const renewed = await leases.renew(first.lease.leaseId, 7200);
    // Capped by the lease's max TTL (4 h after issue: 80 minutes left), to the second.
    assert.ok(renewed.leaseDuration <= 80 * 60 && renewed.leaseDuration >= 80 * 60 - 5);
    await leases.revoke(first.lease.leaseId);
    assert.equal(fake.lease(first.lease.leaseId)?.revoked, true);
    const revokeBody = JSON.parse(
      fake.requests.findLast((r) => r.url.endsWith("/sys/leases/revoke"))!.body,
    );
    assert.deepEqual(revokeBody, { lease_id: first.lease.leaseId, sync: true });
    await assert.rejects(
      leases.renew(first.lease.leaseId),
      (e: unknown) =>
        isKeywardError(e) && e.code === "not_found" && e.message.includes(first.lease!.leaseId),
    );
    const a = await leases.read("database/creds/app");
    const b = await leases.read("database/creds/app");
    const other = await leases.read("database/creds/readonly");
    await leases.revokePrefix("database/creds/app/");
    assert.equal(fake.lease(a.lease!.leaseId)?.revoked, true);
    assert.equal(fake.lease(b.lease!.leaseId)?.revoked, true);
    assert.equal(fake.lease(other.lease!.leaseId)?.revoked, false);
    await store.close();
  });
});
