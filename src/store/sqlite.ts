import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, linkSync, openSync, rmSync } from "node:fs";
import { join } from "node:path";
import type Database from "better-sqlite3";
import { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import type { SecretMetadata, SecretRecord, Stage, VersionState } from "../core/types.js";
import type { Envelope, KeyHeader } from "../crypto/envelope.js";
import {
  type CachedRecord,
  cachedRecord,
  checkExpectedRevision,
  checkLock,
  checkLockHolder,
  checkPutVersion,
  checkReadable,
  checkRotationRevision,
  checkSelector,
  checkStageMove,
  checkStageTarget,
  checkStateChange,
  checkValue,
  checkVersionNumber,
  checkVersionWrites,
  copyRecord,
  createConflict,
  nextVersionState,
  noSuchVersion,
  nothingSelected,
  revisionConflict,
  rotationInput,
  secretExists,
  secretNotFound,
  versionInfo,
  versionOf,
} from "./checks.js";
import { assertPrivateDir, assertPrivateFile } from "./fsperm.js";
import {
  dataKeyTampered,
  newDataKey,
  openValue,
  parseKeyHeader,
  rewrapDataKey,
  sealValue,
  unwrapDataKey,
} from "./sealing.js";
import { openSqlite, SqliteError } from "./sqlite-open.js";
import type {
  EnvelopeStore,
  PutVersionOptions,
  ReadResult,
  RotationRecord,
  RotationRecordInput,
  StoreDescription,
  VersionSelector,
  VersionWrite,
} from "./types.js";

/** The store's file inside KEYWARD_HOME. */
export const STORE_FILE = "store.db";
export const SCHEMA_VERSION = 2;

/** What a tampered row's fix says to restore. */
const BACKUP = STORE_FILE;

/** How long a write waits for another process's write to finish before giving up. */
const BUSY_TIMEOUT_MS = 5000;

// One row per stage per secret: the primary key is what makes "at most one version holds a
// stage" a rule of the database, not only of this code. Versions are never deleted while their
// secret lives (a destroyed version keeps its row, loses its value), and `last_version` plus
// `retired_names` keep version numbers from ever being reused, even across delete and re-create.
// AUTOINCREMENT keeps secret ids unique forever, so in-memory caches keyed by id cannot confuse
// a deleted secret with a new one of the same name.
const SCHEMA_V1 = `
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE secrets (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL UNIQUE,
  revision INTEGER NOT NULL CHECK (revision >= 1),
  metadata TEXT NOT NULL,
  data_key BLOB NOT NULL,
  last_version INTEGER NOT NULL CHECK (last_version >= 0),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  rotated_at TEXT
) STRICT;
CREATE TABLE versions (
  secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  state TEXT NOT NULL CHECK (state IN ('enabled', 'disabled', 'destroyed')),
  compromised INTEGER NOT NULL DEFAULT 0 CHECK (compromised IN (0, 1)),
  created_at TEXT NOT NULL,
  PRIMARY KEY (secret_id, version)
) STRICT, WITHOUT ROWID;
CREATE TABLE secret_values (
  secret_id INTEGER NOT NULL,
  version INTEGER NOT NULL,
  ciphertext BLOB NOT NULL,
  PRIMARY KEY (secret_id, version),
  FOREIGN KEY (secret_id, version) REFERENCES versions(secret_id, version) ON DELETE CASCADE
) STRICT;
CREATE TABLE stages (
  secret_id INTEGER NOT NULL,
  stage TEXT NOT NULL CHECK (stage IN ('current', 'pending', 'previous')),
  version INTEGER NOT NULL,
  PRIMARY KEY (secret_id, stage),
  FOREIGN KEY (secret_id, version) REFERENCES versions(secret_id, version) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE TABLE retired_names (name TEXT PRIMARY KEY, last_version INTEGER NOT NULL) STRICT;
`;

/**
 * MIGRATIONS[i] upgrades schema version i + 1 to i + 2. A new store runs SCHEMA_V1 and then every
 * migration, so the upgrade path is the one every store takes, not a second copy of the schema.
 */
const MIGRATIONS = [
  // 2: rotation state. A lock's expiry is Unix milliseconds by the writing process's clock. A
  // rotation record goes with its secret (cascade), so a re-created secret starts with none.
  `
CREATE TABLE locks (
  name TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) STRICT;
CREATE TABLE rotations (
  secret_id INTEGER PRIMARY KEY REFERENCES secrets(id) ON DELETE CASCADE,
  rotation_id TEXT NOT NULL,
  revision INTEGER NOT NULL CHECK (revision >= 1),
  record TEXT NOT NULL
) STRICT;
`,
];

/** Tables every schema version has; later ones are checked after migrating. */
const V1_TABLES = ["meta", "secrets", "versions", "secret_values", "stages", "retired_names"];

interface SecretRow {
  id: number;
  name: string;
  revision: number;
  metadata: string;
  last_version: number;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
}

interface VersionRow {
  version: number;
  state: VersionState;
  compromised: number;
  created_at: string;
  stages: string | null;
}

interface ValueRow {
  id: number;
  revision: number;
  version: number;
  state: VersionState;
  ciphertext: Buffer | null;
}

interface RotationRow {
  revision: number;
  record: string;
}

const SECRET_COLUMNS =
  "id, name, revision, metadata, last_version, created_at, updated_at, rotated_at";

/**
 * Each statement is prepared when first used: a command uses a few of them, and preparing them
 * all costs more than the disable `keyward revoke` starts with.
 */
function lazily<T extends Record<string, () => unknown>>(
  makers: T,
): { readonly [K in keyof T]: ReturnType<T[K]> } {
  const made = {} as { [K in keyof T]: ReturnType<T[K]> };
  for (const key of Object.keys(makers) as (keyof T)[]) {
    Object.defineProperty(made, key, {
      configurable: true,
      get: () => {
        const value = makers[key]?.() as ReturnType<T[typeof key]>;
        Object.defineProperty(made, key, { value });
        return value;
      },
    });
  }
  return made;
}

function statements(db: Database.Database) {
  return lazily({
    // data_version moves with other connections' commits, total_changes() with this one's.
    changeMark: () =>
      db
        .prepare<[], string>(
          "SELECT (SELECT data_version FROM pragma_data_version()) || ':' || total_changes()",
        )
        .pluck(),
    secretByName: () =>
      db.prepare<[string], SecretRow>(`SELECT ${SECRET_COLUMNS} FROM secrets WHERE name = ?`),
    secretsFrom: () =>
      db.prepare<[string], SecretRow>(
        `SELECT ${SECRET_COLUMNS} FROM secrets WHERE name >= ? ORDER BY name`,
      ),
    versionsOf: () =>
      db.prepare<[number], VersionRow>(
        `SELECT v.version, v.state, v.compromised, v.created_at,
         (SELECT group_concat(g.stage) FROM stages g
           WHERE g.secret_id = v.secret_id AND g.version = v.version) AS stages
       FROM versions v WHERE v.secret_id = ? ORDER BY v.version`,
      ),
    valueByStage: () =>
      db.prepare<[{ name: string; stage: string }], ValueRow>(
        `SELECT s.id, s.revision, v.version, v.state, x.ciphertext
       FROM secrets s
       JOIN stages g ON g.secret_id = s.id AND g.stage = @stage
       JOIN versions v ON v.secret_id = s.id AND v.version = g.version
       LEFT JOIN secret_values x ON x.secret_id = s.id AND x.version = g.version
       WHERE s.name = @name`,
      ),
    valueByVersion: () =>
      db.prepare<[{ name: string; version: number }], ValueRow>(
        `SELECT s.id, s.revision, v.version, v.state, x.ciphertext
       FROM secrets s
       JOIN versions v ON v.secret_id = s.id AND v.version = @version
       LEFT JOIN secret_values x ON x.secret_id = s.id AND x.version = @version
       WHERE s.name = @name`,
      ),
    wrappedKey: () =>
      db.prepare<[number], Buffer>("SELECT data_key FROM secrets WHERE id = ?").pluck(),
    allWrappedKeys: () =>
      db.prepare<[], { id: number; name: string; data_key: Buffer }>(
        "SELECT id, name, data_key FROM secrets ORDER BY id",
      ),
    setWrappedKey: () =>
      db.prepare<[Buffer, number]>("UPDATE secrets SET data_key = ? WHERE id = ?"),
    retiredLastVersion: () =>
      db.prepare<[string], number>("SELECT last_version FROM retired_names WHERE name = ?").pluck(),
    retire: () =>
      db.prepare<[string, number]>(
        `INSERT INTO retired_names (name, last_version) VALUES (?, ?)
       ON CONFLICT (name) DO UPDATE SET last_version = max(last_version, excluded.last_version)`,
      ),
    insertSecret: () =>
      db.prepare<[string, string, Buffer, number, string, string]>(
        `INSERT INTO secrets (name, revision, metadata, data_key, last_version, created_at, updated_at)
       VALUES (?, 1, ?, ?, ?, ?, ?)`,
      ),
    bump: () =>
      db.prepare<[string, number]>(
        "UPDATE secrets SET revision = revision + 1, updated_at = ? WHERE id = ?",
      ),
    setMetadata: () => db.prepare<[string, number]>("UPDATE secrets SET metadata = ? WHERE id = ?"),
    setLastVersion: () =>
      db.prepare<[number, number]>("UPDATE secrets SET last_version = ? WHERE id = ?"),
    setRotatedAt: () =>
      db.prepare<[string, number]>("UPDATE secrets SET rotated_at = ? WHERE id = ?"),
    deleteSecret: () => db.prepare<[number]>("DELETE FROM secrets WHERE id = ?"),
    versionState: () =>
      db.prepare<[number, number], { state: VersionState; compromised: number }>(
        "SELECT state, compromised FROM versions WHERE secret_id = ? AND version = ?",
      ),
    insertVersion: () =>
      db.prepare<[number, number, string]>(
        "INSERT INTO versions (secret_id, version, state, created_at) VALUES (?, ?, 'enabled', ?)",
      ),
    setVersionState: () =>
      db.prepare<[VersionState, number, number, number]>(
        "UPDATE versions SET state = ?, compromised = ? WHERE secret_id = ? AND version = ?",
      ),
    insertValue: () =>
      db.prepare<[number, number, Buffer]>(
        "INSERT INTO secret_values (secret_id, version, ciphertext) VALUES (?, ?, ?)",
      ),
    // Overwriting before deleting puts zeros, not ciphertext, into the page images SQLite
    // writes; secure_delete then zeroes the freed cells.
    blankValue: () =>
      db.prepare<[number, number]>(
        `UPDATE secret_values SET ciphertext = zeroblob(length(ciphertext))
       WHERE secret_id = ? AND version = ?`,
      ),
    deleteValue: () =>
      db.prepare<[number, number]>("DELETE FROM secret_values WHERE secret_id = ? AND version = ?"),
    blankAllValues: () =>
      db.prepare<[number]>(
        "UPDATE secret_values SET ciphertext = zeroblob(length(ciphertext)) WHERE secret_id = ?",
      ),
    stageHolder: () =>
      db
        .prepare<[number, string], number>(
          "SELECT version FROM stages WHERE secret_id = ? AND stage = ?",
        )
        .pluck(),
    setStage: () =>
      db.prepare<[number, string, number]>(
        `INSERT INTO stages (secret_id, stage, version) VALUES (?, ?, ?)
       ON CONFLICT (secret_id, stage) DO UPDATE SET version = excluded.version`,
      ),
    removeStage: () =>
      db.prepare<[number, string]>("DELETE FROM stages WHERE secret_id = ? AND stage = ?"),
    removeStagesOf: () =>
      db.prepare<[number, number]>("DELETE FROM stages WHERE secret_id = ? AND version = ?"),
    takeLock: () =>
      db.prepare<{ name: string; owner: string; expires: number; now: number }>(
        `INSERT INTO locks (name, owner, expires_at) VALUES (@name, @owner, @expires)
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE locks.owner = excluded.owner OR locks.expires_at <= @now`,
      ),
    releaseLock: () =>
      db.prepare<[string, string]>("DELETE FROM locks WHERE name = ? AND owner = ?"),
    rotationOf: () =>
      db.prepare<[number], RotationRow>(
        "SELECT revision, record FROM rotations WHERE secret_id = ?",
      ),
    putRotation: () =>
      db.prepare<[number, string, number, string]>(
        `INSERT INTO rotations (secret_id, rotation_id, revision, record) VALUES (?, ?, ?, ?)
       ON CONFLICT (secret_id) DO UPDATE SET rotation_id = excluded.rotation_id,
         revision = excluded.revision, record = excluded.record`,
      ),
    clearRotation: () =>
      db.prepare<[string, string]>(
        `DELETE FROM rotations
       WHERE secret_id = (SELECT id FROM secrets WHERE name = ?) AND rotation_id = ?`,
      ),
    meta: () => db.prepare<[string], string>("SELECT value FROM meta WHERE key = ?").pluck(),
    setMeta: () =>
      db.prepare<[string, string]>(
        "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
      ),
  });
}

/**
 * The default backend: one SQLite file, `<home>/store.db`, in WAL mode so readers never block
 * the writer. Values are sealed on the client: each secret has a random data key wrapped by the
 * master key's KEK, and each version's value is sealed by that data key with the secret name and
 * version number as associated data.
 */
export class SqliteStore implements EnvelopeStore {
  private readonly s: ReturnType<typeof statements>;
  private readonly inTransaction: Database.Transaction<(fn: () => unknown) => unknown>;
  /** Data keys unwrapped so far, by secret id. The KEK is in memory anyway; this saves an AES op per read. */
  private readonly dataKeys = new Map<number, Buffer>();
  private readonly records = new Map<string, CachedRecord>();
  /** Cleared by rekey: this instance no longer holds the KEK that wraps the store's data keys. */
  private envelope: Envelope | undefined;

  private constructor(
    private readonly db: Database.Database,
    private readonly path: string,
    envelope: Envelope,
    private header: KeyHeader,
  ) {
    this.envelope = envelope;
    this.s = statements(db);
    this.inTransaction = db.transaction((fn: () => unknown) => fn());
  }

  changeMark(): string {
    return this.s.changeMark.get() as string;
  }

  /** Creates `<home>/store.db` (mode 0600). `home` must exist and be private (ensurePrivateDir). */
  static create(home: string, envelope: Envelope, header: KeyHeader): SqliteStore {
    const path = join(home, STORE_FILE);
    if (existsSync(path)) throw alreadyInitialized(path);
    if (!existsSync(home)) {
      throw new KeywardError(
        "io",
        `the folder ${home} does not exist`,
        "run `keyward init`, which creates it",
      );
    }
    assertPrivateDir(home);
    // Built under a temporary name and linked into place, so a crash during init never leaves
    // a half-made store.db, and two concurrent inits cannot both succeed (link fails on EEXIST).
    const building = join(home, `.${STORE_FILE}.${randomBytes(6).toString("hex")}.tmp`);
    try {
      closeSync(openSync(building, "wx", 0o600));
      chmodSync(building, 0o600);
      const db = openSqlite(building, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
      try {
        db.pragma("journal_mode = WAL");
        db.transaction(() => {
          db.exec(SCHEMA_V1);
          const setMeta = db.prepare("INSERT INTO meta (key, value) VALUES (?, ?)");
          setMeta.run("schema_version", "1");
          setMeta.run("key_header", JSON.stringify(header));
          migrateFrom(db, 1);
        })();
      } finally {
        db.close();
      }
      try {
        linkSync(building, path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "EEXIST") throw alreadyInitialized(path);
        throw e;
      }
    } catch (e) {
      throw translateSqliteError(e, path);
    } finally {
      for (const suffix of ["", "-wal", "-shm"]) rmSync(building + suffix, { force: true });
    }
    return new SqliteStore(openDatabase(path), path, envelope, header);
  }

  /** The key header, read without unlocking; undefined when there is no store in `home`. */
  static readHeader(home: string): KeyHeader | undefined {
    const path = join(home, STORE_FILE);
    if (!existsSync(path)) return undefined;
    assertPrivateDir(home);
    assertPrivateFile(path);
    const db = openDatabase(path);
    try {
      return readKeyHeader(db, path);
    } finally {
      db.close();
    }
  }

  /** Opens `<home>/store.db`; `unlock` turns the stored key header into an envelope (or throws). */
  static async open(
    home: string,
    unlock: (header: KeyHeader) => Promise<Envelope>,
  ): Promise<SqliteStore> {
    const path = join(home, STORE_FILE);
    if (!existsSync(path)) {
      throw new KeywardError(
        "not_initialized",
        `there is no keyward store in ${home}`,
        "run `keyward init` to create one (or set KEYWARD_HOME to the folder that holds store.db)",
      );
    }
    assertPrivateDir(home);
    assertPrivateFile(path);
    const db = openDatabase(path);
    try {
      const header = readKeyHeader(db, path);
      const envelope = await unlock(header);
      migrate(db, path);
      return new SqliteStore(db, path, envelope, header);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  describe(): StoreDescription {
    return {
      backend: "sqlite",
      location: this.path,
      encryption: "AES-256-GCM envelope, per-secret data keys",
    };
  }

  keyHeader(): KeyHeader {
    return this.header;
  }

  async create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord> {
    parseSecretName(name);
    if (value !== undefined) checkValue(name, value);
    return this.guard(() =>
      this.write(() => {
        if (this.s.secretByName.get(name)) throw secretExists(name);
        const now = timestamp();
        const { id, floor } = this.insertSecret(name, metadata, now);
        if (value !== undefined) this.addVersion(id, name, floor + 1, value, ["current"], now);
        return this.loadRecord(name, this.secretRow(name));
      }),
    );
  }

  async get(name: string): Promise<SecretRecord | undefined> {
    parseSecretName(name);
    return this.guard(() =>
      this.snapshot(() => {
        const row = this.s.secretByName.get(name);
        return row === undefined ? undefined : this.recordOf(row);
      }),
    );
  }

  async list(prefix = ""): Promise<SecretRecord[]> {
    return this.guard(() =>
      this.snapshot(() => {
        const out: SecretRecord[] = [];
        // Names sharing a prefix are contiguous in the index, so the scan starts at the prefix
        // and stops at the first name without it.
        for (const row of this.s.secretsFrom.all(prefix)) {
          if (!row.name.startsWith(prefix)) break;
          out.push(this.recordOf(row));
        }
        return out;
      }),
    );
  }

  async putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult> {
    const stages = checkPutVersion(name, value, options.stages);
    return this.guard(() => {
      let version = 0;
      const record = this.change(name, options.expectedRevision, (secret, now) => {
        version = secret.last_version + 1;
        this.addVersion(secret.id, name, version, value, stages, now);
      });
      return { value, version: versionOf(record, version), record };
    });
  }

  async read(name: string, selector: VersionSelector = { stage: "current" }): Promise<ReadResult> {
    // A cached name was validated when it was cached; this keeps the hot path to one query.
    if (!this.records.has(name)) parseSecretName(name);
    return this.guard(() => {
      const row = this.valueRow(name, selector);
      const cached = this.records.get(name);
      if (cached !== undefined && cached.id === row.id && cached.revision === row.revision) {
        return this.openValue(name, row, cached);
      }
      // The secret changed since it was cached: read value and record from one snapshot.
      return this.snapshot(() => {
        const fresh = this.valueRow(name, selector);
        return this.openValue(name, fresh, this.cacheRecord(name, this.secretRow(name)));
      });
    });
  }

  async moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    checkStageMove(name, stage, version);
    return this.guard(() =>
      this.change(name, expectedRevision, (secret, now) => {
        if (version === null) {
          this.s.removeStage.run(secret.id, stage);
          return;
        }
        checkStageTarget(name, stage, version, this.versionState(secret.id, name, version).state);
        this.assignStage(secret.id, stage, version, now);
      }),
    );
  }

  async setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord> {
    checkStateChange(name, version, state, options.compromised);
    return this.guard(() =>
      this.change(name, options.expectedRevision, (secret) => {
        const current = this.versionState(secret.id, name, version);
        const next = nextVersionState(
          name,
          version,
          { state: current.state, compromised: current.compromised === 1 },
          state,
          options.compromised,
        );
        this.s.setVersionState.run(next.state, next.compromised ? 1 : 0, secret.id, version);
      }),
    );
  }

  async destroyVersion(
    name: string,
    version: number,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    checkVersionNumber(version);
    const record = this.guard(() =>
      this.change(name, expectedRevision, (secret) => {
        const current = this.versionState(secret.id, name, version);
        this.s.blankValue.run(secret.id, version);
        this.s.deleteValue.run(secret.id, version);
        this.s.removeStagesOf.run(secret.id, version);
        this.s.setVersionState.run("destroyed", current.compromised, secret.id, version);
      }),
    );
    this.flushWal();
    return record;
  }

  async updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    return this.guard(() =>
      this.change(name, expectedRevision, (secret) => {
        this.s.setMetadata.run(JSON.stringify(metadata), secret.id);
      }),
    );
  }

  async delete(name: string, expectedRevision: number): Promise<void> {
    parseSecretName(name);
    const id = this.guard(() =>
      this.write(() => {
        const secret = this.lockSecret(name, expectedRevision);
        this.s.retire.run(name, secret.last_version);
        this.s.blankAllValues.run(secret.id);
        this.s.deleteSecret.run(secret.id);
        return secret.id;
      }),
    );
    this.dataKeys.get(id)?.fill(0);
    this.dataKeys.delete(id);
    this.records.delete(name);
    this.flushWal();
  }

  async putVersions(
    writes: VersionWrite[],
    rotation?: { record: RotationRecordInput; expectedRevision?: number },
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }> {
    checkVersionWrites(writes);
    const record = rotation === undefined ? undefined : rotationInput(rotation.record);
    const createdIds: number[] = [];
    try {
      return this.guard(() =>
        this.write(() => {
          const now = timestamp();
          const written: Array<{ id: number; version: number }> = [];
          for (const w of writes) {
            let id: number;
            let version: number;
            if (w.expectedRevision === 0) {
              if (this.s.secretByName.get(w.name)) throw createConflict(w.name);
              const inserted = this.insertSecret(w.name, w.metadata as SecretMetadata, now);
              createdIds.push(inserted.id);
              id = inserted.id;
              version = inserted.floor + 1;
            } else {
              const secret = this.lockSecret(w.name, w.expectedRevision);
              id = secret.id;
              version = secret.last_version + 1;
              this.s.bump.run(now, id);
            }
            this.addVersion(id, w.name, version, w.value, w.stages ?? ["current"], now);
            written.push({ id, version });
          }
          let storedRotation: RotationRecord | undefined;
          if (record !== undefined && rotation !== undefined) {
            const index = writes.findIndex((w) => w.name === record.secret);
            const pending = index === -1 ? undefined : written[index]?.version;
            if (pending !== undefined) record.pendingVersion = pending;
            storedRotation = this.writeRotation(record, rotation.expectedRevision);
          }
          const results = writes.map((w, i) => {
            const fresh = this.loadRecord(w.name, this.secretRow(w.name));
            return {
              value: w.value,
              version: versionOf(fresh, written[i]?.version ?? 0),
              record: fresh,
            };
          });
          return storedRotation === undefined ? { results } : { results, rotation: storedRotation };
        }),
      );
    } catch (e) {
      // The transaction rolled back: forget anything cached from inside it, since a rolled-back
      // secret's id can be handed out again.
      for (const id of createdIds) {
        this.dataKeys.get(id)?.fill(0);
        this.dataKeys.delete(id);
      }
      for (const w of writes) this.records.delete(w.name);
      throw e;
    }
  }

  async acquireLock(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const ttlMs = checkLock(name, owner, ttlSeconds);
    const now = Date.now();
    const expires = now + ttlMs;
    return this.guard(() => this.s.takeLock.run({ name, owner, expires, now }).changes === 1);
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    checkLockHolder(name, owner);
    this.guard(() => this.s.releaseLock.run(name, owner));
  }

  async getRotation(name: string): Promise<RotationRecord | undefined> {
    parseSecretName(name);
    return this.guard(() =>
      this.snapshot(() => {
        const row = this.s.rotationOf.get(this.secretRow(name).id);
        return row === undefined ? undefined : rotationOf(name, row);
      }),
    );
  }

  async putRotation(
    record: RotationRecordInput,
    expectedRevision?: number,
  ): Promise<RotationRecord> {
    const input = rotationInput(record);
    return this.guard(() => this.write(() => this.writeRotation(input, expectedRevision)));
  }

  async clearRotation(name: string, rotationId: string): Promise<boolean> {
    parseSecretName(name);
    return this.guard(() => this.s.clearRotation.run(name, rotationId).changes > 0);
  }

  async rekey(
    newHeader: KeyHeader,
    rewrap: (wrapped: Buffer, aad: string) => Buffer,
  ): Promise<number> {
    const count = this.guard(() =>
      this.write(() => {
        const rows = this.s.allWrappedKeys.all();
        for (const row of rows) {
          this.s.setWrappedKey.run(rewrapDataKey(rewrap, row.data_key, row.name, BACKUP), row.id);
        }
        this.s.setMeta.run("key_header", JSON.stringify(newHeader));
        return rows.length;
      }),
    );
    this.header = newHeader;
    this.envelope = undefined;
    return count;
  }

  async close(): Promise<void> {
    for (const key of this.dataKeys.values()) key.fill(0);
    this.dataKeys.clear();
    this.records.clear();
    this.envelope = undefined;
    if (this.db.open) this.db.close();
  }

  // ---- transactions and CAS -------------------------------------------------------------

  /** A write transaction: BEGIN IMMEDIATE takes the write lock up front (waiting up to the busy timeout). */
  private write<T>(fn: () => T): T {
    return this.inTransaction.immediate(fn) as T;
  }

  /** A read transaction: one consistent snapshot across several queries. */
  private snapshot<T>(fn: () => T): T {
    return this.inTransaction.deferred(fn) as T;
  }

  /** Loads a secret for writing and checks the caller's revision. Call inside write(). */
  private lockSecret(name: string, expectedRevision: number): SecretRow {
    checkExpectedRevision(name, expectedRevision);
    const secret = this.secretRow(name);
    if (secret.revision !== expectedRevision) {
      throw revisionConflict(name, expectedRevision, secret.revision);
    }
    return secret;
  }

  /** One compare-and-set write: check the revision, apply the change, bump the revision, return the new record. */
  private change(
    name: string,
    expectedRevision: number,
    apply: (secret: SecretRow, now: string) => void,
  ): SecretRecord {
    return this.write(() => {
      const secret = this.lockSecret(name, expectedRevision);
      const now = timestamp();
      apply(secret, now);
      this.s.bump.run(now, secret.id);
      return this.loadRecord(name, this.secretRow(name));
    });
  }

  /** Inserts a secret row with a new data key; `floor` is the highest version its name ever had. */
  private insertSecret(
    name: string,
    metadata: SecretMetadata,
    now: string,
  ): { id: number; floor: number } {
    this.assertNotRekeyedElsewhere();
    const floor = this.s.retiredLastVersion.get(name) ?? 0;
    const { dataKey, wrapped } = newDataKey(this.kek(), name);
    const id = Number(
      this.s.insertSecret.run(name, JSON.stringify(metadata), wrapped, floor, now, now)
        .lastInsertRowid,
    );
    this.dataKeys.set(id, dataKey);
    return { id, floor };
  }

  /** Compare-and-set write of a rotation record. Call inside write(). */
  private writeRotation(
    record: RotationRecordInput,
    expectedRevision: number | undefined,
  ): RotationRecord {
    const secret = this.secretRow(record.secret);
    const stored = this.s.rotationOf.get(secret.id);
    checkRotationRevision(record.secret, expectedRevision, stored?.revision);
    const revision = (stored?.revision ?? 0) + 1;
    this.s.putRotation.run(secret.id, record.rotationId, revision, JSON.stringify(record));
    return { ...record, revision };
  }

  private addVersion(
    secretId: number,
    name: string,
    version: number,
    value: string,
    stages: Stage[],
    now: string,
  ): void {
    const sealed = sealValue(this.dataKey(secretId, name), name, version, value);
    this.s.insertVersion.run(secretId, version, now);
    this.s.insertValue.run(secretId, version, sealed);
    this.s.setLastVersion.run(version, secretId);
    for (const stage of stages) this.assignStage(secretId, stage, version, now);
  }

  /** Gives a stage to a version; when `current` moves, its old holder becomes `previous`. */
  private assignStage(secretId: number, stage: Stage, version: number, now: string): void {
    const holder = this.s.stageHolder.get(secretId, stage);
    if (holder === version) return;
    this.s.setStage.run(secretId, stage, version);
    if (stage === "current") {
      this.s.setRotatedAt.run(now, secretId);
      if (holder !== undefined) this.s.setStage.run(secretId, "previous", holder);
    }
  }

  private versionState(secretId: number, name: string, version: number) {
    const row = this.s.versionState.get(secretId, version);
    if (row === undefined) throw noSuchVersion(name, version);
    return row;
  }

  // ---- reads and records ----------------------------------------------------------------

  private secretRow(name: string): SecretRow {
    const row = this.s.secretByName.get(name);
    if (row === undefined) throw secretNotFound(name);
    return row;
  }

  private valueRow(name: string, selector: VersionSelector): ValueRow {
    checkSelector(selector);
    const row =
      "stage" in selector
        ? this.s.valueByStage.get({ name, stage: selector.stage })
        : this.s.valueByVersion.get({ name, version: selector.version });
    if (row !== undefined) return row;
    this.secretRow(name);
    throw nothingSelected(name, selector);
  }

  private openValue(name: string, row: ValueRow, cached: CachedRecord): ReadResult {
    checkReadable(name, row.version, row.state);
    if (row.ciphertext === null) {
      throw new KeywardError(
        "corrupt_store",
        `version ${row.version} of secret ${name} has no stored value in ${this.path}`,
        "restore store.db from a backup, or destroy this version and put a new value",
      );
    }
    const value = openValue(this.dataKey(row.id, name), name, row.version, row.ciphertext, BACKUP);
    const record = copyRecord(cached);
    return { value, version: versionOf(record, row.version), record };
  }

  private recordOf(row: SecretRow): SecretRecord {
    const cached = this.records.get(row.name);
    if (cached !== undefined && cached.id === row.id && cached.revision === row.revision) {
      return copyRecord(cached);
    }
    return copyRecord(this.cacheRecord(row.name, row));
  }

  private loadRecord(name: string, row: SecretRow): SecretRecord {
    return copyRecord(this.cacheRecord(name, row));
  }

  private cacheRecord(name: string, row: SecretRow): CachedRecord {
    const versions = this.s.versionsOf.all(row.id).map((v) =>
      versionInfo({
        version: v.version,
        stages: v.stages === null ? [] : v.stages.split(","),
        state: v.state,
        createdAt: v.created_at,
        compromised: v.compromised === 1,
      }),
    );
    const cached = cachedRecord(name, row, versions);
    this.records.set(name, cached);
    return cached;
  }

  // ---- keys -----------------------------------------------------------------------------

  private kek(): Envelope {
    if (this.envelope === undefined) {
      throw new KeywardError(
        "refused",
        `the store ${this.path} was rekeyed or closed; this handle no longer holds its master key`,
        "open the store again (with the new master key after a rekey)",
      );
    }
    return this.envelope;
  }

  private dataKey(secretId: number, name: string): Buffer {
    const cached = this.dataKeys.get(secretId);
    if (cached !== undefined) return cached;
    const wrapped = this.s.wrappedKey.get(secretId);
    if (wrapped === undefined) throw secretNotFound(name);
    const dataKey = unwrapDataKey(this.kek(), wrapped, name);
    if (dataKey === undefined) {
      this.assertNotRekeyedElsewhere();
      throw dataKeyTampered(name, BACKUP);
    }
    this.dataKeys.set(secretId, dataKey);
    return dataKey;
  }

  /** Another process may have rekeyed the store since this handle opened it. */
  private assertNotRekeyedElsewhere(): void {
    const stored = this.s.meta.get("key_header");
    if (stored !== undefined && parseKeyHeader(stored)?.check !== this.header.check) {
      throw new KeywardError(
        "wrong_master_key",
        `the store ${this.path} was rekeyed by another process after this one opened it`,
        "run the command again so it opens the store with the new master key",
      );
    }
  }

  // ---- errors and housekeeping ----------------------------------------------------------

  private guard<T>(fn: () => T): T {
    try {
      return fn();
    } catch (e) {
      if (!this.db.open) {
        throw new KeywardError(
          "refused",
          `the store handle for ${this.path} is closed`,
          "open the store again",
        );
      }
      throw translateSqliteError(e, this.path);
    }
  }

  /**
   * After erasing values, a TRUNCATE checkpoint copies the zeroed pages into store.db and
   * empties the WAL, which otherwise keeps older page images holding the erased ciphertext.
   * Best effort: if another process is reading, the WAL is truncated on a later checkpoint.
   */
  private flushWal(): void {
    try {
      this.db.pragma("wal_checkpoint(TRUNCATE)");
    } catch (e) {
      if (!(e instanceof SqliteError)) throw e;
    }
  }
}

// ---- opening and validating the file --------------------------------------------------------

function openDatabase(path: string): Database.Database {
  let db: Database.Database | undefined;
  try {
    db = openSqlite(path, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    db.pragma("journal_mode = WAL");
    // FULL, not NORMAL: in WAL mode NORMAL already survives a crash of the process, but a power
    // loss can roll back the last commits. A rotation stores the new credential and then revokes
    // the old one upstream, so a committed write must survive power loss; writes are rare, so
    // the fsync per commit costs nothing that matters.
    db.pragma("synchronous = FULL");
    db.pragma("foreign_keys = ON");
    db.pragma("secure_delete = ON");
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    return db;
  } catch (e) {
    db?.close();
    throw translateSqliteError(e, path);
  }
}

function readKeyHeader(db: Database.Database, path: string): KeyHeader {
  try {
    const tables = new Set(
      db.prepare<[], string>("SELECT name FROM sqlite_schema WHERE type = 'table'").pluck().all(),
    );
    const missing = V1_TABLES.filter((t) => !tables.has(t));
    if (missing.length > 0) {
      throw corruptStore(
        path,
        `it is a SQLite database without keyward's tables (${missing.join(", ")})`,
      );
    }
    const meta = db.prepare<[string], string>("SELECT value FROM meta WHERE key = ?").pluck();
    const version = Number(meta.get("schema_version"));
    if (version > SCHEMA_VERSION) {
      throw new KeywardError(
        "refused",
        `${path} has schema version ${version}; this keyward understands up to ${SCHEMA_VERSION}`,
        "upgrade keyward",
      );
    }
    if (!Number.isSafeInteger(version) || version < 1) {
      throw corruptStore(path, "its schema_version is missing or invalid");
    }
    const json = meta.get("key_header");
    const header = json === undefined ? undefined : parseKeyHeader(json);
    if (header === undefined) throw corruptStore(path, "its key header is missing or malformed");
    return header;
  } catch (e) {
    throw translateSqliteError(e, path);
  }
}

/**
 * Brings an older store up to SCHEMA_VERSION in one transaction. BEGIN IMMEDIATE and the
 * re-read of the version inside it make two processes opening an old store at once migrate it
 * once. Older keyward releases refuse the upgraded file (it names a newer schema version).
 */
function migrate(db: Database.Database, path: string): void {
  const schemaVersion = db
    .prepare<[], string>("SELECT value FROM meta WHERE key = 'schema_version'")
    .pluck();
  try {
    // Checked first outside a transaction: an up-to-date store must not take the write lock.
    if (Number(schemaVersion.get()) >= SCHEMA_VERSION) return;
    db.transaction(() => {
      const version = Number(schemaVersion.get());
      if (version < SCHEMA_VERSION) migrateFrom(db, version);
    }).immediate();
  } catch (e) {
    throw translateSqliteError(e, path);
  }
}

/** Applies the migrations after `version` and records the new version. Call inside a transaction. */
function migrateFrom(db: Database.Database, version: number): void {
  for (const ddl of MIGRATIONS.slice(version - 1)) db.exec(ddl);
  db.prepare("UPDATE meta SET value = ? WHERE key = 'schema_version'").run(String(SCHEMA_VERSION));
}

/** SQLite failures become KeywardErrors with a fix; SQLite's messages never include bound values. */
function translateSqliteError(e: unknown, path: string): unknown {
  if (!(e instanceof SqliteError)) return e;
  const code = e.code;
  if (code.startsWith("SQLITE_NOTADB") || code.startsWith("SQLITE_CORRUPT")) {
    return corruptStore(path, `it is not a valid SQLite database (${e.message})`);
  }
  if (code.startsWith("SQLITE_BUSY") || code.startsWith("SQLITE_LOCKED")) {
    return new KeywardError(
      "io",
      `the keyward store ${path} stayed locked by another process for ${BUSY_TIMEOUT_MS / 1000} s`,
      "retry; if it keeps happening, look for a stuck keyward process using this home folder",
    );
  }
  if (code === "SQLITE_FULL") {
    return new KeywardError("io", `the disk holding ${path} is full`, "free some space and retry");
  }
  return new KeywardError(
    "io",
    `the keyward store ${path} could not be used: ${e.message} (${code})`,
    "check that the file and its folder are writable by you and the disk is healthy",
  );
}

function rotationOf(name: string, row: RotationRow): RotationRecord {
  const record = JSON.parse(row.record) as RotationRecordInput;
  return { ...record, secret: name, revision: row.revision };
}

// ---- errors ---------------------------------------------------------------------------------

function corruptStore(path: string, why: string): KeywardError {
  return new KeywardError(
    "corrupt_store",
    `${path} is not a usable keyward store: ${why}`,
    "restore store.db from a backup, or move it aside and run `keyward init` to start a new store",
  );
}

function alreadyInitialized(path: string): KeywardError {
  return new KeywardError(
    "already_initialized",
    `a keyward store already exists at ${path}`,
    "use it as it is, or move it aside first if you mean to start over",
  );
}

function timestamp(): string {
  return new Date().toISOString();
}
