/**
 * Errors are values with a stable code, a message for people and a fix.
 * The CLI renders them in one place (src/cli/output.ts). Messages must never contain a secret
 * value: name the secret, the file or the setting instead.
 */
export type ErrorCode =
  | "usage"
  | "invalid_name"
  | "invalid_value"
  | "not_found"
  | "already_exists"
  | "conflict"
  | "disabled"
  | "destroyed"
  | "not_initialized"
  | "already_initialized"
  | "unsafe_permissions"
  | "no_master_key"
  | "wrong_master_key"
  | "tampered"
  | "corrupt_store"
  | "config_invalid"
  | "refused"
  | "log_tampered"
  | "io"
  // An upstream (GitHub, Slack, …) answered a provider call: src/providers/http-client.ts.
  | "upstream_unauthorized"
  | "upstream_forbidden"
  | "upstream_rejected"
  | "upstream_rate_limited"
  | "upstream_unavailable"
  | "upstream_timeout";

/** Exit codes, documented in docs/cli.md. */
export const EXIT = {
  ok: 0,
  error: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  auth: 5,
  integrity: 6,
  permissions: 7,
} as const;

const exitByCode: Record<ErrorCode, number> = {
  usage: EXIT.usage,
  invalid_name: EXIT.usage,
  invalid_value: EXIT.usage,
  config_invalid: EXIT.usage,
  refused: EXIT.usage,
  not_found: EXIT.notFound,
  not_initialized: EXIT.notFound,
  already_exists: EXIT.conflict,
  already_initialized: EXIT.conflict,
  conflict: EXIT.conflict,
  disabled: EXIT.conflict,
  destroyed: EXIT.conflict,
  no_master_key: EXIT.auth,
  wrong_master_key: EXIT.auth,
  tampered: EXIT.integrity,
  corrupt_store: EXIT.integrity,
  log_tampered: EXIT.integrity,
  unsafe_permissions: EXIT.permissions,
  io: EXIT.error,
  upstream_unauthorized: EXIT.auth,
  upstream_forbidden: EXIT.auth,
  upstream_rejected: EXIT.error,
  upstream_rate_limited: EXIT.error,
  upstream_unavailable: EXIT.error,
  upstream_timeout: EXIT.error,
};

export class KeywardError extends Error {
  readonly code: ErrorCode;
  readonly fix: string | undefined;
  readonly exitCode: number;

  constructor(code: ErrorCode, message: string, fix?: string) {
    super(message);
    this.name = "KeywardError";
    this.code = code;
    this.fix = fix;
    this.exitCode = exitByCode[code];
  }

  toJSON(): { code: ErrorCode; message: string; fix?: string } {
    return this.fix === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, fix: this.fix };
  }
}

export function isKeywardError(e: unknown): e is KeywardError {
  return e instanceof KeywardError;
}
