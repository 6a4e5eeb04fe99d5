/**
 * A declared secret with the defaults applied. Apart from the schema (src/config/schema.ts), so
 * that a config read from the cache (src/config/cache.ts) is resolved without loading zod.
 */
import { parseDuration } from "../core/duration.js";
import { DEFAULT_TTL_SECONDS, type Sensitivity } from "../core/types.js";
import type { ScopePolicy, SecretDeclConfig } from "./schema.js";

/**
 * How long the previous value stays valid upstream after a rotation, unless `rotation.grace`
 * says otherwise: long enough for other holders of a standard key to pick up the new one,
 * short for high-sensitivity and agent-exposed keys whose exposure we want to end quickly.
 * Never longer than the TTL (see resolveRotation).
 */
export const DEFAULT_GRACE_SECONDS: Record<Sensitivity, number> = {
  standard: 86400,
  high: 3600,
  "agent-exposed": 300,
};

/** A declared secret with every default applied and durations in seconds. */
export interface ResolvedSecretDecl {
  name: string;
  provider?: string;
  scope: string[];
  sensitivity: Sensitivity;
  rotation: { ttlSeconds: number; graceSeconds: number };
  /** Only when declared; `keyward run` applies the default by sensitivity (src/run/launch-check.ts). */
  scopePolicy?: ScopePolicy;
  owner?: string;
  description?: string;
  tags: Record<string, string>;
}

export function resolveSecretDecl(name: string, decl: SecretDeclConfig): ResolvedSecretDecl {
  const ttlSeconds =
    decl.rotation?.ttl === undefined
      ? DEFAULT_TTL_SECONDS[decl.sensitivity]
      : parseDuration(decl.rotation.ttl);
  const graceSeconds =
    decl.rotation?.grace === undefined
      ? Math.min(DEFAULT_GRACE_SECONDS[decl.sensitivity], ttlSeconds)
      : parseDuration(decl.rotation.grace);
  const resolved: ResolvedSecretDecl = {
    name,
    scope: [...decl.scope],
    sensitivity: decl.sensitivity,
    rotation: { ttlSeconds, graceSeconds },
    tags: { ...decl.tags },
  };
  if (decl.provider !== undefined) resolved.provider = decl.provider;
  if (decl.scopePolicy !== undefined) resolved.scopePolicy = decl.scopePolicy;
  if (decl.owner !== undefined) resolved.owner = decl.owner;
  if (decl.description !== undefined) resolved.description = decl.description;
  return resolved;
}
