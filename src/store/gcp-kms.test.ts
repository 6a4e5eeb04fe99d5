/**
 * The GCP Cloud KMS master-key source through the official @google-cloud/kms (REST mode),
 * unchanged, against the local fake (./testing/fake-gcp-kms.ts: Cloud KMS REST reference,
 * cryptoKeys.encrypt and cryptoKeys.decrypt, and the data-integrity guidelines). Credentials are
 * Application Default Credentials: workload identity federation through the Secret Manager
 * fake's STS (./testing/gcp-env.ts). Nothing leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type ErrorCode, isKeywardError } from "../core/errors.js";
import { GcpKms } from "./gcp-kms.js";
import { FakeGcpKms } from "./testing/fake-gcp-kms.js";
import { FakeGcpSecretManager } from "./testing/fake-gcp-secret-manager.js";
import { type GcpTestEnv, gcpTestEnv } from "./testing/gcp-env.js";

async function rejectsWith(action: Promise<unknown>, code: ErrorCode, mentions: RegExp[]) {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const m of mentions) assert.match(`${e.message} ${e.fix}`, m);
    assert.ok(e.fix !== undefined && e.fix.length > 0, "every error carries a fix");
    assert.ok(!/ya29\./.test(JSON.stringify(e.toJSON())), "the error shows an access token");
    return true;
  });
}

describe("GCP Cloud KMS master-key source", () => {
  let sts: FakeGcpSecretManager;
  let fake: FakeGcpKms;
  let adc: GcpTestEnv;
  before(async () => {
    sts = await FakeGcpSecretManager.start();
    fake = await FakeGcpKms.start(sts);
    adc = gcpTestEnv(sts);
  });
  after(async () => {
    adc.cleanup();
    await fake.close();
    await sts.close();
  });

  const kms = (keyName?: string, env: NodeJS.ProcessEnv = adc.env) =>
    new GcpKms(
      { source: "gcp-kms", endpoint: fake.origin, ...(keyName === undefined ? {} : { keyName }) },
      env,
    );

  it("encrypts with the key's primary version, keeps the CryptoKey name, decrypts only for this store", async () => {
    const name = fake.createKey("keyward", "master");
    const source = kms(name);
    assert.match(
      source.label,
      /^Cloud KMS key projects\/keyward-test\/locations\/global\/keyRings\/keyward\/cryptoKeys\/master at http:\/\/127\.0\.0\.1:\d+, Application Default Credentials: workload identity federation from GOOGLE_APPLICATION_CREDENTIALS/,
    );
    const key = randomBytes(32);
    const wrapped = await source.wrap(key, "store-a");
    assert.equal(wrapped.source, "gcp-kms");
    assert.equal(wrapped.key, name, "the CryptoKey, not the version that encrypted");
    assert.deepEqual(await source.unwrap(wrapped, "store-a"), key);
    // The opener built from the header alone (no keyName configured) finds the key.
    const opener = new GcpKms({ source: "gcp-kms", endpoint: fake.origin }, adc.env, wrapped);
    assert.deepEqual(await opener.unwrap(wrapped, "store-a"), key);
    await rejectsWith(source.unwrap(wrapped, "store-b"), "wrong_master_key", [
      /does not open this store/,
      /Decryption failed: the ciphertext is invalid/,
    ]);
    // The key never travels in clear: only the encrypt request carries it, base64 in the body.
    const requests = fake.requests.filter((r) => r.url.includes(":decrypt"));
    assert.ok(requests.length >= 3);
    for (const r of requests) assert.ok(!r.body.includes(key.toString("base64")));
    const encrypt = fake.requests.find((r) => r.url.includes(":encrypt"));
    assert.ok(encrypt);
    const sent = JSON.parse(encrypt.body) as Record<string, unknown>;
    assert.ok(sent.plaintextCrc32c !== undefined, "the plaintext checksum is sent");
    assert.ok(sent.additionalAuthenticatedDataCrc32c !== undefined, "and the AAD's");
    assert.match(encrypt.headers.authorization ?? "", /^Bearer ya29\./, "an STS access token");
    source.close();
    opener.close();
  });

  it("a rotated key (new primary version) still opens a store wrapped by the old version", async () => {
    const name = fake.createKey("keyward", "rotated");
    const key = randomBytes(32);
    const wrapped = await kms(name).wrap(key, "s");
    assert.equal(fake.rotate(name), 2);
    assert.deepEqual(await kms(name).unwrap(wrapped, "s"), key);
    const rewrapped = await kms(name).wrap(key, "s");
    assert.notEqual(rewrapped.ciphertext, wrapped.ciphertext);
    // Disabling the old version locks out what it wrapped, not what the new primary did.
    fake.setVersionState(name, 1, "DISABLED");
    await rejectsWith(kms(name).unwrap(wrapped, "s"), "no_master_key", [
      /cryptoKeyVersions\/1 is not enabled, current state is: DISABLED/,
      /gcloud kms keys versions enable/,
    ]);
    assert.deepEqual(await kms(name).unwrap(rewrapped, "s"), key);
  });

  it("no key name, a missing key, a denied permission: errors that say what to do", async () => {
    await rejectsWith(kms().wrap(randomBytes(32), "s"), "config_invalid", [
      /needs the CryptoKey/,
      /masterKey: \{ source: gcp-kms, keyName: projects\//,
    ]);
    await rejectsWith(
      kms("projects/keyward-test/locations/global/keyRings/keyward/cryptoKeys/absent").wrap(
        randomBytes(32),
        "s",
      ),
      "no_master_key",
      [/no such CryptoKey/, /gcloud kms keys create/],
    );
    // GCP's text for a call that carried the key is not repeated (it could quote the request).
    fake.failNext(400, "INVALID_ARGUMENT");
    await assert.rejects(
      kms(fake.createKey("keyward", "quiet")).wrap(randomBytes(32), "s"),
      (e) => {
        assert.ok(isKeywardError(e));
        assert.equal(e.code, "config_invalid");
        assert.match(e.message, /encrypt with Cloud KMS key .*quiet.* failed: INVALID_ARGUMENT$/);
        assert.doesNotMatch(e.message, /injected by the test/);
        return true;
      },
    );
    const name = fake.createKey("keyward", "guarded");
    const wrapped = await kms(name).wrap(randomBytes(32), "s");
    fake.deny("cloudkms.cryptoKeyVersions.useToDecrypt");
    try {
      await rejectsWith(kms(name).unwrap(wrapped, "s"), "upstream_forbidden", [
        /master key source gcp-kms: decrypt with Cloud KMS key .*guarded/,
        /cloudkms\.cryptoKeyVersions\.useToDecrypt/,
        /roles\/cloudkms\.cryptoKeyEncrypterDecrypter/,
      ]);
    } finally {
      fake.allowAll();
    }
  });

  it("refused credentials and an unreachable endpoint name the ADC source and the endpoint", async () => {
    const name = fake.createKey("keyward", "creds");
    const wrong = gcpTestEnv(sts, "not-the-oidc-token-5b2d");
    try {
      await rejectsWith(kms(name, wrong.env).wrap(randomBytes(32), "s"), "upstream_unauthorized", [
        /could not get Google credentials/,
        /GOOGLE_APPLICATION_CREDENTIALS/,
      ]);
    } finally {
      wrong.cleanup();
    }
    const down = await FakeGcpKms.start(sts);
    const origin = down.origin;
    await down.close();
    const unreachable = new GcpKms(
      { source: "gcp-kms", keyName: name, endpoint: origin, timeoutSeconds: 2 },
      adc.env,
    );
    await rejectsWith(unreachable.wrap(randomBytes(32), "s"), "upstream_unavailable", [
      /could not reach Cloud KMS/,
      new RegExp(origin.replace(/\./g, "\\.")),
    ]);
  });
});
