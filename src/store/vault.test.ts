/**
 * The Vault backend against a local fake of Vault's HTTP API (./testing/fake-vault.ts, which
 * cites the documents it follows: api-docs/index.mdx, secret/kv/kv-v2.mdx, the KV plugin's
 * handlers, auth/*.mdx, system/leases.mdx). Nothing here leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { defaultMetadata } from "../core/types.js";
import { runSecretStoreConformance } from "./conformance.js";
import { FakeVault } from "./testing/fake-vault.js";
import { VaultStore, VaultStoreOptionsSchema } from "./vault.js";

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
    fake.advance(29_000);
    assert.equal(await store.acquireLock("rotation/s", "host-b", 30), false);
    fake.advance(2_000);
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
