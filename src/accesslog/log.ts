import { createHash, createHmac, randomBytes } from "node:crypto";
import { closeSync, existsSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { KeywardError } from "../core/errors.js";
import { DecryptionError, KEY_BYTES } from "../crypto/aead.js";
import { aad, type Envelope } from "../crypto/envelope.js";
import { assertPrivateFile, ensurePrivateDir } from "../store/fsperm.js";
import { openSqlite, SqliteError } from "../store/sqlite-open.js";
import type { Actor } from "./actor.js";

export { type Actor, currentActor } from "./actor.js";

export const ACCESS_ACTIONS = [
  "init",
  "read",
  "create",
  "write",
  "stage",
  "disable",
  "enable",
  "destroy",
  "delete",
  "metadata",
  "rekey",
  "rotate",
  "revoke",
  "scope-check",
  "find-value",
  "redact",
  "launch",
  "migrate",
] as const;
export type AccessAction = (typeof ACCESS_ACTIONS)[number];
export type Outcome = "ok" | "denied" | "error";

export interface AppendInput {
  actor: Actor;
  action: AccessAction;
  secret?: string;
  version?: number;
  outcome: Outcome;
  /** A short reason such as an error code, never a value. Cut to 500 characters. */
  detail?: string;
  /** The value served or written: HMACed with the log key, never stored. */
  value?: string;
}

export interface LogEntry {
  seq: number;
  /** ISO 8601 UTC with milliseconds, taken by the appending process. */
  time: string;
  actor: Actor;
  action: AccessAction;
  secret?: string;
  version?: number;
  outcome: Outcome;
  detail?: string;
  /** HMAC-SHA256 of the value under the log key, hex. */
  valueHmac?: string;
  prevHash: string;
  hash: string;
}

export interface LogFilter {
  secret?: string;
  /** Matches the actor's user, process or profile exactly. */
  actor?: string;
  action?: AccessAction;
  /** Entries at or after this time. */
  since?: Date;
  /** Entries at or before this time. */
  until?: Date;
  /** Keep only the latest `limit` matches (still returned oldest first). */
  limit?: number;
}

/** A head hash and entry count saved earlier; lets verify see entries cut off the end. */
export interface Checkpoint {
  expectHead?: string;
  expectEntries?: number;
}

export type VerifyResult =
  | { ok: true; entries: number; head: string }
  | { ok: false; entries: number; firstBad: number; reason: string };

export const LOG_FILE = "access-log.db";
export const GENESIS_HASH = "0".repeat(64);
const FORMAT = "1";
const HASH_DOMAIN = "keyward-log-v1";
const MAX_DETAIL_CHARS = 500;
const BUSY_TIMEOUT_MS = 10_000;

const SCHEMA = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value BLOB NOT NULL) STRICT;
CREATE TABLE entries (
  seq INTEGER PRIMARY KEY,
  time TEXT NOT NULL,
  actor_user TEXT NOT NULL,
  actor_pid INTEGER NOT NULL,
  actor_process TEXT NOT NULL,
  actor_profile TEXT,
  actor_host TEXT,
  action TEXT NOT NULL,
  secret TEXT,
  version INTEGER,
  outcome TEXT NOT NULL,
  detail TEXT,
  value_hmac TEXT,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
) STRICT;
CREATE INDEX entries_by_value ON entries (value_hmac) WHERE value_hmac IS NOT NULL;
CREATE INDEX entries_by_secret ON entries (secret, seq);
CREATE INDEX entries_by_time ON entries (time);
`;

/** One row exactly as stored; the hash is computed over these raw values. */
interface EntryRow {
  seq: number;
  time: string;
  actor_user: string;
  actor_pid: number;
  actor_process: string;
  actor_profile: string | null;
  actor_host: string | null;
  action: string;
  secret: string | null;
  version: number | null;
  outcome: string;
  detail: string | null;
  value_hmac: string | null;
  prev_hash: string;
  hash: string;
}

const COLUMNS =
  "seq, time, actor_user, actor_pid, actor_process, actor_profile, actor_host, action, secret, version, outcome, detail, value_hmac, prev_hash, hash";

const ACTIONS: ReadonlySet<string> = new Set(ACCESS_ACTIONS);
const OUTCOMES: ReadonlySet<string> = new Set(["ok", "denied", "error"]);

/**
 * The hash-chained access log in <home>/access-log.db. Every entry carries the hash of the one
 * before it, so an edited, deleted, inserted or reordered entry breaks the chain at that point.
 * Values are never stored: only an HMAC under a log key wrapped by the store's envelope, which
 * lets `findValue` say which secret a leaked string was and who was served it.
 */
export class AccessLog {
  private readonly head: Database.Statement<[], { seq: number; hash: string }>;
  private readonly insert: Database.Statement<unknown[]>;
  private readonly appendTx: Database.Transaction<(row: EntryRow) => EntryRow>;
  private readonly queries = new Map<string, Database.Statement<unknown[], EntryRow>>();

  private constructor(
    private readonly db: Database.Database,
    readonly path: string,
    /** Absent when opened without the master key: values can be neither HMACed nor matched. */
    private readonly hmacKey: Buffer | undefined,
  ) {
    this.head = db.prepare("SELECT seq, hash FROM entries ORDER BY seq DESC LIMIT 1");
    this.insert = db.prepare(
      `INSERT INTO entries (${COLUMNS}) VALUES (${COLUMNS.replace(/\w+/g, "?")})`,
    );
    // Reading the head and inserting happen under one write lock (BEGIN IMMEDIATE), so
    // processes appending at once each chain onto the entry the other just wrote.
    this.appendTx = db.transaction((row: EntryRow) => {
      const head = this.head.get();
      row.seq = head === undefined ? 1 : head.seq + 1;
      row.prev_hash = head === undefined ? GENESIS_HASH : head.hash;
      // The time is taken under the lock so times never run backwards along the chain
      // (unless the clock itself does).
      row.time = new Date().toISOString();
      row.hash = hashRow(row);
      this.insert.run(
        row.seq,
        row.time,
        row.actor_user,
        row.actor_pid,
        row.actor_process,
        row.actor_profile,
        row.actor_host,
        row.action,
        row.secret,
        row.version,
        row.outcome,
        row.detail,
        row.value_hmac,
        row.prev_hash,
        row.hash,
      );
      return row;
    });
  }

  /** Creates <home>/access-log.db (mode 0600) with a new random log key. Fails if it exists. */
  static create(home: string, envelope: Envelope): AccessLog {
    ensurePrivateDir(home);
    const path = join(home, LOG_FILE);
    try {
      // O_EXCL creation with mode 0600 before SQLite touches it: never a moment with looser
      // permissions, and two inits cannot both win. SQLite gives -wal and -shm the same mode.
      closeSync(openSync(path, "wx", 0o600));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") {
        throw new KeywardError(
          "already_initialized",
          `an access log already exists at ${path}`,
          "keep it: it is the history of this store; move it aside only to start a new log on purpose",
        );
      }
      throw e;
    }
    const key = randomBytes(KEY_BYTES);
    let db: Database.Database | undefined;
    try {
      db = connect(path);
      configure(db);
      db.exec(SCHEMA);
      const setMeta = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
      db.transaction(() => {
        setMeta.run("format", Buffer.from(FORMAT));
        setMeta.run("hmac_key", envelope.wrapDataKey(key, aad.logKey()));
      })();
      return new AccessLog(db, path, key);
    } catch (e) {
      db?.close();
      rmSync(path, { force: true });
      rmSync(`${path}-wal`, { force: true });
      rmSync(`${path}-shm`, { force: true });
      throw sqliteError(e, path);
    }
  }

  /**
   * Opens an existing log. Without an envelope, `verify` and `query` work and appends without
   * a value work; appending a value and `findValue` need the master key.
   */
  static open(home: string, envelope?: Envelope): AccessLog {
    const path = join(home, LOG_FILE);
    if (!existsSync(path)) {
      throw new KeywardError(
        "not_initialized",
        `there is no access log at ${path}`,
        "run `keyward init` to create a store and its access log",
      );
    }
    assertPrivateFile(path);
    for (const companion of [`${path}-wal`, `${path}-shm`]) {
      try {
        assertPrivateFile(companion);
      } catch (e) {
        // Absent, or removed just now by the last connection closing: nothing to expose.
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      }
    }
    let db: Database.Database | undefined;
    try {
      db = connect(path, { fileMustExist: true });
      const tables = db
        .prepare(
          "SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table' AND name IN ('meta', 'entries')",
        )
        .get() as { n: number };
      const format = tables.n === 2 ? readMeta(db, "format") : undefined;
      const wrapped = tables.n === 2 ? readMeta(db, "hmac_key") : undefined;
      if (format === undefined || wrapped === undefined) {
        throw new KeywardError(
          "corrupt_store",
          `${path} is not a keyward access log (its tables, key or format record are missing)`,
          "restore the access log from a backup; the secrets themselves are in a separate file",
        );
      }
      if (String(format) !== FORMAT) {
        throw new KeywardError(
          "corrupt_store",
          `${path} has access-log format ${String(format)}, this keyward reads format ${FORMAT}`,
          "upgrade keyward",
        );
      }
      configure(db);
      const key = envelope === undefined ? undefined : unwrapKey(db, envelope, wrapped, path);
      return new AccessLog(db, path, key);
    } catch (e) {
      db?.close();
      throw sqliteError(e, path);
    }
  }

  append(input: AppendInput): LogEntry {
    if (!ACTIONS.has(input.action)) {
      throw new KeywardError("invalid_value", `unknown access-log action ${input.action}`);
    }
    if (!OUTCOMES.has(input.outcome)) {
      throw new KeywardError("invalid_value", `unknown access-log outcome ${input.outcome}`);
    }
    if (
      input.version !== undefined &&
      !(Number.isSafeInteger(input.version) && input.version > 0)
    ) {
      throw new KeywardError("invalid_value", "an access-log version must be a positive integer");
    }
    let valueHmac: string | null = null;
    if (input.value !== undefined) {
      valueHmac = createHmac("sha256", this.requireKey("record a value's fingerprint"))
        .update(input.value, "utf8")
        .digest("hex");
    }
    const { actor } = input;
    const row: EntryRow = {
      seq: 0,
      time: "",
      actor_user: wellFormed(actor.user),
      actor_pid: actor.pid,
      actor_process: wellFormed(actor.process),
      actor_profile: optionalText(actor.profile),
      actor_host: optionalText(actor.host),
      action: input.action,
      secret: optionalText(input.secret),
      version: input.version ?? null,
      outcome: input.outcome,
      detail:
        input.detail === undefined ? null : wellFormed(input.detail.slice(0, MAX_DETAIL_CHARS)),
      value_hmac: valueHmac,
      prev_hash: "",
      hash: "",
    };
    try {
      return toEntry(this.appendTx.immediate(row));
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  /** Matching entries in chain order. */
  query(filter: LogFilter = {}): LogEntry[] {
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.secret !== undefined) {
      where.push("secret = ?");
      params.push(filter.secret);
    }
    if (filter.actor !== undefined) {
      where.push("(actor_user = ? OR actor_process = ? OR actor_profile = ?)");
      params.push(filter.actor, filter.actor, filter.actor);
    }
    if (filter.action !== undefined) {
      where.push("action = ?");
      params.push(filter.action);
    }
    // ISO 8601 UTC strings of one fixed shape sort as text in time order.
    if (filter.since !== undefined) {
      where.push("time >= ?");
      params.push(filter.since.toISOString());
    }
    if (filter.until !== undefined) {
      where.push("time <= ?");
      params.push(filter.until.toISOString());
    }
    let sql = `SELECT ${COLUMNS} FROM entries${where.length ? ` WHERE ${where.join(" AND ")}` : ""}`;
    if (filter.limit !== undefined) {
      sql += " ORDER BY seq DESC LIMIT ?";
      params.push(filter.limit);
    } else {
      sql += " ORDER BY seq";
    }
    try {
      const rows = this.statement(sql).all(...params);
      if (filter.limit !== undefined) rows.reverse();
      return rows.map(toEntry);
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  /**
   * Walks the chain from the start and names the first entry that is out of sequence, does not
   * chain onto the one before, or does not match its own hash. A chain alone cannot show entries
   * cut off its end: pass a checkpoint saved earlier (head hash and entry count) for that.
   * A tampered or unreadable log gives `ok: false`, never a throw.
   */
  verify(checkpoint: Checkpoint = {}): VerifyResult {
    let entries = 0;
    let prevHash = GENESIS_HASH;
    let sawExpectedHead = false;
    try {
      for (const row of this.statement(`SELECT ${COLUMNS} FROM entries ORDER BY seq`).iterate()) {
        const expectedSeq = entries + 1;
        const bad = (reason: string): VerifyResult => ({
          ok: false,
          entries,
          firstBad: row.seq,
          reason,
        });
        if (row.seq !== expectedSeq) {
          return bad(
            `entry ${row.seq} follows entry ${entries}: ${expectedSeq === row.seq - 1 ? `entry ${expectedSeq} is` : `entries ${expectedSeq}–${row.seq - 1} are`} missing (deleted)`,
          );
        }
        if (row.prev_hash !== prevHash) {
          return bad(
            `entry ${row.seq} does not chain onto entry ${entries} (entries reordered, inserted or replaced)`,
          );
        }
        if (hashRow(row) !== row.hash) {
          return bad(`entry ${row.seq} does not match its hash (edited)`);
        }
        if (checkpoint.expectHead !== undefined && checkpoint.expectEntries === row.seq) {
          if (row.hash !== checkpoint.expectHead) {
            return bad(
              `entry ${row.seq} is not the checkpoint's head: the log was rewritten up to this entry`,
            );
          }
          sawExpectedHead = true;
        } else if (checkpoint.expectEntries === undefined && row.hash === checkpoint.expectHead) {
          sawExpectedHead = true;
        }
        prevHash = row.hash;
        entries = row.seq;
      }
    } catch (e) {
      return {
        ok: false,
        entries,
        firstBad: entries + 1,
        reason: `the log could not be read after entry ${entries}: ${(e as Error).message}`,
      };
    }
    if (checkpoint.expectEntries !== undefined && entries < checkpoint.expectEntries) {
      return {
        ok: false,
        entries,
        firstBad: entries + 1,
        reason: `the log has ${entries} entries but the checkpoint recorded ${checkpoint.expectEntries}: entries from ${entries + 1} on were removed (truncated)`,
      };
    }
    if (checkpoint.expectHead !== undefined && !sawExpectedHead) {
      return {
        ok: false,
        entries,
        firstBad: entries + 1,
        reason: "the checkpoint's head is not in the log: it was truncated or rewritten",
      };
    }
    return { ok: true, entries, head: prevHash };
  }

  /**
   * The HMAC entries carry for this value (hex): how an incident report names a leaked value
   * without holding it, matchable against the log by anyone holding the master key.
   */
  valueHmac(value: string): string {
    return createHmac("sha256", this.requireKey("match values"))
      .update(value, "utf8")
      .digest("hex");
  }

  /** Every entry that served or wrote this exact value, oldest first. */
  findValue(value: string): LogEntry[] {
    const hmac = this.valueHmac(value);
    try {
      return this.statement(`SELECT ${COLUMNS} FROM entries WHERE value_hmac = ? ORDER BY seq`)
        .all(hmac)
        .map(toEntry);
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  /**
   * First half of a rekey: stores the log key rewrapped for the new master key beside the old
   * wrapping (`rewrap` unwraps under the old KEK and wraps under the new one). The key itself,
   * and so every recorded HMAC, stays the same. The store commits its own rekey next, then
   * `commitRekey` drops the old wrapping; if the process dies in between, `open` finds whichever
   * wrapping the master key in use opens, so neither order of failure loses the log key.
   */
  stageRekey(rewrap: (wrapped: Buffer, aad: string) => Buffer): void {
    try {
      this.db
        .transaction(() => {
          const wrapped = readMeta(this.db, "hmac_key");
          if (wrapped === undefined) {
            throw new KeywardError("corrupt_store", `${this.path} has lost its log key record`);
          }
          this.db
            .prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('hmac_key_next', ?)")
            .run(rewrap(wrapped, aad.logKey()));
        })
        .immediate();
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  /** Second half of a rekey, after the store committed: the new wrapping becomes the only one. */
  commitRekey(): void {
    try {
      promoteNextKey(this.db);
    } catch (e) {
      throw sqliteError(e, this.path);
    }
  }

  close(): void {
    this.db.close();
  }

  private requireKey(purpose: string): Buffer {
    if (this.hmacKey === undefined) {
      throw new KeywardError(
        "no_master_key",
        `the access log ${this.path} was opened without the master key, so it cannot ${purpose}`,
        "open the log through an unlocked store (a master key from KEYWARD_MASTER_KEY, a key file, a passphrase or the OS keyring)",
      );
    }
    return this.hmacKey;
  }

  /** Filter combinations are few, so each distinct statement is prepared once and kept. */
  private statement(sql: string): Database.Statement<unknown[], EntryRow> {
    let stmt = this.queries.get(sql);
    if (stmt === undefined) {
      stmt = this.db.prepare<unknown[], EntryRow>(sql);
      this.queries.set(sql, stmt);
    }
    return stmt;
  }
}

/**
 * SHA-256 over a JSON array of the previous hash and every stored field in a fixed order.
 * JSON strings are unambiguous, so no two different entries serialise alike; hashing the raw
 * row means a value whose type was changed in place (text for a number) also fails.
 */
function hashRow(row: EntryRow): string {
  return createHash("sha256")
    .update(
      JSON.stringify([
        HASH_DOMAIN,
        row.prev_hash,
        row.seq,
        row.time,
        row.actor_user,
        row.actor_pid,
        row.actor_process,
        row.actor_profile,
        row.actor_host,
        row.action,
        row.secret,
        row.version,
        row.outcome,
        row.detail,
        row.value_hmac,
      ]),
    )
    .digest("hex");
}

function toEntry(row: EntryRow): LogEntry {
  const actor: Actor = { user: row.actor_user, pid: row.actor_pid, process: row.actor_process };
  if (row.actor_profile !== null) actor.profile = row.actor_profile;
  if (row.actor_host !== null) actor.host = row.actor_host;
  const entry: LogEntry = {
    seq: row.seq,
    time: row.time,
    actor,
    action: row.action as AccessAction,
    outcome: row.outcome as Outcome,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  if (row.secret !== null) entry.secret = row.secret;
  if (row.version !== null) entry.version = row.version;
  if (row.detail !== null) entry.detail = row.detail;
  if (row.value_hmac !== null) entry.valueHmac = row.value_hmac;
  return entry;
}

function optionalText(s: string | undefined): string | null {
  return s === undefined ? null : wellFormed(s);
}

/**
 * SQLite stores UTF-8, so a lone UTF-16 surrogate would come back as U+FFFD and the entry
 * would no longer match the hash computed at append time. Replace them before hashing.
 */
function wellFormed(s: string): string {
  return /[\uD800-\uDFFF]/.test(s) ? Buffer.from(s, "utf8").toString("utf8") : s;
}

function connect(path: string, options: Database.Options = {}): Database.Database {
  return openSqlite(path, { ...options, timeout: BUSY_TIMEOUT_MS });
}

/**
 * WAL lets readers run beside the one writer; synchronous=NORMAL in WAL mode keeps the log
 * consistent after a crash and skips the fsync per append that would cost milliseconds on
 * every secret read (a power cut may lose the last few entries, never corrupt the chain).
 */
function configure(db: Database.Database): void {
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = NORMAL");
}

function readMeta(db: Database.Database, key: string): Buffer | undefined {
  const row = db.prepare("SELECT value FROM meta WHERE key = ?").get(key) as
    | { value: unknown }
    | undefined;
  return Buffer.isBuffer(row?.value) ? row.value : undefined;
}

function unwrapKey(
  db: Database.Database,
  envelope: Envelope,
  wrapped: Buffer,
  path: string,
): Buffer {
  try {
    const key = envelope.unwrapDataKey(wrapped, aad.logKey());
    // A rekey that died after staging but before the store committed: the old key still rules.
    if (readMeta(db, "hmac_key_next") !== undefined) {
      db.prepare("DELETE FROM meta WHERE key = 'hmac_key_next'").run();
    }
    return key;
  } catch (e) {
    if (!(e instanceof DecryptionError)) throw e;
  }
  const next = readMeta(db, "hmac_key_next");
  if (next !== undefined) {
    try {
      const key = envelope.unwrapDataKey(next, aad.logKey());
      // A rekey that died after the store committed: finish it.
      promoteNextKey(db);
      return key;
    } catch (e) {
      if (!(e instanceof DecryptionError)) throw e;
    }
  }
  throw new KeywardError(
    "log_tampered",
    `the log key in ${path} does not open with this store's master key (edited, or the log belongs to another store)`,
    "restore the access log from a backup, or move it aside and run `keyward log verify` on the copy",
  );
}

function promoteNextKey(db: Database.Database): void {
  db.transaction(() => {
    const next = readMeta(db, "hmac_key_next");
    if (next === undefined) return;
    db.prepare("UPDATE meta SET value = ? WHERE key = 'hmac_key'").run(next);
    db.prepare("DELETE FROM meta WHERE key = 'hmac_key_next'").run();
  }).immediate();
}

/** SQLite failures as KeywardErrors naming the file; KeywardErrors pass through. */
function sqliteError(e: unknown, path: string): unknown {
  if (!(e instanceof SqliteError)) return e;
  if (e.code.startsWith("SQLITE_NOTADB") || e.code.startsWith("SQLITE_CORRUPT")) {
    return new KeywardError(
      "corrupt_store",
      `${path} is not a readable access log (${e.message})`,
      "restore the access log from a backup; the secrets themselves are in a separate file",
    );
  }
  if (e.code.startsWith("SQLITE_BUSY")) {
    return new KeywardError(
      "io",
      `the access log ${path} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s`,
      "retry; if it persists, look for a stuck keyward process",
    );
  }
  return new KeywardError("io", `the access log ${path} failed: ${e.message}`);
}
