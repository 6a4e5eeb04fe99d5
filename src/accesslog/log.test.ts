import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import Database from "better-sqlite3";
import { KeywardError } from "../core/errors.js";
import { Envelope } from "../crypto/envelope.js";
import { describeArgv } from "./actor.js";
import {
  AccessLog,
  type Actor,
  currentActor,
  GENESIS_HASH,
  LOG_FILE,
  type LogEntry,
} from "./log.js";

const alice: Actor = { user: "alice", pid: 101, process: "keyward secret get", host: "h1" };
const bob: Actor = { user: "bob", pid: 202, process: "keyward run", profile: "github-mcp" };

const homes: string[] = [];
function newHome(): string {
  const home = mkdtempSync(join(tmpdir(), "keyward-log-"));
  homes.push(home);
  return home;
}
after(() => {
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

function newEnvelope(): Envelope {
  return Envelope.create(randomBytes(32), "raw", "env").envelope;
}

/** A log of `n` reads of app/token by alice, closed, for tampering through raw SQL. */
function closedLog(n: number): { home: string; envelope: Envelope; entries: LogEntry[] } {
  const home = newHome();
  const envelope = newEnvelope();
  const log = AccessLog.create(home, envelope);
  const entries: LogEntry[] = [];
  for (let i = 1; i <= n; i++) {
    entries.push(
      log.append({ actor: alice, action: "read", secret: "app/token", version: i, outcome: "ok" }),
    );
  }
  log.close();
  return { home, envelope, entries };
}

function rawSql(home: string, run: (db: Database.Database) => void): void {
  const db = new Database(join(home, LOG_FILE));
  try {
    run(db);
  } finally {
    db.close();
  }
}

function verifyClosed(home: string, checkpoint?: Parameters<AccessLog["verify"]>[0]) {
  const log = AccessLog.open(home);
  try {
    return log.verify(checkpoint);
  } finally {
    log.close();
  }
}

/** The documented hash: SHA-256 of a JSON array of the domain, prevHash and every column. */
function documentedHash(row: Record<string, unknown>): string {
  const fields = [
    "prev_hash",
    "seq",
    "time",
    "actor_user",
    "actor_pid",
    "actor_process",
    "actor_profile",
    "actor_host",
    "action",
    "secret",
    "version",
    "outcome",
    "detail",
    "value_hmac",
  ];
  return createHash("sha256")
    .update(JSON.stringify(["keyward-log-v1", ...fields.map((f) => row[f])]))
    .digest("hex");
}

function assertKeywardError(code: string, pattern?: RegExp) {
  return (e: unknown) => {
    assert.ok(e instanceof KeywardError, `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code);
    if (pattern) assert.match(e.message, pattern);
    return true;
  };
}

describe("AccessLog append and query", () => {
  let log: AccessLog;
  let all: LogEntry[];
  before(() => {
    log = AccessLog.create(newHome(), newEnvelope());
    log.append({
      actor: alice,
      action: "create",
      secret: "app/token",
      version: 1,
      outcome: "ok",
      value: "v1",
    });
    log.append({
      actor: alice,
      action: "read",
      secret: "app/token",
      version: 1,
      outcome: "ok",
      value: "v1",
    });
    log.append({
      actor: bob,
      action: "read",
      secret: "app/token",
      version: 1,
      outcome: "ok",
      value: "v1",
    });
    log.append({
      actor: bob,
      action: "read",
      secret: "db/password",
      outcome: "denied",
      detail: "disabled",
    });
    log.append({ actor: alice, action: "disable", secret: "app/token", version: 1, outcome: "ok" });
    all = log.query();
  });
  after(() => log.close());

  it("numbers entries from 1, chains them from the genesis hash and keeps every field", () => {
    assert.deepEqual(
      all.map((e) => e.seq),
      [1, 2, 3, 4, 5],
    );
    assert.equal(all[0]!.prevHash, GENESIS_HASH);
    for (let i = 1; i < all.length; i++) assert.equal(all[i]!.prevHash, all[i - 1]!.hash);
    const denied = all[3]!;
    assert.deepEqual(denied.actor, bob);
    assert.equal(denied.outcome, "denied");
    assert.equal(denied.detail, "disabled");
    assert.equal(denied.version, undefined);
    assert.equal(denied.valueHmac, undefined);
    assert.match(all[0]!.valueHmac!, /^[0-9a-f]{64}$/);
    assert.ok(!Number.isNaN(Date.parse(all[0]!.time)));
  });

  it("filters by secret, action and actor (user, process or profile)", () => {
    assert.deepEqual(
      log.query({ secret: "db/password" }).map((e) => e.seq),
      [4],
    );
    assert.deepEqual(
      log.query({ secret: "app/token", action: "read" }).map((e) => e.seq),
      [2, 3],
    );
    assert.deepEqual(
      log.query({ actor: "alice" }).map((e) => e.seq),
      [1, 2, 5],
    );
    assert.deepEqual(
      log.query({ actor: "github-mcp" }).map((e) => e.seq),
      [3, 4],
    );
    assert.deepEqual(
      log.query({ actor: "keyward run" }).map((e) => e.seq),
      [3, 4],
    );
    assert.deepEqual(log.query({ actor: "nobody" }), []);
  });

  it("filters by time, inclusive at both ends", () => {
    const pivot = new Date(all[2]!.time);
    const since = log.query({ since: pivot });
    const until = log.query({ until: pivot });
    assert.deepEqual(
      since,
      all.filter((e) => e.time >= all[2]!.time),
    );
    assert.deepEqual(
      until,
      all.filter((e) => e.time <= all[2]!.time),
    );
    assert.ok(since.some((e) => e.seq === 3) && until.some((e) => e.seq === 3));
  });

  it("limit keeps the latest matches, oldest first", () => {
    assert.deepEqual(
      log.query({ limit: 2 }).map((e) => e.seq),
      [4, 5],
    );
    assert.deepEqual(
      log.query({ actor: "alice", limit: 2 }).map((e) => e.seq),
      [2, 5],
    );
  });

  it("refuses an unknown action or outcome and a bad version", () => {
    const bad = [
      { actor: alice, action: "peek", outcome: "ok" },
      { actor: alice, action: "read", outcome: "maybe" },
      { actor: alice, action: "read", outcome: "ok", version: 0 },
    ];
    for (const input of bad) {
      assert.throws(() => log.append(input as never), assertKeywardError("invalid_value"));
    }
    assert.equal(log.query().length, 5);
  });
});

describe("AccessLog verify", () => {
  it("accepts an intact chain and returns its head and length", () => {
    const { home, entries } = closedLog(5);
    assert.deepEqual(verifyClosed(home), { ok: true, entries: 5, head: entries[4]!.hash });
  });

  it("accepts an empty log with the genesis head", () => {
    const home = newHome();
    AccessLog.create(home, newEnvelope()).close();
    assert.deepEqual(verifyClosed(home), { ok: true, entries: 0, head: GENESIS_HASH });
  });

  it("names an entry whose field was edited", () => {
    for (const [column, value] of [
      ["secret", "other/secret"],
      ["outcome", "denied"],
      ["actor_user", "mallory"],
      ["version", 9],
      ["time", "2001-01-01T00:00:00.000Z"],
    ] as const) {
      const { home } = closedLog(5);
      rawSql(home, (db) => db.prepare(`UPDATE entries SET ${column} = ? WHERE seq = 3`).run(value));
      const result = verifyClosed(home);
      assert.equal(result.ok, false, column);
      assert.ok(!result.ok);
      assert.equal(result.firstBad, 3, column);
      assert.match(result.reason, /edited/);
    }
  });

  it("names the entry after an edited one whose hash was recomputed", () => {
    const { home } = closedLog(5);
    rawSql(home, (db) => {
      const row = db.prepare("SELECT * FROM entries WHERE seq = 3").get() as Record<
        string,
        unknown
      >;
      row.actor_user = "mallory";
      db.prepare("UPDATE entries SET actor_user = ?, hash = ? WHERE seq = 3").run(
        "mallory",
        documentedHash(row),
      );
    });
    const result = verifyClosed(home);
    assert.ok(!result.ok);
    assert.equal(result.firstBad, 4);
    assert.match(result.reason, /does not chain/);
  });

  it("names the entry after a deleted one", () => {
    const { home } = closedLog(6);
    rawSql(home, (db) => db.prepare("DELETE FROM entries WHERE seq = 3").run());
    const result = verifyClosed(home);
    assert.ok(!result.ok);
    assert.equal(result.firstBad, 4);
    assert.equal(result.entries, 2);
    assert.match(result.reason, /entry 3 is missing \(deleted\)/);
  });

  it("names a forged entry inserted in the middle with a correct hash of its own", () => {
    const { home, entries } = closedLog(5);
    rawSql(home, (db) => {
      db.transaction(() => {
        // Make room at seq 3 by shifting 3..5 up by one (through negatives: seq is unique).
        db.prepare("UPDATE entries SET seq = -seq WHERE seq >= 3").run();
        db.prepare("UPDATE entries SET seq = 1 - seq WHERE seq < 0").run();
        const forged: Record<string, unknown> = {
          seq: 3,
          time: entries[1]!.time,
          actor_user: "alice",
          actor_pid: 101,
          actor_process: "keyward secret get",
          actor_profile: null,
          actor_host: "h1",
          action: "read",
          secret: "app/token",
          version: 99,
          outcome: "ok",
          detail: null,
          value_hmac: null,
          prev_hash: entries[1]!.hash,
        };
        forged.hash = documentedHash(forged);
        const columns = Object.keys(forged);
        db.prepare(
          `INSERT INTO entries (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`,
        ).run(forged);
      })();
    });
    const result = verifyClosed(home);
    assert.ok(!result.ok);
    // The forged entry itself chains and hashes correctly; the shifted entry after it cannot.
    assert.equal(result.firstBad, 4);
  });

  it("names a forged entry appended with a made-up previous hash", () => {
    const { home, entries } = closedLog(3);
    rawSql(home, (db) => {
      const forged: Record<string, unknown> = {
        seq: 4,
        time: entries[2]!.time,
        actor_user: "alice",
        actor_pid: 101,
        actor_process: "keyward secret get",
        actor_profile: null,
        actor_host: null,
        action: "read",
        secret: "app/token",
        version: 1,
        outcome: "ok",
        detail: null,
        value_hmac: null,
        prev_hash: "f".repeat(64),
      };
      forged.hash = documentedHash(forged);
      const columns = Object.keys(forged);
      db.prepare(
        `INSERT INTO entries (${columns.join(", ")}) VALUES (${columns.map((c) => `@${c}`).join(", ")})`,
      ).run(forged);
    });
    const result = verifyClosed(home);
    assert.ok(!result.ok);
    assert.equal(result.firstBad, 4);
  });

  it("names the first of two entries whose contents were swapped", () => {
    const { home } = closedLog(6);
    rawSql(home, (db) => {
      db.transaction(() => {
        db.prepare("UPDATE entries SET seq = -1 WHERE seq = 2").run();
        db.prepare("UPDATE entries SET seq = 2 WHERE seq = 5").run();
        db.prepare("UPDATE entries SET seq = 5 WHERE seq = -1").run();
      })();
    });
    const result = verifyClosed(home);
    assert.ok(!result.ok);
    assert.equal(result.firstBad, 2);
    assert.match(result.reason, /reordered/);
  });

  it("sees a truncated tail only against a checkpoint", () => {
    const { home, entries } = closedLog(6);
    const checkpoint = { expectHead: entries[5]!.hash, expectEntries: 6 };
    assert.deepEqual(verifyClosed(home, checkpoint), {
      ok: true,
      entries: 6,
      head: entries[5]!.hash,
    });
    rawSql(home, (db) => db.prepare("DELETE FROM entries WHERE seq >= 5").run());

    // The chain that is left is intact: without a checkpoint nothing can tell.
    assert.deepEqual(verifyClosed(home), { ok: true, entries: 4, head: entries[3]!.hash });
    for (const cp of [checkpoint, { expectEntries: 6 }, { expectHead: entries[5]!.hash }]) {
      const result = verifyClosed(home, cp);
      assert.ok(!result.ok, JSON.stringify(cp));
      assert.equal(result.firstBad, 5);
      assert.match(result.reason, /truncated/);
    }
  });

  it("accepts a checkpoint from earlier in a log that has grown since", () => {
    const { home, entries } = closedLog(6);
    const result = verifyClosed(home, { expectHead: entries[2]!.hash, expectEntries: 3 });
    assert.deepEqual(result, { ok: true, entries: 6, head: entries[5]!.hash });
  });

  it("sees a log rewritten up to the checkpoint's head", () => {
    const { home, entries } = closedLog(4);
    rawSql(home, (db) => {
      // A consistent rewrite: every hash recomputed after changing entry 2.
      const rows = db.prepare("SELECT * FROM entries ORDER BY seq").all() as Record<
        string,
        unknown
      >[];
      let prev = GENESIS_HASH;
      for (const row of rows) {
        if (row.seq === 2) row.actor_user = "mallory";
        row.prev_hash = prev;
        row.hash = documentedHash(row);
        prev = row.hash as string;
        db.prepare("UPDATE entries SET actor_user = ?, prev_hash = ?, hash = ? WHERE seq = ?").run(
          row.actor_user,
          row.prev_hash,
          row.hash,
          row.seq,
        );
      }
    });
    assert.equal(verifyClosed(home).ok, true);
    const result = verifyClosed(home, { expectHead: entries[3]!.hash, expectEntries: 4 });
    assert.ok(!result.ok);
    assert.equal(result.firstBad, 4);
    assert.match(result.reason, /rewritten/);
  });

  it("keeps verifying after an append with lone surrogates in text fields", () => {
    const home = newHome();
    const log = AccessLog.create(home, newEnvelope());
    log.append({
      actor: { ...alice, process: "keyward \uD800" },
      action: "read",
      outcome: "error",
      detail: "bad \uDC00 input",
    });
    log.close();
    assert.equal(verifyClosed(home).ok, true);
  });
});

describe("AccessLog value fingerprints", () => {
  const value = `sk-live-${randomBytes(24).toString("hex")}`;

  it("findValue names the secret, version and readers of a value, and nothing for another", () => {
    const home = newHome();
    const log = AccessLog.create(home, newEnvelope());
    log.append({
      actor: alice,
      action: "write",
      secret: "app/token",
      version: 2,
      outcome: "ok",
      value,
    });
    log.append({
      actor: alice,
      action: "write",
      secret: "app/other",
      version: 1,
      outcome: "ok",
      value: "other",
    });
    log.append({
      actor: bob,
      action: "read",
      secret: "app/token",
      version: 2,
      outcome: "ok",
      value,
    });
    const found = log.findValue(value);
    assert.deepEqual(
      found.map((e) => [e.seq, e.secret, e.version, e.actor.user, e.action]),
      [
        [1, "app/token", 2, "alice", "write"],
        [3, "app/token", 2, "bob", "read"],
      ],
    );
    assert.deepEqual(log.findValue(`${value}x`), []);
    assert.deepEqual(log.findValue(""), []);
    log.close();
  });

  it("never writes the value, its base64 or its hex to any file or entry", () => {
    const home = newHome();
    const log = AccessLog.create(home, newEnvelope());
    for (let i = 0; i < 50; i++) {
      log.append({
        actor: alice,
        action: "read",
        secret: "app/token",
        version: 1,
        outcome: "ok",
        value,
      });
    }
    const forms = [
      value,
      Buffer.from(value).toString("base64"),
      Buffer.from(value).toString("base64url"),
      Buffer.from(value).toString("hex"),
    ];
    const assertAbsent = () => {
      for (const file of readdirSync(home)) {
        const bytes = readFileSync(join(home, file));
        for (const form of forms) {
          assert.equal(bytes.indexOf(form), -1, `${file} contains the value`);
          assert.equal(
            bytes.indexOf(Buffer.from(form, "utf16le")),
            -1,
            `${file} contains the value`,
          );
        }
      }
    };
    assert.ok(readdirSync(home).some((f) => f.endsWith("-wal")));
    assertAbsent(); // while open: the entries sit in the WAL
    const serialised = JSON.stringify(log.query());
    for (const form of forms) assert.ok(!serialised.includes(form));
    log.close();
    assertAbsent(); // after close: checkpointed into the main file
  });
});

describe("AccessLog files and keys", () => {
  it("creates the file with mode 0600 and refuses to create it twice", () => {
    const home = newHome();
    const envelope = newEnvelope();
    const log = AccessLog.create(home, envelope);
    log.append({ actor: alice, action: "init", outcome: "ok" });
    const files = readdirSync(home);
    assert.deepEqual(files.sort(), [LOG_FILE, `${LOG_FILE}-shm`, `${LOG_FILE}-wal`]);
    for (const file of files) assert.equal(statSync(join(home, file)).mode & 0o777, 0o600, file);
    log.close();
    assert.throws(
      () => AccessLog.create(home, envelope),
      assertKeywardError("already_initialized", /access-log\.db/),
    );
    assert.equal(verifyClosed(home).entries, 1);
  });

  it("refuses a log file, or its write-ahead log, that others can read", () => {
    const { home } = closedLog(1);
    chmodSync(join(home, LOG_FILE), 0o644);
    assert.throws(
      () => AccessLog.open(home),
      assertKeywardError("unsafe_permissions", /access-log\.db/),
    );
    chmodSync(join(home, LOG_FILE), 0o600);
    const open = AccessLog.open(home);
    open.append({ actor: alice, action: "read", outcome: "ok" });
    chmodSync(join(home, `${LOG_FILE}-wal`), 0o640);
    assert.throws(() => AccessLog.open(home), assertKeywardError("unsafe_permissions", /-wal/));
    open.close();
  });

  it("reports a missing log as not initialised", () => {
    assert.throws(() => AccessLog.open(newHome()), assertKeywardError("not_initialized"));
  });

  it("reports a file that is not SQLite as a corrupt store naming the file", () => {
    const home = newHome();
    writeFileSync(join(home, LOG_FILE), "this is not a database\n".repeat(200), { mode: 0o600 });
    assert.throws(
      () => AccessLog.open(home),
      assertKeywardError("corrupt_store", /access-log\.db/),
    );
  });

  it("reports an SQLite file without the log's records as a corrupt store", () => {
    const home = newHome();
    const path = join(home, LOG_FILE);
    writeFileSync(path, "", { mode: 0o600 });
    new Database(path).exec("CREATE TABLE t (x)").close();
    assert.throws(
      () => AccessLog.open(home),
      assertKeywardError("corrupt_store", /access-log\.db/),
    );
  });

  it("without an envelope verifies and queries, but cannot fingerprint or match values", () => {
    const { home } = closedLog(3);
    const log = AccessLog.open(home);
    assert.equal(log.verify().ok, true);
    assert.equal(log.query({ secret: "app/token" }).length, 3);
    log.append({ actor: alice, action: "read", secret: "app/token", outcome: "denied" });
    assert.throws(
      () => log.findValue("anything"),
      assertKeywardError("no_master_key", /without the master key/),
    );
    assert.throws(
      () =>
        log.append({
          actor: alice,
          action: "read",
          secret: "app/token",
          outcome: "ok",
          value: "v",
        }),
      assertKeywardError("no_master_key"),
    );
    log.close();
    assert.deepEqual(verifyClosed(home).ok, true);
  });

  it("refuses another store's master key", () => {
    const { home } = closedLog(1);
    assert.throws(() => AccessLog.open(home, newEnvelope()), assertKeywardError("log_tampered"));
  });

  it("rekey rewraps the log key: old fingerprints still match under the new master key", () => {
    const home = newHome();
    const oldEnvelope = newEnvelope();
    const newEnv = newEnvelope();
    const log = AccessLog.create(home, oldEnvelope);
    log.append({
      actor: alice,
      action: "write",
      secret: "app/token",
      version: 1,
      outcome: "ok",
      value: "v1",
    });
    log.stageRekey((wrapped, aad) =>
      newEnv.wrapDataKey(oldEnvelope.unwrapDataKey(wrapped, aad), aad),
    );
    log.commitRekey();
    log.close();
    assert.throws(() => AccessLog.open(home, oldEnvelope), assertKeywardError("log_tampered"));
    const reopened = AccessLog.open(home, newEnv);
    assert.deepEqual(
      reopened.findValue("v1").map((e) => e.seq),
      [1],
    );
    reopened.close();
  });

  it("a rekey interrupted between stage and commit keeps the log key for whichever key won", () => {
    for (const storeCommitted of [false, true]) {
      const home = newHome();
      const oldEnvelope = newEnvelope();
      const newEnv = newEnvelope();
      const log = AccessLog.create(home, oldEnvelope);
      log.append({
        actor: alice,
        action: "write",
        secret: "s",
        version: 1,
        outcome: "ok",
        value: "v1",
      });
      log.stageRekey((wrapped, aad) =>
        newEnv.wrapDataKey(oldEnvelope.unwrapDataKey(wrapped, aad), aad),
      );
      log.close(); // the process dies here
      const winner = storeCommitted ? newEnv : oldEnvelope;
      const loser = storeCommitted ? oldEnvelope : newEnv;
      const reopened = AccessLog.open(home, winner);
      assert.equal(reopened.findValue("v1").length, 1);
      reopened.close();
      // The open settled it: only the winner's wrapping is left.
      assert.throws(() => AccessLog.open(home, loser), assertKeywardError("log_tampered"));
    }
  });
});

describe("AccessLog under concurrent appends", () => {
  it("chains 2 × 200 appends from two processes into one valid chain", async () => {
    const home = newHome();
    AccessLog.create(home, newEnvelope()).close();
    const worker = fileURLToPath(
      new URL(`./log.test.worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
    );
    const children = ["a", "b"].map((label) =>
      spawn(process.execPath, [...process.execArgv, worker, home, "200", label], {
        stdio: ["pipe", "pipe", "inherit"],
      }),
    );
    const ready = children.map(
      (child) => new Promise<void>((resolve) => child.stdout.once("data", () => resolve())),
    );
    const exited = children.map(
      (child) =>
        new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code))),
    );
    await Promise.all(ready);
    for (const child of children) child.stdin.write("go\n");
    assert.deepEqual(await Promise.all(exited), [0, 0]);

    const log = AccessLog.open(home);
    const result = log.verify();
    assert.equal(result.ok, true);
    assert.equal(result.entries, 400);
    assert.equal(log.query({ secret: "worker/a" }).length, 200);
    assert.equal(log.query({ actor: "keyward test b" }).length, 200);
    log.close();
  });
});

describe("currentActor", () => {
  it("describes this process by user, pid, host and the command words given", () => {
    const actor = currentActor("secret get", "github-mcp");
    assert.equal(actor.pid, process.pid);
    assert.equal(actor.process, "keyward secret get");
    assert.equal(actor.profile, "github-mcp");
    assert.ok(actor.user.length > 0);
    assert.equal(currentActor("run").profile, undefined);
  });

  it("guesses command words from argv but never keeps arguments that could be values", () => {
    assert.equal(
      describeArgv(["node", "/usr/bin/keyward", "secret", "get", "github/token"]),
      "keyward secret get",
    );
    assert.equal(
      describeArgv(["node", "/x/dist/cli/main.js", "secret", "set", "hunter"]),
      "main secret set",
    );
    assert.equal(describeArgv(["node", "/usr/bin/keyward", "ghp_abc123XYZ", "secret"]), "keyward");
    assert.equal(describeArgv(["node", "/usr/bin/keyward", "--token=abc", "secret"]), "keyward");
    assert.equal(describeArgv(["node", "/usr/bin/keyward", "run", "abc123def"]), "keyward run");
    assert.equal(describeArgv(["node"]), "node");
  });
});
