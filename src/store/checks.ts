/**
 * Checks every backend applies to its arguments before touching its engine, so each one refuses
 * the same bad input with the same error: values, stages, version numbers, lock fields and
 * rotation records.
 */
import { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import { STAGES, type Stage } from "../core/types.js";
import { MAX_VALUE_BYTES, ROTATION_STEPS, type RotationRecordInput } from "./types.js";

/** Lock names and owners are ids chosen by keyward code, not values; this bounds them. */
export const MAX_LOCK_FIELD_LENGTH = 300;

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

/**
 * Validates a rotation record and copies only its known fields, so nothing else (a value put
 * in by mistake) reaches the file.
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

export function checkVersionNumber(version: number): void {
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new KeywardError("usage", `version must be a positive integer, got ${String(version)}`);
  }
}

export function secretNotFound(name: string): KeywardError {
  return new KeywardError(
    "not_found",
    `no secret named ${name}`,
    `\`keyward secret list\` shows the names; \`keyward secret set ${name}\` creates it`,
  );
}
