/**
 * Finding the config file, apart from loading it: this needs neither the YAML parser nor the zod
 * schema, so commands run without a config file never load them (src/config/load.ts does).
 */
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { KeywardError } from "../core/errors.js";

export const CONFIG_FILE_NAMES = ["keyward.yaml", "keyward.yml", "keyward.json"] as const;
export const HOME_CONFIG_FILE_NAME = "config.yaml";

/**
 * The config file to use, first match wins: `explicit` (--config), KEYWARD_CONFIG,
 * keyward.yaml / keyward.yml / keyward.json in `cwd`, then config.yaml in `home` (keyward's
 * home folder, KEYWARD_HOME). Explicit and KEYWARD_CONFIG paths are returned whether or not
 * they exist, so that loading them reports the missing file instead of silently falling back.
 */
export function findConfigPath(opts: {
  explicit?: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  home: string;
}): string | undefined {
  if (opts.explicit !== undefined && opts.explicit !== "") return resolve(opts.cwd, opts.explicit);
  const fromEnv = opts.env.KEYWARD_CONFIG;
  if (fromEnv !== undefined && fromEnv !== "") return resolve(opts.cwd, fromEnv);
  const here = CONFIG_FILE_NAMES.map((name) => join(opts.cwd, name)).filter((p) => existsSync(p));
  if (here.length > 1) {
    throw new KeywardError(
      "config_invalid",
      `${opts.cwd}: found ${here.length} config files (${here.map((p) => p.slice(opts.cwd.length + 1)).join(", ")})`,
      "keep one of them, or choose one with --config <file>",
    );
  }
  if (here[0] !== undefined) return here[0];
  const inHome = join(opts.home, HOME_CONFIG_FILE_NAME);
  return existsSync(inHome) ? inHome : undefined;
}
