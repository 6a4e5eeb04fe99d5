/**
 * keyward/sdk: the library API for MCP server authors (README.md beside this file).
 */

export { isKeywardError, KeywardError } from "../core/errors.js";
export { type AssertScopeOptions, assertScope, type ScopeAssertion } from "./assert-scope.js";
export {
  redactingConsole,
  redactingPino,
  redactingStream,
  scrubValue,
  type WritableLike,
} from "./logger.js";
export { redact } from "./scrub.js";
export {
  isSecretHandle,
  type RevokedEvent,
  type RotatedEvent,
  type SecretHandle,
  type SecretOptions,
  type SecretSource,
  secret,
} from "./secret.js";
export { zSecret } from "./zod.js";
