/**
 * `keyward scope check`: what a key may do (the provider's ScopeReport) against what the server it
 * is given to needs (the catalog, narrowed by the profile; or the secret's declared scope), and the
 * narrowest key that would still work.
 */

import type { ScopeReport } from "../providers/types.js";
import { algebraFor, FULL_ACCESS, isPermissionLevel, type Narrowing } from "./algebra.js";
import { type Catalog, enabledTools, type Restriction } from "./catalog.js";
import { hierarchyFor } from "./hierarchies/index.js";

export type Verdict = "least-privilege" | "over-privileged" | "missing" | "unknown";

export interface ScopeCheckInput {
  provider: string;
  granted: ScopeReport;
  catalog?: Catalog;
  restriction?: Restriction;
  /** The secret's declared scope (SecretMetadata.scope). */
  declared?: readonly string[];
  /** The variable the key is passed in: a server taking one key per product counts that product's tools only. */
  envVar?: string;
  /** Identity.kind from the provider: some kinds (Slack session, Atlassian classic token) carry full access. */
  tokenKind?: string;
}

export interface ScopeRecipe {
  /** Classic scopes (GitHub classic PAT, Slack, Atlassian scoped token). */
  classic?: string[];
  /** GitHub fine-grained permissions (`perm=level`). */
  fineGrained?: string[];
  text: string;
}

export interface ScopeCheck {
  provider: string;
  /** Catalog title, when the needed set comes from one. */
  server?: string;
  /** Which kind of grant was compared: classic scopes or fine-grained `perm=level` permissions. */
  mode: "classic" | "fine-grained";
  /** The tools counted, when the needed set comes from a catalog. */
  tools?: string[];
  needed: string[];
  granted: string[];
  excess: string[];
  /** For each excess scope, the needed scopes to grant instead. */
  narrowings: Narrowing[];
  missing: string[];
  verdict: Verdict;
  recipe: ScopeRecipe;
  notes: string[];
}

interface Needs {
  classic?: string[];
  fineGrained?: string[];
  /** Enabled tools whose API refuses fine-grained tokens. */
  classicOnly: string[];
  /** Enabled tools with no known fine-grained mapping. */
  unmapped: string[];
}

export function checkScope(input: ScopeCheckInput): ScopeCheck {
  const algebra = algebraFor(input.provider);
  const hierarchy = algebra.hierarchy;
  const alwaysGranted = hierarchy.alwaysGranted ?? [];
  const notes: string[] = [];

  const fullAccess =
    input.granted.granted.includes(FULL_ACCESS) ||
    (input.tokenKind !== undefined && (hierarchy.fullAccessKinds ?? []).includes(input.tokenKind));
  const granted = fullAccess ? [FULL_ACCESS] : algebra.normalise(input.granted.granted);
  const mode =
    granted.some(isPermissionLevel) || /fine-grained|installation/.test(input.tokenKind ?? "")
      ? "fine-grained"
      : "classic";

  let tools: string[] | undefined;
  let needs: Needs | undefined;
  if (input.catalog !== undefined) {
    const fromCatalog = catalogNeeds(input, notes);
    tools = fromCatalog.tools;
    needs = fromCatalog.needs;
  } else if (input.declared !== undefined && input.declared.length > 0) {
    needs = declaredNeeds(input.provider, input.declared);
    notes.push("no catalog for this server: the needed set is the secret's declared scope");
  }
  const neededRaw = mode === "fine-grained" ? needs?.fineGrained : needs?.classic;
  const needed = neededRaw === undefined ? undefined : algebra.normalise(neededRaw);

  if (input.catalog !== undefined && input.declared !== undefined && needed !== undefined) {
    compareDeclared(input.provider, input.declared, needed, mode, notes);
  }
  if (mode === "fine-grained" && needs !== undefined) {
    if (needs.classicOnly.length > 0) {
      notes.push(`fine-grained tokens cannot use: ${needs.classicOnly.join(", ")}`);
    }
    if (needs.unmapped.length > 0) {
      notes.push(`fine-grained needs not known for: ${needs.unmapped.join(", ")}`);
    }
  }

  const recipe = recipeFor(input, needs, fullAccess);
  if (needed === undefined) {
    if (needs !== undefined) {
      const source = input.catalog ? `the ${input.catalog.id} catalog` : "the declared scope";
      notes.push(`${source} names no ${mode} scopes, and this key is ${mode}`);
    }
    return {
      provider: input.provider,
      ...(input.catalog && { server: input.catalog.title }),
      mode,
      ...(tools && { tools }),
      needed: [],
      granted,
      excess: [],
      narrowings: [],
      missing: [],
      verdict: "unknown",
      recipe,
      notes,
    };
  }

  const narrowings = algebra
    .narrowings(granted, needed)
    .filter((n) => !alwaysGranted.includes(n.scope));
  const missing = algebra.missing(granted, needed);
  const partial = input.granted.partial;
  let verdict: Verdict;
  if (partial && granted.length === 0) {
    verdict = "unknown";
    notes.push("the provider could not list this key's scopes");
  } else if (missing.length > 0 && !partial) {
    verdict = "missing";
  } else if (narrowings.length > 0) {
    verdict = "over-privileged";
  } else if (partial) {
    verdict = "unknown";
    notes.push(
      "the provider could list only part of this key's permissions: least privilege is not confirmed",
    );
  } else {
    verdict = "least-privilege";
  }
  if (partial && missing.length > 0) {
    notes.push(`not seen in what the provider could list: ${missing.join(", ")}`);
  }

  return {
    provider: input.provider,
    ...(input.catalog && { server: input.catalog.title }),
    mode,
    ...(tools && { tools }),
    needed,
    granted,
    excess: narrowings.map((n) => n.scope),
    narrowings,
    missing: partial ? [] : missing,
    verdict,
    recipe,
    notes,
  };
}

function catalogNeeds(input: ScopeCheckInput, notes: string[]): { tools: string[]; needs: Needs } {
  const catalog = input.catalog!;
  const restriction = input.restriction ?? {};
  const enabled = enabledTools(catalog, restriction, input.envVar);
  notes.push(...(restriction.notes ?? []));
  if (enabled.unknownToolsets.length > 0) {
    notes.push(`unknown toolsets ignored: ${enabled.unknownToolsets.join(", ")}`);
  }
  if (enabled.unknownTools.length > 0) {
    notes.push(`unknown tools ignored: ${enabled.unknownTools.join(", ")}`);
  }
  for (const name of enabled.withheld) {
    const tool = catalog.tools[name]!;
    notes.push(
      `${name} needs ${tool.needs.join(", ")} and is not counted: the server hides it unless the key has that scope; name it in the profile's tool list if the agent must use it`,
    );
  }
  const mapsFineGrained = Object.values(catalog.tools).some(
    (t) => t.needsFineGrained !== undefined,
  );
  const classic = new Set<string>();
  const fineGrained = new Set<string>(
    mapsFineGrained ? (algebraFor(input.provider).hierarchy.alwaysGranted ?? []) : [],
  );
  const needs: Needs = { classicOnly: [], unmapped: [] };
  for (const name of enabled.tools) {
    const tool = catalog.tools[name]!;
    for (const s of tool.needs) classic.add(s);
    if (tool.classicOnly) needs.classicOnly.push(name);
    else if (tool.needsFineGrained === undefined) needs.unmapped.push(name);
    else for (const p of tool.needsFineGrained) fineGrained.add(p);
  }
  needs.classic = [...classic];
  if (mapsFineGrained) needs.fineGrained = [...fineGrained];
  return { tools: enabled.tools, needs };
}

function declaredNeeds(provider: string, declared: readonly string[]): Needs {
  const algebra = algebraFor(provider);
  const scopes = algebra.normalise(declared);
  const fineGrained = scopes.filter(isPermissionLevel);
  const classic = scopes.filter((s) => !isPermissionLevel(s));
  return {
    ...(classic.length > 0 && { classic }),
    ...(fineGrained.length > 0 && {
      fineGrained: algebra.normalise([...fineGrained, ...(algebra.hierarchy.alwaysGranted ?? [])]),
    }),
    classicOnly: [],
    unmapped: [],
  };
}

/** Notes where the secret's declared scope and the catalog disagree, and declared names nobody knows. */
function compareDeclared(
  provider: string,
  declared: readonly string[],
  needed: readonly string[],
  mode: "classic" | "fine-grained",
  notes: string[],
): void {
  const algebra = algebraFor(provider);
  const all = algebra.normalise(declared);
  const known = algebra.hierarchy.known;
  const unknown = all.filter((s) => !isPermissionLevel(s) && known !== undefined && !known.has(s));
  if (unknown.length > 0)
    notes.push(`declared scope names unknown to ${provider}: ${unknown.join(", ")}`);
  const sameKind = all.filter((s) => isPermissionLevel(s) === (mode === "fine-grained"));
  if (sameKind.length === 0) return;
  const lacking = algebra.missing(sameKind, needed);
  if (lacking.length > 0)
    notes.push(`declared scope lacks what the enabled tools need: ${lacking.join(", ")}`);
  const broader = algebra
    .excess(sameKind, needed)
    .filter((s) => !(algebra.hierarchy.alwaysGranted ?? []).includes(s));
  if (broader.length > 0) {
    notes.push(`declared scope is broader than the enabled tools need: ${broader.join(", ")}`);
  }
}

function recipeFor(
  input: ScopeCheckInput,
  needs: Needs | undefined,
  fullAccess: boolean,
): ScopeRecipe {
  if (needs === undefined) {
    return {
      text: "unknown: declare the scope this key needs (the secret's `scope`) or use it in a profile whose server keyward knows",
    };
  }
  const algebra = algebraFor(input.provider);
  const classic = needs.classic && algebra.normalise(needs.classic);
  const fineGrained = needs.fineGrained && algebra.normalise(needs.fineGrained);
  const list = (scopes: readonly string[]) => (scopes.length > 0 ? scopes.join(", ") : "no scopes");
  const hint = input.catalog?.recipeHint ? ` ${input.catalog.recipeHint}` : "";
  const fields = {
    ...(classic && { classic }),
    ...(fineGrained && { fineGrained }),
  };

  switch (input.provider) {
    case "github": {
      if (fineGrained !== undefined && needs.classicOnly.length === 0) {
        const alternative = classic ? `; or a classic PAT with: ${list(classic)}` : "";
        return {
          ...fields,
          text: `create a fine-grained PAT with: ${list(fineGrained)} on the repositories it needs${alternative}.${hint}`,
        };
      }
      const why =
        needs.classicOnly.length > 0
          ? ` (fine-grained PATs cannot use ${needs.classicOnly.join(", ")})`
          : "";
      return { ...fields, text: `create a classic PAT with: ${list(classic ?? [])}${why}.${hint}` };
    }
    case "slack": {
      const scopes = list(classic ?? []);
      const text = fullAccess
        ? `replace the browser session token (xoxc-/xoxd-) with a Slack app bot token (xoxb-) with scopes: ${scopes}.`
        : `use a Slack app bot token (xoxb-) with scopes: ${scopes}.`;
      return { ...fields, text: `${text}${hint}` };
    }
    case "atlassian":
      return {
        ...fields,
        text: `create a scoped Atlassian API token (Atlassian account → Security → API tokens → Create API token with scopes) with: ${list(classic ?? [])}.${hint}`,
      };
    default:
      return {
        ...fields,
        text: `issue a key limited to: ${list([...(classic ?? []), ...(fineGrained ?? [])])}.${hint}`,
      };
  }
}

/** The check as text lines for `keyward scope check`. */
export function renderScopeCheck(check: ScopeCheck): string {
  const meaning = hierarchyFor(check.provider).fullAccessMeaning;
  const name = (scope: string) => (scope === FULL_ACCESS ? meaning : scope);
  const list = (scopes: readonly string[]) =>
    scopes.length > 0 ? scopes.map(name).join(", ") : "(none)";
  const lines = [`verdict: ${check.verdict}`];
  if (check.server !== undefined) {
    lines.push(`server: ${check.server} (${check.tools?.length ?? 0} tools counted)`);
  }
  lines.push(`needed: ${list(check.needed)}`, `granted: ${list(check.granted)}`);
  if (check.narrowings.length > 0) {
    // Full access is narrowed by the recipe as a whole; listing every needed scope again adds nothing.
    const parts = check.narrowings.map((n) =>
      n.suggest.length > 0 && n.scope !== FULL_ACCESS
        ? `${n.scope} (narrow to ${n.suggest.join(", ")})`
        : name(n.scope),
    );
    lines.push(`over-privileged by: ${parts.join(", ")}`);
  }
  if (check.missing.length > 0) lines.push(`missing: ${list(check.missing)}`);
  lines.push(`least-privilege recipe: ${check.recipe.text}`);
  for (const note of check.notes) lines.push(`note: ${note}`);
  return lines.join("\n");
}
