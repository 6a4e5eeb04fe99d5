/**
 * The config's names and patterns that code outside the loader uses (notifications, run,
 * adopt), kept apart from schema.ts so that using them does not load zod.
 */

export const ENV_VAR_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_]*$/;
export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** `{{secret:<name>}}` in a remote profile's url or headers: filled with the secret's value when keyward connects. */
export const SECRET_TEMPLATE_PATTERN = /\{\{secret:([^{}]*)\}\}/g;

/** The events a notification target can receive (src/notify/events.ts). */
export const NOTIFICATION_EVENT_NAMES = [
  "rotation.succeeded",
  "rotation.failed",
  "revocation",
] as const;
