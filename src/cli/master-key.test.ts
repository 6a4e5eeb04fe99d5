/**
 * The master key kept by a KMS, end to end through the real CLI (a child process per command):
 * `keyward init --key-source vault-transit | aws-kms | gcp-kms` on sqlite and on postgres, a
 * second host joining the postgres store with only its Vault, AWS or Google identity, status,
 * rekey, wrong
 * credentials, an unreachable KMS and a foreign ciphertext. The KMSs are the local fakes in
 * src/store/testing; each cites the API document it follows (fake-vault.ts: the transit API,
 * https://developer.hashicorp.com/vault/api-docs/secret/transit; fake-aws-kms.ts: the AWS KMS
 * API reference; fake-gcp-kms.ts: the Cloud KMS REST reference, encrypt and decrypt). The canary check throughout: neither the master key nor a secret value shows
 * in any output, any file of the home, the database, or any request but the encrypt one.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import Database from "better-sqlite3";
import { FakeAwsKms } from "../store/testing/fake-aws-kms.js";
import type { FakeCredential } from "../store/testing/fake-aws-protocol.js";
import { FakeGcpKms } from "../store/testing/fake-gcp-kms.js";
import { FakeGcpSecretManager } from "../store/testing/fake-gcp-secret-manager.js";
import { FakeVault } from "../store/testing/fake-vault.js";
import { gcpTestEnv } from "../store/testing/gcp-env.js";
import {
  dropSchema,
  PG_TEST,
  PG_TEST_ENV,
  schemaDump,
  testSchema,
  withAdmin,
} from "../store/testing/postgres.js";
import { runBin } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const canary = () => `kw-kms-canary-${randomBytes(16).toString("hex")}`;

/** A home with no master key of its own: the KMS is the only source. */
function home(): TestHome {
  const t = testHome({ KEYWARD_MASTER_KEY: "" });
  cleanups.push(() => t.cleanup());
  return t;
}

function writeConfig(t: TestHome, config: Record<string, unknown>): void {
  writeFileSync(join(t.home, "keyward.json"), JSON.stringify({ version: 1, ...config }, null, 2));
}

/** Every form a buffer or string takes in text, as a leak check looks for it. */
function forms(secret: Buffer | string): string[] {
  if (typeof secret === "string") return encodedForms(secret);
  return [secret.toString("hex"), secret.toString("base64"), secret.toString("base64url")];
}

function assertAbsent(text: string, secrets: (Buffer | string)[], where: string): void {
  for (const s of secrets) {
    for (const form of forms(s)) assert.ok(!text.includes(form), `${where} holds a canary`);
  }
}

/** Every file under the home, as bytes read as latin1 (a store or log is binary). */
function filesUnder(dir: string): string {
  if (!existsSync(dir)) return "";
  let text = "";
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    text += statSync(path).isDirectory()
      ? filesUnder(path)
      : readFileSync(path).toString("latin1") + readFileSync(path, "utf8");
  }
  return text;
}

async function schemaExists(schema: string): Promise<boolean> {
  return withAdmin(async (c) => {
    const r = await c.query("SELECT 1 FROM pg_namespace WHERE nspname = $1", [schema]);
    return r.rowCount === 1;
  });
}

type Run = Awaited<ReturnType<typeof runBin>>;

function assertCleanError(r: Run, code: number, mentions: RegExp[]): void {
  assert.equal(r.code, code, r.stderr);
  for (const m of mentions) assert.match(r.stderr, m);
  assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, "no stack trace");
}

/** Host A of a team: a postgres store in a schema of its own on the KMS, team/key set to a canary. */
async function teamHostA(
  schemaName: string,
  masterKey: Record<string, unknown>,
  envOf: (t: TestHome) => NodeJS.ProcessEnv,
) {
  const schema = testSchema(schemaName);
  cleanups.push(() => dropSchema(schema));
  const store = { backend: "postgres", ...PG_TEST, schema };
  const hostA = home();
  writeConfig(hostA, { store, masterKey });
  const envA = { ...PG_TEST_ENV, ...envOf(hostA) };
  const init = await runBin(hostA, ["init"], envA);
  assert.equal(init.code, 0, init.stderr);
  const value = canary();
  const set = await runBin(hostA, ["secret", "set", "team/key"], envA, value);
  assert.equal(set.code, 0, set.stderr);
  return { schema, store, hostA, envA, value };
}

describe("master key kept by Vault transit (fake Vault, transit API)", () => {
  async function vault() {
    const fake = await FakeVault.start();
    cleanups.push(() => fake.close());
    fake.enableTransit("transit");
    const token = `hvs.${randomBytes(12).toString("base64url")}`;
    fake.addToken(token);
    return { fake, token, env: { VAULT_ADDR: fake.url, VAULT_TOKEN: token } };
  }

  /** The master key as keyward sent it to be encrypted (the one request that carries it). */
  function sentKeys(fake: FakeVault): Buffer[] {
    return fake.requests
      .filter((r) => /^\/v1\/transit\/encrypt\//.test(r.url))
      .map((r) => Buffer.from(JSON.parse(r.body).plaintext, "base64"));
  }

  it("sqlite: init, set, get, status, rekey --rewrap after a key rotation, rekey to a new key", async () => {
    const { fake, token, env } = await vault();
    const t = home();
    const init = await runBin(t, ["init", "--key-source", "vault-transit"], env);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /master key: Vault transit key keyward \(mount transit\)/);
    const header = fake.transitKey("transit", "keyward");
    assert.ok(header !== undefined, "encrypt created the transit key");
    assert.ok(!existsSync(join(t.env.KEYWARD_HOME!, "master.key")), "no key file");

    const value = canary();
    const set = await runBin(t, ["secret", "set", "app/token"], env, value);
    assert.equal(set.code, 0, set.stderr);
    const get = await runBin(t, ["secret", "get", "app/token"], env);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, value);

    const status = await runBin(t, ["status"], env);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /master key: {2}32-byte key kept encrypted by vault-transit, opened with Vault transit key keyward/,
    );
    assert.match(status.stdout, /2\. vault-transit +available/);
    assert.match(
      status.stdout,
      /key-file +unavailable +not used: the key is kept by vault-transit/,
    );
    const json = JSON.parse((await runBin(t, ["status", "--json"], env)).stdout);
    assert.equal(json.keySource.source, "vault-transit");
    assert.match(json.keySource.label, /token from VAULT_TOKEN/);
    assert.equal(json.store.grade, "A", "behind Vault's policies once transit keeps the key");

    // Rotate the transit key, rewrap, and retire v1: the store still opens, with v2.
    fake.rotateTransitKey("transit", "keyward");
    const rewrap = await runBin(t, ["rekey", "--rewrap"], env);
    assert.equal(rewrap.code, 0, rewrap.stderr);
    assert.match(rewrap.stderr, /Rewrapped the master key with Vault transit key keyward .*\(v2\)/);
    fake.transitKey("transit", "keyward")!.minDecryptionVersion = 2;
    assert.equal((await runBin(t, ["secret", "get", "app/token"], env)).stdout, value);

    // A full rekey makes a new master key, wrapped by transit again.
    const rekey = await runBin(t, ["rekey"], env);
    assert.equal(rekey.code, 0, rekey.stderr);
    assert.match(rekey.stderr, /Rewrapped 1 data keys under the new master key from Vault transit/);
    assert.equal((await runBin(t, ["secret", "get", "app/token"], env)).stdout, value);
    const keys = sentKeys(fake);
    assert.equal(keys.length, 2, "init and rekey each sent one new key to encrypt");

    // Canaries: the master keys and the value appear nowhere but in the encrypt requests.
    // (`secret get` prints the value by design: only its stderr counts.)
    const outputs = [init, set, status, rewrap, rekey]
      .map((r) => r.stdout + r.stderr)
      .join("\n")
      .concat(get.stderr);
    assertAbsent(outputs, [...keys, value], "CLI output");
    assert.ok(!outputs.includes(token), "the Vault token is shown");
    assertAbsent(filesUnder(t.home), [...keys, value], "a file in the home");
    for (const r of fake.requests.filter((r) => !r.url.startsWith("/v1/transit/encrypt/"))) {
      assertAbsent(r.body + r.url, [...keys, value], `request ${r.url}`);
    }
  });

  it("postgres team mode: a second host opens the store with only its own Vault token", async () => {
    const { fake, env } = await vault();
    const { schema, store, hostA, value } = await teamHostA(
      "kms_vault",
      { source: "vault-transit", key: "team", address: fake.url },
      () => ({ VAULT_TOKEN: env.VAULT_TOKEN }),
    );

    // Host B: another home, another token, no key file, no KEYWARD_MASTER_KEY, no masterKey:
    // config (VAULT_ADDR says where Vault is; the store's header names the transit key).
    const hostB = home();
    writeConfig(hostB, { store });
    const tokenB = `hvs.${randomBytes(12).toString("base64url")}`;
    fake.addToken(tokenB, { allow: /^transit\/decrypt\/team$/ });
    const envB = { ...PG_TEST_ENV, VAULT_ADDR: fake.url, VAULT_TOKEN: tokenB };
    const join_ = await runBin(hostB, ["init"], envB);
    assert.equal(join_.code, 0, join_.stderr);
    const read = await runBin(hostB, ["secret", "get", "team/key"], envB);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, value);
    const status = JSON.parse((await runBin(hostB, ["status", "--json"], envB)).stdout);
    assert.equal(status.keySource.source, "vault-transit");
    assert.match(status.keySource.label, /transit key team/);

    // A host whose token Vault does not know: a clear error naming the source, no stack trace.
    const hostC = home();
    writeConfig(hostC, { store });
    const bad = "hvs.a-token-vault-never-issued";
    const denied = await runBin(hostC, ["init"], { ...envB, VAULT_TOKEN: bad });
    assertCleanError(denied, 5, [/vault-transit/, /VAULT_TOKEN/, /fix|vault login/i]);
    assert.ok(!denied.stderr.includes(bad));
    assert.ok(!existsSync(join(hostC.env.KEYWARD_HOME!, "access-log.db")));

    // The database holds the wrapped key, never the key or the value.
    const [key] = sentKeys(fake);
    const dump = await schemaDump(schema);
    assert.match(dump, /vault:v1:/);
    assertAbsent(dump, [key!, value], "the postgres schema");
    assertAbsent(filesUnder(hostA.home) + filesUnder(hostB.home), [key!, value], "a home");

    // A ciphertext from another store in the header: the wrong-master-key error, nothing touched.
    const other = await runBin(home(), ["init", "--key-source", "vault-transit"], {
      ...env,
      KEYWARD_HOME: join(hostC.home, "other"),
    });
    assert.equal(other.code, 0, other.stderr);
    const db = new Database(join(hostC.home, "other", "store.db"), { readonly: true });
    const row = db.prepare("SELECT value FROM meta WHERE key = 'key_header'").get() as {
      value: string;
    };
    db.close();
    const foreign = JSON.parse(row.value);
    await withAdmin((c) =>
      c.query(
        `UPDATE "${schema}".meta SET value = jsonb_set(value::jsonb, '{wrapped,ciphertext}', to_jsonb($1::text))::text WHERE key = 'key_header'`,
        [foreign.wrapped.ciphertext],
      ),
    );
    const before = await schemaDump(schema);
    const wrong = await runBin(hostB, ["secret", "get", "team/key"], envB);
    assertCleanError(wrong, 5, [/does not open this store/, /Vault transit key/]);
    assert.equal(await schemaDump(schema), before, "nothing in the store was touched");
  });

  it("init with an unreachable Vault leaves nothing: no home, no schema", async () => {
    const closed = await FakeVault.start();
    const url = closed.url;
    await closed.close();
    const env = { VAULT_ADDR: url, VAULT_TOKEN: "hvs.whatever-token-1234" };
    const t = home();
    const r = await runBin(t, ["init", "--key-source", "vault-transit"], env);
    assertCleanError(r, 1, [/master key source vault-transit/, new RegExp(url), /vault status/]);
    assert.ok(!existsSync(t.env.KEYWARD_HOME!), "no home folder");

    const schema = testSchema("kms_down");
    cleanups.push(() => dropSchema(schema));
    const team = home();
    writeConfig(team, {
      store: { backend: "postgres", ...PG_TEST, schema },
      masterKey: { source: "vault-transit" },
    });
    const r2 = await runBin(team, ["init"], { ...PG_TEST_ENV, ...env });
    assertCleanError(r2, 1, [/vault-transit/]);
    assert.equal(await schemaExists(schema), false, "no schema was created");
    assert.ok(!existsSync(team.env.KEYWARD_HOME!));
  });
});

describe("master key kept by AWS KMS (fake KMS, JSON 1.1 with SigV4, the official SDK)", () => {
  async function kms() {
    const fake = await new FakeAwsKms("eu-west-1").start();
    cleanups.push(() => fake.stop());
    const key = fake.createKey("alias/keyward");
    return { fake, key };
  }

  /** Only this identity: the SDK default chain finds environment keys, nothing else. */
  function identity(t: TestHome, who: FakeCredential): NodeJS.ProcessEnv {
    return {
      AWS_ACCESS_KEY_ID: who.accessKeyId,
      AWS_SECRET_ACCESS_KEY: who.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_CONFIG_FILE: join(t.home, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(t.home, "no-aws-credentials"),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
  }

  /** The master keys as keyward sent them to Encrypt (the one request that carries one). */
  function sentKeys(fake: FakeAwsKms): Buffer[] {
    return fake.requests
      .filter((r) => r.op === "TrentService.Encrypt")
      .map((r) => Buffer.from(JSON.parse(r.body).Plaintext, "base64"));
  }

  it("sqlite: a store moved onto KMS by rekey, then init, set, get and status from the config", async () => {
    const { fake, key } = await kms();
    const user = fake.addUser("dev");
    const masterKey = {
      source: "aws-kms",
      keyId: "alias/keyward",
      region: fake.region,
      endpoint: fake.baseUrl,
    };

    // An existing env-key store moves onto KMS: afterwards no KEYWARD_MASTER_KEY is needed.
    const old = testHome();
    cleanups.push(() => old.cleanup());
    writeConfig(old, { masterKey });
    const env = identity(old, user);
    assert.equal((await runBin(old, ["init", "--key-source", "env"], env)).code, 0);
    const value = canary();
    assert.equal((await runBin(old, ["secret", "set", "app/token"], env, value)).code, 0);
    const moved = await runBin(old, ["rekey", "--key-source", "aws-kms"], env);
    assert.equal(moved.code, 0, moved.stderr);
    const noEnvKey = { ...env, KEYWARD_MASTER_KEY: "" };
    const got = await runBin(old, ["secret", "get", "app/token"], noEnvKey);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, value);
    const rewrap = await runBin(old, ["rekey", "--rewrap"], noEnvKey);
    assertCleanError(rewrap, 2, [/aws-kms has no rewrap/]);

    // A new home: the config's masterKey: chooses the source without --key-source.
    const t = home();
    writeConfig(t, { masterKey });
    const envT = identity(t, user);
    const init = await runBin(t, ["init"], envT);
    assert.equal(init.code, 0, init.stderr);
    assert.match(
      init.stdout,
      /master key: AWS KMS key alias\/keyward at http:\/\/127\.0\.0\.1:\d+, SDK default chain: environment \(AWS_ACCESS_KEY_ID\)/,
    );
    const value2 = canary();
    const set = await runBin(t, ["secret", "set", "app/token"], envT, value2);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await runBin(t, ["secret", "get", "app/token"], envT)).stdout, value2);
    const status = await runBin(t, ["status"], envT);
    assert.equal(status.code, 0, status.stderr);
    assert.match(
      status.stdout,
      /2\. aws-kms +available +AWS KMS key arn:aws:kms:eu-west-1:\d+:key\//,
    );
    assert.ok(status.stdout.includes(key.arn), "status names the key the store was wrapped with");
    const contexts = fake.requests
      .filter((r) => r.op === "TrentService.Decrypt")
      .map((r) => JSON.parse(r.body).EncryptionContext["keyward-store"]);
    assert.ok(contexts.every((c) => typeof c === "string" && /^[0-9a-f]{16}$/.test(c)));

    const keys = sentKeys(fake);
    assert.equal(keys.length, 2, "one new master key per rekey and init");
    const outputs = [moved, init, set, status].map((r) => r.stdout + r.stderr).join("\n");
    assertAbsent(outputs + got.stderr, [...keys, value, value2], "CLI output");
    assert.ok(!outputs.includes(user.secretAccessKey), "the AWS secret key is shown");
    assertAbsent(filesUnder(old.home) + filesUnder(t.home), [...keys, value, value2], "a file");
    for (const r of fake.requests.filter((r) => r.op !== "TrentService.Encrypt")) {
      assertAbsent(r.body, [...keys, value, value2], `request ${r.op}`);
    }
  });

  it("postgres team mode: a second host opens the store with only its own AWS identity", async () => {
    const { fake } = await kms();
    const { schema, store, value } = await teamHostA(
      "kms_aws",
      { source: "aws-kms", region: fake.region, endpoint: fake.baseUrl },
      (t) => identity(t, fake.addUser("host-a")),
    );

    // Host B: its own IAM user, no masterKey: config, no region: the header's key ARN says it,
    // and AWS_ENDPOINT_URL_KMS stands for the network path to KMS.
    const hostB = home();
    writeConfig(hostB, { store });
    const envB = {
      ...PG_TEST_ENV,
      ...identity(hostB, fake.addUser("host-b")),
      AWS_ENDPOINT_URL_KMS: fake.baseUrl,
    };
    const joined = await runBin(hostB, ["init"], envB);
    assert.equal(joined.code, 0, joined.stderr);
    const read = await runBin(hostB, ["secret", "get", "team/key"], envB);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, value);
    const status = JSON.parse((await runBin(hostB, ["status", "--json"], envB)).stdout);
    assert.equal(status.keySource.source, "aws-kms");

    // Keys AWS does not know: a clear error naming the chain source, no stack trace.
    const hostC = home();
    writeConfig(hostC, { store });
    const stranger: FakeCredential = {
      accessKeyId: `AK${"IA"}NOTREGISTERED000`,
      secretAccessKey: randomBytes(30).toString("base64"),
      principal: "nobody",
    };
    const denied = await runBin(hostC, ["init"], { ...envB, ...identity(hostC, stranger) });
    assertCleanError(denied, 5, [/aws-kms/, /AWS_ACCESS_KEY_ID/]);
    assert.ok(!denied.stderr.includes(stranger.secretAccessKey));
    assert.ok(!existsSync(join(hostC.env.KEYWARD_HOME!, "access-log.db")));

    const [key] = sentKeys(fake);
    const dump = await schemaDump(schema);
    assertAbsent(dump, [key!, value], "the postgres schema");
  });

  it("init with an unreachable KMS or a disabled key leaves nothing behind", async () => {
    const { fake, key } = await kms();
    const user = fake.addUser("dev");
    const down = await new FakeAwsKms().start();
    const url = down.baseUrl;
    await down.stop();
    const t = home();
    writeConfig(t, { masterKey: { source: "aws-kms", region: "eu-west-1", endpoint: url } });
    const r = await runBin(t, ["init"], identity(t, user));
    assertCleanError(r, 1, [/master key source aws-kms/, /could not reach KMS/]);
    assert.ok(!existsSync(t.env.KEYWARD_HOME!), "no home folder");

    key.state = "Disabled";
    const schema = testSchema("kms_disabled");
    cleanups.push(() => dropSchema(schema));
    const team = home();
    writeConfig(team, {
      store: { backend: "postgres", ...PG_TEST, schema },
      masterKey: { source: "aws-kms", region: fake.region, endpoint: fake.baseUrl },
    });
    const r2 = await runBin(team, ["init"], { ...PG_TEST_ENV, ...identity(team, user) });
    assertCleanError(r2, 5, [/disabled/, /aws kms enable-key --key-id alias\/keyward/]);
    assert.equal(await schemaExists(schema), false, "no schema was created");
  });
});

describe("master key kept by GCP Cloud KMS (fake Cloud KMS, REST API; ADC via STS)", () => {
  async function kms() {
    const sts = await FakeGcpSecretManager.start();
    const fake = await FakeGcpKms.start(sts);
    const adc = gcpTestEnv(sts);
    cleanups.push(async () => {
      adc.cleanup();
      await fake.close();
      await sts.close();
    });
    const keyName = fake.createKey("keyward", "master");
    // Only workload identity federation: never the metadata server, never gcloud's files.
    const env = {
      GOOGLE_APPLICATION_CREDENTIALS: adc.credentialsFile,
      GCE_METADATA_HOST: sts.host,
    };
    return { sts, fake, keyName, env };
  }

  /** The master keys as keyward sent them to encrypt (the one request that carries one). */
  function sentKeys(fake: FakeGcpKms): Buffer[] {
    return fake.requests
      .filter((r) => r.url.includes(":encrypt"))
      .map((r) => Buffer.from(JSON.parse(r.body).plaintext, "base64"));
  }

  it("sqlite: init from keyward.yaml, set, get and status; nothing in clear anywhere", async () => {
    const { sts, fake, keyName, env } = await kms();
    const t = home();
    writeConfig(t, { masterKey: { source: "gcp-kms", keyName, endpoint: fake.origin } });
    const init = await runBin(t, ["init"], env);
    assert.equal(init.code, 0, init.stderr);
    assert.match(
      init.stdout,
      /master key: Cloud KMS key projects\/keyward-test\/.*cryptoKeys\/master/,
    );
    const value = canary();
    const set = await runBin(t, ["secret", "set", "app/key"], env, value);
    assert.equal(set.code, 0, set.stderr);
    const got = await runBin(t, ["secret", "get", "app/key"], env);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, value);
    const status = await runBin(t, ["status", "--json"], env);
    assert.equal(status.code, 0, status.stderr);
    const facts = JSON.parse(status.stdout);
    assert.equal(facts.keySource.source, "gcp-kms");
    assert.equal(sts.metadataHits, 0, "the metadata server was never asked");

    const keys = sentKeys(fake);
    assert.equal(keys.length, 1, "one master key, sent once, to encrypt");
    const outputs = [init, set, got, status].map((r) => r.stdout + r.stderr).join("\n");
    assertAbsent(outputs.replace(value, ""), [...keys, value], "CLI output");
    assertAbsent(filesUnder(t.home), [...keys, value], "a file");
    for (const r of fake.requests.filter((r) => !r.url.includes(":encrypt"))) {
      assertAbsent(r.body, [...keys, value], "a decrypt request");
    }
  });

  it("postgres team mode: a second host opens the store with only its Google identity; a wrong one gets a clear error", async () => {
    const { sts, fake, keyName, env } = await kms();
    const { schema, store, value } = await teamHostA(
      "kms_gcp",
      { source: "gcp-kms", keyName, endpoint: fake.origin },
      () => env,
    );

    // Host B names no key: the store's header does. Only the endpoint stands for the network.
    const hostB = home();
    writeConfig(hostB, { store, masterKey: { source: "gcp-kms", endpoint: fake.origin } });
    const joined = await runBin(hostB, ["init"], { ...PG_TEST_ENV, ...env });
    assert.equal(joined.code, 0, joined.stderr);
    const read = await runBin(hostB, ["secret", "get", "team/key"], { ...PG_TEST_ENV, ...env });
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, value);

    // Host C presents a token STS does not accept.
    const hostC = home();
    writeConfig(hostC, { store, masterKey: { source: "gcp-kms", endpoint: fake.origin } });
    const wrong = gcpTestEnv(sts, "not-the-oidc-token-91aa");
    cleanups.push(() => wrong.cleanup());
    const denied = await runBin(hostC, ["init"], {
      ...PG_TEST_ENV,
      GOOGLE_APPLICATION_CREDENTIALS: wrong.credentialsFile,
    });
    assertCleanError(denied, 5, [
      /gcp-kms/,
      /could not get Google credentials/,
      /GOOGLE_APPLICATION_CREDENTIALS/,
    ]);
    assert.ok(!existsSync(join(hostC.env.KEYWARD_HOME!, "access-log.db")), "nothing written");

    const [key] = sentKeys(fake);
    assertAbsent(await schemaDump(schema), [key!, value], "the postgres schema");
  });
});

describe("masterKey: in keyward.yaml", () => {
  it("a wrong option or source is a config error naming the file, the line and the path", async () => {
    const t = home();
    writeFileSync(
      join(t.home, "keyward.yaml"),
      ["version: 1", "masterKey:", "  source: aws-kms", "  keyID: alias/keyward"].join("\n"),
    );
    const typo = await runBin(t, ["init"], {});
    assertCleanError(typo, 2, [/keyward\.yaml:4:\d+: masterKey\.keyID/, /did you mean keyId\?/]);
    writeFileSync(
      join(t.home, "keyward.yaml"),
      "version: 1\nmasterKey: { source: azure-key-vault }\n",
    );
    const unknown = await runBin(t, ["init"], {});
    assertCleanError(unknown, 2, [/masterKey\.source/]);
    assert.ok(!existsSync(t.env.KEYWARD_HOME!), "nothing written");
  });
});
