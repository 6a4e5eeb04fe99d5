import type { SecretMetadata, SecretRecord, Stage, VersionInfo } from "../core/types.js";
import type { KeyHeader } from "../crypto/envelope.js";

/** Values are UTF-8 strings of at most 1 MiB (they end up in environment variables). */
export const MAX_VALUE_BYTES = 1024 * 1024;

/** Which version a read wants: a stage (default `current`) or an exact version number. */
export type VersionSelector = { stage: Stage } | { version: number };

export interface PutVersionOptions {
  /** The revision the caller last saw; a mismatch fails with `conflict` and writes nothing. */
  expectedRevision: number;
  /**
   * Stages the new version takes (default `["current"]`). A stage moves off whichever version
   * held it; when `current` moves, the version that held it becomes `previous`, as
   * AWS Secrets Manager does with AWSCURRENT and AWSPREVIOUS.
   */
  stages?: Stage[];
}

export interface ReadResult {
  value: string;
  version: VersionInfo;
  record: SecretRecord;
}

/**
 * One write of `putVersions`. `expectedRevision` 0 means the secret does not exist yet: it is
 * created with `metadata` (required then) and the value becomes its first version.
 */
export interface VersionWrite {
  name: string;
  value: string;
  /** As for putVersion: default `["current"]`. */
  stages?: Stage[];
  expectedRevision: number;
  metadata?: SecretMetadata;
}

/** Where a rotation stands; each step is idempotent and a crashed run resumes from the recorded one. */
export const ROTATION_STEPS = [
  "create",
  "set",
  "test",
  "finish",
  "revoke-previous",
  "done",
  "failed",
] as const;
export type RotationStep = (typeof ROTATION_STEPS)[number];

/**
 * The state of one rotation of one secret (src/rotation/README.md). At most one record per
 * secret; a `done` or `failed` record is the last rotation's result until the next one replaces
 * it. Deleting the secret deletes its record.
 */
export interface RotationRecord {
  rotationId: string;
  secret: string;
  step: RotationStep;
  /** Compare-and-set token of the record itself, set by the store: 1 when created, +1 per write. */
  revision: number;
  /** The version created for this rotation (it holds `pending` until finish). */
  pendingVersion?: number;
  /** The version that was current when the rotation started: revoked upstream after the grace period. */
  previousVersion?: number;
  /** When the new value expires upstream, if the provider said; copied to metadata at finish. */
  pendingExpiresAt?: string;
  /** Tries of the current step; reset when the step advances. */
  attempts: number;
  /** Why the last try failed: an error code and a message, never a value. */
  lastError?: { code: string; message: string };
  startedAt: string;
  updatedAt: string;
  /** When the previous value may be revoked upstream (ISO 8601). */
  revokeAfter?: string;
}

/** A rotation record as written: the store assigns the revision. */
export type RotationRecordInput = Omit<RotationRecord, "revision">;

export interface StoreDescription {
  backend: string;
  location: string;
  /** e.g. "AES-256-GCM envelope, per-secret data keys" or "server-side (Vault transit)". */
  encryption: string;
  /** Backend-specific facts worth showing (mount, region, project, schema), never a credential. */
  details?: Record<string, string>;
}

/**
 * Every backend (sqlite, postgres, vault, aws, gcp) implements this. Every write is
 * compare-and-set on the secret's revision; every failure is a KeywardError whose message
 * names the secret and never contains a value. Conformance: src/store/conformance.ts.
 */
export interface SecretStore {
  describe(): StoreDescription;
  /** Creates a secret at revision 1; with a value, version 1 becomes `current`. Fails if it exists. */
  create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord>;
  /** Metadata and versions, never values; undefined when there is no such secret. */
  get(name: string): Promise<SecretRecord | undefined>;
  /** All secrets, sorted by name; with a prefix, only names starting with it. */
  list(prefix?: string): Promise<SecretRecord[]>;
  /** Adds a version and returns the new record; the version number is one above the highest ever used. */
  putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult>;
  /** Reads a value. Fails with `disabled` or `destroyed` for such versions, `not_found` for a missing stage. */
  read(name: string, selector?: VersionSelector): Promise<ReadResult>;
  /** Moves a stage to a version, or removes it from whichever version holds it (`version: null`). */
  moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord>;
  /** Disables (reversible) or re-enables a version. A compromised version cannot be re-enabled. */
  setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord>;
  /** Erases a version's value for good; its number and history stay. It loses its stages. */
  destroyVersion(name: string, version: number, expectedRevision: number): Promise<SecretRecord>;
  updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord>;
  /** Removes the secret and erases every version (and its rotation record). */
  delete(name: string, expectedRevision: number): Promise<void>;

  /**
   * Several version writes, to different secrets, in one transaction: all or nothing (a
   * rotated value and the refresh token that came with it). With `rotation`, the rotation
   * record is written in the same transaction (compare-and-set as putRotation); when the writes
   * include the rotation's secret, the record's `pendingVersion` is set to the version created.
   * Results come in the order of `writes`.
   */
  putVersions(
    writes: VersionWrite[],
    rotation?: { record: RotationRecordInput; expectedRevision?: number },
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }>;

  /**
   * Takes the named lock for `ttlSeconds`, atomically across processes. True when it was free,
   * expired, or already held by `owner` (then its expiry is extended); false when another owner
   * holds it unexpired. Expiry is judged by the store's clock.
   */
  acquireLock(name: string, owner: string, ttlSeconds: number): Promise<boolean>;
  /** Releases the lock if `owner` holds it; otherwise does nothing. */
  releaseLock(name: string, owner: string): Promise<void>;

  /** The secret's rotation record, or undefined. Fails with `not_found` for a missing secret. */
  getRotation(name: string): Promise<RotationRecord | undefined>;
  /**
   * Writes the rotation record of `record.secret`. Without `expectedRevision` the secret must
   * have no record yet; with it, the stored record's revision must match. A mismatch fails with
   * `conflict` and writes nothing.
   */
  putRotation(record: RotationRecordInput, expectedRevision?: number): Promise<RotationRecord>;
  /** Deletes the secret's rotation record if it is `rotationId`'s; true when one was deleted. */
  clearRotation(name: string, rotationId: string): Promise<boolean>;

  /**
   * The store's own change feed, when it has one (PostgreSQL LISTEN/NOTIFY). Followers use it
   * instead of polling; stores without one are followed through the daemon's control socket or
   * by polling metadata.
   */
  changes?(): ChangeFeed;

  /**
   * A cheap value that differs whenever the store may have changed since it was last taken
   * (SQLite: its data_version and this connection's change count). A polling follower reads its
   * secrets only when the mark moved, so an idle proxy does next to nothing per tick.
   */
  changeMark?(): string;

  close(): Promise<void>;
}

/** Backends that encrypt on the client with keyward's envelope keys (sqlite, postgres). */
export interface EnvelopeStore extends SecretStore {
  keyHeader(): KeyHeader;
  /** Rewraps every data key under a new master key in one transaction; values untouched. */
  rekey(newHeader: KeyHeader, rewrap: (wrapped: Buffer, aad: string) => Buffer): Promise<number>;
}

/**
 * One committed change to a secret, as a change feed reports it. Never a value: a follower that
 * cares re-reads the record (metadata only) and, if it must, the value.
 */
export interface StoreChange {
  /** Position in the feed: strictly increasing per store, so a subscriber can resume after a gap. */
  seq: number;
  secret: string;
  /** What changed: a new version, a stage move, a version disabled/enabled/destroyed, metadata, the secret deleted. */
  kind: "version" | "stage" | "state" | "metadata" | "delete";
  /** The store's clock when the change committed (ISO 8601). */
  at: string;
}

/**
 * Pushes committed changes to subscribers (PostgreSQL LISTEN/NOTIFY, the daemon's control socket),
 * so running proxies react in milliseconds instead of polling. `subscribe` first replays every
 * change after `afterSeq` (none are lost across a reconnect), then delivers new ones in order.
 */
export interface ChangeFeed {
  /** The newest sequence number now committed (0 for none). */
  head(): Promise<number>;
  subscribe(
    afterSeq: number,
    onChange: (change: StoreChange) => void,
    onError?: (e: unknown) => void,
  ): Promise<{ close(): Promise<void> }>;
}
