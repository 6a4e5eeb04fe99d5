/**
 * Input checks and errors every SecretStore backend shares, so sqlite, postgres, vault, aws and
 * gcp refuse the same inputs with the same messages (the conformance suite checks both).
 */
import { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import { STAGES, type Stage } from "../core/types.js";
import { MAX_VALUE_BYTES, ROTATION_STEPS, type RotationRecordInput } from "./types.js";

/** Lock names and owners are ids chosen by keyward code, not values; this bounds them. */
export const MAX_LOCK_FIELD_LENGTH = 300;

/**
 * Checks a value's type and UTF-8 size. Backends whose engine stores less than keyward's 1 MiB
 * pass their own limit and say whose limit it is.
 */
export function checkValue(
  name: string,
  value: string,
  limit: { bytes: number; label: string } = { bytes: MAX_VALUE_BYTES, label: "1 MiB" },
): void {
  if (typeof value !== "string") {
    throw new KeywardError("invalid_value", `the value for secret ${name} must be a string`);
  }
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes > limit.bytes) {
    throw new KeywardError(
      "invalid_value",
      `the value for secret ${name} is ${bytes} bytes; the limit is ${limit.bytes} bytes (${limit.label})`,
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

export function checkLockField(what: string, text: string): void {
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

export function checkLockTtl(name: string, ttlSeconds: number): void {
  if (!Number.isFinite(ttlSeconds) || ttlSeconds < 0) {
    throw new KeywardError(
      "usage",
      `lock ${name}: ttlSeconds must be a non-negative number, got ${String(ttlSeconds)}`,
    );
  }
}

export function checkVersionNumber(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new KeywardError("usage", `version must be a positive integer, got ${String(version)}`);
  }
}

export function checkExpectedRevision(name: string, expectedRevision: number): void {
  if (!Number.isSafeInteger(expectedRevision)) {
    throw new KeywardError(
      "usage",
      `expected revision for secret ${name} must be an integer, got ${String(expectedRevision)}`,
    );
  }
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

export function secretNotFound(name: string): KeywardError {
  return new KeywardError(
    "not_found",
    `no secret named ${name}`,
    `\`keyward secret list\` shows the names; \`keyward secret set ${name}\` creates it`,
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
  name: string,
  expected: number | undefined,
  found: number | undefined,
): KeywardError {
  return new KeywardError(
    "conflict",
    `the rotation record of secret ${name} changed since it was read: expected ${
      expected === undefined ? "none" : `revision ${expected}`
    }, found ${found === undefined ? "none" : `revision ${found}`}`,
    "another rotation is running or just ran; re-read and retry",
  );
}
