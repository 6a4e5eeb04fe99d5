/**
 * The CLI on every store backend, end to end: init, set, get, status and store migrate with the
 * backend chosen by keyward.yaml's store: section. Remote engines are the local fakes in
 * src/store/testing (each cites the API document it reproduces).
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { FakeVault } from "../store/testing/fake-vault.js";
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
