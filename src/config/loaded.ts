/**
 * A validated config as commands use it. Free of yaml and zod, so that a config read from the
 * cache (src/config/cache.ts) is used without loading either; src/config/load.ts validates.
 */
import { statSync } from "node:fs";
import type * as z from "zod";
import { KeywardError } from "../core/errors.js";
import { type ResolvedSecretDecl, resolveSecretDecl } from "./decl.js";
import type { KeywardConfig, ProfileConfig } from "./schema.js";
import { didYouMean } from "./suggest.js";

export interface ConfigIssue {
  file: string;
  /** 1-based, when the problem can be placed in the file. */
  line?: number;
  column?: number;
  /** Dotted path in the file (`profiles.github.env.GITHUB_TOKEN`); empty for the whole file. */
  path: string;
  message: string;
  fix: string;
}

/** `file:line:col: path: message`, the shape editors and terminals turn into links. */
export function formatIssue(issue: ConfigIssue): string {
  const where =
    issue.line === undefined
      ? issue.file
      : `${issue.file}:${issue.line}${issue.column === undefined ? "" : `:${issue.column}`}`;
  return issue.path === ""
    ? `${where}: ${issue.message}`
    : `${where}: ${issue.path}: ${issue.message}`;
}

export interface LoadedConfig {
  /** The file it came from; undefined for emptyConfig(). */
  path: string | undefined;
  config: KeywardConfig;
  /** Declared secrets by name, defaults applied, durations in seconds. */
  secrets: ReadonlyMap<string, ResolvedSecretDecl>;
  /** Problems that do not stop keyward; the CLI prints them on stderr. */
  warnings: readonly ConfigIssue[];
  /** The declaration of a secret, or undefined when the config does not declare it. */
  secretDecl(name: string): ResolvedSecretDecl | undefined;
  /** A profile by name; a not_found error (with a suggestion) when there is none. */
  profile(name: string): ProfileConfig;
  /**
   * The `store:` options (all but `backend`) checked by the backend's own schema, which is only
   * loaded with the backend (none: the backend takes no options); a ConfigError naming file,
   * line and fix when they do not fit.
   */
  storeOptions<T>(schema: z.ZodType<T> | undefined): T;
}

/** Checks the store: options (all but `backend`) against the backend's schema, if it has one. */
export type StoreOptionsCheck = <T>(
  schema: z.ZodType<T> | undefined,
  options: Record<string, unknown>,
) => T;

export function loadedConfig(
  path: string | undefined,
  config: KeywardConfig,
  warnings: readonly ConfigIssue[],
  checkStore: StoreOptionsCheck,
): LoadedConfig {
  const secrets = new Map(
    Object.entries(config.secrets).map(([name, decl]) => [name, resolveSecretDecl(name, decl)]),
  );
  return {
    path,
    config,
    secrets,
    warnings,
    secretDecl: (name) => secrets.get(name),
    storeOptions<T>(schema: z.ZodType<T> | undefined): T {
      const { backend: _backend, ...options } = config.store;
      return checkStore(schema, options);
    },
    profile(name) {
      const profile = Object.hasOwn(config.profiles, name) ? config.profiles[name] : undefined;
      if (profile !== undefined) return profile;
      const names = Object.keys(config.profiles);
      const suggestion = didYouMean(name, names);
      throw new KeywardError(
        "not_found",
        `no profile named ${JSON.stringify(name)} in ${path ?? "the config (there is no config file)"}`,
        suggestion !== undefined
          ? `did you mean ${suggestion}?`
          : names.length > 0
            ? `use one of ${names.join(", ")}, or add it under profiles:`
            : "add it under profiles: in keyward.yaml (see src/config/example.keyward.yaml)",
      );
    },
  };
}

export interface Warning {
  path: PropertyKey[];
  message: string;
  fix: string;
}

export function permissionWarnings(path: string): Warning[] {
  if (process.platform === "win32") return [];
  const mode = statSync(path).mode & 0o777;
  if ((mode & 0o022) === 0) return [];
  return [
    {
      path: [],
      message: `the config file can be changed by group or others (mode ${mode.toString(8)}), so they can choose which program receives your secrets`,
      fix: `chmod go-w ${path}`,
    },
  ];
}
