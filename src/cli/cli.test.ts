import assert from "node:assert/strict";
import { chmodSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KEYWARD_BIN } from "../testing/bin.js";
import { type TestHome, testHome } from "../testing/cli.js";

describe("keyward CLI end to end", () => {
  let t: TestHome;
  before(async () => {
    t = testHome();
    const init = await t.run(["init"]);
    assert.equal(init.code, 0, init.stderr);
  });
  after(() => t.cleanup());

  it("init makes a private folder and store, and refuses to run twice", async () => {
    const kw = t.env.KEYWARD_HOME!;
    assert.equal(statSync(kw).mode & 0o777, 0o700);
    assert.equal(statSync(join(kw, "store.db")).mode & 0o777, 0o600);
    assert.equal(statSync(join(kw, "access-log.db")).mode & 0o777, 0o600);
    const again = await t.run(["init"]);
    assert.equal(again.code, 4);
    assert.match(again.stderr, /already exists/);
  });

  it("sets from stdin, lists, reads back through a pipe, and keeps versions", async () => {
    const set1 = await t.run(
      ["secret", "set", "github/prod-token", "--scope", "repo:read", "--sensitivity", "high"],
      {
        stdin: "first-value-abcdefgh\n",
      },
    );
    assert.equal(set1.code, 0, set1.stderr);
    const set2 = await t.run(["secret", "set", "github/prod-token"], {
      stdin: "second-value-abcdefgh\n",
    });
    assert.equal(set2.code, 0, set2.stderr);
    const get = await t.run(["secret", "get", "github/prod-token"]);
    assert.equal(
      get.stdout,
      "second-value-abcdefgh",
      "the trailing newline from stdin is not part of the value",
    );
    const prev = await t.run(["secret", "get", "github/prod-token", "--stage", "previous"]);
    assert.equal(prev.stdout, "first-value-abcdefgh");
    const ls = await t.run(["secret", "ls", "--json"]);
    const rows = JSON.parse(ls.stdout);
    const row = rows.find((r: { name: string }) => r.name === "github/prod-token");
    assert.equal(row.metadata.sensitivity, "high");
    assert.deepEqual(row.metadata.scope, ["repo:read"]);
    assert.equal(
      row.metadata.rotation.ttlSeconds,
      30 * 86400,
      "high sensitivity defaults to 30 days",
    );
    assert.ok(row.rotationDueAt);
    const text = await t.run(["secret", "ls"]);
    const line = text.stdout.split("\n").find((l) => l.startsWith("github/prod-token"));
    assert.match(
      line ?? "",
      /^github\/prod-token\s+v2\s+-\s+\S+\s+high\s+repo:read\s+in (29|30)d$/,
    );
  });

  it("refuses to print a value to a terminal without --reveal", async () => {
    await t.run(["secret", "set", "tty/check"], { stdin: "tty-check-value-123" });
    const refused = await t.run(["secret", "get", "tty/check"], { stdoutTTY: true });
    assert.equal(refused.code, 2);
    assert.equal(refused.stdout, "");
    assert.match(refused.stderr, /--reveal/);
    const shown = await t.run(["secret", "get", "tty/check", "--reveal"], { stdoutTTY: true });
    assert.equal(shown.stdout, "tty-check-value-123\n");
  });

  it("disables and re-enables a version; a disabled read is refused and logged as denied", async () => {
    await t.run(["secret", "set", "svc/key"], { stdin: "svc-key-value-0001" });
    assert.equal((await t.run(["secret", "disable", "svc/key"])).code, 0);
    const denied = await t.run(["secret", "get", "svc/key"]);
    assert.equal(denied.code, 4);
    assert.match(denied.stderr, /svc\/key/);
    assert.match(denied.stderr, /disabled/);
    assert.equal((await t.run(["secret", "enable", "svc/key", "--version", "1"])).code, 0);
    assert.equal((await t.run(["secret", "get", "svc/key"])).stdout, "svc-key-value-0001");
    const log = JSON.parse((await t.run(["log", "--secret", "svc/key", "--json"])).stdout);
    assert.deepEqual(
      log.map((e: { action: string; outcome: string }) => `${e.action}:${e.outcome}`),
      ["write:ok", "disable:ok", "read:denied", "enable:ok", "read:ok"],
    );
  });

  it("rm needs --yes, destroys a version or the whole secret", async () => {
    await t.run(["secret", "set", "tmp/gone"], { stdin: "to-be-destroyed-1" });
    await t.run(["secret", "set", "tmp/gone"], { stdin: "to-be-destroyed-2" });
    const noYes = await t.run(["secret", "rm", "tmp/gone"]);
    assert.equal(noYes.code, 2);
    assert.equal((await t.run(["secret", "rm", "tmp/gone", "--version", "1", "--yes"])).code, 0);
    const destroyed = await t.run(["secret", "get", "tmp/gone", "--version", "1"]);
    assert.equal(destroyed.code, 4);
    assert.match(destroyed.stderr, /destroyed/);
    assert.equal((await t.run(["secret", "rm", "tmp/gone", "--yes"])).code, 0);
    const missing = await t.run(["secret", "get", "tmp/gone"]);
    assert.equal(missing.code, 3);
  });

  it("find-value names the secret and version and who was served it", async () => {
    await t.run(["secret", "set", "leak/me"], { stdin: "leaked-value-xyz-123456" });
    await t.run(["secret", "get", "leak/me"]);
    const found = await t.run(["log", "find-value", "--json"], {
      stdin: "leaked-value-xyz-123456\n",
    });
    assert.equal(found.code, 0, found.stderr);
    const result = JSON.parse(found.stdout);
    assert.deepEqual(result.versions, ["leak/me@1"]);
    assert.equal(result.servedTo.length, 1);
    assert.equal(result.servedTo[0].actor.process, "keyward secret get");
    const none = await t.run(["log", "find-value"], { stdin: "never-stored-value-1234" });
    assert.equal(none.code, 3);
  });

  it("log verify passes on an untouched log and fails, naming the entry, on an edited one", async () => {
    const ok = await t.run(["log", "verify", "--json"]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).ok, true);
    const { default: Database } = await import("better-sqlite3");
    const db = new Database(join(t.env.KEYWARD_HOME!, "access-log.db"));
    const table = (
      db
        .prepare("select name from sqlite_master where type='table' and name like '%entr%'")
        .get() as { name: string }
    ).name;
    db.prepare(`update ${table} set outcome = 'denied' where seq = 3`).run();
    db.close();
    const bad = await t.run(["log", "verify"]);
    assert.equal(bad.code, 6);
    assert.match(bad.stdout, /entry 3/);
  });

  it("status shows the store, the key source order and the log", async () => {
    const status = await t.run(["status", "--json"]);
    assert.equal(status.code, 6, "the log was edited by the previous test");
    const s = JSON.parse(status.stdout);
    assert.equal(s.store.backend, "sqlite");
    assert.equal(s.keySource.source, "env");
    assert.deepEqual(
      s.keySources.map((x: { source: string }) => x.source),
      ["env", "key-file", "passphrase", "keyring"],
    );
  });
});

describe("keyward CLI bad input", () => {
  let t: TestHome;
  before(async () => {
    t = testHome();
    await t.run(["init"]);
  });
  after(() => t.cleanup());

  it("rejects bad names with the rule and no stack trace", async () => {
    for (const name of ["../etc/passwd", "/abs", "a//b", "x\u0007y", "n".repeat(201)]) {
      const r = await t.run(["secret", "set", name], { stdin: "some-value-123456" });
      assert.equal(r.code, 2, name);
      assert.match(r.stderr, /invalid secret name/);
      assert.doesNotMatch(r.stderr, /\n\s+at /);
    }
  });

  it("rejects a value over 1 MiB and writes nothing", async () => {
    const r = await t.run(["secret", "set", "big/value"], { stdin: "x".repeat(1024 * 1024 + 1) });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /1 MiB|1048576/);
    assert.equal((await t.run(["secret", "get", "big/value"])).code, 3);
  });

  it("warns that values under 8 characters cannot be scrubbed", async () => {
    const r = await t.run(["secret", "set", "short/one"], { stdin: "abc" });
    assert.equal(r.code, 0);
    assert.match(r.stderr, /shorter than 8/);
  });

  it("a wrong master key names the source and fixes, no stack trace", async () => {
    const r = await t.run(["secret", "ls"], { env: { KEYWARD_MASTER_KEY: "11".repeat(32) } });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /KEYWARD_MASTER_KEY does not open this store/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("a malformed master key says what shape is expected", async () => {
    const r = await t.run(["secret", "ls"], { env: { KEYWARD_MASTER_KEY: "not-a-key" } });
    assert.equal(r.code, 5);
    assert.match(r.stderr, /64 hex characters/);
  });

  it("refuses a store readable by others, saying how to fix it", async () => {
    const db = join(t.env.KEYWARD_HOME!, "store.db");
    chmodSync(db, 0o644);
    const r = await t.run(["secret", "ls"]);
    chmodSync(db, 0o600);
    assert.equal(r.code, 7);
    assert.match(r.stderr, /chmod/);
  });

  it("a corrupt database file is reported, not crashed on", async () => {
    const u = testHome();
    try {
      await u.run(["init"]);
      writeFileSync(join(u.env.KEYWARD_HOME!, "store.db"), Buffer.alloc(8192, 0x41), {
        mode: 0o600,
      });
      const r = await u.run(["secret", "ls"]);
      assert.equal(r.code, 6, r.stderr);
      assert.match(r.stderr, /store\.db/);
      assert.doesNotMatch(r.stderr, /internal error/);
    } finally {
      u.cleanup();
    }
  });

  it("commands before init say to run keyward init", async () => {
    const u = testHome();
    try {
      const r = await u.run(["secret", "ls"]);
      assert.equal(r.code, 3);
      assert.match(r.stderr, /keyward init/);
    } finally {
      u.cleanup();
    }
  });

  it("unknown commands and options exit 2", async () => {
    assert.equal((await t.run(["frobnicate"])).code, 2);
    assert.equal((await t.run(["secret", "ls", "--bogus"])).code, 2);
  });

  it("a passphrase store opens with KEYWARD_PASSPHRASE or a prompt, and says so when it is wrong", async () => {
    const u = testHome({ KEYWARD_MASTER_KEY: "" });
    try {
      const env = { KEYWARD_PASSPHRASE: "correct horse battery staple" };
      const init = await u.run(["init", "--key-source", "passphrase"], { env });
      assert.equal(init.code, 0, init.stderr);
      await u.run(["secret", "set", "p/one"], { env, stdin: "passphrase-protected-1" });
      assert.equal(
        (await u.run(["secret", "get", "p/one"], { env })).stdout,
        "passphrase-protected-1",
      );
      const wrong = await u.run(["secret", "get", "p/one"], {
        env: { KEYWARD_PASSPHRASE: "wrong horse battery staple" },
      });
      assert.equal(wrong.code, 5);
      assert.match(wrong.stderr, /passphrase/);
      const none = await u.run(["secret", "get", "p/one"]);
      assert.equal(none.code, 5);
      assert.match(none.stderr, /no terminal/);
      // On a terminal keyward asks, without echoing what is typed.
      const typed = await u.run(["secret", "get", "p/one"], {
        stdin: "correct horse battery staple\n",
        stdinTTY: true,
      });
      assert.equal(typed.code, 0, typed.stderr);
      assert.equal(typed.stdout, "passphrase-protected-1");
      assert.match(typed.stderr, /Passphrase: /);
      assert.ok(!typed.stderr.includes("correct horse"), "the passphrase is echoed");
    } finally {
      u.cleanup();
    }
  });

  it("without a keyring service, init falls back to a 0600 key file and says so", async () => {
    const u = testHome({ KEYWARD_MASTER_KEY: "" });
    try {
      const init = await u.run(["init"]);
      assert.equal(init.code, 0, init.stderr);
      assert.match(init.stderr, /no OS keyring service answered/);
      assert.equal(statSync(join(u.env.KEYWARD_HOME!, "master.key")).mode & 0o777, 0o600);
      await u.run(["secret", "set", "k/one"], { stdin: "key-file-protected-1" });
      assert.equal((await u.run(["secret", "get", "k/one"])).stdout, "key-file-protected-1");
      chmodSync(join(u.env.KEYWARD_HOME!, "master.key"), 0o644);
      const loose = await u.run(["secret", "get", "k/one"]);
      assert.equal(loose.code, 7);
    } finally {
      u.cleanup();
    }
  });

  it("rekey rewraps data keys: the new key opens everything, the old one nothing", async () => {
    const u = testHome();
    try {
      await u.run(["init"]);
      await u.run(["secret", "set", "r/one"], { stdin: "rekey-value-one-1" });
      await u.run(["secret", "set", "r/two"], { stdin: "rekey-value-two-2" });
      const newKey = "ab".repeat(32);
      const rekey = await u.run(["rekey", "--key-source", "env", "--json"], {
        env: { KEYWARD_NEW_MASTER_KEY: newKey },
      });
      assert.equal(rekey.code, 0, rekey.stderr);
      assert.equal(JSON.parse(rekey.stdout).rewrapped, 2);
      assert.equal(
        (await u.run(["secret", "get", "r/two"], { env: { KEYWARD_MASTER_KEY: newKey } })).stdout,
        "rekey-value-two-2",
      );
      assert.equal((await u.run(["secret", "get", "r/two"])).code, 5);
      const found = await u.run(["log", "find-value", "--json"], {
        env: { KEYWARD_MASTER_KEY: newKey },
        stdin: "rekey-value-one-1",
      });
      assert.deepEqual(
        JSON.parse(found.stdout).versions,
        ["r/one@1"],
        "the log key survives a rekey",
      );
    } finally {
      u.cleanup();
    }
  });
});

describe("the keyward bin as a process", () => {
  it("runs without a terminal, with exit codes and no stack traces", async () => {
    const { spawnSync } = await import("node:child_process");
    const bin = KEYWARD_BIN;
    const t = testHome();
    try {
      const run = (args: string[], input?: string) =>
        spawnSync(process.execPath, [...process.execArgv, bin, ...args], {
          env: t.env,
          input: input ?? "",
          encoding: "utf8",
        });
      assert.equal(run(["--help"]).status, 0);
      const before = run(["secret", "ls"]);
      assert.equal(before.status, 3);
      assert.match(before.stderr, /keyward init/);
      assert.equal(run(["init"]).status, 0);
      assert.equal(run(["secret", "set", "proc/one"], "process-value-123\n").status, 0);
      const get = run(["secret", "get", "proc/one"]);
      assert.equal(get.status, 0);
      assert.equal(get.stdout, "process-value-123");
      const bad = run(["secret", "get", "../x"]);
      assert.equal(bad.status, 2);
      assert.doesNotMatch(bad.stderr, /\n\s+at /);
    } finally {
      t.cleanup();
    }
  });
});
