/**
 * Pure rotation rules: when a secret is due, how long the previous value lives on, and how a
 * secret gets its next value. No I/O here.
 */
import { currentVersion, rotationDueAt, type SecretRecord } from "../core/types.js";
import type { Capability, Provider } from "../providers/types.js";

/** The grace period when neither the call nor the secret's policy names one (the issue's 1 h). */
export const FALLBACK_GRACE_SECONDS = 3600;

/** A key expiring upstream is due once this share of its lifetime is left… */
const EXPIRY_LEAD_SHARE = 0.2;
/** …but never earlier than this before expiry, so a one-year token is not due for two months. */
const MAX_EXPIRY_LEAD_SECONDS = 14 * 86400;
/** Due for this long (or one TTL, if shorter) without a rotation means the schedule is not running. */
const OVERDUE_AFTER_SECONDS = 86400;

export type DueStatus = "not-due" | "due" | "overdue" | "expired" | "no-value";

export interface DueEvaluation {
  secret: string;
  status: DueStatus;
  /** When rotation is (or was) due, ISO 8601; absent without a current version. */
  dueAt?: string;
  /** What set dueAt: the TTL, or the upstream expiry coming close. */
  reason?: "ttl" | "expiry";
  /** When the key expires upstream, if known. */
  expiresAt?: string;
}

/**
 * When `record` is due for rotation: its TTL from the last rotation (rotationDueAt), or earlier
 * when the key expires upstream soon — once a fifth of its lifetime is left, at most 14 days
 * ahead. Overdue once due for a day (or one TTL, if shorter); expired once past expiresAt.
 */
export function evaluateDue(record: SecretRecord, now: Date): DueEvaluation {
  const evaluation: DueEvaluation = { secret: record.name, status: "no-value" };
  const expiresAt = record.metadata.expiresAt;
  if (expiresAt !== undefined) evaluation.expiresAt = expiresAt;
  const ttlDue = rotationDueAt(record);
  if (ttlDue === undefined) return evaluation;

  let dueMs = Date.parse(ttlDue);
  evaluation.reason = "ttl";
  const expiresMs = expiresAt === undefined ? Number.NaN : Date.parse(expiresAt);
  if (!Number.isNaN(expiresMs)) {
    // rotationDueAt returned a time, so the secret has a current version.
    const sinceMs = Date.parse(record.rotatedAt ?? currentVersion(record)?.createdAt ?? "");
    const lifetimeMs = Math.max(0, expiresMs - sinceMs);
    const leadMs = Math.min(lifetimeMs * EXPIRY_LEAD_SHARE, MAX_EXPIRY_LEAD_SECONDS * 1000);
    if (expiresMs - leadMs < dueMs) {
      dueMs = expiresMs - leadMs;
      evaluation.reason = "expiry";
    }
  }
  evaluation.dueAt = new Date(dueMs).toISOString();

  const nowMs = now.getTime();
  const overdueMs =
    Math.min(OVERDUE_AFTER_SECONDS, Math.max(1, record.metadata.rotation.ttlSeconds)) * 1000;
  if (!Number.isNaN(expiresMs) && nowMs >= expiresMs) evaluation.status = "expired";
  else if (nowMs >= dueMs + overdueMs) evaluation.status = "overdue";
  else if (nowMs >= dueMs) evaluation.status = "due";
  else evaluation.status = "not-due";
  return evaluation;
}

export function isDue(evaluation: DueEvaluation): boolean {
  return (
    evaluation.status === "due" ||
    evaluation.status === "overdue" ||
    evaluation.status === "expired"
  );
}

/** Seconds the previous value stays valid upstream: the call's choice, the secret's policy, or 1 h. */
export function graceSeconds(record: SecretRecord, override?: number): number {
  return override ?? record.metadata.rotation.graceSeconds ?? FALLBACK_GRACE_SECONDS;
}

/**
 * How a secret gets its next value: `api` — the provider replaces the key upstream and returns
 * it; `generated` — keyward mints it locally (the caller supplied a generator, for values keyward
 * itself owns); `manual` — a person must create it (GitHub PATs, Atlassian API tokens).
 */
export type RotationKind = "api" | "generated" | "manual";

export function rotationKind(
  provider: Provider | undefined,
  generate: (() => string) | undefined,
  currentValue: string | undefined,
): RotationKind {
  if (provider?.rotate !== undefined && supports(provider, currentValue, "rotate")) return "api";
  if (provider?.rotate === undefined && generate !== undefined) return "generated";
  return "manual";
}

/**
 * Whether the provider claims `capability` for this value's kind. An unrecognised value, or a
 * provider that does not describe the kind, counts as supported: the call itself will say.
 */
export function supports(
  provider: Provider,
  value: string | undefined,
  capability: Capability,
): boolean {
  const kind = value === undefined ? undefined : provider.identify(value)?.kind;
  if (kind === undefined) return true;
  return provider.info.capabilities[kind]?.[capability]?.level !== "no";
}

export interface ManualReminder {
  kind: "manual";
  secret: string;
  provider?: string;
  /** The exact steps, with `<name>` replaced by the secret's name. */
  steps: string[];
  dueAt?: string;
  expiresAt?: string;
  status: DueStatus;
}

/** The reminder for a key only a person can rotate: the provider's steps, or generic ones. */
export function manualReminder(
  record: SecretRecord,
  provider: Provider | undefined,
  evaluation: DueEvaluation,
): ManualReminder {
  const name = record.name;
  const steps = provider?.info.manualRotation ?? [
    `Create a new value where ${name} was issued${provider === undefined ? "" : ` (${provider.info.title})`}.`,
    `Store it as the next version: keyward secret set ${name} (value on stdin).`,
    "Once nothing uses the old value any more, revoke it where it was issued.",
  ];
  const reminder: ManualReminder = {
    kind: "manual",
    secret: name,
    steps: steps.map((step) => step.replaceAll("<name>", name)),
    status: evaluation.status,
  };
  if (provider !== undefined) reminder.provider = provider.info.id;
  if (evaluation.dueAt !== undefined) reminder.dueAt = evaluation.dueAt;
  if (evaluation.expiresAt !== undefined) reminder.expiresAt = evaluation.expiresAt;
  return reminder;
}
