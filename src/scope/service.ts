import type { ProfileConfig } from "../config/schema.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { getProvider, identifyAll } from "../providers/registry.js";
import type { ProviderContext } from "../providers/types.js";
import { SecretService } from "../secrets/service.js";
import type { Session } from "../secrets/session.js";
import { detectCatalog } from "./catalogs/index.js";
import { checkScope, type ScopeCheck } from "./check.js";

export interface ScopeCheckResult {
  secret: string;
  profile?: string;
  envVar?: string;
  provider?: string;
  /** The provider's name for the key's kind (classic-pat, fine-grained-pat, bot, …). */
  tokenKind?: string;
  check?: ScopeCheck;
  /** Why no check could be made (no provider, provider unreachable…); never a value. */
  error?: { code: string; message: string; fix?: string };
}

export interface ScopeCheckDeps {
  fetch: typeof fetch;
  timeoutMs: number;
  now: () => Date;
}

/**
 * `keyward scope check <secret|profile>`: for a profile, every secret it injects, against what
 * the server's enabled tools need; for a secret, against the first profile that uses it (or its
 * declared scope when none does). The key's real scope comes from its provider, live.
 */
export async function scopeCheck(
  session: Session,
  target: string,
  deps: ScopeCheckDeps,
): Promise<ScopeCheckResult[]> {
  const profiles = session.config?.config.profiles ?? {};
  const targets: Array<{
    secret: string;
    profile?: string;
    envVar?: string;
    config?: ProfileConfig;
  }> = [];
  if (target in profiles) {
    const config = profiles[target]!;
    for (const [envVar, secret] of Object.entries(config.env ?? {}))
      targets.push({ secret, profile: target, envVar, config });
    if (targets.length === 0) {
      throw new KeywardError(
        "not_found",
        `profile ${target} injects no secrets`,
        `add env: { VAR: secret-name } to profiles.${target}`,
      );
    }
  } else {
    const user = Object.entries(profiles).find(([, p]) =>
      Object.values(p.env ?? {}).includes(target),
    );
    const envVar = user
      ? Object.entries(user[1].env ?? {}).find(([, s]) => s === target)?.[0]
      : undefined;
    targets.push({
      secret: target,
      ...(user ? { profile: user[0], config: user[1] } : {}),
      ...(envVar ? { envVar } : {}),
    });
  }
  const results: ScopeCheckResult[] = [];
  for (const t of targets) results.push(await checkOne(session, t, deps));
  return results;
}

async function checkOne(
  session: Session,
  t: { secret: string; profile?: string; envVar?: string; config?: ProfileConfig },
  deps: ScopeCheckDeps,
): Promise<ScopeCheckResult> {
  const base: ScopeCheckResult = {
    secret: t.secret,
    ...(t.profile ? { profile: t.profile } : {}),
    ...(t.envVar ? { envVar: t.envVar } : {}),
  };
  try {
    const read = await new SecretService(session).get(t.secret);
    const declaredProvider =
      read.record.metadata.provider ?? session.config?.secretDecl(t.secret)?.provider;
    const providerId = declaredProvider ?? identifyAll(read.value)[0]?.provider;
    if (!providerId) {
      throw new KeywardError(
        "not_found",
        `no provider is declared for ${t.secret} and its format is not one keyward recognises`,
        `declare it: keyward secret set ${t.secret} --provider <github|slack|atlassian|http|command> (or provider: in keyward.yaml)`,
      );
    }
    const provider = getProvider(providerId);
    if (!provider)
      throw new KeywardError(
        "config_invalid",
        `${t.secret} names an unknown provider ${providerId}`,
      );
    const identity = provider.identify(read.value);
    if (!provider.introspect) {
      throw new KeywardError(
        "refused",
        `the ${providerId} provider cannot read a key's scope`,
        "keyward providers shows what each provider can check",
      );
    }
    const ctx: ProviderContext = {
      settings: session.config?.config.providers?.[providerId] ?? {},
      fetch: deps.fetch,
      timeoutMs: deps.timeoutMs,
      now: deps.now,
    };
    const granted = await provider.introspect({ name: t.secret, value: read.value }, ctx);
    const catalog = t.config ? detectCatalog(t.config) : undefined;
    const check = checkScope({
      provider: providerId,
      granted,
      ...(catalog ? { catalog, restriction: catalog.restrict(t.config!) } : {}),
      declared: read.record.metadata.scope,
      ...(t.envVar ? { envVar: t.envVar } : {}),
      ...(identity?.kind ? { tokenKind: identity.kind } : {}),
    });
    session.log.append({
      actor: session.actor,
      action: "scope-check",
      secret: t.secret,
      version: read.version.version,
      outcome: "ok",
      detail: `${check.verdict}${check.excess.length ? `: excess ${check.excess.join(",")}` : ""}`,
    });
    return {
      ...base,
      provider: providerId,
      ...(identity?.kind ? { tokenKind: identity.kind } : {}),
      check,
    };
  } catch (e) {
    if (!isKeywardError(e)) throw e;
    session.log.append({
      actor: session.actor,
      action: "scope-check",
      secret: t.secret,
      outcome: "error",
      detail: e.code,
    });
    return { ...base, error: e.toJSON() };
  }
}
