/**
 * A catalog says what an MCP server's tools need from the key it is given: per tool the classic
 * scopes, the fine-grained permissions (GitHub) and whether the tool only reads. It also recognises
 * the server from a profile and reads the profile's own narrowing (toolsets, tool lists, read-only
 * mode), so a check counts only the tools the server will actually offer.
 */

/** The parts of a profile (src/config/schema.ts ProfileConfig) a catalog looks at. */
export interface ProfileView {
  command?: string;
  args?: readonly string[];
  /** Literal, non-secret variables (GITHUB_TOOLSETS, READ_ONLY_MODE, …). */
  setEnv?: Readonly<Record<string, string>>;
  /** Variables filled from secrets: only the variable names matter here. */
  env?: Readonly<Record<string, unknown>>;
  passEnv?: readonly string[];
  /** A remote profile's endpoint and headers (templates like {{secret:…}} are left as they are). */
  url?: string;
  headers?: Readonly<Record<string, string>>;
}

export interface ToolScopes {
  /** Classic scopes the tool needs (all of them). */
  needs: readonly string[];
  /** Fine-grained permissions (`perm=level`, all of them); absent when unknown. */
  needsFineGrained?: readonly string[];
  readOnly: boolean;
  /** The API behind the tool refuses fine-grained tokens (GitHub notifications). */
  classicOnly?: boolean;
  /**
   * The tool needs a scope that lets an agent destroy things (GitHub `delete_repo`) and the server
   * hides the tool when the key lacks it: it counts only when a profile names it explicitly.
   */
  destructive?: boolean;
}

/** What a profile narrows the server to. Absent fields: the server's own default. */
export interface Restriction {
  toolsets?: readonly string[];
  tools?: readonly string[];
  excludeTools?: readonly string[];
  readOnly?: boolean;
  /** Observations for the report (dynamic toolsets, settings keyward cannot see, …). */
  notes?: readonly string[];
}

export interface Catalog {
  id: string;
  title: string;
  /** Provider id of the key the server takes (src/providers/<id>). */
  provider: string;
  /** Variables that carry the key. */
  envVars: readonly string[];
  /** Where the tool list and scopes come from. */
  sources: readonly string[];
  toolsets?: Readonly<Record<string, readonly string[]>>;
  /** What the keyword `default` means in a toolset list. */
  defaultToolsets?: readonly string[];
  /** What is enabled when the profile names no toolsets: the defaults (GitHub) or all (mcp-atlassian). */
  unsetToolsets?: "default" | "all";
  /** How a tool list combines with toolsets: GitHub adds the tools, mcp-atlassian intersects. */
  toolsCombine?: "union" | "intersect";
  /** For servers taking one key per product: the toolsets a key in that variable serves. */
  envVarToolsets?: Readonly<Record<string, readonly string[]>>;
  tools: Readonly<Record<string, ToolScopes>>;
  /** A sentence added to the least-privilege recipe (how to use a narrowed key with this server). */
  recipeHint?: string;
  detect(profile: ProfileView): boolean;
  restrict(profile: ProfileView): Restriction;
}

export interface EnabledTools {
  tools: string[];
  /** Destructive tools left out because the profile did not name them. */
  withheld: string[];
  unknownToolsets: string[];
  unknownTools: string[];
}

/** `all` and `default` expanded, unknown names reported. */
export function expandToolsets(
  catalog: Catalog,
  names: readonly string[],
): { toolsets: string[]; unknown: string[] } {
  const all = Object.keys(catalog.toolsets ?? {});
  const out = new Set<string>();
  const unknown: string[] = [];
  for (const name of names) {
    if (name === "all") for (const t of all) out.add(t);
    else if (name === "default") for (const t of catalog.defaultToolsets ?? all) out.add(t);
    else if (all.includes(name)) out.add(name);
    else unknown.push(name);
  }
  return { toolsets: [...out], unknown };
}

/** The tools a server offers under a restriction, following that server's own rules. */
export function enabledTools(
  catalog: Catalog,
  restriction: Restriction = {},
  envVar?: string,
): EnabledTools {
  const allTools = Object.keys(catalog.tools);
  const unknownTools = (restriction.tools ?? []).filter((t) => !(t in catalog.tools));
  const named = new Set((restriction.tools ?? []).filter((t) => t in catalog.tools));
  let unknownToolsets: string[] = [];
  let selected: Set<string>;

  if (catalog.toolsets === undefined) {
    selected = new Set(restriction.tools === undefined ? allTools : named);
  } else {
    const union = (catalog.toolsCombine ?? "union") === "union";
    let names = restriction.toolsets;
    if (names === undefined) {
      // GitHub: a tool list alone enables just those tools; otherwise the server's unset default.
      if (union && restriction.tools !== undefined) names = [];
      else names = [catalog.unsetToolsets === "all" ? "all" : "default"];
    }
    const expanded = expandToolsets(catalog, names);
    unknownToolsets = expanded.unknown;
    const fromToolsets = new Set(expanded.toolsets.flatMap((t) => catalog.toolsets?.[t] ?? []));
    if (union) selected = new Set([...fromToolsets, ...named]);
    else selected = restriction.tools === undefined ? fromToolsets : intersect(fromToolsets, named);
  }

  if (envVar !== undefined && catalog.envVarToolsets?.[envVar] && catalog.toolsets) {
    const served = new Set(
      catalog.envVarToolsets[envVar].flatMap((t) => catalog.toolsets?.[t] ?? []),
    );
    selected = intersect(selected, served);
  }
  for (const t of restriction.excludeTools ?? []) selected.delete(t);
  const tools: string[] = [];
  const withheld: string[] = [];
  for (const name of [...selected].sort()) {
    const tool = catalog.tools[name];
    if (tool === undefined) continue;
    if (restriction.readOnly && !tool.readOnly) continue;
    if (tool.destructive && !named.has(name)) withheld.push(name);
    else tools.push(name);
  }
  return { tools, withheld, unknownToolsets, unknownTools };
}

/** A restriction without unset fields, so it prints and compares cleanly. */
export function restriction(fields: {
  toolsets?: readonly string[] | undefined;
  tools?: readonly string[] | undefined;
  excludeTools?: readonly string[] | undefined;
  readOnly?: boolean | undefined;
  notes?: readonly string[];
}): Restriction {
  const out: Restriction = {};
  if (fields.toolsets !== undefined) out.toolsets = fields.toolsets;
  if (fields.tools !== undefined) out.tools = fields.tools;
  if (fields.excludeTools !== undefined) out.excludeTools = fields.excludeTools;
  if (fields.readOnly !== undefined) out.readOnly = fields.readOnly;
  if (fields.notes !== undefined && fields.notes.length > 0) out.notes = fields.notes;
  return out;
}

function intersect(a: ReadonlySet<string>, b: ReadonlySet<string>): Set<string> {
  return new Set([...a].filter((x) => b.has(x)));
}

/** Builds a catalog's `tools` and `toolsets` from one row per tool. */
export function toolTable(
  rows: readonly (ToolScopes & { name: string; toolsets?: readonly string[] })[],
): {
  tools: Record<string, ToolScopes>;
  toolsets: Record<string, string[]>;
} {
  const tools: Record<string, ToolScopes> = {};
  const toolsets: Record<string, string[]> = {};
  for (const { name, toolsets: sets, ...scopes } of rows) {
    tools[name] = scopes;
    for (const set of sets ?? []) toolsets[set] = [...(toolsets[set] ?? []), name];
  }
  return { tools, toolsets };
}

// ---- Reading a profile -------------------------------------------------------------------------

/** The program's name without directory or Windows extension: `/usr/bin/npx.cmd` → `npx`. */
export function commandName(profile: ProfileView): string {
  const base = (profile.command ?? "").split(/[\\/]/).pop() ?? "";
  return base.replace(/\.(exe|cmd|bat|ps1)$/i, "").toLowerCase();
}

/** True when an argument names the package, bare or with a version (`pkg@1.2`, `pkg==1.2`). */
export function hasPackageArg(profile: ProfileView, packages: readonly string[]): boolean {
  return (profile.args ?? []).some((arg) =>
    packages.some((pkg) => arg === pkg || arg.startsWith(`${pkg}@`) || arg.startsWith(`${pkg}==`)),
  );
}

/** True when an argument is the container image (any registry mirror, tag or digest). */
export function hasImageArg(profile: ProfileView, image: string): boolean {
  const escaped = image.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pattern = new RegExp(`^(?:[^\\s/]+/)*${escaped}(?:[:@][^\\s]*)?$`);
  return (profile.args ?? []).some((arg) => pattern.test(arg));
}

/**
 * A server setting from the profile: `setEnv`, a container's `-e NAME=value` / `--env NAME=value`
 * (a bare `-e NAME` takes the value from setEnv), or a header (remote profiles; case-insensitive).
 */
export function setting(profile: ProfileView, name: string): string | undefined {
  const args = profile.args ?? [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    let assignment: string | undefined;
    if ((arg === "-e" || arg === "--env") && i + 1 < args.length) assignment = args[i + 1];
    else if (arg.startsWith("--env=")) assignment = arg.slice("--env=".length);
    else if (arg.startsWith("-e=")) assignment = arg.slice("-e=".length);
    if (assignment?.startsWith(`${name}=`)) return assignment.slice(name.length + 1);
  }
  return profile.setEnv?.[name];
}

/** A header of a remote profile, by case-insensitive name. */
export function header(profile: ProfileView, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(profile.headers ?? {})) {
    if (key.toLowerCase() === wanted) return value;
  }
  return undefined;
}

/** A command-line flag: `--flag=value` or `--flag value`; a bare boolean flag reads as "true". */
export function flag(profile: ProfileView, name: string, boolean = false): string | undefined {
  const args = profile.args ?? [];
  let found: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.startsWith(`${name}=`)) found = arg.slice(name.length + 1);
    else if (arg === name) {
      const next = args[i + 1];
      found = boolean || next === undefined || next.startsWith("-") ? "true" : next;
    }
  }
  return found;
}

/** A comma-separated list, trimmed, empty entries dropped. */
export function parseList(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "");
}

/** Boolean settings as Go's strconv.ParseBool and Python's common idioms read them. */
export function truthy(value: string | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  if (/^(1|t|true|yes|y|on)$/i.test(value.trim())) return true;
  if (/^(0|f|false|no|n|off|)$/i.test(value.trim())) return false;
  return undefined;
}

/**
 * A switch set in several places (variable, flag, header): on if any place turns it on, since
 * read-only mode wins over every other setting; off if some place turns it off; else unset.
 */
export function anyOn(...values: (string | undefined)[]): boolean | undefined {
  const read = values.map(truthy);
  if (read.includes(true)) return true;
  return read.includes(false) ? false : undefined;
}

/** True when the profile hands the server this variable (from a secret, literally, or passed through). */
export function providesVariable(profile: ProfileView, name: string): boolean {
  return (
    (profile.env !== undefined && name in profile.env) ||
    (profile.setEnv !== undefined && name in profile.setEnv) ||
    (profile.passEnv ?? []).includes(name) ||
    setting(profile, name) !== undefined
  );
}
