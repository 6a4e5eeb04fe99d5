/**
 * The scope algebra: what a set of scopes implies, which granted scopes go beyond a need, and
 * which needs a grant leaves uncovered. One `ScopeHierarchy` per provider (src/scope/hierarchies/)
 * describes `parent ⊃ child` relations and, for `perm=level` permissions, an ordered list of
 * levels; everything here is pure set arithmetic over those two.
 */

import { hierarchyFor } from "./hierarchies/index.js";

/**
 * A grant of everything the key's identity can do: a Slack browser session (xoxc/xoxd), a
 * classic Atlassian API token. Providers report it as the single scope "*".
 */
export const FULL_ACCESS = "*";

export interface ScopeHierarchy {
  provider: string;
  /** Direct children of each parent scope (`parent ⊃ child`); closure follows them transitively. */
  children: Readonly<Record<string, readonly string[]>>;
  /** Levels of `perm=level` permissions, weakest first: a level implies every weaker one. */
  levels?: readonly string[];
  /** Every scope name the provider defines, when the list is closed: lets a check flag typos. */
  known?: ReadonlySet<string>;
  /** Rewrites a spelling users write into the canonical one (GitHub: `contents:read` → `contents=read`). */
  canonical?: (scope: string) => string;
  /** Granted to every fine-grained key and impossible to remove (GitHub's `metadata=read`). */
  alwaysGranted?: readonly string[];
  /** Identity kinds (Identity.kind) whose keys carry the user's full access. */
  fullAccessKinds?: readonly string[];
  /** What FULL_ACCESS means for this provider, in words for the report. */
  fullAccessMeaning: string;
}

export interface Narrowing {
  /** A granted scope that is broader than anything needs. */
  scope: string;
  /** The needed scopes it covers: grant these instead (empty: drop it). */
  suggest: string[];
}

export interface ScopeAlgebra {
  hierarchy: ScopeHierarchy;
  /** The set plus everything it implies, sorted. */
  closure(set: readonly string[]): string[];
  /** True when `granted` covers every scope in `needed`. */
  implies(granted: readonly string[], needed: readonly string[]): boolean;
  /** The set without duplicates and without scopes another member implies, sorted. */
  normalise(set: readonly string[]): string[];
  /** Needed scopes the grant does not cover (normalised). */
  missing(granted: readonly string[], needed: readonly string[]): string[];
  /**
   * Top-level granted scopes that go beyond the need: either nothing needs them (`delete_repo`)
   * or they imply more than is needed (`repo` when only `public_repo` is needed).
   */
  excess(granted: readonly string[], needed: readonly string[]): string[];
  /** `excess` with, for each scope, the needed scopes to grant instead. */
  narrowings(granted: readonly string[], needed: readonly string[]): Narrowing[];
}

const PERM_LEVEL = /^([a-z0-9_]+)=([a-z]+)$/;

/** True for a `perm=level` permission (GitHub fine-grained), false for a named scope. */
export function isPermissionLevel(scope: string): boolean {
  return PERM_LEVEL.test(scope);
}

export function scopeAlgebra(hierarchy: ScopeHierarchy): ScopeAlgebra {
  const canonical = (set: readonly string[]): string[] => {
    const out = new Set<string>();
    for (const raw of set) {
      const trimmed = raw.trim();
      if (trimmed !== "") out.add(hierarchy.canonical ? hierarchy.canonical(trimmed) : trimmed);
    }
    return [...out];
  };

  /** Everything one scope implies, itself excluded. */
  const below = (scope: string): Set<string> => {
    const found = new Set<string>();
    const queue = [scope];
    while (queue.length > 0) {
      const current = queue.pop()!;
      const next = [...(hierarchy.children[current] ?? [])];
      const perm = PERM_LEVEL.exec(current);
      if (perm && hierarchy.levels) {
        const rank = hierarchy.levels.indexOf(perm[2]!);
        for (let i = 0; i < rank; i++) next.push(`${perm[1]}=${hierarchy.levels[i]}`);
      }
      for (const child of next) {
        if (!found.has(child) && child !== scope) {
          found.add(child);
          queue.push(child);
        }
      }
    }
    return found;
  };

  const closureSet = (set: readonly string[]): Set<string> => {
    const out = new Set<string>();
    for (const scope of canonical(set)) {
      out.add(scope);
      for (const implied of below(scope)) out.add(implied);
    }
    return out;
  };

  const normalise = (set: readonly string[]): string[] => {
    const members = canonical(set);
    if (members.includes(FULL_ACCESS)) return [FULL_ACCESS];
    const implied = new Set<string>();
    for (const scope of members) for (const child of below(scope)) implied.add(child);
    return members.filter((scope) => !implied.has(scope)).sort();
  };

  const missing = (granted: readonly string[], needed: readonly string[]): string[] => {
    const have = closureSet(granted);
    if (have.has(FULL_ACCESS)) return [];
    return normalise(needed).filter((scope) => !have.has(scope));
  };

  const narrowings = (granted: readonly string[], needed: readonly string[]): Narrowing[] => {
    const neededClosure = closureSet(needed);
    const neededTop = normalise(needed);
    return normalise(granted)
      .filter((scope) => !neededClosure.has(scope))
      .map((scope) => {
        if (scope === FULL_ACCESS) return { scope, suggest: neededTop };
        const covers = closureSet([scope]);
        // What this scope is actually used for: the needed scopes (or parts of them) it covers.
        const suggest = normalise([...neededClosure].filter((n) => covers.has(n)));
        return { scope, suggest };
      });
  };

  return {
    hierarchy,
    closure: (set) => [...closureSet(set)].sort(),
    implies: (granted, needed) => missing(granted, needed).length === 0,
    normalise,
    missing,
    excess: (granted, needed) => narrowings(granted, needed).map((n) => n.scope),
    narrowings,
  };
}

/** The algebra for a provider id ("github", "slack", "atlassian"; others are flat). */
export function algebraFor(provider: string): ScopeAlgebra {
  return scopeAlgebra(hierarchyFor(provider));
}
