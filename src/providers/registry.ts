/**
 * Every provider, by id. Adding one is one folder (src/providers/<id>/) and one line here.
 */
import { KeywardError } from "../core/errors.js";
import { atlassianProvider } from "./atlassian/index.js";
import { commandProvider } from "./command/index.js";
import { githubProvider } from "./github/index.js";
import { httpProvider } from "./http/index.js";
import { slackProvider } from "./slack/index.js";
import type { Identity, Provider } from "./types.js";

/** In `keyward providers` order: the named upstreams first, then the generic ones. */
export const providers: readonly Provider[] = [
  githubProvider,
  slackProvider,
  atlassianProvider,
  httpProvider,
  commandProvider,
];

export function getProvider(id: string): Provider | undefined {
  return providers.find((p) => p.info.id === id);
}

/** The provider a secret's config names; a config error naming the known ids otherwise. */
export function requireProvider(id: string): Provider {
  const provider = getProvider(id);
  if (provider === undefined)
    throw new KeywardError(
      "config_invalid",
      `There is no provider "${id}".`,
      `Use one of: ${providers.map((p) => p.info.id).join(", ")}.`,
    );
  return provider;
}

/** Which providers recognise a value offline, and as what (for adopt and audit classification). */
export function identifyAll(value: string): { provider: string; identity: Identity }[] {
  const found: { provider: string; identity: Identity }[] = [];
  // Generic providers (http, command) accept any value they are configured for; they declare
  // identify "no" and must never be guessed from a value's shape.
  for (const provider of providers.filter(recognisesFormats)) {
    const identity = provider.identify(value);
    if (identity !== undefined) found.push({ provider: provider.info.id, identity });
  }
  return found;
}

function recognisesFormats(provider: Provider): boolean {
  return Object.values(provider.info.capabilities).some(
    (kind) => kind.identify?.level !== undefined && kind.identify.level !== "no",
  );
}
