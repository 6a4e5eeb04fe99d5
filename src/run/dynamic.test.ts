/**
 * `keyward run` with Vault dynamic secrets, end to end: the real bin as a child process, the
 * store on the local fake Vault (src/store/testing/fake-vault.ts, which issues
 * `database/creds/<role>` leases as short as a test needs), and a tiny server that prints the
 * password it got. Nothing here leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigSchema } from "../config/schema.js";
import { FakeVault } from "../store/testing/fake-vault.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";

/** Appends "<user> <sha256(password)>" per start, and prints the password on stdout and stderr. */
const TINY_SERVER = [
  'const user = process.env.DB_USER ?? "";',
  'const password = process.env.DB_PASSWORD ?? "";',
  'const hash = require("node:crypto").createHash("sha256").update(password).digest("hex");',
  'require("node:fs").appendFileSync(process.argv[1], user + " " + hash + "\\n");',
  'process.stdout.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "password " + password } }) + "\\n");',
  'process.stderr.write("password " + password + "\\n");',
  "process.stdin.resume();",
  'process.stdin.on("end", () => process.exit(0));',
].join("\n");

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

async function until(what: string, ok: () => boolean, detail: () => string): Promise<void> {
  for (let i = 0; i < 1200 && !ok(); i++) await new Promise((r) => setTimeout(r, 25));
  assert.ok(ok(), `${what}: ${detail()}`);
}

function assertNoLeak(values: string[], ...texts: string[]): void {
  values.forEach((value, v) => {
    for (const form of encodedForms(value)) {
      texts.forEach((text, i) => {
        assert.ok(!text.includes(form), `credential ${v} leaked into text ${i}`);
      });
    }
  });
}

describe("keyward run with Vault dynamic secrets (fake Vault)", () => {
  let fake: FakeVault;
  let t: TestHome;
  let config: string;
  const storeCanary = `kwcanary_${randomBytes(24).toString("base64url")}`;
  const started = () => join(t.home, "started");

  before(async () => {
    fake = await FakeVault.start();
    const token = `hvs.${randomBytes(12).toString("base64url")}`;
    fake.addToken(token);
    // renewable: renewed at 2s, granted only 1s more at the max TTL, then replaced.
    fake.databaseRole("readonly", { ttlSeconds: 3, maxTtlSeconds: 4 });
    fake.databaseRole("fixed", { ttlSeconds: 2, renewable: false });
    t = testHome({ VAULT_ADDR: fake.url, VAULT_TOKEN: token });
    config = join(t.home, "keyward.yaml");
    const profile = (name: string, role: string) => [
      `  ${name}:`,
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: [-e, ${JSON.stringify(TINY_SERVER)}, ${JSON.stringify(started())}]`,
      "    env:",
      "      API_KEY: demo/api-key",
      `      DB_USER: { vaultDynamic: database/creds/${role}, field: username }`,
      `      DB_PASSWORD: { vaultDynamic: database/creds/${role}, field: password }`,
    ];
    writeFileSync(
      config,
      [
        "version: 1",
        "store: { backend: vault }",
        "secrets:",
        "  demo/api-key: { sensitivity: standard }",
        "profiles:",
        ...profile("db", "readonly"),
        ...profile("fixed", "fixed"),
        "",
      ].join("\n"),
    );
    assert.equal((await t.run(["--config", config, "init"])).code, 0);
    const set = await t.run(["--config", config, "secret", "set", "demo/api-key"], {
      stdin: storeCanary,
    });
    assert.equal(set.code, 0, set.stderr);
  });
  after(async () => {
    t.cleanup();
    await fake.close();
  });

  /** Starts the real bin on a profile; `stop()` closes its stdin and waits for the exit. */
  const launch = (profile: string) => {
    writeFileSync(started(), "");
    const child = spawn(
      process.execPath,
      [...process.execArgv, KEYWARD_BIN, "--config", config, "run", profile],
      { env: t.env, stdio: ["pipe", "pipe", "pipe"] },
    );
    const out = { stdout: "", stderr: "" };
    child.stdout?.on("data", (c: Buffer) => {
      out.stdout += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      out.stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    const starts = () =>
      existsSync(started())
        ? readFileSync(started(), "utf8")
            .split("\n")
            .filter((l) => l !== "")
        : [];
    return {
      out,
      starts,
      /** Waits for `ok`; on a timeout the message carries keyward's stderr. */
      until: (what: string, ok: () => boolean) => until(what, ok, () => out.stderr),
      stop: async (signal?: NodeJS.Signals) => {
        if (signal) child.kill(signal);
        else child.stdin?.end();
        return exited;
      },
    };
  };

  /** The readonly role's leases taken from now on: this test's, not an earlier one's. */
  const leasesFromNow = () => {
    const earlier = fake.leasesUnder("database/creds/readonly/").length;
    return () => fake.leasesUnder("database/creds/readonly/").slice(earlier);
  };

  it("injects both fields of one read, scrubs them, renews the lease, replaces it at the max TTL and revokes at exit", async () => {
    const run = launch("db");
    await run.until("the server started", () => run.starts().length >= 1);
    const [first] = fake.leasesUnder("database/creds/readonly/");
    assert.ok(first, "a lease was taken");
    assert.equal(fake.leasesUnder("database/creds/readonly/").length, 1, "one read for two vars");
    assert.equal(run.starts()[0], `${first.data.username} ${sha256(first.data.password!)}`);

    await run.until("the lease renewed", () => first.lastRenewal !== undefined);
    assert.equal(run.starts().length, 1, "a renewal does not restart the server");
    await run.until("the server restarted", () => run.starts().length >= 2);
    const leases = fake.leasesUnder("database/creds/readonly/");
    assert.equal(leases.length, 2, "a new credential at the max TTL");
    const second = leases[1]!;
    assert.equal(run.starts()[1], `${second.data.username} ${sha256(second.data.password!)}`);
    await run.until("the old lease revoked", () => first.revoked);
    assert.equal(second.revoked, false, "the lease in use is kept");

    const code = await run.stop();
    assert.equal(code, 0, run.out.stderr);
    assert.equal(second.revoked, true, "the last lease is revoked at exit (sync)");
    assert.match(run.out.stderr, /Vault lease of database\/creds\/readonly cannot be renewed/);
    assert.match(run.out.stdout, /\[REDACTED:vault\/database\/creds\/readonly\/password\]/);
    assert.match(run.out.stderr, /\[REDACTED:vault\/database\/creds\/readonly\/password\]/);

    const log = await t.run(["--config", config, "log", "--json"]);
    assert.equal(log.code, 0, log.stderr);
    const entries = JSON.parse(log.stdout) as Array<{
      action: string;
      secret?: string;
      outcome: string;
      detail?: string;
      actor: { profile?: string };
    }>;
    const reads = entries.filter(
      (e) => e.action === "read" && e.secret === "vault/database/creds/readonly/password",
    );
    assert.equal(reads.length, 2, "each credential read is logged");
    assert.ok(reads.every((e) => e.actor.profile === "db"));
    assert.deepEqual(
      reads.map((e) => [first.id, second.id].find((id) => e.detail?.includes(id))).sort(),
      [first.id, second.id].sort(),
      "each read names its lease",
    );
    assert.ok(
      entries.some(
        (e) => e.action === "revoke" && e.outcome === "ok" && e.detail?.includes(second.id),
      ),
    );
    const secrets = [first, second].flatMap((l) => [l.data.password!, l.data.username!]);
    assertNoLeak([...secrets, storeCanary], run.out.stdout, run.out.stderr, log.stdout);
    // keyward never sends a dynamic credential back to Vault.
    const sent = fake.requests.map((r) => r.url + r.body).join("\n");
    assertNoLeak(secrets, sent);
  });

  it("a lease that is not renewable is replaced by a new credential and a restarted server; SIGTERM revokes", async () => {
    const run = launch("fixed");
    await run.until("the server restarted", () => run.starts().length >= 2);
    const [first, second] = fake.leasesUnder("database/creds/fixed/");
    assert.ok(first && second);
    assert.equal(first.lastRenewal, undefined, "no renewal was tried");
    assert.equal(run.starts()[1], `${second.data.username} ${sha256(second.data.password!)}`);
    await run.stop("SIGTERM");
    for (const lease of fake.leasesUnder("database/creds/fixed/")) {
      assert.equal(lease.revoked, true, "every lease is revoked at the end");
    }
    assertNoLeak(
      fake.leasesUnder("database/creds/fixed/").map((l) => l.data.password!),
      run.out.stdout,
      run.out.stderr,
    );
  });

  /**
   * The server restarted with a second lease's credential, the first lease revoked once that
   * one was in use, a clean exit, and no password of this test's leases in keyward's output.
   */
  const assertReplaced = async (
    run: ReturnType<typeof launch>,
    ours: () => ReturnType<FakeVault["leasesUnder"]>,
    first: ReturnType<FakeVault["leasesUnder"]>[number],
  ) => {
    await run.until("the server restarted", () => run.starts().length >= 2);
    const second = ours()[1];
    assert.ok(second, "a new credential was read");
    assert.equal(run.starts()[1], `${second.data.username} ${sha256(second.data.password!)}`);
    await run.until("the old lease revoked", () => first.revoked);
    assert.equal(await run.stop(), 0, run.out.stderr);
    assertNoLeak(
      ours().map((l) => l.data.password!),
      run.out.stdout,
      run.out.stderr,
    );
    return second;
  };

  /** The db profile, started, with its first lease and the leases taken since the launch. */
  const launchWithLease = async () => {
    const ours = leasesFromNow();
    const run = launch("db");
    try {
      await run.until("the server started", () => run.starts().length >= 1);
      const [first] = ours();
      assert.ok(first);
      return { run, ours, first };
    } catch (error) {
      await run.stop("SIGKILL");
      throw error;
    }
  };

  it("a refused renewal replaces the credential at once and restarts the server", async () => {
    const { run, ours, first } = await launchWithLease();
    try {
      // Vault answers 400 for a lease it no longer knows (revoked behind keyward's back).
      fake.addFault({ path: /^sys\/leases\/renew$/, status: 400 });
      const second = await assertReplaced(run, ours, first);
      assert.equal(first.lastRenewal, undefined, "the refused renewal changed nothing in Vault");
      assert.equal(second.revoked, true);
      assert.match(run.out.stderr, /could not renew the Vault lease/);
    } finally {
      fake.clearFaults();
      await run.stop("SIGKILL");
    }
  });

  it("a credential that cannot be read when due is read again 5 s later; the server keeps the old one meanwhile", async () => {
    const { run, ours, first } = await launchWithLease();
    try {
      // The renewal is refused, and so is the first read of a replacement (403: a policy
      // taken away, which the Vault client does not retry itself).
      fake.addFault({ path: /^sys\/leases\/renew$/, status: 400 });
      fake.addFault({ method: "GET", path: /^database\/creds\/readonly$/, status: 403 });
      await run.until("the failed read reported", () =>
        /could not read a new credential from database\/creds\/readonly/.test(run.out.stderr),
      );
      assert.match(run.out.stderr, /trying again in 5s/);
      assert.equal(run.starts().length, 1, "no restart without a new credential");
      assert.equal(first.revoked, false, "the old credential stays until a new one is in use");
      await assertReplaced(run, ours, first);
    } finally {
      fake.clearFaults();
      await run.stop("SIGKILL");
    }
  });

  it("says so on stderr when a lease cannot be revoked at exit", async () => {
    const run = launch("db");
    await run.until("the server started", () => run.starts().length >= 1);
    fake.addFault({ path: /^sys\/leases\/revoke$/, status: 500, times: 10 });
    await run.stop();
    fake.clearFaults();
    assert.match(run.out.stderr, /could not revoke the Vault lease database\/creds\/readonly\//);
    assertNoLeak(
      fake.leasesUnder("database/creds/readonly/").map((l) => l.data.password!),
      run.out.stderr,
    );
  });

  it("the config accepts a dynamic secret only with the vault backend and a command", () => {
    const env = { DB_PASSWORD: { vaultDynamic: "database/creds/readonly", field: "password" } };
    const parse = (store: string, profile: Record<string, unknown>) =>
      ConfigSchema.safeParse({ version: 1, store: { backend: store }, profiles: { p: profile } });
    assert.equal(parse("vault", { command: "x", env }).success, true);
    const sqlite = parse("sqlite", { command: "x", env });
    assert.equal(sqlite.success, false);
    assert.match(JSON.stringify(sqlite.error?.issues), /set store: \{ backend: vault \}/);
    const remote = parse("vault", { url: "https://mcp.example.com/mcp", env });
    assert.match(JSON.stringify(remote.error?.issues), /only a profile with a command/);
    const badPath = parse("vault", {
      command: "x",
      env: { DB: { vaultDynamic: "../sys/raw", field: "password" } },
    });
    assert.equal(badPath.success, false);
  });
});
