/**
 * The events keyward notifies about and their payloads. A payload names secrets, versions,
 * steps and outcomes; it never holds a value (the notifier also scrubs every value it knows
 * from the serialised payload before sending, as a second line of defence).
 */
import { hostname } from "node:os";
import type { NOTIFICATION_EVENT_NAMES } from "../config/constants.js";
import type { RotationOutcome, RotationSummary } from "../rotation/rotate.js";

export type NotificationEventName = (typeof NOTIFICATION_EVENT_NAMES)[number];

export interface NotificationEvent {
  event: NotificationEventName;
  /** ISO 8601. */
  time: string;
  host: string;
  secret: string;
  /** Event-specific facts: versions, steps, errors (codes and messages), the report's path. */
  details: Record<string, unknown>;
}

export function notificationEvent(
  event: NotificationEventName,
  secret: string,
  details: Record<string, unknown>,
  now: Date = new Date(),
): NotificationEvent {
  return { event, time: now.toISOString(), host: hostname(), secret, details };
}

/**
 * The events of one rotation outcome: `rotation.succeeded` for a rotation that finished,
 * `rotation.failed` for one that failed or whose previous value could not be revoked; nothing
 * for manual reminders and locked secrets (nothing happened).
 */
export function rotationEvents(outcome: RotationOutcome, now?: Date): NotificationEvent[] {
  if (outcome.status === "rotated") {
    const details = {
      rotationId: outcome.rotationId,
      version: outcome.version,
      previousVersion: outcome.previousVersion,
      resumed: outcome.resumed,
      previous: {
        state: outcome.previous.state,
        revokeAfter: outcome.previous.revokeAfter,
        error: outcome.previous.error,
      },
    };
    return [
      notificationEvent(
        outcome.previous.state === "failed" ? "rotation.failed" : "rotation.succeeded",
        outcome.secret,
        details,
        now,
      ),
    ];
  }
  if (outcome.status === "failed") {
    return [
      notificationEvent(
        "rotation.failed",
        outcome.secret,
        {
          rotationId: outcome.rotationId,
          step: outcome.step,
          error: outcome.error,
          rolledBack: outcome.rolledBack,
          willResume: outcome.willResume,
        },
        now,
      ),
    ];
  }
  return [];
}

/** The events of a `rotate --due` run: one per rotation, and one per failed revocation of a previous value. */
export function rotationSummaryEvents(summary: RotationSummary, now?: Date): NotificationEvent[] {
  const out: NotificationEvent[] = [];
  for (const item of summary.items) {
    if (item.outcome) out.push(...rotationEvents(item.outcome, now));
    if (item.previous?.state === "failed") {
      out.push(
        notificationEvent(
          "rotation.failed",
          item.secret,
          {
            rotationId: item.previous.rotationId,
            step: "revoke-previous",
            version: item.previous.version,
            error: item.previous.error,
          },
          now,
        ),
      );
    }
  }
  return out;
}
