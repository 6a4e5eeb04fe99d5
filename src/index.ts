/**
 * keyward as a library. The CLI is the main interface; these are the stable building blocks
 * for tools that embed the store (later: the SDK for MCP server authors, keyward/sdk).
 */

export { AccessLog, currentActor } from "./accesslog/log.js";
export { type ErrorCode, EXIT, KeywardError } from "./core/errors.js";
export { parseSecretName } from "./core/names.js";
export * from "./core/types.js";
export { SecretService } from "./secrets/service.js";
export { keywardHome, Session } from "./secrets/session.js";
export { runSecretStoreConformance } from "./store/conformance.js";
export { SqliteStore } from "./store/sqlite.js";
export type {
  EnvelopeStore,
  PutVersionOptions,
  ReadResult,
  SecretStore,
  VersionSelector,
} from "./store/types.js";
