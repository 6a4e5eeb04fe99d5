import { KeywardError } from "../core/errors.js";
import { requireProvider } from "../providers/registry.js";
import type { ProviderContext, ScopeProbe } from "../providers/types.js";
import { algebraFor, FULL_ACCESS, isPermissionLevel } from "../scope/algebra.js";
import type { ProfileView } from "../scope/catalog.js";
import { getCatalog } from "../scope/catalogs/index.js";
import { checkScope, type ScopeCheck } from "../scope/check.js";
import type { SecretHandle } from "./secret.js";

export interface AssertScopeOptions {
  /** The provider that issued the key: "github", "slack", "atlassian" (src/providers). */
  provider: string;
  /**
   * What the server needs; the key must carry it (and, without `allow`, nothing beyond it). May
   * list classic scopes and fine-grained `perm=level` permissions side by side: the key's kind
   * picks which are compared.
   */
  needs?: string[];
  /** The most the key may carry, scopes they imply included (default: `needs`). */
  allow?: string[];
  /**
   * Scopes the key must not carry, directly or implied (`admin:org` implies `write:org`); `*`
   * matches any characters: `["delete_repo", "admin:*", "*=write", "*=admin"]`.
   */
  deny?: string[];
  /** A keyward catalog id (src/scope/catalogs, e.g. "github-mcp-server"): `needs` from its tools. */
  catalog?: string;
  /** Provider settings, e.g. `{ apiBaseUrl }` for GitHub Enterprise Server. */
  settings?: Record<string, unknown>;
  fetch?: typeof fetch;
  /** Milliseconds before the provider call is abandoned (default 10000). */
  timeoutMs?: number;
}

/** What `assertScope` found; every list holds scope names, never a value. */
export interface ScopeAssertion {
  secret: string;
  provider: string;
  /** The provider's name for the key's kind (classic-pat, fine-grained-pat, bot, …). */
  tokenKind?: string;
  mode: "classic" | "fine-grained";
  granted: string[];
  /** True when the provider can list only part of the key's permissions (GitHub fine-grained PATs). */
  partial: boolean;
  expiresAt?: string;
  probes?: ScopeProbe[];
  needed: string[];
  /** Granted scopes beyond `allow` (or `needs`), each with what to grant instead. */
  excess: Array<{ scope: string; suggest: string[] }>;
  /** Needed scopes the key lacks (empty for a partial report: see notes). */
  missing: string[];
  /** Granted scopes (or scopes they imply) that match `deny`. */
  denied: string[];
  notes: string[];
}

/**
 * Asks the key's provider what the key may do (GitHub: `GET /rate_limit`'s X-OAuth-Scopes, or
 * probes for fine-grained PATs) and throws KeywardError("refused") when it carries more than
 * `allow`/`needs`, anything `deny` names, or less than `needs`. Call it at startup: a server
 * with an over-broad key stops before it serves a request. Generalises the guide's
 * `validateTokenScope` (substring checks on X-OAuth-Scopes) with keyward's scope algebra.
 */
export async function assertScope(
  handle: SecretHandle,
  opts: AssertScopeOptions,
): Promise<ScopeAssertion> {
  const provider = requireProvider(opts.provider);
  if (provider.introspect === undefined) {
    throw new KeywardError(
      "refused",
      `the ${opts.provider} provider cannot read a key's scope`,
      "`keyward providers` shows what each provider can check",
    );
  }
  const value = handle.value();
  const ctx: ProviderContext = {
    settings: opts.settings ?? {},
    fetch: opts.fetch ?? globalThis.fetch,
    timeoutMs: opts.timeoutMs ?? 10_000,
    now: () => new Date(),
  };
  const report = await provider.introspect({ name: handle.name, value }, ctx);
  const tokenKind = provider.identify(value)?.kind;
  const catalog = opts.catalog === undefined ? undefined : knownCatalog(opts.catalog);

  const check: ScopeCheck = checkScope({
    provider: opts.provider,
    granted: report,
    ...(catalog ? { catalog, restriction: catalog.restrict(thisProcess()) } : {}),
    ...(opts.needs ? { declared: opts.needs } : {}),
    ...(tokenKind ? { tokenKind } : {}),
  });
  const algebra = algebraFor(opts.provider);
  const ofMode = (scopes: readonly string[]) =>
    scopes.filter((s) => isPermissionLevel(s) === (check.mode === "fine-grained"));
  const always = check.mode === "fine-grained" ? (algebra.hierarchy.alwaysGranted ?? []) : [];

  let excess = check.narrowings;
  if (opts.allow !== undefined) {
    const ceiling = [...ofMode(opts.allow), ...check.needed, ...always];
    excess = algebra.narrowings(check.granted, ceiling).filter((n) => !always.includes(n.scope));
  }
  const closure = algebra.closure(check.granted);
  const denied = (opts.deny ?? []).flatMap((pattern) =>
    check.granted.includes(FULL_ACCESS) ? [pattern] : closure.filter((s) => glob(pattern).test(s)),
  );
  const notes = [...check.notes];
  if (!opts.needs && !opts.allow && !catalog && !opts.deny) {
    notes.push("nothing to compare with: give needs, allow, deny or catalog");
  }

  const assertion: ScopeAssertion = {
    secret: handle.name,
    provider: opts.provider,
    ...(tokenKind ? { tokenKind } : {}),
    mode: check.mode,
    granted: check.granted,
    partial: report.partial,
    ...(report.expiresAt ? { expiresAt: report.expiresAt } : {}),
    ...(report.probes ? { probes: report.probes } : {}),
    needed: check.needed,
    excess,
    missing: check.missing,
    denied: [...new Set(denied)].sort(),
    notes,
  };
  const problems = problemsOf(assertion);
  if (problems.length > 0) {
    const narrower = check.needed.length > 0 ? check.recipe.text : allowedRecipe(opts, check);
    throw new KeywardError(
      "refused",
      `${handle.name} (${opts.provider}${tokenKind ? ` ${tokenKind}` : ""}) ${problems.join("; ")}`,
      `${narrower} Then store it: keyward secret set ${handle.name} (or keyward rotate ${handle.name}), and restart the server.`,
    );
  }
  return assertion;
}

function problemsOf(a: ScopeAssertion): string[] {
  const problems: string[] = [];
  if (a.excess.length > 0) {
    const items = a.excess.map((n) =>
      n.suggest.length > 0 ? `${n.scope} (narrow to ${n.suggest.join(", ")})` : n.scope,
    );
    problems.push(`grants more than this server allows: ${items.join(", ")}`);
  }
  if (a.denied.length > 0) problems.push(`grants what this server denies: ${a.denied.join(", ")}`);
  if (a.missing.length > 0) problems.push(`lacks what this server needs: ${a.missing.join(", ")}`);
  return problems;
}

function allowedRecipe(opts: AssertScopeOptions, check: ScopeCheck): string {
  const allowed = (opts.allow ?? []).filter(
    (s) => isPermissionLevel(s) === (check.mode === "fine-grained"),
  );
  const deny = opts.deny?.length ? ` and none of: ${opts.deny.join(", ")}` : "";
  return `create a key with at most: ${allowed.length > 0 ? allowed.join(", ") : "what the server needs"}${deny}.`;
}

function knownCatalog(id: string) {
  const catalog = getCatalog(id);
  if (catalog === undefined) {
    throw new KeywardError(
      "config_invalid",
      `there is no scope catalog "${id}"`,
      "name one of keyward's catalogs (src/scope/catalogs), or list the scopes in needs",
    );
  }
  return catalog;
}

/** This process as a catalog sees a profile: its flags and its (non-secret) settings variables. */
function thisProcess(): ProfileView {
  const setEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) setEnv[k] = v;
  return { command: process.argv[1] ?? process.argv0, args: process.argv.slice(2), setEnv };
}

function glob(pattern: string): RegExp {
  const escaped = pattern.replace(/[.+?^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*");
  return new RegExp(`^${escaped}$`);
}
