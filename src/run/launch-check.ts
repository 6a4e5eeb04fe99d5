/**
 * The scope check `keyward run` makes before it starts a server: each injected key whose
 * provider can read its scope is compared with what the profile's server needs (the same check
 * as `keyward scope check`, src/scope/service.ts). Each secret's `scopePolicy` decides what an
 * over-privileged or short key does: `deny` refuses the launch, `warn` starts and says so, `off`
 * skips the check. A provider that cannot be reached never blocks a launch, unless
 * `--strict-scope` asks it to for `deny` keys.
 *
 * Cache: a verdict is reused for SCOPE_CHECK_CACHE_MS from the access log's scope-check entries
 * (same secret, same version, same basis: what was compared), so an MCP client starting and
 * restarting its servers does not ask the provider every time. The log is already shared by
 * every keyward process and holds no value-derived data; a separate cache file would have to.
 * A cached verdict that would refuse the launch is checked again live, so a key whose scope was
 * narrowed upstream in place is never refused from a stale verdict.
 */
import type { ProfileConfig, ScopePolicy } from "../config/schema.js";
import { KeywardError } from "../core/errors.js";
import type { Sensitivity } from "../core/types.js";
import type { RetryPolicy } from "../providers/types.js";
import { FULL_ACCESS } from "../scope/algebra.js";
import type { ScopeCheck, Verdict } from "../scope/check.js";
import { hierarchyFor } from "../scope/hierarchies/index.js";
import {
  checkKeyScope,
  parseCheckDetail,
  planScopeCheck,
  type ReadKey,
  type ScopeCheckDeps,
  type ScopePlan,
  type ScopeTarget,
} from "../scope/service.js";
import type { Session } from "../secrets/session.js";
import type { InjectedSecret } from "./plan.js";

/** How long a scope verdict is reused across launches. */
export const SCOPE_CHECK_CACHE_MS = 5 * 60_000;
/** A launch waits at most this long for each provider call. */
export const LAUNCH_PROVIDER_TIMEOUT_MS = 5_000;
/** One quick retry: a launch must not hang on a struggling upstream. */
export const LAUNCH_RETRY: RetryPolicy = {
  attempts: 2,
  baseDelayMs: 250,
  maxDelayMs: 1_000,
  maxWaitMs: 2_000,
};

/** Agent-exposed keys are refused when broader than needed; other keys draw a warning. */
export function scopePolicyFor(
  declared: ScopePolicy | undefined,
  sensitivity: Sensitivity,
): ScopePolicy {
  return declared ?? (sensitivity === "agent-exposed" ? "deny" : "warn");
}

export interface LaunchScopeOptions {
  profile: string;
  /** The profile as launched (a command after `--` replaced): its server decides what is needed. */
  config: ProfileConfig;
  secrets: readonly InjectedSecret[];
  /** `--strict-scope`: a `deny` key whose scope could not be checked refuses the launch too. */
  strict: boolean;
  deps: ScopeCheckDeps;
  /** Warnings, already scrubbed by the caller. */
  notice: (text: string) => void;
  cacheMs?: number;
}

export interface LaunchScopeResult {
  secret: string;
  policy: ScopePolicy;
  /** skipped: policy off, or nothing keyward can check; cached: a verdict from the cache window. */
  source: "live" | "cached" | "skipped";
  verdict?: Verdict;
  excess?: string[];
  missing?: string[];
  error?: { code: string; message: string; fix?: string };
}

const BAD: readonly Verdict[] = ["over-privileged", "missing"];

interface Refusal {
  secret: string;
  /** The verdict or error code, for the access log. */
  reason: string;
  message: string;
  fix: string;
}

/**
 * Checks every injected key by its policy, warning through `notice`; throws
 * KeywardError("refused") (exit 2) naming each refused secret, its excess or missing scopes and
 * the least-privilege recipe. The refusal is in the access log as a denied launch.
 */
export async function checkScopesAtLaunch(
  session: Session,
  opts: LaunchScopeOptions,
): Promise<LaunchScopeResult[]> {
  const results: LaunchScopeResult[] = [];
  const refusals: Refusal[] = [];
  for (const secret of opts.secrets) {
    const result = await checkOneAtLaunch(session, opts, secret, refusals);
    if (result) results.push(result);
  }
  if (refusals.length > 0) {
    session.log.append({
      actor: session.actor,
      action: "launch",
      outcome: "denied",
      detail: `scope check refused: ${refusals.map((r) => `${r.secret} ${r.reason}`).join(", ")}`,
    });
    throw new KeywardError(
      "refused",
      `refusing to start profile ${opts.profile}: ${refusals.map((r) => r.message).join("; ")}`,
      refusals.map((r) => r.fix).join(" "),
    );
  }
  return results;
}

async function checkOneAtLaunch(
  session: Session,
  opts: LaunchScopeOptions,
  injected: InjectedSecret,
  refusals: Refusal[],
): Promise<LaunchScopeResult | undefined> {
  const record = await session.store.get(injected.name);
  if (record === undefined) return undefined;
  const decl = session.config?.secretDecl(injected.name);
  // The more sensitive of the config's declaration and the store's metadata.
  const sensitivity =
    decl?.sensitivity === "agent-exposed" ? "agent-exposed" : record.metadata.sensitivity;
  const policy = scopePolicyFor(decl?.scopePolicy, sensitivity);
  const base = { secret: injected.name, policy };
  if (policy === "off") return { ...base, source: "skipped" };

  const target: ScopeTarget = {
    secret: injected.name,
    profile: opts.profile,
    config: opts.config,
    ...(injected.envVar ? { envVar: injected.envVar } : {}),
  };
  const key: ReadKey = {
    value: injected.value,
    version: injected.version,
    metadata: record.metadata,
  };
  let plan: ScopePlan;
  try {
    plan = planScopeCheck(session, target, key);
  } catch {
    // No provider that reads scope: nothing to check; `keyward scope check` says why.
    return { ...base, source: "skipped" };
  }
  // Without a known server or a declared scope the verdict could only be "unknown".
  if (!plan.comparable) return { ...base, source: "skipped" };

  const cached = cachedVerdict(session, injected, plan, opts);
  const canUseCache = cached !== undefined && (!BAD.includes(cached.verdict) || policy === "warn");
  if (cached && canUseCache) {
    if (BAD.includes(cached.verdict)) {
      opts.notice(
        `keyward: warning: ${describe(injected.name, opts.profile, plan.providerId, cached)} (checked in the last ${Math.round((opts.cacheMs ?? SCOPE_CHECK_CACHE_MS) / 60_000)} minutes; keyward scope check ${injected.name} gives the least-privilege recipe)`,
      );
    }
    return { ...base, source: "cached", ...cached };
  }

  const live = await checkKeyScope(session, target, key, opts.deps, plan);
  if (live.error) {
    const refuse = policy === "deny" && opts.strict;
    if (refuse) {
      refusals.push({
        secret: injected.name,
        reason: live.error.code,
        message: `the scope of ${injected.name} could not be checked (${clause(live.error.message)}) and --strict-scope is set`,
        fix: `${clause(live.error.fix ?? "Try again when the provider answers")}; or run without --strict-scope.`,
      });
    } else {
      opts.notice(
        `keyward: warning: could not check the scope of ${injected.name}: ${clause(live.error.message)}; starting anyway`,
      );
    }
    return { ...base, source: "live", error: live.error };
  }
  const check = live.check!;
  const found = { verdict: check.verdict, excess: check.excess, missing: check.missing };
  if (BAD.includes(check.verdict)) {
    const what = describe(injected.name, opts.profile, plan.providerId, found);
    if (policy === "deny") {
      refusals.push({
        secret: injected.name,
        reason: check.verdict,
        message: `${what} (scopePolicy deny)`,
        fix: `${injected.name}: ${check.recipe.text} Store the new key with keyward secret set ${injected.name}. To start anyway, set scopePolicy: warn on secrets.${injected.name} in the config, or run keyward run ${opts.profile} --no-scope-check.`,
      });
    } else {
      opts.notice(
        `keyward: warning: ${what}; least-privilege recipe: ${check.recipe.text} (scopePolicy warn)`,
      );
    }
  }
  return { ...base, source: "live", ...found };
}

/** The latest verdict for this version and basis within the cache window, from the access log. */
function cachedVerdict(
  session: Session,
  injected: InjectedSecret,
  plan: ScopePlan,
  opts: LaunchScopeOptions,
): Pick<ScopeCheck, "verdict" | "excess" | "missing"> | undefined {
  const since = new Date(opts.deps.now().getTime() - (opts.cacheMs ?? SCOPE_CHECK_CACHE_MS));
  const entries = session.log.query({ secret: injected.name, action: "scope-check", since });
  for (const entry of entries.reverse()) {
    if (entry.outcome !== "ok" || entry.version !== injected.version) continue;
    const detail = parseCheckDetail(entry.detail ?? "");
    if (detail?.basis === plan.basis) {
      return { verdict: detail.verdict, excess: detail.excess, missing: detail.missing };
    }
  }
  return undefined;
}

function describe(
  secret: string,
  profile: string,
  provider: string,
  found: Pick<ScopeCheck, "verdict" | "excess" | "missing">,
): string {
  const name = (scope: string) =>
    scope === FULL_ACCESS ? hierarchyFor(provider).fullAccessMeaning : scope;
  const parts: string[] = [];
  if (found.excess.length > 0) {
    parts.push(
      `${secret} is over-privileged for profile ${profile}: it also grants ${found.excess.map(name).join(", ")}`,
    );
  }
  if (found.missing.length > 0) {
    parts.push(
      `${secret} lacks ${found.missing.join(", ")}, which profile ${profile}'s server needs`,
    );
  }
  return parts.join("; ");
}

/** A provider's sentence as a clause inside ours: without its final full stop. */
function clause(text: string): string {
  return text.replace(/\.+$/, "");
}
