/**
 * The CLI on every store backend, end to end: init, set, get, status and store migrate with the
 * backend chosen by keyward.yaml's store: section. Remote engines are the local fakes in
 * src/store/testing (each cites the API document it reproduces).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FakeAwsSecretsManager } from "../store/testing/fake-aws-secrets-manager.js";
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
import { KEYWARD_BIN, runBin } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const c of cleanups.reverse()) await c();
});

const canary = () => `kw-backend-canary-${randomBytes(16).toString("hex")}`;

function home(extraEnv: NodeJS.ProcessEnv = {}): TestHome {
  const t = testHome(extraEnv);
  cleanups.push(() => t.cleanup());
  return t;
}

function writeConfig(t: TestHome, name: string, store: Record<string, unknown>): string {
  const path = join(t.home, name);
  writeFileSync(path, JSON.stringify({ version: 1, store }, null, 2));
  return path;
}

function assertNoCanary(text: string, value: string, where: string): void {
  for (const form of encodedForms(value)) {
    assert.ok(!text.includes(form), `${where} holds the value (or an encoding of it)`);
  }
}

async function fakeVault(): Promise<{ fake: FakeVault; token: string }> {
  const fake = await FakeVault.start();
  cleanups.push(() => fake.close());
  const token = `hvs.${randomBytes(12).toString("base64url")}`;
  fake.addToken(token);
  return { fake, token };
}

describe("keyward on the vault backend (fake Vault, KV v2 API)", () => {
  it("init, set, get and status work through keyward.yaml's store: section", async () => {
    const { fake, token } = await fakeVault();
    const t = home({ VAULT_ADDR: fake.url, VAULT_TOKEN: token });
    writeConfig(t, "keyward.json", { backend: "vault" });

    const init = await t.run(["init"]);
    assert.equal(init.code, 0, init.stderr);
    const kw = t.env.KEYWARD_HOME!;
    assert.ok(existsSync(join(kw, "key-header.json")), "the key header is kept in the home");
    assert.ok(!existsSync(join(kw, "store.db")), "no local store for a manager");

    const value = canary();
    const set = await t.run(["secret", "set", "github/pat", "--provider", "github"], {
      stdin: value,
    });
    assert.equal(set.code, 0, set.stderr);
    const get = await t.run(["secret", "get", "github/pat"]);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, value);
    assert.ok(
      fake.kvPaths("secret").some((p) => p.startsWith("keyward/")),
      "the value lives in Vault",
    );

    const status = await t.run(["status", "--json"]);
    assert.equal(status.code, 0, status.stderr);
    const shown = JSON.parse(status.stdout);
    assert.equal(shown.store.backend, "vault");
    assert.equal(shown.store.grade, "A");
    assert.match(shown.store.audit, /Vault audit devices/);
    assert.match(shown.store.auth, /token/i);
    const text = await t.run(["status"]);
    assert.match(text.stdout, /grade: {7}A/);

    for (const [what, out] of [
      ["init", init.stdout + init.stderr],
      ["set", set.stdout + set.stderr],
      ["status", status.stdout + status.stderr + text.stdout + text.stderr],
    ] as const) {
      assertNoCanary(out, value, what);
      assert.ok(!out.includes(token), `${what} shows the Vault token`);
    }
    for (const r of fake.requests) assertNoCanary(r.url, value, `request URL ${r.url}`);
  });

  it("wrong Vault credentials: a clear error naming the source, nothing written in the home", async () => {
    const { fake } = await fakeVault();
    const t = home({ VAULT_ADDR: fake.url, VAULT_TOKEN: "hvs.not-a-token-vault-knows" });
    writeConfig(t, "keyward.json", { backend: "vault" });
    const init = await t.run(["init"]);
    assert.notEqual(init.code, 0);
    assert.match(init.stderr, /VAULT_TOKEN/);
    assert.doesNotMatch(init.stderr, /at .*\.js:\d+/, "no stack trace");
    assert.ok(!init.stderr.includes("hvs.not-a-token-vault-knows"));
    const kw = t.env.KEYWARD_HOME!;
    assert.ok(!existsSync(join(kw, "key-header.json")), "no half-made home");
    assert.ok(!existsSync(join(kw, "access-log.db")));
  });

  it("a bad option in store: names the file, the line and the fix", async () => {
    const t = home();
    writeFileSync(
      join(t.home, "keyward.yaml"),
      ["version: 1", "store:", "  backend: vault", "  mount: secret", "  timeoutSecond: 5"].join(
        "\n",
      ),
    );
    const init = await t.run(["init"]);
    assert.equal(init.code, 2, init.stderr);
    assert.match(init.stderr, /keyward\.yaml:5:\d+: store\.timeoutSecond/);
  });

  it("store migrate copies a sqlite home into Vault; the config then switches to it", async () => {
    const { fake, token } = await fakeVault();
    const t = home({ VAULT_ADDR: fake.url, VAULT_TOKEN: token });
    assert.equal((await t.run(["init"])).code, 0);
    const values = [canary(), canary()];
    for (const [i, v] of values.entries()) {
      const r = await t.run(["secret", "set", `app/key${i}`], { stdin: v });
      assert.equal(r.code, 0, r.stderr);
    }
    // A second version, so the copy carries stages (v1 previous, v2 current).
    const rotated = canary();
    assert.equal((await t.run(["secret", "set", "app/key0"], { stdin: rotated })).code, 0);
    const vaultConfig = writeConfig(t, "vault.json", { backend: "vault" });

    const dry = await t.run(["store", "migrate", "--to", vaultConfig, "--dry-run", "--json"]);
    assert.equal(dry.code, 0, dry.stderr);
    assert.deepEqual(
      JSON.parse(dry.stdout).secrets.map((s: { outcome: string }) => s.outcome),
      ["planned", "planned"],
    );
    assert.equal(fake.kvPaths("secret").length, 0, "a dry run writes nothing");

    const migrate = await t.run(["store", "migrate", "--to", vaultConfig]);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.match(migrate.stderr, /Copied 2 secrets from sqlite to vault/);
    for (const v of [...values, rotated])
      assertNoCanary(migrate.stdout + migrate.stderr, v, "migrate");

    const again = await t.run(["store", "migrate", "--to", vaultConfig, "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.deepEqual(
      JSON.parse(again.stdout).secrets.map((s: { outcome: string }) => s.outcome),
      ["verified", "verified"],
    );

    // Switch the config to Vault: the same home opens it, with the same master key.
    writeConfig(t, "keyward.json", { backend: "vault" });
    const current = await t.run(["secret", "get", "app/key0"]);
    assert.equal(current.code, 0, current.stderr);
    assert.equal(current.stdout, rotated);
    const previous = await t.run(["secret", "get", "app/key0", "--stage", "previous"]);
    assert.equal(previous.stdout, values[0]);
    const log = await t.run(["log", "--action", "migrate", "--json"]);
    assert.equal(JSON.parse(log.stdout).length, 2);
  });
});

describe("keyward on the aws backend (fake Secrets Manager, AWS JSON 1.1 with SigV4)", () => {
  it("init, set, get, status and a migration from sqlite, with keys only from the SDK chain", async () => {
    const fake = await new FakeAwsSecretsManager().start();
    cleanups.push(() => fake.stop());
    const user = fake.addUser("keyward-cli");
    const t = home();
    const awsEnv: NodeJS.ProcessEnv = {
      AWS_ACCESS_KEY_ID: user.accessKeyId,
      AWS_SECRET_ACCESS_KEY: user.secretAccessKey,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_CONFIG_FILE: join(t.home, "no-aws-config"),
      AWS_SHARED_CREDENTIALS_FILE: join(t.home, "no-aws-credentials"),
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    };
    const store = { backend: "aws", region: fake.region, endpoint: fake.baseUrl, prefix: "kw/" };

    // A sqlite home with a rotated secret, migrated into AWS, then the config switched.
    assert.equal((await runBin(t, ["init"], awsEnv)).code, 0);
    const [v1, v2] = [canary(), canary()];
    for (const v of [v1, v2]) {
      const r = await runBin(t, ["secret", "set", "github/pat"], awsEnv, v);
      assert.equal(r.code, 0, r.stderr);
    }
    const awsConfig = writeConfig(t, "aws.json", store);
    const migrate = await runBin(t, ["store", "migrate", "--to", awsConfig, "--json"], awsEnv);
    assert.equal(migrate.code, 0, migrate.stderr);
    assert.equal(JSON.parse(migrate.stdout).secrets[0].outcome, "copied");
    writeConfig(t, "keyward.json", store);

    const get = await runBin(t, ["secret", "get", "github/pat"], awsEnv);
    assert.equal(get.code, 0, get.stderr);
    assert.equal(get.stdout, v2);
    const previous = await runBin(
      t,
      ["secret", "get", "github/pat", "--stage", "previous"],
      awsEnv,
    );
    assert.equal(previous.stdout, v1);
    const v3 = canary();
    const set = await runBin(t, ["secret", "set", "github/pat"], awsEnv, v3);
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await runBin(t, ["secret", "get", "github/pat"], awsEnv)).stdout, v3);

    const status = await runBin(t, ["status", "--json"], awsEnv);
    assert.equal(status.code, 0, status.stderr);
    const shown = JSON.parse(status.stdout).store;
    assert.equal(shown.backend, "aws");
    assert.equal(shown.grade, "A");
    assert.match(shown.auth, /SDK default chain: environment/);
    assert.match(shown.audit, /CloudTrail/);
    for (const r of [migrate, get, set, status]) {
      for (const v of [v1, v2, v3]) assertNoCanary(r.stderr, v, "stderr");
      assert.ok(!(r.stdout + r.stderr).includes(user.secretAccessKey), "the AWS key is shown");
    }
    assertNoCanary(status.stdout, v3, "status");

    // Wrong keys: a clear error naming the chain source, no stack trace.
    const bad = fake.unknownUser();
    const denied = await runBin(t, ["secret", "get", "github/pat"], {
      ...awsEnv,
      AWS_ACCESS_KEY_ID: bad.accessKeyId,
      AWS_SECRET_ACCESS_KEY: bad.secretAccessKey,
    });
    assert.notEqual(denied.code, 0);
    assert.match(denied.stderr, /AWS_ACCESS_KEY_ID/);
    assert.doesNotMatch(denied.stderr, /at .*\.js:\d+/);
    assert.ok(!denied.stderr.includes(bad.secretAccessKey));
  });
});

describe("keyward on the postgres backend (the real server on 127.0.0.1:5432, a schema per test)", () => {
  const pgStore = (schema: string) => ({ backend: "postgres", ...PG_TEST, schema });

  it("two hosts share one store: the second init joins with the same master key", async () => {
    const schema = testSchema("cli_team");
    cleanups.push(() => dropSchema(schema));
    const masterKey = randomBytes(32).toString("hex");
    const hostA = home({ ...PG_TEST_ENV, KEYWARD_MASTER_KEY: masterKey });
    const hostB = home({ ...PG_TEST_ENV, KEYWARD_MASTER_KEY: masterKey });
    for (const h of [hostA, hostB]) writeConfig(h, "keyward.json", pgStore(schema));

    const initA = await hostA.run(["init"]);
    assert.equal(initA.code, 0, initA.stderr);
    const value = canary();
    assert.equal((await hostA.run(["secret", "set", "team/key"], { stdin: value })).code, 0);

    const initB = await hostB.run(["init"]);
    assert.equal(initB.code, 0, initB.stderr);
    const read = await hostB.run(["secret", "get", "team/key"]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal(read.stdout, value);
    // Each host logs its own reads.
    const logB = JSON.parse((await hostB.run(["log", "--action", "read", "--json"])).stdout);
    assert.equal(logB.length, 1);

    // A host with another master key cannot join.
    const stranger = home(PG_TEST_ENV);
    writeConfig(stranger, "keyward.json", pgStore(schema));
    const refused = await stranger.run(["init"]);
    assert.equal(refused.code, 5, refused.stderr);
    assert.match(refused.stderr, /master key/);

    // The database holds no value, in any encoding.
    const dump = await schemaDump(schema);
    assertNoCanary(dump, value, "the postgres schema");

    const status = JSON.parse((await hostB.run(["status", "--json"])).stdout);
    assert.equal(status.store.backend, "postgres");
    assert.equal(status.store.grade, "B");
  });

  it("store migrate into postgres, killed part-way, resumes and verifies", async () => {
    const schema = testSchema("cli_migrate");
    cleanups.push(() => dropSchema(schema));
    const t = home(PG_TEST_ENV);
    assert.equal((await t.run(["init"])).code, 0);
    const values = new Map<string, string>();
    for (let i = 0; i < 40; i++) {
      const name = `app/key${String(i).padStart(2, "0")}`;
      values.set(name, canary());
      const r = await t.run(["secret", "set", name], { stdin: values.get(name)! });
      assert.equal(r.code, 0, r.stderr);
    }
    const target = writeConfig(t, "team.json", pgStore(schema));

    // SIGKILL once a few secrets have landed in the destination.
    const child = spawn(
      process.execPath,
      [...process.execArgv, KEYWARD_BIN, "store", "migrate", "--to", target],
      {
        cwd: t.home,
        env: t.env,
        stdio: "ignore",
      },
    );
    const exited = new Promise((resolve) => child.on("exit", resolve));
    const landed = async () =>
      withAdmin(async (c) => {
        const exists = await c.query("SELECT to_regclass($1) AS r", [`"${schema}".secrets`]);
        if (exists.rows[0].r === null) return 0;
        return Number((await c.query(`SELECT count(*) AS n FROM "${schema}".secrets`)).rows[0].n);
      });
    let copied = 0;
    while (copied < 3) {
      copied = await landed();
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill("SIGKILL");
    await exited;
    const partial = await landed();
    assert.ok(partial < 40, `killed part-way (${partial} of 40 there)`);

    const resumed = await runBin(t, ["store", "migrate", "--to", target, "--json"], {});
    assert.equal(resumed.code, 0, resumed.stderr);
    const outcomes = JSON.parse(resumed.stdout).secrets.map((s: { outcome: string }) => s.outcome);
    assert.equal(outcomes.length, 40);
    assert.ok(outcomes.includes("verified") && outcomes.includes("copied"));

    writeConfig(t, "keyward.json", pgStore(schema));
    for (const [name, value] of values) {
      const r = await t.run(["secret", "get", name]);
      assert.equal(r.stdout, value, name);
    }
  });
});

describe("keyward on the gcp backend (fake Secret Manager v1 REST, workload identity ADC)", () => {
  it("init, set, get, disable and status through the official client, no traffic to Google", async () => {
    const fake = await FakeGcpSecretManager.start();
    cleanups.push(() => fake.close());
    const adc = gcpTestEnv(fake);
    cleanups.push(() => adc.cleanup());
    const t = home();
    const env = {
      GOOGLE_APPLICATION_CREDENTIALS: adc.credentialsFile,
      GCE_METADATA_HOST: fake.host,
    };
    writeConfig(t, "keyward.json", {
      backend: "gcp",
      project: fake.projectId,
      endpoint: fake.origin,
    });
    const init = await runBin(t, ["init"], env);
    assert.equal(init.code, 0, init.stderr);
    const [v1, v2] = [canary(), canary()];
    for (const v of [v1, v2]) {
      const r = await runBin(t, ["secret", "set", "slack/bot"], env, v);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await runBin(t, ["secret", "get", "slack/bot"], env)).stdout, v2);
    const disable = await runBin(t, ["secret", "disable", "slack/bot", "--version", "2"], env);
    assert.equal(disable.code, 0, disable.stderr);
    const refused = await runBin(t, ["secret", "get", "slack/bot"], env);
    assert.equal(refused.code, 4, refused.stderr);
    assert.match(refused.stderr, /disabled/);

    const status = await runBin(t, ["status", "--json"], env);
    assert.equal(status.code, 0, status.stderr);
    const shown = JSON.parse(status.stdout).store;
    assert.equal(shown.backend, "gcp");
    assert.equal(shown.grade, "A");
    assert.match(shown.audit, /Cloud Audit Logs/);
    assert.match(shown.auth, /GOOGLE_APPLICATION_CREDENTIALS/);
    for (const r of [init, disable, refused, status]) {
      for (const v of [v1, v2]) assertNoCanary(r.stdout + r.stderr, v, "output");
    }
    assert.equal(fake.metadataHits, 0, "no request for the GCE metadata server");
  });
});
