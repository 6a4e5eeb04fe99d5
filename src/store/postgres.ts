/**
 * PostgreSQL team mode: one keyward store in one schema of a shared database. Values are sealed
 * on the client exactly as in the SQLite store (src/store/sealing.ts): the database only ever
 * holds wrapped data keys and ciphertexts, and the master key comes from keyward's own sources,
 * never from the database. Every committed change also appends to a `changes` table and NOTIFYs,
 * which is what `changes()` follows (src/store/postgres-feed.ts).
 */
import pg from "pg";
import { parseDuration } from "../core/duration.js";
import { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import type { SecretMetadata, SecretRecord, Stage, VersionState } from "../core/types.js";
import type { Envelope, KeyHeader } from "../crypto/envelope.js";
import type { StoreBackend } from "./backend.js";
import {
  byName,
  type CachedRecord,
  cachedRecord,
  checkExpectedRevision,
  checkLock,
  checkLockHolder,
  checkPutVersion,
  checkReadable,
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
  rotationConflict,
  rotationInput,
  secretExists,
  secretNotFound,
  versionInfo,
  versionOf,
} from "./checks.js";
import {
  authSummary,
  isConnectionFailure,
  isTransactionRetryable,
  type PgTarget,
  type PostgresOptions,
  postgresOptions,
  resolveTarget,
  translatePgError,
} from "./postgres-connect.js";
import { FeedSubscription } from "./postgres-feed.js";
import { type Backoff, backoffDelay } from "./remote.js";
import {
  dataKeyTampered,
  newDataKey,
  openValue,
  parseKeyHeader,
  rewrapDataKey,
  sealValue,
  unwrapDataKey,
} from "./sealing.js";
import type {
  ChangeFeed,
  EnvelopeStore,
  PutVersionOptions,
  ReadResult,
  RotationRecord,
  RotationRecordInput,
  StoreChange,
  StoreDescription,
  VersionSelector,
  VersionWrite,
} from "./types.js";

export { type PostgresOptions, postgresOptions } from "./postgres-connect.js";

export const SCHEMA_VERSION = 3;

/**
 * Retries of a statement or transaction whose connection failed before it could commit: with
 * backoff from 50 ms up to 2 s, about 4 s in all, long enough to ride out a server restart.
 */
const RETRIES = 5;
const RETRY_BACKOFF: Backoff = { baseDelayMs: 50, maxDelayMs: 2_000, factor: 3 };
/** A write waiting this long for another host's row lock gives up instead of hanging. */
const LOCK_TIMEOUT_MS = 10_000;
/** A client that stalls inside a transaction loses it (and its row locks) after this. */
const IDLE_IN_TRANSACTION_MS = 60_000;
/** Pool connections idle this long are closed: a follower that only listens holds one connection. */
const POOL_IDLE_MS = 10_000;
/** Change rows older than the retention are pruned at most this often per handle. */
const PRUNE_EVERY_MS = 60 * 60 * 1000;

/** Timestamps leave the database as ISO 8601 UTC with milliseconds, the form records use. */
const iso = (column: string) =>
  `to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * The schema as SQLite's (src/store/sqlite.ts), so both stores mean the same thing by each
 * table. `stages` has one row per stage per secret: its primary key makes "at most one version
 * holds a stage" a rule of the database. Names use the C collation so listing sorts by bytes on
 * every server, as SQLite does.
 */
const SCHEMA_V1 = (q: string) => `
CREATE TABLE ${q}.meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE ${q}.secrets (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text COLLATE "C" NOT NULL UNIQUE,
  revision integer NOT NULL CHECK (revision >= 1),
  metadata json NOT NULL,
  data_key bytea NOT NULL,
  last_version integer NOT NULL CHECK (last_version >= 0),
  created_at timestamptz NOT NULL,
  updated_at timestamptz NOT NULL,
  rotated_at timestamptz
);
CREATE TABLE ${q}.versions (
  secret_id integer NOT NULL REFERENCES ${q}.secrets (id) ON DELETE CASCADE,
  version integer NOT NULL CHECK (version >= 1),
  state text NOT NULL CHECK (state IN ('enabled', 'disabled', 'destroyed')),
  compromised boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL,
  PRIMARY KEY (secret_id, version)
);
CREATE TABLE ${q}.secret_values (
  secret_id integer NOT NULL,
  version integer NOT NULL,
  ciphertext bytea NOT NULL,
  PRIMARY KEY (secret_id, version),
  FOREIGN KEY (secret_id, version) REFERENCES ${q}.versions (secret_id, version) ON DELETE CASCADE
);
CREATE TABLE ${q}.stages (
  secret_id integer NOT NULL,
  stage text NOT NULL CHECK (stage IN ('current', 'pending', 'previous')),
  version integer NOT NULL,
  PRIMARY KEY (secret_id, stage),
  FOREIGN KEY (secret_id, version) REFERENCES ${q}.versions (secret_id, version) ON DELETE CASCADE
);
CREATE INDEX ON ${q}.stages (secret_id, version);
CREATE TABLE ${q}.retired_names (name text COLLATE "C" PRIMARY KEY, last_version integer NOT NULL);
`;

/**
 * MIGRATIONS[i] upgrades schema i + 1 to i + 2, numbered like SQLite's. A new store runs
 * SCHEMA_V1 and then every migration, so fresh and upgraded stores are built by the same DDL.
 */
const MIGRATIONS: Array<(q: string) => string> = [
  // 2: rotation state, as SQLite's schema 2. Lock expiry is by the database's clock.
  (q) => `
CREATE TABLE ${q}.locks (name text PRIMARY KEY, owner text NOT NULL, expires_at timestamptz NOT NULL);
CREATE TABLE ${q}.rotations (
  secret_id integer PRIMARY KEY REFERENCES ${q}.secrets (id) ON DELETE CASCADE,
  rotation_id text NOT NULL,
  revision integer NOT NULL CHECK (revision >= 1),
  record json NOT NULL
);
`,
  // 3: the change feed. `secret` is a name, not a key: a deleted secret's changes stay readable.
  (q) => `
CREATE TABLE ${q}.changes (
  seq bigserial PRIMARY KEY,
  secret text COLLATE "C" NOT NULL,
  kind text NOT NULL CHECK (kind IN ('version', 'stage', 'state', 'metadata', 'delete')),
  at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX ON ${q}.changes (at);
INSERT INTO ${q}.meta (key, value) VALUES ('changes_pruned_through', '0');
`,
];

/**
 * The columns that make a SecretRecord, in one statement (one consistent snapshot): versions as
 * [version, state, compromised, createdAt] arrays and the stage holders as {stage: version},
 * about half the server time of a JSON object per version with its stages nested.
 */
const recordColumns = (q: string) => `s.id, s.name, s.revision, s.metadata::text AS metadata,
  ${iso("s.created_at")} AS created_at, ${iso("s.updated_at")} AS updated_at,
  ${iso("s.rotated_at")} AS rotated_at,
  (SELECT json_agg(json_build_array(v.version, v.state, v.compromised, ${iso("v.created_at")})
     ORDER BY v.version)
   FROM ${q}.versions v WHERE v.secret_id = s.id) AS versions,
  (SELECT json_object_agg(g.stage, g.version) FROM ${q}.stages g WHERE g.secret_id = s.id) AS stages`;

/**
 * One version's value by stage ($2) or number ($3). LEFT JOIN LATERAL keeps the secret's row
 * when nothing is selected, so "no such secret" and "no such stage" are told apart in one trip.
 */
const valueQuery = (q: string, withRecord: boolean) => `
SELECT s.id, s.revision, s.data_key, t.version, t.state, t.ciphertext
  ${withRecord ? `, ${recordColumns(q)}` : ""}
FROM ${q}.secrets s
LEFT JOIN LATERAL (
  SELECT v.version, v.state, x.ciphertext
  FROM ${q}.versions v
  LEFT JOIN ${q}.secret_values x ON x.secret_id = v.secret_id AND x.version = v.version
  WHERE v.secret_id = s.id
    AND v.version = coalesce($3::integer,
      (SELECT g.version FROM ${q}.stages g WHERE g.secret_id = s.id AND g.stage = $2::text))
) t ON true
WHERE s.name = $1`;

function statements(q: string) {
  const named = (name: string, text: string) => ({ name: `keyward-${name}`, text });
  return {
    recordByName: named(
      "record",
      `SELECT ${recordColumns(q)} FROM ${q}.secrets s WHERE s.name = $1`,
    ),
    recordsFrom: named(
      "records",
      `SELECT ${recordColumns(q)} FROM ${q}.secrets s
       WHERE s.name >= $1 AND starts_with(s.name, $1) ORDER BY s.name`,
    ),
    value: named("value", valueQuery(q, false)),
    valueWithRecord: named("value-record", valueQuery(q, true)),
    keyHeader: named("header", `SELECT value FROM ${q}.meta WHERE key = 'key_header'`),
    // Held by every create until it commits: a rekey (which updates this row first) waits for
    // in-flight creates, and a create after a rekey sees the new header and refuses.
    keyHeaderShared: named(
      "header-share",
      `SELECT value FROM ${q}.meta WHERE key = 'key_header' FOR SHARE`,
    ),
    setKeyHeader: named("set-header", `UPDATE ${q}.meta SET value = $1 WHERE key = 'key_header'`),
    // Compare-and-set: the row lock taken here is held to commit, and a concurrent writer's
    // committed bump makes this WHERE fail instead of overwriting it.
    bump: named(
      "bump",
      `UPDATE ${q}.secrets SET revision = revision + 1, updated_at = now()
       WHERE name = $1 AND revision = $2 RETURNING id, last_version, data_key`,
    ),
    revisionOf: named("revision", `SELECT revision FROM ${q}.secrets WHERE name = $1`),
    insertSecret: named(
      "insert-secret",
      `INSERT INTO ${q}.secrets (name, revision, metadata, data_key, last_version, created_at, updated_at)
       VALUES ($1, 1, $2, $3, 0, now(), now()) ON CONFLICT (name) DO NOTHING RETURNING id`,
    ),
    retiredFloor: named("retired", `SELECT last_version FROM ${q}.retired_names WHERE name = $1`),
    setLastVersion: named(
      "set-last-version",
      `UPDATE ${q}.secrets SET last_version = $2 WHERE id = $1`,
    ),
    insertVersion: named(
      "insert-version",
      `WITH v AS (
         INSERT INTO ${q}.versions (secret_id, version, state, created_at)
         VALUES ($1, $2, 'enabled', now()) RETURNING secret_id, version),
       x AS (
         INSERT INTO ${q}.secret_values (secret_id, version, ciphertext)
         SELECT secret_id, version, $3 FROM v)
       UPDATE ${q}.secrets SET last_version = $2 WHERE id = $1`,
    ),
    versionState: named(
      "version-state",
      `SELECT state, compromised FROM ${q}.versions WHERE secret_id = $1 AND version = $2`,
    ),
    setVersionState: named(
      "set-version-state",
      `UPDATE ${q}.versions SET state = $3, compromised = $4 WHERE secret_id = $1 AND version = $2`,
    ),
    destroyVersion: named(
      "destroy",
      `WITH x AS (DELETE FROM ${q}.secret_values WHERE secret_id = $1 AND version = $2),
            g AS (DELETE FROM ${q}.stages WHERE secret_id = $1 AND version = $2)
       UPDATE ${q}.versions SET state = 'destroyed' WHERE secret_id = $1 AND version = $2`,
    ),
    stageHolder: named(
      "stage-holder",
      `SELECT version FROM ${q}.stages WHERE secret_id = $1 AND stage = $2`,
    ),
    setStage: named(
      "set-stage",
      `INSERT INTO ${q}.stages (secret_id, stage, version) VALUES ($1, $2, $3)
       ON CONFLICT (secret_id, stage) DO UPDATE SET version = excluded.version`,
    ),
    removeStage: named(
      "remove-stage",
      `DELETE FROM ${q}.stages WHERE secret_id = $1 AND stage = $2`,
    ),
    setRotatedAt: named("rotated-at", `UPDATE ${q}.secrets SET rotated_at = now() WHERE id = $1`),
    setMetadata: named("set-metadata", `UPDATE ${q}.secrets SET metadata = $2 WHERE id = $1`),
    retireAndDelete: named(
      "delete",
      `WITH r AS (
         INSERT INTO ${q}.retired_names (name, last_version) VALUES ($2, $3)
         ON CONFLICT (name) DO UPDATE
           SET last_version = greatest(${q}.retired_names.last_version, excluded.last_version))
       DELETE FROM ${q}.secrets WHERE id = $1`,
    ),
    allWrappedKeys: named(
      "all-keys",
      `SELECT id, name, data_key FROM ${q}.secrets ORDER BY id FOR UPDATE`,
    ),
    setWrappedKeys: named(
      "set-keys",
      `UPDATE ${q}.secrets s SET data_key = u.data_key
       FROM unnest($1::integer[], $2::bytea[]) AS u (id, data_key) WHERE s.id = u.id`,
    ),
    takeLock: named(
      "take-lock",
      `INSERT INTO ${q}.locks (name, owner, expires_at)
       VALUES ($1, $2, clock_timestamp() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at
       WHERE ${q}.locks.owner = excluded.owner OR ${q}.locks.expires_at <= clock_timestamp()`,
    ),
    releaseLock: named("release-lock", `DELETE FROM ${q}.locks WHERE name = $1 AND owner = $2`),
    rotationOf: named(
      "rotation",
      `SELECT s.id, r.revision, r.record::text AS record
       FROM ${q}.secrets s LEFT JOIN ${q}.rotations r ON r.secret_id = s.id WHERE s.name = $1`,
    ),
    insertRotation: named(
      "insert-rotation",
      `INSERT INTO ${q}.rotations (secret_id, rotation_id, revision, record) VALUES ($1, $2, 1, $3)
       ON CONFLICT (secret_id) DO NOTHING RETURNING revision`,
    ),
    updateRotation: named(
      "update-rotation",
      `UPDATE ${q}.rotations SET rotation_id = $3, record = $4, revision = revision + 1
       WHERE secret_id = $1 AND revision = $2 RETURNING revision`,
    ),
    clearRotation: named(
      "clear-rotation",
      `DELETE FROM ${q}.rotations
       WHERE secret_id = (SELECT id FROM ${q}.secrets WHERE name = $1) AND rotation_id = $2`,
    ),
    // Every write that changes a secret ends with these two statements, just before COMMIT.
    // Holding one lock from the sequence number to the commit makes seq order commit order, so a
    // follower that has read seq n has seen every change numbered below it that will ever commit.
    feedLock: named("feed-lock", "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))"),
    appendChanges: named(
      "append-changes",
      `WITH c AS (
         INSERT INTO ${q}.changes (secret, kind) SELECT * FROM unnest($1::text[], $2::text[])
         RETURNING seq, kind)
       SELECT pg_notify($3, c.seq || ' ' || c.kind) FROM c`,
    ),
    changesAfter: named(
      "changes-after",
      `SELECT p.through, c.seq, c.secret, c.kind, c.at
       FROM (SELECT value AS through FROM ${q}.meta WHERE key = 'changes_pruned_through') p
       LEFT JOIN LATERAL (
         SELECT seq, secret, kind, ${iso("at")} AS at FROM ${q}.changes
         WHERE seq > $1 ORDER BY seq LIMIT $2) c ON true
       ORDER BY c.seq`,
    ),
    head: named(
      "head",
      `SELECT greatest(
         coalesce((SELECT max(seq) FROM ${q}.changes), 0),
         (SELECT value::bigint FROM ${q}.meta WHERE key = 'changes_pruned_through'))::text AS head`,
    ),
    // seq follows commit order and `at` is taken under the feed lock, so this removes a prefix.
    prune: named(
      "prune",
      `WITH d AS (
         DELETE FROM ${q}.changes WHERE at < clock_timestamp() - $1 * interval '1 second'
         RETURNING seq)
       UPDATE ${q}.meta SET value = greatest(value::bigint, coalesce((SELECT max(seq) FROM d), 0))::text
       WHERE key = 'changes_pruned_through'
       RETURNING (SELECT count(*) FROM d)::integer AS pruned`,
    ),
  };
}

type Statement = { name: string; text: string };
type Statements = ReturnType<typeof statements>;

interface RecordRow {
  id: number;
  name: string;
  revision: number;
  metadata: string;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
  /** [version, state, compromised, createdAt], by version; null without versions. */
  versions: Array<[number, VersionState, boolean, string]> | null;
  /** Which version holds each stage; null when none is held. */
  stages: Partial<Record<Stage, number>> | null;
}

interface ValueRow {
  id: number;
  revision: number;
  data_key: Buffer;
  version: number | null;
  state: VersionState | null;
  ciphertext: Buffer | null;
}

interface LockedSecret {
  id: number;
  last_version: number;
  data_key: Buffer;
}

/** One write transaction: its connection, the changes to announce, and what to cache once it commits. */
class Tx {
  readonly changes: Array<{ secret: string; kind: StoreChange["kind"] }> = [];
  readonly newKeys = new Map<number, Buffer>();
  readonly onCommit: Array<() => void> = [];

  constructor(private readonly client: pg.PoolClient) {}

  async q<R extends object>(stmt: Statement, values: unknown[]): Promise<R[]> {
    return (await this.client.query<R>({ ...stmt, values })).rows;
  }

  changed(secret: string, kind: StoreChange["kind"]): void {
    this.changes.push({ secret, kind });
  }

  discard(): void {
    for (const key of this.newKeys.values()) key.fill(0);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const backoff = (attempt: number) => sleep(backoffDelay(attempt, RETRY_BACKOFF));
const quote = (identifier: string) => `"${identifier}"`;

/**
 * The PostgreSQL backend. Writes are compare-and-set on the secret's revision (an UPDATE … WHERE
 * revision = $n in a row-locked transaction); every write transaction that changes a secret
 * appends to the change feed before it commits. Reads are single statements, so each sees one
 * consistent snapshot without holding a transaction open.
 */
export class PostgresStore implements EnvelopeStore {
  private readonly s: Statements;
  private readonly backup: string;
  /** Data keys unwrapped so far, by secret id (ids are never reused). */
  private readonly dataKeys = new Map<number, Buffer>();
  private readonly records = new Map<string, CachedRecord>();
  /** Listening feed connections: they carry single-statement reads when the pool has no idle one. */
  private readonly feedClients = new Set<pg.Client>();
  private readonly subscriptions = new Set<FeedSubscription>();
  private feed: ChangeFeed | undefined;
  private envelope: Envelope | undefined;
  private closed = false;
  private lastPrune = 0;
  private pruning: Promise<unknown> | undefined;

  private constructor(
    private readonly pool: pg.Pool,
    private readonly target: PgTarget,
    private readonly retentionSeconds: number,
    envelope: Envelope,
    private header: KeyHeader,
  ) {
    this.envelope = envelope;
    this.s = statements(quote(target.schema));
    this.backup = `schema ${target.schema} of ${target.location}`;
  }

  /**
   * keyward init: creates the schema's tables and stores the key header, in one transaction
   * under the schema's advisory lock; refuses when the schema already holds a store.
   */
  static async create(
    options: PostgresOptions,
    env: NodeJS.ProcessEnv,
    envelope: Envelope,
    header: KeyHeader,
  ): Promise<PostgresStore> {
    const target = resolveTarget(options, env);
    const q = quote(target.schema);
    await withSetupClient(target, async (client) => {
      await inTransaction(client, async () => {
        await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
          schemaLockKey(target),
        ]);
        const tables = await client.query<{ name: string }>(
          "SELECT tablename AS name FROM pg_tables WHERE schemaname = $1",
          [target.schema],
        );
        if (tables.rows.some((t) => t.name === "meta")) {
          throw new KeywardError(
            "already_initialized",
            `a keyward store already exists in schema ${target.schema} of ${target.location}`,
            "use it as it is (keyward opens it with this store: section), or pick another schema",
          );
        }
        if (tables.rows.length > 0) {
          throw new KeywardError(
            "refused",
            `schema ${target.schema} of ${target.location} already holds tables that are not a keyward store`,
            "pick another schema for keyward (the store's schema option)",
          );
        }
        await client.query(`CREATE SCHEMA IF NOT EXISTS ${q}`);
        await client.query(SCHEMA_V1(q));
        await client.query(
          `INSERT INTO ${q}.meta (key, value) VALUES ('schema_version', '1'), ('key_header', $1)`,
          [JSON.stringify(header)],
        );
        await migrateFrom(client, q, 1);
      });
    });
    return PostgresStore.connect(options, target, envelope, header);
  }

  /** The schema's key header without unlocking it; undefined when the schema holds no store. */
  static async readHeader(
    options: PostgresOptions,
    env: NodeJS.ProcessEnv,
  ): Promise<KeyHeader | undefined> {
    const target = resolveTarget(options, env);
    let header: KeyHeader | undefined;
    await withSetupClient(target, async (client) => {
      try {
        header = (await readHeader(client, target)).header;
      } catch (e) {
        if (!(e instanceof KeywardError && e.code === "not_initialized")) throw e;
      }
    });
    return header;
  }

  /** Opens the store in the configured schema; `unlock` turns its key header into an envelope. */
  static async open(
    options: PostgresOptions,
    env: NodeJS.ProcessEnv,
    unlock: (header: KeyHeader) => Promise<Envelope>,
  ): Promise<PostgresStore> {
    const target = resolveTarget(options, env);
    let opened: { envelope: Envelope; header: KeyHeader } | undefined;
    await withSetupClient(target, async (client) => {
      const { header, version } = await readHeader(client, target);
      const envelope = await unlock(header);
      // Only after the key unlocks: a wrong key leaves the schema as it was.
      if (version < SCHEMA_VERSION) await migrate(client, target);
      // On this connection, so a follower's pool stays empty until it writes. Best effort: a
      // role that may only read (a host that only runs servers) cannot prune, and need not.
      const prune = statements(quote(target.schema)).prune;
      await client
        .query({ ...prune, values: [parseDuration(options.changeRetention)] })
        .catch(() => {});
      opened = { envelope, header };
    });
    const { envelope, header } = opened as { envelope: Envelope; header: KeyHeader };
    const store = PostgresStore.connect(options, target, envelope, header);
    store.lastPrune = Date.now();
    return store;
  }

  private static connect(
    options: PostgresOptions,
    target: PgTarget,
    envelope: Envelope,
    header: KeyHeader,
  ): PostgresStore {
    const pool = new pg.Pool({
      ...target.clientConfig(target.applicationName),
      max: options.poolSize,
      idleTimeoutMillis: POOL_IDLE_MS,
      allowExitOnIdle: true,
      lock_timeout: LOCK_TIMEOUT_MS,
      idle_in_transaction_session_timeout: IDLE_IN_TRANSACTION_MS,
    });
    // A connection the server closed (restart, pg_terminate_backend) emits "error": the pool
    // drops idle ones, and a query in flight on a checked-out one rejects, which write() and
    // read1() handle. Without these listeners the event would crash the process.
    pool.on("error", () => {});
    pool.on("connect", (client) => client.on("error", () => {}));
    return new PostgresStore(
      pool,
      target,
      parseDuration(options.changeRetention),
      envelope,
      header,
    );
  }

  describe(): StoreDescription {
    return {
      backend: "postgres",
      location: `${this.target.location} (schema ${this.target.schema})`,
      encryption:
        "AES-256-GCM envelope, per-secret data keys (client-side: the database sees ciphertext only)",
      details: {
        host: this.target.host,
        port: String(this.target.port),
        database: this.target.database,
        user: this.target.user,
        schema: this.target.schema,
        applicationName: this.target.applicationName,
      },
    };
  }

  keyHeader(): KeyHeader {
    return this.header;
  }

  // ---- reads ----------------------------------------------------------------------------

  async get(name: string): Promise<SecretRecord | undefined> {
    parseSecretName(name);
    const [row] = await this.read1<RecordRow>(this.s.recordByName, [name]);
    return row === undefined ? undefined : this.recordOf(row);
  }

  async list(prefix = ""): Promise<SecretRecord[]> {
    const rows = await this.read1<RecordRow>(this.s.recordsFrom, [prefix]);
    return rows.map((row) => this.recordOf(row));
  }

  async read(name: string, selector: VersionSelector = { stage: "current" }): Promise<ReadResult> {
    // A cached name was validated when it was cached; this keeps the hot path to one query.
    if (!this.records.has(name)) parseSecretName(name);
    checkSelector(selector);
    const params = [
      name,
      "stage" in selector ? selector.stage : null,
      "version" in selector ? selector.version : null,
    ];
    const [row] = await this.read1<ValueRow>(this.s.value, params);
    if (row === undefined) throw secretNotFound(name);
    const cached = this.records.get(name);
    if (cached !== undefined && cached.id === row.id && cached.revision === row.revision) {
      return this.openRow(name, selector, row, cached);
    }
    // The secret changed since it was cached: value and record again, from one snapshot.
    const [fresh] = await this.read1<ValueRow & RecordRow>(this.s.valueWithRecord, params);
    if (fresh === undefined) throw secretNotFound(name);
    return this.openRow(name, selector, fresh, this.cacheRecord(fresh));
  }

  async getRotation(name: string): Promise<RotationRecord | undefined> {
    parseSecretName(name);
    const [row] = await this.read1<{ revision: number | null; record: string | null }>(
      this.s.rotationOf,
      [name],
    );
    if (row === undefined) throw secretNotFound(name);
    if (row.revision === null || row.record === null) return undefined;
    const record = JSON.parse(row.record) as RotationRecordInput;
    return { ...record, secret: name, revision: row.revision };
  }

  // ---- writes ---------------------------------------------------------------------------

  async create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord> {
    parseSecretName(name);
    if (value !== undefined) checkValue(name, value);
    return this.write(async (tx) => {
      const inserted = await this.insertSecret(tx, name, metadata);
      if (inserted === undefined) throw secretExists(name);
      if (value !== undefined) {
        await this.addVersion(tx, inserted, name, inserted.last_version + 1, value, ["current"]);
      }
      tx.changed(name, value === undefined ? "metadata" : "version");
      return this.loadRecord(tx, name);
    });
  }

  async putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult> {
    const stages = checkPutVersion(name, value, options.stages);
    let version = 0;
    const record = await this.change(name, options.expectedRevision, "version", async (tx, s) => {
      version = s.last_version + 1;
      await this.addVersion(tx, s, name, version, value, stages);
    });
    return { value, version: versionOf(record, version), record };
  }

  async moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    checkStageMove(name, stage, version);
    return this.change(name, expectedRevision, "stage", async (tx, secret) => {
      if (version === null) {
        await tx.q(this.s.removeStage, [secret.id, stage]);
        return;
      }
      const { state } = await this.versionState(tx, secret.id, name, version);
      checkStageTarget(name, stage, version, state);
      await this.assignStage(tx, secret.id, stage, version);
    });
  }

  async setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord> {
    checkStateChange(name, version, state, options.compromised);
    return this.change(name, options.expectedRevision, "state", async (tx, secret) => {
      const current = await this.versionState(tx, secret.id, name, version);
      const next = nextVersionState(name, version, current, state, options.compromised);
      await tx.q(this.s.setVersionState, [secret.id, version, next.state, next.compromised]);
    });
  }

  /**
   * Deletes the ciphertext row. PostgreSQL keeps the old row image until VACUUM reclaims it and
   * in WAL and backups (docs/backends/postgres.md): ciphertext only, but under a live data key.
   */
  async destroyVersion(
    name: string,
    version: number,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    checkVersionNumber(version);
    return this.change(name, expectedRevision, "state", async (tx, secret) => {
      await this.versionState(tx, secret.id, name, version);
      await tx.q(this.s.destroyVersion, [secret.id, version]);
    });
  }

  async updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    return this.change(name, expectedRevision, "metadata", async (tx, secret) => {
      await tx.q(this.s.setMetadata, [secret.id, JSON.stringify(metadata)]);
    });
  }

  async delete(name: string, expectedRevision: number): Promise<void> {
    parseSecretName(name);
    checkExpectedRevision(name, expectedRevision);
    const id = await this.write(async (tx) => {
      const secret = await this.lockSecret(tx, name, expectedRevision);
      await tx.q(this.s.retireAndDelete, [secret.id, name, secret.last_version]);
      tx.changed(name, "delete");
      return secret.id;
    });
    this.dataKeys.get(id)?.fill(0);
    this.dataKeys.delete(id);
    this.records.delete(name);
  }

  async putVersions(
    writes: VersionWrite[],
    rotation?: { record: RotationRecordInput; expectedRevision?: number },
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }> {
    checkVersionWrites(writes);
    const record = rotation === undefined ? undefined : rotationInput(rotation.record);
    // Row locks are taken in name order, so two hosts writing overlapping sets cannot deadlock.
    const order = writes.map((_, i) => i).sort((a, b) => byName(writes[a]!.name, writes[b]!.name));
    return this.write(async (tx) => {
      const versions: number[] = [];
      for (const i of order) {
        const w = writes[i]!;
        let secret: LockedSecret;
        if (w.expectedRevision === 0) {
          const inserted = await this.insertSecret(tx, w.name, w.metadata as SecretMetadata);
          if (inserted === undefined) throw createConflict(w.name);
          secret = inserted;
        } else {
          secret = await this.lockSecret(tx, w.name, w.expectedRevision);
        }
        versions[i] = secret.last_version + 1;
        await this.addVersion(
          tx,
          secret,
          w.name,
          secret.last_version + 1,
          w.value,
          w.stages ?? ["current"],
        );
        tx.changed(w.name, "version");
      }
      let stored: RotationRecord | undefined;
      if (record !== undefined && rotation !== undefined) {
        const index = writes.findIndex((w) => w.name === record.secret);
        const pending = index === -1 ? undefined : versions[index];
        if (pending !== undefined) record.pendingVersion = pending;
        stored = await this.writeRotation(tx, record, rotation.expectedRevision);
      }
      const results: ReadResult[] = [];
      for (const [i, w] of writes.entries()) {
        const fresh = await this.loadRecord(tx, w.name);
        results.push({
          value: w.value,
          version: versionOf(fresh, versions[i] ?? 0),
          record: fresh,
        });
      }
      return stored === undefined ? { results } : { results, rotation: stored };
    });
  }

  async acquireLock(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const ttlMs = checkLock(name, owner, ttlSeconds);
    // Idempotent: running it twice for the same owner renews the same lock.
    return (await this.exec(this.s.takeLock, [name, owner, ttlMs])) === 1;
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    checkLockHolder(name, owner);
    await this.exec(this.s.releaseLock, [name, owner]);
  }

  async putRotation(
    record: RotationRecordInput,
    expectedRevision?: number,
  ): Promise<RotationRecord> {
    const input = rotationInput(record);
    return this.write((tx) => this.writeRotation(tx, input, expectedRevision));
  }

  async clearRotation(name: string, rotationId: string): Promise<boolean> {
    parseSecretName(name);
    return (await this.exec(this.s.clearRotation, [name, rotationId])) > 0;
  }

  async rekey(
    newHeader: KeyHeader,
    rewrap: (wrapped: Buffer, aad: string) => Buffer,
  ): Promise<number> {
    const count = await this.write(async (tx) => {
      // The header row first: in-flight creates finish before the keys are read (see keyHeaderShared).
      await tx.q(this.s.setKeyHeader, [JSON.stringify(newHeader)]);
      const rows = await tx.q<{ id: number; name: string; data_key: Buffer }>(
        this.s.allWrappedKeys,
        [],
      );
      const rewrapped = rows.map((r) => rewrapDataKey(rewrap, r.data_key, r.name, this.backup));
      await tx.q(this.s.setWrappedKeys, [rows.map((r) => r.id), rewrapped]);
      return rows.length;
    });
    this.header = newHeader;
    this.envelope = undefined;
    return count;
  }

  // ---- change feed ----------------------------------------------------------------------

  /**
   * The store's change feed. `subscribe` opens one connection per subscription (LISTEN needs a
   * session of its own), replays the changes after `afterSeq`, then delivers each committed
   * change once, in seq order. A dropped connection is reported to `onError` as
   * `upstream_unavailable` and reopened with backoff; the replay resumes after the last change
   * delivered. Changes pruned before a follower read them end the subscription with `conflict`
   * (the follower re-reads everything and subscribes from head()).
   */
  changes(): ChangeFeed {
    this.feed ??= {
      head: async () => {
        const [row] = await this.read1<{ head: string }>(this.s.head, []);
        return Number(row?.head ?? 0);
      },
      subscribe: async (afterSeq, onChange, onError) => {
        this.assertOpen();
        if (!Number.isSafeInteger(afterSeq) || afterSeq < 0) {
          throw new KeywardError(
            "usage",
            `afterSeq must be a change number (0 or more), got ${String(afterSeq)}`,
          );
        }
        const sub = new FeedSubscription(
          {
            location: this.target.location,
            channel: { quoted: quote(this.channel()), name: this.channel() },
            clientConfig: () => this.target.clientConfig(`${this.target.applicationName} feed`),
            changesAfter: this.s.changesAfter,
            translate: (e) => translatePgError(e, this.target),
            ready: (client) => this.feedClients.add(client),
            gone: (client) => this.feedClients.delete(client),
          },
          afterSeq,
          onChange,
          onError,
          (closed) => this.subscriptions.delete(closed),
        );
        this.subscriptions.add(sub);
        await sub.start();
        return { close: () => sub.close() };
      },
    };
    return this.feed;
  }

  /**
   * Deletes change rows older than the retention (`changeRetention`, default 7 days) and
   * records the highest seq removed, so a follower that needed them is told instead of
   * silently missing changes. Runs on open and at most hourly after writes.
   */
  async pruneChanges(): Promise<number> {
    this.lastPrune = Date.now();
    const [row] = await this.exec1<{ pruned: number }>(this.s.prune, [this.retentionSeconds]);
    return row?.pruned ?? 0;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.subscriptions].map((sub) => sub.close()));
    await this.pruning;
    for (const key of this.dataKeys.values()) key.fill(0);
    this.dataKeys.clear();
    this.records.clear();
    this.envelope = undefined;
    await this.pool.end();
  }

  // ---- transactions and CAS -------------------------------------------------------------

  /**
   * Runs `fn` in one transaction and commits it, announcing its changes just before COMMIT.
   * A transaction whose connection fails before COMMIT is sent was rolled back by the server
   * and runs again. If the connection fails during COMMIT, txid_status() on a new connection
   * says whether it committed, so a write is never applied twice nor reported lost when it was not.
   */
  private async write<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    this.assertOpen();
    for (let attempt = 0; ; attempt++) {
      let client: pg.PoolClient | undefined;
      let tx: Tx | undefined;
      let txid: string | undefined;
      let committing = false;
      let result: T | undefined;
      try {
        client = await this.pool.connect();
        tx = new Tx(client);
        // Two statements in one round trip (simple query protocol): pg answers with both results.
        const begun = (await client.query(
          "BEGIN; SELECT txid_current()::text AS txid",
        )) as unknown as Array<pg.QueryResult<{ txid: string }>>;
        txid = begun[1]?.rows[0]?.txid;
        result = await fn(tx);
        if (tx.changes.length > 0) {
          await tx.q(this.s.feedLock, [`keyward:feed:${this.target.schema}`]);
          await tx.q(this.s.appendChanges, [
            tx.changes.map((c) => c.secret),
            tx.changes.map((c) => c.kind),
            this.channel(),
          ]);
        }
        committing = true;
        await client.query("COMMIT");
        client.release();
        this.committed(tx);
        return result;
      } catch (e) {
        const broken = isConnectionFailure(e);
        if (client !== undefined) {
          if (!broken && !committing) await client.query("ROLLBACK").catch(() => {});
          client.release(broken);
        }
        if (committing && broken && tx !== undefined) {
          const outcome = await this.commitOutcome(txid);
          if (outcome === "committed") {
            this.committed(tx);
            return result as T;
          }
          if (outcome === "unknown") {
            tx.discard();
            throw new KeywardError(
              "upstream_unavailable",
              `the connection to ${this.target.location} dropped while a write was committing, and whether it committed could not be checked`,
              "re-read the secret to see whether the change is there before writing it again",
            );
          }
        }
        tx?.discard();
        if ((broken || isTransactionRetryable(e)) && attempt < RETRIES && !this.closed) {
          await backoff(attempt);
          continue;
        }
        throw this.translate(e);
      }
    }
  }

  private committed(tx: Tx): void {
    for (const [id, key] of tx.newKeys) this.dataKeys.set(id, key);
    for (const then of tx.onCommit) then();
    if (tx.changes.length > 0 && Date.now() - this.lastPrune > PRUNE_EVERY_MS) this.pruneSoon();
  }

  /** Asks a new connection whether transaction `txid` committed (the server may still be finishing it). */
  private async commitOutcome(
    txid: string | undefined,
  ): Promise<"committed" | "aborted" | "unknown"> {
    if (txid === undefined) return "aborted";
    for (let attempt = 0; attempt < RETRIES + 2; attempt++) {
      try {
        const { rows } = await this.pool.query<{ status: string | null }>(
          "SELECT txid_status($1::bigint) AS status",
          [txid],
        );
        const status = rows[0]?.status;
        if (status === "committed") return "committed";
        if (status === "aborted") return "aborted";
        if (status === null || status === undefined) return "unknown";
      } catch (e) {
        if (!isConnectionFailure(e)) return "unknown";
      }
      await backoff(attempt);
    }
    return "unknown";
  }

  /** One compare-and-set write: bump the revision if it matches, apply the change, return the new record. */
  private async change(
    name: string,
    expectedRevision: number,
    kind: StoreChange["kind"],
    apply: (tx: Tx, secret: LockedSecret) => Promise<void>,
  ): Promise<SecretRecord> {
    checkExpectedRevision(name, expectedRevision);
    return this.write(async (tx) => {
      const secret = await this.lockSecret(tx, name, expectedRevision);
      await apply(tx, secret);
      tx.changed(name, kind);
      return this.loadRecord(tx, name);
    });
  }

  /** Bumps the revision when it is `expectedRevision` (locking the row); else not_found or conflict. */
  private async lockSecret(tx: Tx, name: string, expectedRevision: number): Promise<LockedSecret> {
    const [locked] = await tx.q<LockedSecret>(this.s.bump, [name, expectedRevision]);
    if (locked !== undefined) return locked;
    const [found] = await tx.q<{ revision: number }>(this.s.revisionOf, [name]);
    if (found === undefined) throw secretNotFound(name);
    throw revisionConflict(name, expectedRevision, found.revision);
  }

  /** Inserts a secret at revision 1 with a new data key; undefined when the name is taken. */
  private async insertSecret(
    tx: Tx,
    name: string,
    metadata: SecretMetadata,
  ): Promise<LockedSecret | undefined> {
    const [stored] = await tx.q<{ value: string }>(this.s.keyHeaderShared, []);
    this.assertHeader(stored?.value);
    const { dataKey, wrapped } = newDataKey(this.kek(), name);
    const [inserted] = await tx.q<{ id: number }>(this.s.insertSecret, [
      name,
      JSON.stringify(metadata),
      wrapped,
    ]);
    if (inserted === undefined) {
      dataKey.fill(0);
      return undefined;
    }
    tx.newKeys.set(inserted.id, dataKey);
    // Read in a statement of its own, after the insert: if a delete of this name was committing,
    // the insert waited for it, and only a snapshot taken now sees the version numbers it retired.
    const [retired] = await tx.q<{ last_version: number }>(this.s.retiredFloor, [name]);
    const floor = retired?.last_version ?? 0;
    if (floor > 0) await tx.q(this.s.setLastVersion, [inserted.id, floor]);
    return { id: inserted.id, last_version: floor, data_key: wrapped };
  }

  private async addVersion(
    tx: Tx,
    secret: LockedSecret,
    name: string,
    version: number,
    value: string,
    stages: Stage[],
  ): Promise<void> {
    const dataKey =
      tx.newKeys.get(secret.id) ?? (await this.dataKey(secret.id, name, secret.data_key));
    const sealed = sealValue(dataKey, name, version, value);
    await tx.q(this.s.insertVersion, [secret.id, version, sealed]);
    for (const stage of stages) await this.assignStage(tx, secret.id, stage, version);
  }

  /** Gives a stage to a version; when `current` moves, its old holder becomes `previous`. */
  private async assignStage(
    tx: Tx,
    secretId: number,
    stage: Stage,
    version: number,
  ): Promise<void> {
    const [holder] = await tx.q<{ version: number }>(this.s.stageHolder, [secretId, stage]);
    if (holder?.version === version) return;
    await tx.q(this.s.setStage, [secretId, stage, version]);
    if (stage === "current") {
      await tx.q(this.s.setRotatedAt, [secretId]);
      if (holder !== undefined) await tx.q(this.s.setStage, [secretId, "previous", holder.version]);
    }
  }

  private async versionState(
    tx: Tx,
    secretId: number,
    name: string,
    version: number,
  ): Promise<{ state: VersionState; compromised: boolean }> {
    const [row] = await tx.q<{ state: VersionState; compromised: boolean }>(this.s.versionState, [
      secretId,
      version,
    ]);
    if (row === undefined) throw noSuchVersion(name, version);
    return row;
  }

  /** Compare-and-set write of a rotation record, inside a write transaction. */
  private async writeRotation(
    tx: Tx,
    record: RotationRecordInput,
    expectedRevision: number | undefined,
  ): Promise<RotationRecord> {
    const current = async () =>
      (await tx.q<{ id: number; revision: number | null }>(this.s.rotationOf, [record.secret]))[0];
    const row = await current();
    if (row === undefined) throw secretNotFound(record.secret);
    const json = JSON.stringify(record);
    const [written] =
      expectedRevision === undefined
        ? await tx
            .q<{ revision: number }>(this.s.insertRotation, [row.id, record.rotationId, json])
            .catch((e: unknown) => {
              // 23503 foreign_key_violation: the secret was deleted since it was looked up.
              if ((e as { code?: unknown }).code === "23503") throw secretNotFound(record.secret);
              throw e;
            })
        : await tx.q<{ revision: number }>(this.s.updateRotation, [
            row.id,
            expectedRevision,
            record.rotationId,
            json,
          ]);
    if (written === undefined) {
      throw rotationConflict(
        record.secret,
        expectedRevision,
        (await current())?.revision ?? undefined,
      );
    }
    return { ...record, revision: written.revision };
  }

  /** The record as this transaction sees it; cached only once the transaction commits. */
  private async loadRecord(tx: Tx, name: string): Promise<SecretRecord> {
    const [row] = await tx.q<RecordRow>(this.s.recordByName, [name]);
    if (row === undefined) throw secretNotFound(name);
    const cached = buildRecord(row);
    tx.onCommit.push(() => this.records.set(name, cached));
    return copyRecord(cached);
  }

  // ---- statements outside transactions --------------------------------------------------

  /**
   * A single-statement read. It goes over an idle pool connection when there is one, else over
   * a listening feed connection (a follower that only listens and re-reads then holds one
   * connection, not two: it never runs a transaction there, so notifications are not delayed),
   * else the pool opens one. A failed connection is retried on another.
   */
  private async read1<R extends object>(stmt: Statement, values: unknown[]): Promise<R[]> {
    this.assertOpen();
    for (let attempt = 0; ; attempt++) {
      try {
        const via = this.pool.idleCount === 0 ? this.feedClients.values().next().value : undefined;
        return (await (via ?? this.pool).query<R>({ ...stmt, values })).rows;
      } catch (e) {
        if (isConnectionFailure(e) && attempt < RETRIES && !this.closed) {
          await backoff(attempt);
          continue;
        }
        throw this.translate(e);
      }
    }
  }

  /** One idempotent statement on the pool (locks, rotation clearing, pruning); returns rows affected. */
  private async exec(stmt: Statement, values: unknown[]): Promise<number> {
    return (await this.execResult(stmt, values)).rowCount ?? 0;
  }

  private async exec1<R extends object>(stmt: Statement, values: unknown[]): Promise<R[]> {
    return (await this.execResult<R>(stmt, values)).rows;
  }

  private async execResult<R extends object>(
    stmt: Statement,
    values: unknown[],
  ): Promise<pg.QueryResult<R>> {
    this.assertOpen();
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.pool.query<R>({ ...stmt, values });
      } catch (e) {
        if (isConnectionFailure(e) && attempt < RETRIES && !this.closed) {
          await backoff(attempt);
          continue;
        }
        throw this.translate(e);
      }
    }
  }

  private pruneSoon(): void {
    if (this.pruning !== undefined || this.closed) return;
    // Housekeeping: a failure here must not fail the write that triggered it; the next one retries.
    this.pruning = this.pruneChanges()
      .catch(() => {})
      .finally(() => {
        this.pruning = undefined;
      });
  }

  // ---- records and values ---------------------------------------------------------------

  private recordOf(row: RecordRow): SecretRecord {
    const cached = this.records.get(row.name);
    if (cached !== undefined && cached.id === row.id && cached.revision === row.revision) {
      return copyRecord(cached);
    }
    return copyRecord(this.cacheRecord(row));
  }

  private cacheRecord(row: RecordRow): CachedRecord {
    const cached = buildRecord(row);
    this.records.set(row.name, cached);
    return cached;
  }

  private async openRow(
    name: string,
    selector: VersionSelector,
    row: ValueRow,
    cached: CachedRecord,
  ): Promise<ReadResult> {
    if (row.version === null || row.state === null) throw nothingSelected(name, selector);
    checkReadable(name, row.version, row.state);
    if (row.ciphertext === null) {
      throw new KeywardError(
        "corrupt_store",
        `version ${row.version} of secret ${name} has no stored value in ${this.backup}`,
        `restore ${this.backup} from a backup, or destroy this version and put a new value`,
      );
    }
    const dataKey = await this.dataKey(row.id, name, row.data_key);
    const value = openValue(dataKey, name, row.version, row.ciphertext, this.backup);
    const record = copyRecord(cached);
    return { value, version: versionOf(record, row.version), record };
  }

  private async dataKey(secretId: number, name: string, wrapped: Buffer): Promise<Buffer> {
    const cached = this.dataKeys.get(secretId);
    if (cached !== undefined) return cached;
    const dataKey = unwrapDataKey(this.kek(), wrapped, name);
    if (dataKey === undefined) {
      const [stored] = await this.read1<{ value: string }>(this.s.keyHeader, []);
      this.assertHeader(stored?.value);
      throw dataKeyTampered(name, this.backup);
    }
    this.dataKeys.set(secretId, dataKey);
    return dataKey;
  }

  // ---- keys, state and errors -----------------------------------------------------------

  private kek(): Envelope {
    if (this.envelope === undefined) {
      throw new KeywardError(
        "refused",
        `the store in ${this.backup} was rekeyed or closed; this handle no longer holds its master key`,
        "open the store again (with the new master key after a rekey)",
      );
    }
    return this.envelope;
  }

  /** Another host may have rekeyed the store since this handle opened it. */
  private assertHeader(stored: string | undefined): void {
    if (stored !== undefined && parseKeyHeader(stored)?.check !== this.header.check) {
      throw new KeywardError(
        "wrong_master_key",
        `the store in ${this.backup} was rekeyed by another process after this one opened it`,
        "run the command again so it opens the store with the new master key",
      );
    }
  }

  private assertOpen(): void {
    if (this.closed) {
      throw new KeywardError(
        "refused",
        `the store handle for ${this.backup} is closed`,
        "open the store again",
      );
    }
  }

  private channel(): string {
    return `${this.target.schema}.changes`;
  }

  private translate(e: unknown): unknown {
    return translatePgError(e, this.target);
  }
}

// ---- opening, creating and migrating --------------------------------------------------------

function schemaLockKey(target: PgTarget): string {
  return `keyward:schema:${target.schema}`;
}

/** A short-lived connection for init and open, so the pool starts empty. */
async function withSetupClient(
  target: PgTarget,
  fn: (client: pg.Client) => Promise<void>,
): Promise<void> {
  const client = new pg.Client(target.clientConfig(target.applicationName));
  client.on("error", () => {});
  try {
    await client.connect();
    await fn(client);
  } catch (e) {
    throw translatePgError(e, target);
  } finally {
    await client.end().catch(() => {});
  }
}

async function inTransaction(client: pg.Client, fn: () => Promise<void>): Promise<void> {
  await client.query("BEGIN");
  try {
    await fn();
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
}

async function readHeader(
  client: pg.Client,
  target: PgTarget,
): Promise<{ header: KeyHeader; version: number }> {
  const q = quote(target.schema);
  const { rows: found } = await client.query<{ meta: string | null }>(
    "SELECT to_regclass($1)::text AS meta",
    [`${q}.meta`],
  );
  if (found[0]?.meta === null || found[0] === undefined) {
    throw new KeywardError(
      "not_initialized",
      `there is no keyward store in schema ${target.schema} of ${target.location}`,
      "run `keyward init` with this store: section to create one (or set schema to the one that holds it)",
    );
  }
  const { rows } = await client.query<{ key: string; value: string }>(
    `SELECT key, value FROM ${q}.meta WHERE key IN ('schema_version', 'key_header')`,
  );
  const meta = new Map(rows.map((r) => [r.key, r.value]));
  const corrupt = (why: string) =>
    new KeywardError(
      "corrupt_store",
      `schema ${target.schema} of ${target.location} is not a usable keyward store: ${why}`,
      "restore the schema from a backup, or drop it and run `keyward init` to start a new store",
    );
  const version = Number(meta.get("schema_version"));
  if (version > SCHEMA_VERSION) {
    throw new KeywardError(
      "refused",
      `schema ${target.schema} of ${target.location} has keyward schema version ${version}; this keyward understands up to ${SCHEMA_VERSION}`,
      "upgrade keyward",
    );
  }
  if (!Number.isSafeInteger(version) || version < 1) {
    throw corrupt("its schema_version is missing or invalid");
  }
  const json = meta.get("key_header");
  const header = json === undefined ? undefined : parseKeyHeader(json);
  if (header === undefined) throw corrupt("its key header is missing or malformed");
  return { header, version };
}

/**
 * Brings an older schema up to SCHEMA_VERSION in one transaction. The advisory lock and the
 * re-read of the version inside it make two hosts opening an old store at once migrate it once;
 * DDL is transactional in PostgreSQL, so a failed migration leaves the old schema whole.
 */
async function migrate(client: pg.Client, target: PgTarget): Promise<void> {
  const q = quote(target.schema);
  await inTransaction(client, async () => {
    await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1, 0))", [
      schemaLockKey(target),
    ]);
    const { rows } = await client.query<{ value: string }>(
      `SELECT value FROM ${q}.meta WHERE key = 'schema_version'`,
    );
    const version = Number(rows[0]?.value);
    if (version < SCHEMA_VERSION) await migrateFrom(client, q, version);
  });
}

async function migrateFrom(client: pg.Client, q: string, version: number): Promise<void> {
  for (const ddl of MIGRATIONS.slice(version - 1)) await client.query(ddl(q));
  await client.query(`UPDATE ${q}.meta SET value = $1 WHERE key = 'schema_version'`, [
    String(SCHEMA_VERSION),
  ]);
}

// ---- records --------------------------------------------------------------------------------

function buildRecord(row: RecordRow): CachedRecord {
  const holders = Object.entries(row.stages ?? {});
  const versions = (row.versions ?? []).map(([version, state, compromised, createdAt]) =>
    versionInfo({
      version,
      stages: holders.filter(([, v]) => v === version).map(([stage]) => stage),
      state,
      createdAt,
      compromised,
    }),
  );
  return cachedRecord(row.name, row, versions);
}

// ---- the backend ----------------------------------------------------------------------------

/** `store: { backend: postgres, … }`: team mode on a shared PostgreSQL database. */
export const postgresBackend: StoreBackend<PostgresOptions> = {
  name: "postgres",
  shared: true,
  options: postgresOptions,
  readHeader: (options, ctx) => PostgresStore.readHeader(options, ctx.env),
  create: (options, ctx, envelope, header) =>
    PostgresStore.create(options, ctx.env, envelope, header),
  open: (options, ctx) => PostgresStore.open(options, ctx.env, ctx.unlock),
  facts: (options, ctx) => ({
    auth: authSummary(options, ctx.env),
    audit:
      "keyward's hash-chained access log on each host; the PostgreSQL server log shows connections (log_connections, pgaudit) and only ever ciphertext",
    grade: "B",
    why: "the database only ever holds ciphertext and every host logs its reads, but the master key sits on each host (key file, keyring or environment) rather than behind IAM",
  }),
};
