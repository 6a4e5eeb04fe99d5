import { createHash } from "node:crypto";
import { type ProfileConfig, storeEnv } from "../config/schema.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import type { SecretMetadata } from "../core/types.js";
import { getProvider, identifyAll } from "../providers/registry.js";
import type { Identity, Provider, ProviderContext, RetryPolicy } from "../providers/types.js";
import { SecretService } from "../secrets/service.js";
import type { Session } from "../secrets/session.js";
import type { Catalog, Restriction } from "./catalog.js";
import { detectCatalog } from "./catalogs/index.js";
import { checkScope, type ScopeCheck, type Verdict } from "./check.js";

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
  /** Retries on 429 / 5xx; the provider client's default when unset. */
  retry?: RetryPolicy;
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
  const targets: ScopeTarget[] = [];
  if (target in profiles) {
    const config = profiles[target]!;
    for (const [envVar, secret] of storeEnv(config))
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
      storeEnv(p).some(([, s]) => s === target),
    );
    const envVar = user ? storeEnv(user[1]).find(([, s]) => s === target)?.[0] : undefined;
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

async function checkOne(session: Session, t: ScopeTarget, deps: ScopeCheckDeps) {
  let read: Awaited<ReturnType<SecretService["get"]>>;
  try {
    read = await new SecretService(session).get(t.secret);
  } catch (e) {
    return failed(session, t, e);
  }
  return checkKeyScope(
    session,
    t,
    { value: read.value, version: read.version.version, metadata: read.record.metadata },
    deps,
  );
}

/** Which key is checked and, when a profile uses it, for which profile: its server decides what is needed. */
export interface ScopeTarget {
  secret: string;
  profile?: string;
  envVar?: string;
  config?: ProfileConfig;
}

/** A key already read from the store (the read logged by whoever read it). */
export interface ReadKey {
  value: string;
  version: number;
  metadata: SecretMetadata;
}

/** What a key is compared against, settled before any provider call. */
export interface ScopePlan {
  providerId: string;
  provider: Provider;
  identity?: Identity;
  catalog?: Catalog;
  restriction?: Restriction;
  declared: string[];
  /** A catalog or a declared scope says what is needed; without either the verdict can only be unknown. */
  comparable: boolean;
  /**
   * A digest of what is compared (provider, catalog, restriction, declared scope, variable),
   * recorded with each check so that a cached verdict is reused only for the same comparison.
   * Nothing in it comes from the key's value.
   */
  basis: string;
}

/**
 * The provider that reads the key's scope and what it is compared against. Throws a
 * KeywardError when no provider can read it (none declared or recognised, or one without
 * introspection).
 */
export function planScopeCheck(session: Session, t: ScopeTarget, key: ReadKey): ScopePlan {
  const declaredProvider = key.metadata.provider ?? session.config?.secretDecl(t.secret)?.provider;
  const providerId = declaredProvider ?? identifyAll(key.value)[0]?.provider;
  if (!providerId) {
    throw new KeywardError(
      "not_found",
      `no provider is declared for ${t.secret} and its format is not one keyward recognises`,
      `declare it: keyward secret set ${t.secret} --provider <github|slack|atlassian|http|command> (or provider: in keyward.yaml)`,
    );
  }
  const provider = getProvider(providerId);
  if (!provider)
    throw new KeywardError("config_invalid", `${t.secret} names an unknown provider ${providerId}`);
  if (!provider.introspect) {
    throw new KeywardError(
      "refused",
      `the ${providerId} provider cannot read a key's scope`,
      "keyward providers shows what each provider can check",
    );
  }
  const identity = provider.identify(key.value);
  const catalog = t.config ? detectCatalog(t.config) : undefined;
  const restriction = catalog && t.config ? catalog.restrict(t.config) : undefined;
  const declared = [...key.metadata.scope];
  const basis = createHash("sha256")
    .update(
      JSON.stringify([
        providerId,
        catalog?.id ?? null,
        restriction ?? null,
        declared,
        t.envVar ?? null,
      ]),
    )
    .digest("hex")
    .slice(0, 12);
  return {
    providerId,
    provider,
    ...(identity ? { identity } : {}),
    ...(catalog ? { catalog } : {}),
    ...(restriction ? { restriction } : {}),
    declared,
    comparable: catalog !== undefined || declared.length > 0,
    basis,
  };
}

/**
 * Checks one key already read: asks its provider what the key may do and compares that with
 * the plan (made here when not given). Every outcome is in the access log as a scope-check
 * entry; a KeywardError becomes the result's `error`.
 */
export async function checkKeyScope(
  session: Session,
  t: ScopeTarget,
  key: ReadKey,
  deps: ScopeCheckDeps,
  plan?: ScopePlan,
): Promise<ScopeCheckResult> {
  try {
    const p = plan ?? planScopeCheck(session, t, key);
    const ctx: ProviderContext = {
      settings: session.config?.config.providers?.[p.providerId] ?? {},
      fetch: deps.fetch,
      timeoutMs: deps.timeoutMs,
      now: deps.now,
      ...(deps.retry ? { retry: deps.retry } : {}),
    };
    const granted = await p.provider.introspect!({ name: t.secret, value: key.value }, ctx);
    const check = checkScope({
      provider: p.providerId,
      granted,
      ...(p.catalog ? { catalog: p.catalog, restriction: p.restriction ?? {} } : {}),
      declared: p.declared,
      ...(t.envVar ? { envVar: t.envVar } : {}),
      ...(p.identity?.kind ? { tokenKind: p.identity.kind } : {}),
    });
    session.log.append({
      actor: session.actor,
      action: "scope-check",
      secret: t.secret,
      version: key.version,
      outcome: "ok",
      detail: formatCheckDetail({ ...check, basis: p.basis }),
    });
    return {
      ...targetFields(t),
      provider: p.providerId,
      ...(p.identity?.kind ? { tokenKind: p.identity.kind } : {}),
      check,
    };
  } catch (e) {
    return failed(session, t, e, key.version);
  }
}

function targetFields(t: ScopeTarget): ScopeCheckResult {
  return {
    secret: t.secret,
    ...(t.profile ? { profile: t.profile } : {}),
    ...(t.envVar ? { envVar: t.envVar } : {}),
  };
}

function failed(session: Session, t: ScopeTarget, e: unknown, version?: number): ScopeCheckResult {
  if (!isKeywardError(e)) throw e;
  session.log.append({
    actor: session.actor,
    action: "scope-check",
    secret: t.secret,
    ...(version === undefined ? {} : { version }),
    outcome: "error",
    detail: e.code,
  });
  return { ...targetFields(t), error: e.toJSON() };
}

/** A check as its access-log entry records it: verdict, excess, missing and the plan's basis. */
export interface CheckDetail {
  verdict: Verdict;
  excess: string[];
  missing: string[];
  basis: string;
}

/** `over-privileged: excess delete_repo,admin:org; missing issues=write; basis 1f2e3d4c5b6a` */
export function formatCheckDetail(d: CheckDetail): string {
  return [
    `${d.verdict}${d.excess.length ? `: excess ${d.excess.join(",")}` : ""}`,
    ...(d.missing.length ? [`missing ${d.missing.join(",")}`] : []),
    `basis ${d.basis}`,
  ].join("; ");
}

/** The inverse of formatCheckDetail; undefined for an entry written before the basis was recorded. */
export function parseCheckDetail(detail: string): CheckDetail | undefined {
  const match =
    /^(least-privilege|over-privileged|missing|unknown)(?:: excess (\S+))?(?:; missing (\S+))?; basis ([0-9a-f]{12})$/.exec(
      detail,
    );
  if (!match) return undefined;
  return {
    verdict: match[1] as Verdict,
    excess: match[2]?.split(",") ?? [],
    missing: match[3]?.split(",") ?? [],
    basis: match[4]!,
  };
}
