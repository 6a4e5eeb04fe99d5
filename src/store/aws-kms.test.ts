/**
 * The AWS KMS master-key source through the official @aws-sdk/client-kms, unchanged, against
 * the local fake (./testing/fake-aws-kms.ts: AWS KMS API Reference, Encrypt and Decrypt,
 * https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html, API_Decrypt.html;
 * JSON 1.1 with SigV4). Credentials come from the SDK default chain (environment keys here).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { type ErrorCode, isKeywardError } from "../core/errors.js";
import { AwsKms } from "./aws-kms.js";
import { FakeAwsKms } from "./testing/fake-aws-kms.js";
import type { FakeCredential } from "./testing/fake-aws-protocol.js";

async function rejectsWith(
  action: Promise<unknown>,
  code: ErrorCode,
  mentions: RegExp[],
  secret: string,
) {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const m of mentions) assert.match(`${e.message} ${e.fix}`, m);
    assert.ok(e.fix !== undefined && e.fix.length > 0, "every error carries a fix");
    assert.ok(!JSON.stringify(e.toJSON()).includes(secret), "the error shows the AWS secret key");
    return true;
  });
}

describe("AWS KMS master-key source", () => {
  let fake: FakeAwsKms;
  let user: FakeCredential;
  before(async () => {
    fake = await new FakeAwsKms("eu-west-1").start();
    user = fake.addUser("keyward-host");
  });
  after(() => fake.stop());

  /** The SDK reads process.env: this file's process holds only what the test sets. */
  const env = (who: FakeCredential = user): NodeJS.ProcessEnv => {
    for (const key of Object.keys(process.env)) if (key.startsWith("AWS_")) delete process.env[key];
    Object.assign(process.env, {
      AWS_ACCESS_KEY_ID: who.accessKeyId,
      AWS_SECRET_ACCESS_KEY: who.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_CONFIG_FILE: "/nonexistent/aws-config",
      AWS_SHARED_CREDENTIALS_FILE: "/nonexistent/aws-credentials",
    });
    return process.env;
  };
  const kms = (keyId: string, who?: FakeCredential) =>
    new AwsKms({ source: "aws-kms", keyId, region: fake.region, endpoint: fake.baseUrl }, env(who));

  it("encrypts under the alias, keeps the key ARN, and decrypts only with this store's context", async () => {
    const created = fake.createKey("alias/keyward");
    const source = kms("alias/keyward");
    assert.match(
      source.label,
      /AWS KMS key alias\/keyward at http:\/\/127\.0\.0\.1:\d+, SDK default chain: environment \(AWS_ACCESS_KEY_ID\)/,
    );
    const key = randomBytes(32);
    const wrapped = await source.wrap(key, "store-a");
    assert.equal(wrapped.key, created.arn, "the ARN, so a moved alias cannot break the store");
    assert.deepEqual(await source.unwrap(wrapped, "store-a"), key);
    // The opener built from the header decrypts with the ARN, in the ARN's region.
    const opener = new AwsKms({ source: "aws-kms", endpoint: fake.baseUrl }, env(), wrapped);
    assert.deepEqual(await opener.unwrap(wrapped, "store-a"), key);
    await rejectsWith(
      source.unwrap(wrapped, "store-b"),
      "wrong_master_key",
      [/does not open this store/, /InvalidCiphertextException/],
      user.secretAccessKey,
    );
    const decrypts = fake.requests.filter((r) => r.op === "TrentService.Decrypt");
    assert.ok(decrypts.length >= 2);
    for (const r of decrypts) assert.ok(!r.body.includes(key.toString("base64")));
    source.close();
    opener.close();
  });

  it("a missing alias, a disabled key, a key pending deletion, a policy that denies", async () => {
    const secret = user.secretAccessKey;
    const key = randomBytes(32);
    await rejectsWith(
      kms("alias/nothing-here").wrap(key, "s"),
      "no_master_key",
      [
        /master key source aws-kms: Encrypt with AWS KMS key alias\/nothing-here/,
        /NotFoundException/,
        /create-alias/,
      ],
      secret,
    );
    const k = fake.createKey("alias/toggled");
    const wrapped = await kms("alias/toggled").wrap(key, "s");
    k.state = "Disabled";
    await rejectsWith(
      kms("alias/toggled").unwrap(wrapped, "s"),
      "no_master_key",
      [/disabled/, /enable-key --key-id alias\/toggled/],
      secret,
    );
    k.state = "PendingDeletion";
    await rejectsWith(
      kms("alias/toggled").unwrap(wrapped, "s"),
      "no_master_key",
      [/pending deletion/, /cancel-key-deletion/],
      secret,
    );
    k.state = "Enabled";
    k.allowed = new Set(["someone-else"]);
    await rejectsWith(
      kms("alias/toggled").unwrap(wrapped, "s"),
      "upstream_forbidden",
      [/Decrypt with AWS KMS key alias\/toggled .* was denied/, /kms:Decrypt/],
      secret,
    );
  });

  it("unknown credentials and an unreachable endpoint: errors that name what was tried", async () => {
    fake.createKey("alias/creds");
    const stranger: FakeCredential = {
      accessKeyId: `AK${"IA"}STRANGER00000000`,
      secretAccessKey: randomBytes(30).toString("base64"),
      principal: "nobody",
    };
    await rejectsWith(
      kms("alias/creds", stranger).wrap(randomBytes(32), "s"),
      "upstream_unauthorized",
      [/AWS refused the credentials \(UnrecognizedClientException\)/, /AWS_ACCESS_KEY_ID/],
      stranger.secretAccessKey,
    );
    const down = await new FakeAwsKms().start();
    const url = down.baseUrl;
    await down.stop();
    const unreachable = new AwsKms(
      { source: "aws-kms", region: "eu-west-1", endpoint: url, timeoutSeconds: 2 },
      env(),
    );
    await rejectsWith(
      unreachable.wrap(randomBytes(32), "s"),
      "upstream_unavailable",
      [/could not reach KMS/, new RegExp(url.replace(/\./g, "\\."))],
      user.secretAccessKey,
    );
  });
});
