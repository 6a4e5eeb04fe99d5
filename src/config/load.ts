/**
 * Finding and loading the config file. YAML and JSON both go through the yaml parser (JSON is
 * YAML 1.2), so every error in either format can be placed at a line and column.
 */
import { readFileSync } from "node:fs";
import { LineCounter, parseDocument } from "yaml";
import * as z from "zod";
import { KeywardError } from "../core/errors.js";
import {
  type ConfigIssue,
  configError,
  formatPath,
  locate,
  topLevelIssue,
  yamlSyntaxIssue,
  zodIssues,
} from "./issues.js";
import {
  type LoadedConfig,
  loadedConfig,
  permissionWarnings,
  type StoreOptionsCheck,
  type Warning,
} from "./loaded.js";
import {
  AGENT_EXPOSED_MAX_TTL_SECONDS,
  ConfigSchema,
  type KeywardConfig,
  resolveSecretDecl,
  storeEnv,
} from "./schema.js";

export { ConfigError, type ConfigIssue, formatIssue } from "./issues.js";
export type { LoadedConfig } from "./loaded.js";

/** Reads, parses and validates a config file; throws ConfigError listing every problem. */
export function loadConfig(path: string): LoadedConfig {
  return validateConfig(path, readConfigText(path)).loaded;
}

/**
 * What a valid config file's text yields: the config, and what the cache keeps of it (all but
 * the file's permissions, which can change without its text; the root's place, for their warning).
 */
export interface ValidatedConfig {
  loaded: LoadedConfig;
  cacheable: {
    config: KeywardConfig;
    warnings: ConfigIssue[];
    root: Pick<ConfigIssue, "file" | "line" | "column" | "path">;
  };
}

/** Parses and validates the text of the config file at `path`; throws ConfigError listing every problem. */
export function validateConfig(path: string, text: string): ValidatedConfig {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) {
    throw configError(doc.errors.map((e) => yamlSyntaxIssue(path, e, lines)));
  }
  let data: unknown;
  try {
    data = doc.toJS();
  } catch {
    // toJS only fails on anchors and aliases (missing anchor, alias bomb).
    throw configError([
      {
        file: path,
        path: "",
        message: "YAML anchors and aliases could not be expanded",
        fix: "write the values out instead of using & anchors and * aliases",
      },
    ]);
  }
  const where = (p: readonly PropertyKey[]) => locate(doc, lines, p);
  const topLevel = topLevelIssue(path, data, where([]));
  if (topLevel !== undefined) throw configError([topLevel]);

  const protoKeys = protoKeyPaths(data, []);
  if (protoKeys.length > 0) {
    throw configError(
      protoKeys.map((p) => ({
        file: path,
        ...where(p),
        path: formatPath(p),
        message: 'the key "__proto__" is not allowed',
        fix: "rename or remove it",
      })),
    );
  }
  const parsed = ConfigSchema.safeParse(data);
  if (!parsed.success) {
    throw configError(parsed.error.issues.flatMap((issue) => zodIssues(issue, path, data, where)));
  }
  const config = parsed.data;
  const place = (w: Warning): ConfigIssue => ({
    file: path,
    ...where(w.path),
    ...w,
    path: formatPath(w.path),
  });
  const warnings = configWarnings(config).map(place);
  const check = storeCheck((issue, root) => zodIssues(issue, path, data, where, root));
  return {
    loaded: loadedConfig(
      path,
      config,
      [...warnings, ...permissionWarnings(path).map(place)],
      check,
    ),
    cacheable: { config, warnings, root: { file: path, ...where([]), path: formatPath([]) } },
  };
}

/** The config in force when there is no file: no declared secrets, no profiles. */
export function emptyConfig(): LoadedConfig {
  return loadedConfig(
    undefined,
    ConfigSchema.parse({ version: 1 }),
    [],
    storeCheck((issue) => [
      {
        file: "store (no config file)",
        path: issue.path.map(String).join("."),
        message: issue.message,
        fix: "write a keyward.yaml with a store: section",
      },
    ]),
  );
}

// Object-building code (zod's records among it) would treat "__proto__" as the prototype
// rather than a key and drop it silently, so it is refused before validation.
function protoKeyPaths(data: unknown, path: PropertyKey[]): PropertyKey[][] {
  if (data === null || typeof data !== "object") return [];
  const found: PropertyKey[][] = [];
  for (const [key, value] of Object.entries(data)) {
    const at = [...path, Array.isArray(data) ? Number(key) : key];
    if (key === "__proto__") found.push(at);
    found.push(...protoKeyPaths(value, at));
  }
  return found;
}

function readConfigText(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new KeywardError(
        "not_found",
        `${path}: no such config file`,
        "create it (see src/config/example.keyward.yaml), or point --config or KEYWARD_CONFIG at an existing file",
      );
    }
    throw new KeywardError(
      "io",
      `${path}: cannot read the config file (${code ?? "unknown error"})`,
      "check that it is a readable file",
    );
  }
}

/** The store: section of a backend that takes no options: `backend:` alone. */
const NO_OPTIONS = z.strictObject({});

type IssueTranslator = (issue: z.core.$ZodIssue, root: z.ZodType) => ConfigIssue[];

/** Checks store: options by the backend's schema; what does not fit is placed by `translate`. */
function storeCheck(translate: IssueTranslator): StoreOptionsCheck {
  return <T>(backendSchema: z.ZodType<T> | undefined, options: Record<string, unknown>): T => {
    const schema = backendSchema ?? (NO_OPTIONS as z.ZodType<T>);
    const parsed = schema.safeParse(options);
    if (parsed.success) return parsed.data;
    // Issues are placed from the config's root, so the section's schema is rooted at store:.
    const root = z.object({ store: schema });
    throw configError(
      parsed.error.issues.flatMap((issue) =>
        translate({ ...issue, path: ["store", ...issue.path] }, root),
      ),
    );
  };
}

// A first line of defence until src/detect owns token formats: prefixes of the credentials
// people most often paste into MCP configs.
const TOKEN_SHAPES: readonly { label: string; pattern: RegExp }[] = [
  {
    label: "a GitHub token",
    pattern: /(?:^|[^A-Za-z0-9])(?:gh[pousr]_|github_pat_)[A-Za-z0-9_]{20,}/,
  },
  { label: "a Slack token", pattern: /(?:^|[^A-Za-z0-9])(?:xox[abeprs]|xapp)-[A-Za-z0-9-]{10,}/ },
  {
    label: "an AWS access key id",
    pattern: /(?:^|[^A-Za-z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![0-9A-Z])/,
  },
  { label: "an API key (sk-…)", pattern: /(?:^|[^A-Za-z0-9])sk-[A-Za-z0-9_-]{20,}/ },
  { label: "a GitLab token", pattern: /(?:^|[^A-Za-z0-9])glpat-[A-Za-z0-9_-]{20,}/ },
  { label: "an npm token", pattern: /(?:^|[^A-Za-z0-9])npm_[A-Za-z0-9]{36}/ },
  { label: "an Atlassian API token", pattern: /(?:^|[^A-Za-z0-9])ATATT[A-Za-z0-9_=-]{20,}/ },
  {
    label: "a Slack webhook url",
    pattern: /hooks\.slack\.com\/services\/T[A-Z0-9]{8,}\/B[A-Z0-9]{8,}\/[A-Za-z0-9]{20,}/,
  },
];

function tokenShape(value: string): string | undefined {
  return TOKEN_SHAPES.find((shape) => shape.pattern.test(value))?.label;
}

function configWarnings(config: KeywardConfig): Warning[] {
  const warnings: Warning[] = [];
  const literal = (path: PropertyKey[], value: string, instead = "map it under env: instead") => {
    const label = tokenShape(value);
    if (label === undefined) return;
    warnings.push({
      path,
      message: `looks like ${label} written into the config`,
      fix: `store it with \`keyward secret set <name>\`, ${instead}, and rotate it: the config file is not a safe place for it`,
    });
  };
  const template = "write {{secret:<name>}} in its place";
  for (const [name, decl] of Object.entries(config.secrets)) {
    const { rotation } = resolveSecretDecl(name, decl);
    if (
      decl.sensitivity === "agent-exposed" &&
      rotation.ttlSeconds > AGENT_EXPOSED_MAX_TTL_SECONDS
    ) {
      warnings.push({
        path: ["secrets", name, "rotation", "ttl"],
        message: "an agent-exposed secret should be short-lived, this one lives longer than a day",
        fix: "shorten rotation.ttl (the default for agent-exposed is 1h), or lower the sensitivity if no agent can reach it",
      });
    }
  }
  for (const [profileName, profile] of Object.entries(config.profiles)) {
    for (const [variable, secret] of storeEnv(profile)) {
      if (!Object.hasOwn(config.secrets, secret)) {
        warnings.push({
          path: ["profiles", profileName, "env", variable],
          message: `secret ${secret} is not declared under secrets:`,
          fix: `declare ${secret} under secrets: (sensitivity, scope, rotation); until then keyward uses the metadata kept in the store`,
        });
      }
    }
    for (const [variable, value] of Object.entries(profile.setEnv)) {
      literal(["profiles", profileName, "setEnv", variable], value);
    }
    profile.args.forEach((arg, i) => {
      literal(["profiles", profileName, "args", i], arg);
    });
    for (const [header, value] of Object.entries(profile.headers ?? {})) {
      literal(["profiles", profileName, "headers", header], value, template);
    }
  }
  config.notifications.forEach((target, i) => {
    if (target.url !== undefined) literal(["notifications", i, "url"], target.url, template);
    for (const [header, value] of Object.entries(target.headers ?? {})) {
      literal(["notifications", i, "headers", header], value, template);
    }
  });
  return warnings;
}
