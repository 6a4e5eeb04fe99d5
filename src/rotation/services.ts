/**
 * The rotation services for an open session: the store, its access log, the acting user, and
 * for each secret its provider (from the registry) with that provider's settings from
 * keyward.yaml. Shared by `keyward rotate`, `keyward daemon` and `keyward revoke`.
 */
import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { SecretRecord } from "../core/types.js";
import { getProvider } from "../providers/registry.js";
import type { ProviderContext } from "../providers/types.js";
import type { Session } from "../secrets/session.js";
import { type RotateDueDeps, type RotationMethod, randomSecretValue } from "./rotate.js";

/** Milliseconds before a provider call made by a rotation or revocation is abandoned. */
export const PROVIDER_TIMEOUT_MS = 10_000;

/** The context a provider is called with: its settings from keyward.yaml's providers section. */
export function providerContext(session: Session, providerId: string | undefined): ProviderContext {
  return {
    settings: (providerId && session.config?.config.providers?.[providerId]) || {},
    fetch: globalThis.fetch,
    timeoutMs: PROVIDER_TIMEOUT_MS,
    now: () => new Date(),
  };
}

/**
 * Services for rotateSecret / rotateDue / revokePreviousDue. With `generate`, keyward mints new
 * values itself for secrets whose provider cannot rotate them (secrets keyward owns).
 */
export function rotationServices(
  session: Session,
  options: { generate?: boolean } = {},
): RotateDueDeps {
  return {
    store: session.store,
    log: session.log,
    actor: session.actor,
    ctx: providerContext(session, undefined),
    now: () => new Date(),
    owner: `${hostname()}:${process.pid}:${randomUUID()}`,
    methodFor: (record: SecretRecord): RotationMethod => {
      const provider = record.metadata.provider ? getProvider(record.metadata.provider) : undefined;
      return {
        provider,
        ctx: providerContext(session, record.metadata.provider),
        ...(options.generate ? { generate: randomSecretValue } : {}),
      };
    },
  };
}
