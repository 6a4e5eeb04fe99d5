/**
 * Argument checks and the errors every SecretStore backend raises, so that a secret named twice
 * in putVersions, a stale revision or a read of a disabled version reads the same on every engine;
 * and the record rules they share (how a record and its versions look, how stages move), so
 * every engine returns the same records. Pure functions: no I/O.
 */
import { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import {
  type SecretMetadata,
  type SecretRecord,
  STAGES,
  type Stage,
  type VersionInfo,
  type VersionState,
} from "../core/types.js";
import {
  MAX_VALUE_BYTES,
  ROTATION_STEPS,
  type RotationRecordInput,
  type VersionSelector,
  type VersionWrite,
} from "./types.js";

/** Lock names and owners are ids chosen by keyward code, not values; this bounds them. */
const MAX_LOCK_FIELD_LENGTH = 300;

/**
 * A value is a string of at most `limit` UTF-8 bytes: MAX_VALUE_BYTES (1 MiB), or less where the
 * engine stores less (`engine` then names whose limit it is).
 */
export function checkValue(
  name: string,
  value: string,
  limit: { bytes: number; engine: string } = { bytes: MAX_VALUE_BYTES, engine: "keyward" },
): void {
  if (typeof value !== "string") {
    throw new KeywardError("invalid_value", `the value for secret ${name} must be a string`);
  }
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > limit.bytes) {
    const whose = limit.bytes === MAX_VALUE_BYTES ? "1 MiB" : `${limit.engine}'s limit`;
    throw new KeywardError(
      "invalid_value",
      `the value for secret ${name} is ${bytes} bytes; the limit is ${limit.bytes} bytes (${whose})`,
      "store a smaller value; keep large files elsewhere and store a path or reference to them",
    );
  }
}

export function checkStage(stage: string): asserts stage is Stage {
  if (!(STAGES as readonly string[]).includes(stage)) {
    throw new KeywardError(
      "usage",
      `unknown stage ${JSON.stringify(stage)}`,
      `use one of ${STAGES.join(", ")}`,
    );
  }
}

export function checkNewVersionStages(stages: Stage[]): Stage[] {
  for (const stage of stages) checkStage(stage);
  if (new Set(stages).size !== stages.length) {
    throw new KeywardError("usage", `stages ${stages.join(", ")} name a stage twice`);
  }
  // The version leaving `current` takes `previous`, so a new version cannot take both.
  if (stages.includes("current") && stages.includes("previous")) {
    throw new KeywardError("usage", "a new version cannot take both current and previous");
  }
  return stages;
}

export function checkVersionNumber(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new KeywardError("usage", `version must be a positive integer, got ${String(version)}`);
  }
}

/** Validates a selector's stage or version number. */
export function checkSelector(selector: VersionSelector): void {
  if ("stage" in selector) checkStage(selector.stage);
  else checkVersionNumber(selector.version);
}

export function checkExpectedRevision(name: string, expectedRevision: number): void {
  if (!Number.isSafeInteger(expectedRevision)) {
    throw new KeywardError(
      "usage",
      `expected revision for secret ${name} must be an integer, got ${String(expectedRevision)}`,
    );
  }
}

function checkLockField(what: string, text: string): void {
  if (
    typeof text !== "string" ||
    text.length === 0 ||
    text.length > MAX_LOCK_FIELD_LENGTH ||
    /[\u0000-\u001f\u007f]/.test(text)
  ) {
    throw new KeywardError(
      "usage",
      `${what} must be 1–${MAX_LOCK_FIELD_LENGTH} printable characters`,
    );
  }
}

/** Checks a lock's name and owner (releaseLock's arguments). */
export function checkLockHolder(name: string, owner: string): void {
  checkLockField("lock name", name);
  checkLockField("lock owner", owner);
}

/** Checks acquireLock's arguments and returns the lock's lifetime in whole milliseconds. */
export function checkLock(name: string, owner: string, ttlSeconds: number): number {
  checkLockHolder(name, owner);
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0) {
    throw new KeywardError(
      "usage",
      `lock ${name}: ttlSeconds must be a non-negative number, got ${String(ttlSeconds)}`,
    );
  }
  return Math.ceil(ttlSeconds * 1000);
}

/**
 * Validates every write of a putVersions call before anything is written. `checkWriteValue` is
 * the engine's value check where it stores less than keyward allows.
 */
export function checkVersionWrites(
  writes: VersionWrite[],
  checkWriteValue: (name: string, value: string) => void = checkValue,
): void {
  const names = new Set<string>();
  for (const w of writes) {
    parseSecretName(w.name);
    checkWriteValue(w.name, w.value);
    checkNewVersionStages(w.stages ?? ["current"]);
    if (names.has(w.name)) {
      throw new KeywardError("usage", `putVersions names secret ${w.name} twice`);
    }
    names.add(w.name);
    if (w.expectedRevision === 0 && w.metadata === undefined) {
      throw new KeywardError("usage", `creating secret ${w.name} in putVersions needs metadata`);
    }
    if (w.expectedRevision !== 0) checkExpectedRevision(w.name, w.expectedRevision);
  }
}

/**
 * The state a version may move to, and its compromised flag afterwards. A destroyed version
 * stays destroyed; a compromised one cannot be re-enabled; the flag is never cleared.
 */
export function nextVersionState(
  name: string,
  version: number,
  current: { state: VersionState; compromised: boolean },
  state: "enabled" | "disabled",
  markCompromised: boolean | undefined,
): { state: "enabled" | "disabled"; compromised: boolean } {
  if (current.state === "destroyed") {
    throw new KeywardError(
      "destroyed",
      `version ${version} of secret ${name} was destroyed and cannot be ${state}`,
      "put a new version instead",
    );
  }
  if (state === "enabled" && current.compromised) {
    throw new KeywardError(
      "refused",
      `version ${version} of secret ${name} is marked compromised and cannot be re-enabled`,
      "rotate the secret (put a new version) instead",
    );
  }
  return { state, compromised: current.compromised || markCompromised === true };
}

/**
 * A rotation record is written only over the one its writer read: `expected` is that record's
 * revision, or undefined when the writer saw none; `found` is what the store holds now.
 */
export function checkRotationRevision(
  secret: string,
  expected: number | undefined,
  found: number | undefined,
): void {
  if (expected === undefined ? found !== undefined : found !== expected) {
    throw rotationConflict(secret, expected, found);
  }
}

/** putVersion's arguments; returns the stages the new version takes (current unless told). */
export function checkPutVersion(
  name: string,
  value: string,
  stages: Stage[] | undefined,
  checkWriteValue: (name: string, value: string) => void = checkValue,
): Stage[] {
  parseSecretName(name);
  checkWriteValue(name, value);
  return checkNewVersionStages(stages ?? ["current"]);
}

/** moveStage's arguments; a null version clears the stage. */
export function checkStageMove(name: string, stage: Stage, version: number | null): void {
  parseSecretName(name);
  checkStage(stage);
  if (version !== null) checkVersionNumber(version);
}

/**
 * setVersionState's arguments. Enabling and flagging a version at once is refused here, before
 * the store is touched.
 */
export function checkStateChange(
  name: string,
  version: number,
  state: "enabled" | "disabled",
  compromised: boolean | undefined,
): void {
  parseSecretName(name);
  checkVersionNumber(version);
  if (state === "enabled" && compromised) {
    throw new KeywardError(
      "usage",
      `version ${version} of secret ${name} cannot be enabled and marked compromised at once`,
    );
  }
}

/** A stage may only move onto an enabled version. */
export function checkStageTarget(
  name: string,
  stage: Stage,
  version: number,
  state: VersionState,
): void {
  if (state === "enabled") return;
  throw new KeywardError(
    state,
    `cannot move ${stage} to version ${version} of secret ${name}: that version is ${state}`,
    state === "disabled"
      ? `enable it first, or move ${stage} to another version`
      : `move ${stage} to another version`,
  );
}

/** Reading a disabled or destroyed version fails, naming the secret and version. */
export function checkReadable(name: string, version: number, state: VersionState): void {
  if (state === "enabled") return;
  throw new KeywardError(
    state,
    `version ${version} of secret ${name} is ${state}`,
    state === "disabled"
      ? "re-enable it if it is safe to use, or read another version"
      : "read another version, or put a new one",
  );
}

/**
 * Validates a rotation record and copies only its known fields, so nothing else (a value put
 * in by mistake) reaches the store.
 */
export function rotationInput(r: RotationRecordInput): RotationRecordInput {
  parseSecretName(r.secret);
  const bad = (why: string): never => {
    throw new KeywardError("usage", `rotation record for secret ${r.secret}: ${why}`);
  };
  if (typeof r.rotationId !== "string" || !/^[A-Za-z0-9._:-]{1,100}$/.test(r.rotationId)) {
    bad("rotationId must be 1–100 letters, digits or ._:-");
  }
  if (!(ROTATION_STEPS as readonly string[]).includes(r.step))
    bad(`unknown step ${String(r.step)}`);
  if (!Number.isSafeInteger(r.attempts) || r.attempts < 0) bad("attempts must be a count");
  for (const v of [r.pendingVersion, r.previousVersion]) {
    if (v !== undefined && (!Number.isSafeInteger(v) || v < 1)) bad("versions must be positive");
  }
  for (const t of [r.startedAt, r.updatedAt, r.revokeAfter, r.pendingExpiresAt]) {
    if (t !== undefined && (typeof t !== "string" || Number.isNaN(Date.parse(t)))) {
      bad("times must be ISO 8601");
    }
  }
  const out: RotationRecordInput = {
    rotationId: r.rotationId,
    secret: r.secret,
    step: r.step,
    attempts: r.attempts,
    startedAt: r.startedAt,
    updatedAt: r.updatedAt,
  };
  if (r.pendingVersion !== undefined) out.pendingVersion = r.pendingVersion;
  if (r.previousVersion !== undefined) out.previousVersion = r.previousVersion;
  if (r.pendingExpiresAt !== undefined) out.pendingExpiresAt = r.pendingExpiresAt;
  if (r.revokeAfter !== undefined) out.revokeAfter = r.revokeAfter;
  if (r.lastError !== undefined) {
    out.lastError = { code: String(r.lastError.code), message: String(r.lastError.message) };
  }
  return out;
}

// ---- errors ---------------------------------------------------------------------------------

export function secretNotFound(name: string): KeywardError {
  return new KeywardError(
    "not_found",
    `no secret named ${name}`,
    `\`keyward secret list\` shows the names; \`keyward secret set ${name}\` creates it`,
  );
}

export function secretExists(name: string): KeywardError {
  return new KeywardError(
    "already_exists",
    `secret ${name} already exists`,
    `use \`keyward secret set ${name}\` to add a version, or pick another name`,
  );
}

/** putVersions was asked to create (revision 0) a secret that exists. */
export function createConflict(name: string): KeywardError {
  return new KeywardError(
    "conflict",
    `secret ${name} already exists; the write expected to create it`,
    "re-read and retry",
  );
}

export function revisionConflict(name: string, expected: number, found: number): KeywardError {
  return new KeywardError(
    "conflict",
    `secret ${name} changed since it was read: expected revision ${expected}, found ${found}`,
    "re-read and retry",
  );
}

export function rotationConflict(
  secret: string,
  expected: number | undefined,
  found: number | undefined,
): KeywardError {
  return new KeywardError(
    "conflict",
    `the rotation record of secret ${secret} changed since it was read: expected ${
      expected === undefined ? "none" : `revision ${expected}`
    }, found ${found === undefined ? "none" : `revision ${found}`}`,
    "another rotation is running or just ran; re-read and retry",
  );
}

export function noSuchVersion(name: string, version: number): KeywardError {
  return new KeywardError(
    "not_found",
    `secret ${name} has no version ${version}`,
    "check the version number against the secret's version list",
  );
}

/** The secret exists but the selected stage is unheld or the version number unknown. */
export function nothingSelected(name: string, selector: VersionSelector): KeywardError {
  return new KeywardError(
    "not_found",
    "stage" in selector
      ? `secret ${name} has no ${selector.stage} version`
      : `secret ${name} has no version ${selector.version}`,
    "check the secret's versions and stages, then read one it has",
  );
}

// ---- records --------------------------------------------------------------------------------

/** A secret as last read, kept so hot reads skip rebuilding it while its revision is unchanged. */
export interface CachedRecord {
  id: number;
  revision: number;
  metadataJson: string;
  record: SecretRecord;
}

/**
 * A version as records show it: stages in canonical order, `compromised` present only when set,
 * so records from every backend compare equal field for field.
 */
export function versionInfo(v: {
  version: number;
  stages: readonly string[];
  state: VersionState;
  createdAt: string;
  compromised: boolean;
}): VersionInfo {
  const info: VersionInfo = {
    version: v.version,
    stages: orderedStages(v.stages),
    state: v.state,
    createdAt: v.createdAt,
  };
  if (v.compromised) info.compromised = true;
  return info;
}

/**
 * A secret's record from its stored fields, `rotatedAt` present only when set. The fields are
 * used as given: callers pass metadata and versions the record may own.
 */
export function secretRecord(
  name: string,
  fields: {
    revision: number;
    metadata: SecretMetadata;
    createdAt: string;
    updatedAt: string;
    rotatedAt?: string | null | undefined;
  },
  versions: VersionInfo[],
): SecretRecord {
  const record: SecretRecord = {
    name,
    revision: fields.revision,
    metadata: fields.metadata,
    versions,
    createdAt: fields.createdAt,
    updatedAt: fields.updatedAt,
  };
  if (fields.rotatedAt !== undefined && fields.rotatedAt !== null) {
    record.rotatedAt = fields.rotatedAt;
  }
  return record;
}

/** A secret's row in the SQL stores (sqlite, postgres): the same columns in both schemas. */
export interface SecretRowFields {
  id: number;
  revision: number;
  /** The metadata as stored: JSON text. */
  metadata: string;
  created_at: string;
  updated_at: string;
  rotated_at: string | null;
}

/** The cache entry the SQL stores keep for a secret: its row, read into a record with `versions`. */
export function cachedRecord(
  name: string,
  row: SecretRowFields,
  versions: VersionInfo[],
): CachedRecord {
  const record = secretRecord(
    name,
    {
      revision: row.revision,
      metadata: JSON.parse(row.metadata) as SecretMetadata,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      rotatedAt: row.rotated_at,
    },
    versions,
  );
  return { id: row.id, revision: row.revision, metadataJson: row.metadata, record };
}

/** Callers get their own copy, so editing a returned record cannot corrupt a cache. */
export function copyRecord(cached: CachedRecord): SecretRecord {
  const { record } = cached;
  return {
    ...record,
    metadata: JSON.parse(cached.metadataJson) as SecretMetadata,
    versions: record.versions.map((v) => ({ ...v, stages: [...v.stages] })),
  };
}

export function versionOf(record: SecretRecord, version: number): VersionInfo {
  const info = record.versions.find((v) => v.version === version);
  if (info === undefined) throw new Error(`version ${version} missing from record ${record.name}`);
  return info;
}

/** Stages in their canonical order (current, pending, previous), whatever order a query gave. */
export function orderedStages(held: readonly string[]): Stage[] {
  return STAGES.filter((stage) => held.includes(stage));
}

/** Takes `stage` from whichever version holds it. */
export function clearStage(versions: Array<{ stages: Stage[] }>, stage: Stage): void {
  for (const v of versions) {
    if (v.stages.includes(stage)) v.stages = v.stages.filter((s) => s !== stage);
  }
}

/**
 * Gives `stage` to `target`, taking it from its holder; when `current` moves, the old holder
 * takes `previous` (as AWS does) and `rotatedAt` becomes `at`. For backends that keep stages on
 * their version entries (aws, vault); sqlite and postgres apply the same rule in SQL.
 */
export function assignStage<V extends { stages: Stage[] }>(
  secret: { versions: V[]; rotatedAt?: string },
  stage: Stage,
  target: V,
  at: string,
): void {
  const holder = secret.versions.find((v) => v.stages.includes(stage));
  if (holder === target) return;
  clearStage(secret.versions, stage);
  target.stages = orderedStages([...target.stages, stage]);
  if (stage !== "current") return;
  secret.rotatedAt = at;
  if (holder !== undefined) assignStage(secret, "previous", holder, at);
}

/** Byte order of secret names (as SQLite and PostgreSQL's C collation sort them): list order. */
export function byName(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
