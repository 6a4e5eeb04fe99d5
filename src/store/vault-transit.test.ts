/**
 * The Vault transit master-key source against the local fake (./testing/fake-vault.ts), which
 * follows the transit API as documented: https://developer.hashicorp.com/vault/api-docs/secret/transit
 * (hashicorp/vault website/content/api-docs/secret/transit.mdx: "Encrypt data", "Decrypt data",
 * "Rewrap data"; rewrap takes no `associated_data`, hashicorp/vault#29532).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type ErrorCode, isKeywardError } from "../core/errors.js";
import { FakeVault } from "./testing/fake-vault.js";
import { VaultTransit } from "./vault-transit.js";

const TOKEN = "hvs.transit-test-token-81c2";

async function rejectsWith(action: Promise<unknown>, code: ErrorCode, mentions: string[]) {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" lacks "${m}"`);
    assert.ok(e.fix !== undefined && e.fix.length > 0, "every error carries a fix");
    assert.ok(!JSON.stringify(e.toJSON()).includes(TOKEN), "the error shows the token");
    return true;
  });
}

describe("Vault transit master-key source", () => {
  let fake: FakeVault;
  before(async () => {
    fake = await FakeVault.start();
    fake.addToken(TOKEN);
    fake.enableTransit("transit");
  });
  after(() => fake.close());

  const transit = (options: Record<string, unknown> = {}, token = TOKEN) =>
    new VaultTransit(
      { source: "vault-transit", ...options },
      { VAULT_ADDR: fake.url, VAULT_TOKEN: token },
    );

  it("wraps into a vault:v1: ciphertext and unwraps it back; the key travels only to encrypt", async () => {
    const source = transit();
    const key = randomBytes(32);
    const wrapped = await source.wrap(key);
    assert.match(wrapped.ciphertext, /^vault:v1:/);
    assert.equal(wrapped.key, "transit/keyward");
    assert.ok(!wrapped.ciphertext.includes(key.toString("base64")));
    assert.deepEqual(await source.unwrap(wrapped), key);
    // A ciphertext that is not this key's (edited, or from another transit key).
    const edited = { ...wrapped, ciphertext: `${wrapped.ciphertext.slice(0, -6)}AAAAAA` };
    await rejectsWith(source.unwrap(edited), "wrong_master_key", [
      "does not open this store",
      "Vault transit key keyward",
    ]);
    // No associated data is sent: rewrap could not pass it on (hashicorp/vault#29532).
    for (const r of fake.requests) assert.ok(!r.body.includes("associated_data"));
    // The decrypt request carries the ciphertext only; the key travelled once, to encrypt.
    const decrypts = fake.requests.filter((r) => r.url.startsWith("/v1/transit/decrypt/"));
    for (const r of decrypts) assert.ok(!r.body.includes(key.toString("base64")));
    source.close();
  });

  it("an existing store's key decrypts with the transit key named in its header, not the config's", async () => {
    const key = randomBytes(32);
    const wrapped = await transit({ key: "team" }).wrap(key);
    const opener = new VaultTransit(
      { source: "vault-transit", key: "other" },
      { VAULT_ADDR: fake.url, VAULT_TOKEN: TOKEN },
      wrapped,
    );
    assert.deepEqual(await opener.unwrap(wrapped), key);
    assert.match(opener.label, /transit key team \(mount transit\)/);
  });

  it("rewrap after a key rotation: the same key under v2; then v1 can be retired", async () => {
    const source = transit({ key: "rotating" });
    const key = randomBytes(32);
    const v1 = await source.wrap(key);
    fake.rotateTransitKey("transit", "rotating");
    const v2 = await source.rewrap(v1);
    assert.match(v2.ciphertext, /^vault:v2:/);
    assert.deepEqual(await source.unwrap(v2), key);
    fake.transitKey("transit", "rotating")!.minDecryptionVersion = 2;
    await rejectsWith(source.unwrap(v1), "no_master_key", ["too old"]);
    assert.deepEqual(await source.unwrap(v2), key);
  });

  it("a transit key that is gone, a mount that is not there, a policy that denies", async () => {
    const key = randomBytes(32);
    const wrapped = await transit({ key: "doomed" }).wrap(key);
    await rejectsWith(
      transit().unwrap({ ...wrapped, key: "transit/never-made" }),
      "wrong_master_key",
      [],
    );
    const gone = new VaultTransit(
      { source: "vault-transit" },
      { VAULT_ADDR: fake.url, VAULT_TOKEN: TOKEN },
      { ...wrapped, key: "transit/never-made" },
    );
    await rejectsWith(gone.unwrap(wrapped), "no_master_key", [
      "no transit key never-made",
      "master key source vault-transit",
    ]);
    await rejectsWith(transit({ mount: "nowhere" }).wrap(key), "no_master_key", [
      "nowhere/encrypt/keyward",
    ]);
    const limited = "hvs.only-kv-token-77aa";
    fake.addToken(limited, { allow: /^secret\// });
    await assert.rejects(transit({}, limited).wrap(key), (e: unknown) => {
      assert.ok(isKeywardError(e));
      assert.equal(e.code, "upstream_forbidden");
      assert.match(e.message, /master key source vault-transit/);
      assert.match(
        e.fix ?? "",
        /"update" on transit\/encrypt\/keyward and transit\/decrypt\/keyward/,
      );
      return true;
    });
  });

  it("a Vault that does not answer: upstream_unavailable naming the address", async () => {
    const closed = await FakeVault.start();
    const url = closed.url;
    await closed.close();
    const source = new VaultTransit(
      { source: "vault-transit", timeoutSeconds: 1 },
      { VAULT_ADDR: url, VAULT_TOKEN: TOKEN },
    );
    await rejectsWith(source.wrap(randomBytes(32)), "upstream_unavailable", [
      "master key source vault-transit",
      url,
    ]);
  });
});
