/**
 * How keyward finds and authenticates to Vault, against the local fake (./testing/fake-vault.ts).
 * Documents followed: hashicorp/vault website/content/api-docs/auth/token.mdx (lookup-self,
 * renew-self), auth/approle.mdx, auth/jwt.mdx, auth/kubernetes.mdx (logins and their errors),
 * api-docs/index.mdx (X-Vault-Token, X-Vault-Namespace, status codes), and the vault CLI's
 * environment (VAULT_ADDR, VAULT_TOKEN, VAULT_NAMESPACE, VAULT_CACERT, VAULT_SKIP_VERIFY).
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type ErrorCode, isKeywardError } from "../core/errors.js";
import { FakeVault } from "./testing/fake-vault.js";
import { VaultStore, VaultStoreOptionsSchema, vaultBackend } from "./vault.js";
import { type VaultAuth, VaultClient } from "./vault-client.js";

const fastRetry = { attempts: 3, baseDelayMs: 1, maxDelayMs: 5 };
const dir = mkdtempSync(join(tmpdir(), "keyward-vault-auth-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): string {
  const path = join(dir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}

async function rejectsWith(
  action: Promise<unknown>,
  code: ErrorCode,
  mentions: string[],
  never: string[] = [],
): Promise<void> {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" lacks "${m}"`);
    const text = JSON.stringify(e.toJSON()) + String(e.stack);
    for (const n of never) assert.ok(!text.includes(n), `the error reveals a credential: ${text}`);
    assert.ok(e.fix !== undefined && e.fix.length > 0);
    return true;
  });
}

describe("vault auth", () => {
  let fake: FakeVault;
  before(async () => {
    fake = await FakeVault.start();
    fake.addToken("s.good-token-5f2a"); // never expires, like a root token: tests below move time

    fake.enableAppRole("approle", "role-7c1e", "secret-id-9b3d");
    fake.enableJwtRole("jwt", "gitlab", "ci", "eyJ.ci-jwt-4e8a.sig");
    fake.enableJwtRole("kubernetes", "k8s", "keyward", "eyJ.sa-token-1d6b.sig");
  });
  after(() => fake.close());

  const client = (auth: VaultAuth, env: NodeJS.ProcessEnv = {}) =>
    new VaultClient({ auth }, { VAULT_ADDR: fake.url, HOME: dir, ...env }, { retry: fastRetry });

  async function works(c: VaultClient): Promise<void> {
    try {
      const r = await c.request("GET", { path: "auth/token/lookup-self" });
      assert.equal(r.status, 200);
    } finally {
      c.close();
    }
  }

  it("token from VAULT_TOKEN, else from a token file (the vault CLI's order)", async () => {
    await works(client({ method: "token" }, { VAULT_TOKEN: "s.good-token-5f2a" }));
    const tokenFile = file("token", "s.good-token-5f2a\n");
    await works(client({ method: "token", tokenFile }));
    file(".vault-token", "s.good-token-5f2a"); // what `vault login` leaves in the home folder
    await works(client({ method: "token" }, { VAULT_TOKEN: "" }));
  });

  it("a refused token names its source, never the token", async () => {
    const c = client({ method: "token" }, { VAULT_TOKEN: "s.wrong-token-0a0a" });
    await rejectsWith(
      c.authenticate(),
      "upstream_unauthorized",
      ["VAULT_TOKEN"],
      ["s.wrong-token-0a0a"],
    );
    c.close();
    const missing = client({ method: "token", tokenFile: join(dir, "no-such-token") });
    await rejectsWith(missing.authenticate(), "upstream_unauthorized", ["no-such-token"]);
    missing.close();
  });

  it("AppRole from variables or files; wrong credentials name both sources", async () => {
    await works(
      client(
        { method: "approle" },
        { VAULT_ROLE_ID: "role-7c1e", VAULT_SECRET_ID: "secret-id-9b3d" },
      ),
    );
    await works(
      client({
        method: "approle",
        roleIdFile: file("role-id", "role-7c1e"),
        secretIdFile: file("secret-id", "secret-id-9b3d\n"),
      }),
    );
    const wrong = client(
      { method: "approle" },
      { VAULT_ROLE_ID: "role-7c1e", VAULT_SECRET_ID: "secret-id-wrong-3c3c" },
    );
    await rejectsWith(
      wrong.authenticate(),
      "upstream_unauthorized",
      ["auth/approle/login", "VAULT_ROLE_ID", "VAULT_SECRET_ID", "invalid role or secret ID"],
      ["secret-id-wrong-3c3c"],
    );
    wrong.close();
    const unset = client(
      { method: "approle", secretIdEnv: "MY_SECRET_ID" },
      { VAULT_ROLE_ID: "r" },
    );
    await rejectsWith(unset.authenticate(), "upstream_unauthorized", ["MY_SECRET_ID"]);
    unset.close();
    const wrongMount = client(
      { method: "approle", mount: "elsewhere" },
      { VAULT_ROLE_ID: "role-7c1e", VAULT_SECRET_ID: "secret-id-9b3d" },
    );
    await rejectsWith(
      wrongMount.authenticate(),
      "upstream_unauthorized",
      ["auth/elsewhere/login"],
      ["secret-id-9b3d"],
    );
    wrongMount.close();
  });

  it("JWT/OIDC from a CI token file; a bad JWT names the file", async () => {
    await works(
      client({
        method: "jwt",
        mount: "gitlab",
        role: "ci",
        jwtFile: file("ci.jwt", "eyJ.ci-jwt-4e8a.sig"),
      }),
    );
    await works(
      client({ method: "jwt", mount: "gitlab", role: "ci" }, { VAULT_JWT: "eyJ.ci-jwt-4e8a.sig" }),
    );
    const bad = client({
      method: "jwt",
      mount: "gitlab",
      role: "ci",
      jwtFile: file("old.jwt", "eyJ.expired-jwt-7f7f.sig"),
    });
    await rejectsWith(
      bad.authenticate(),
      "upstream_unauthorized",
      ["old.jwt", "auth/gitlab/login"],
      ["eyJ.expired-jwt-7f7f.sig"],
    );
    bad.close();
  });

  it("Kubernetes from the service-account token file; a refused token names the file", async () => {
    await works(
      client({
        method: "kubernetes",
        mount: "k8s",
        role: "keyward",
        tokenFile: file("sa", "eyJ.sa-token-1d6b.sig"),
      }),
    );
    const bad = client({
      method: "kubernetes",
      mount: "k8s",
      role: "keyward",
      tokenFile: file("sa-other", "eyJ.other-sa-2b2b.sig"),
    });
    await rejectsWith(
      bad.authenticate(),
      "upstream_unauthorized",
      ["sa-other", "403"],
      ["eyJ.other-sa-2b2b.sig"],
    );
    bad.close();
  });

  it("logs in again when the login token expired (403), once", async () => {
    const c = new VaultClient(
      { auth: { method: "approle" } },
      { VAULT_ADDR: fake.url, VAULT_ROLE_ID: "role-7c1e", VAULT_SECRET_ID: "secret-id-9b3d" },
      { retry: fastRetry },
    );
    const logins = () => fake.countApplied("POST", /^auth\/approle\/login$/);
    const before = logins();
    await c.request("GET", { path: "auth/token/lookup-self" });
    assert.equal(logins(), before + 1);
    // Vault's clock moves past the token's TTL while keyward's does not notice.
    fake.advance(2 * 3600 * 1000);
    const r = await c.request("GET", { path: "auth/token/lookup-self" });
    assert.equal(r.status, 200);
    assert.equal(logins(), before + 2);
    c.close();
  });

  it("renews a token at two thirds of its lease (renew-self) and keeps using it", async () => {
    fake.addToken("s.short-6d6d", { ttlSeconds: 60, maxTtlSeconds: 600, renewable: true });
    const c = new VaultClient(
      { auth: { method: "token" } },
      { VAULT_ADDR: fake.url, VAULT_TOKEN: "s.short-6d6d" },
      { retry: fastRetry, now: () => fake.now() },
    );
    const renewals = () => fake.countApplied("POST", /^auth\/token\/renew-self$/);
    await c.authenticate();
    fake.advance(30_000);
    await c.request("GET", { path: "auth/token/lookup-self" });
    assert.equal(renewals(), 0, "not yet at two thirds");
    fake.advance(15_000);
    await c.request("GET", { path: "auth/token/lookup-self" });
    assert.equal(renewals(), 1);
    // Without renewal the token would have expired 60 s after it was made.
    fake.advance(40_000);
    const r = await c.request("GET", { path: "auth/token/lookup-self" });
    assert.equal(r.status, 200);
    assert.equal(renewals(), 2);
    c.close();
  });

  it("a token that lacks a policy is a permission error naming the path, not a login error", async () => {
    fake.addToken("s.narrow-8e8e", { allow: /^secret\/data\/other\// });
    const c = client({ method: "token" }, { VAULT_TOKEN: "s.narrow-8e8e" });
    await rejectsWith(
      c.request("GET", { path: "secret/data/keyward/secrets/x" }),
      "upstream_forbidden",
      ["secret/data/keyward/secrets/x", "VAULT_TOKEN"],
      ["s.narrow-8e8e"],
    );
    c.close();
  });

  it("open refuses a missing mount with not_initialized and how to create it", async () => {
    await rejectsWith(
      VaultStore.open(VaultStoreOptionsSchema.parse({ mount: "nothing-here" }), {
        VAULT_ADDR: fake.url,
        VAULT_TOKEN: "s.good-token-5f2a",
      }),
      "not_initialized",
      ["nothing-here/"],
      ["s.good-token-5f2a"],
    );
  });
});

describe("vault connection settings", () => {
  it("sends VAULT_NAMESPACE as X-Vault-Namespace; the wrong namespace is refused", async () => {
    const fake = await FakeVault.start({ namespace: "team-a" });
    try {
      fake.addToken("s.ns-token-1212");
      const env = { VAULT_ADDR: fake.url, VAULT_TOKEN: "s.ns-token-1212" };
      const good = new VaultClient(
        { auth: { method: "token" } },
        { ...env, VAULT_NAMESPACE: "team-a/" },
      );
      await good.authenticate();
      good.close();
      assert.equal(fake.requests.at(-1)?.headers["x-vault-namespace"], "team-a");
      const none = new VaultClient({ auth: { method: "token" } }, env, { retry: fastRetry });
      await rejectsWith(none.authenticate(), "upstream_unauthorized", ["VAULT_TOKEN"]);
      none.close();
    } finally {
      await fake.close();
    }
  });

  it("trusts the CA in VAULT_CACERT, refuses an unknown CA and VAULT_SKIP_VERIFY", async (t) => {
    const certDir = mkdtempSync(join(tmpdir(), "keyward-vault-tls-"));
    t.after(() => rmSync(certDir, { recursive: true, force: true }));
    const key = join(certDir, "key.pem");
    const cert = join(certDir, "cert.pem");
    try {
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          key,
          "-out",
          cert,
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
        ],
        { stdio: "ignore" },
      );
    } catch {
      t.skip("openssl is not installed");
      return;
    }
    const fake = await FakeVault.start({
      tls: { key: readFileSync(key, "utf8"), cert: readFileSync(cert, "utf8") },
    });
    try {
      fake.addToken("s.tls-token-3434");
      const env = { VAULT_ADDR: fake.url, VAULT_TOKEN: "s.tls-token-3434" };
      const trusted = new VaultClient(
        { auth: { method: "token" } },
        { ...env, VAULT_CACERT: cert },
      );
      await trusted.authenticate();
      trusted.close();
      const untrusted = new VaultClient({ auth: { method: "token" } }, env, { retry: fastRetry });
      await rejectsWith(
        untrusted.authenticate(),
        "upstream_unavailable",
        [fake.url],
        ["s.tls-token-3434"],
      );
      untrusted.close();
      assert.throws(
        () => new VaultClient({ auth: { method: "token" } }, { ...env, VAULT_SKIP_VERIFY: "true" }),
        (e: unknown) =>
          isKeywardError(e) && e.code === "refused" && e.message.includes("VAULT_SKIP_VERIFY"),
      );
    } finally {
      await fake.close();
    }
  });

  it("facts name the auth method and its source without a network call", () => {
    const facts = vaultBackend.facts(
      VaultStoreOptionsSchema.parse({
        auth: { method: "approle", secretIdFile: "/run/keyward/secret-id" },
      }),
      { env: {} },
    );
    assert.deepEqual(facts, {
      auth: "AppRole at auth/approle (role id from VAULT_ROLE_ID, secret id from file /run/keyward/secret-id)",
      audit: "Vault audit devices",
      grade: "A",
    });
    assert.equal(
      vaultBackend.facts(VaultStoreOptionsSchema.parse({}), { env: { VAULT_TOKEN: "x" } }).auth,
      "token from VAULT_TOKEN",
    );
  });

  it("the options schema has defaults, refuses unknown fields and has no place for a credential", () => {
    const parsed = VaultStoreOptionsSchema.parse({});
    assert.equal(parsed.mount, "secret");
    assert.equal(parsed.prefix, "keyward/");
    assert.deepEqual(parsed.auth, { method: "token" });
    for (const bad of [
      { token: "s.abc" },
      { auth: { method: "token", token: "s.abc" } },
      { auth: { method: "approle", secretId: "x" } },
      { auth: { method: "kubernetes" } },
      { prefix: "../up" },
      { mount: "a b" },
    ]) {
      assert.equal(VaultStoreOptionsSchema.safeParse(bad).success, false, JSON.stringify(bad));
    }
  });
});
