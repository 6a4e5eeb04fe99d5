/**
 * The last valid config files (one per path, the most recent few), as validated, kept in
 * `<home>/config-cache.json` and keyed by the file's path, the SHA-256 of its text and this
 * build of keyward. A hit skips the YAML parser and
 * the zod schema, which are most of what a command loads before it starts working; a miss, and so
 * every invalid file, goes through src/config/load.ts as before, with the same errors.
 *
 * Kept only for what the fast path needs and nothing that could differ: a config without
 * warnings (so no token pasted into it is copied here) and with the default store, which takes no
 * options. The file is private (0600 in the 0700 home) and ignored unless it is.
 */
import { createHash } from "node:crypto";
import {
  closeSync,
  existsSync,
  fstatSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DEFAULT_BACKEND } from "../store/backends.js";
import type { ValidatedConfig } from "./load.js";
import { type LoadedConfig, loadedConfig, permissionWarnings } from "./loaded.js";
import type { KeywardConfig } from "./schema.js";

export const CONFIG_CACHE_FILE = "config-cache.json";
/** Config files kept: enough for the few a user switches between (--config, per project). */
const MAX_ENTRIES = 8;

interface Entry {
  key: string;
  /** The config file's path: a newer entry for it replaces this one. */
  path: string;
  config: KeywardConfig;
  root: ValidatedConfig["cacheable"]["root"];
}

/** This build of keyward: the module's file is rewritten by every build (tsc, the bundle). */
function build(): string {
  const self = fileURLToPath(import.meta.url);
  const { size, mtimeMs } = statSync(self);
  return `${self}:${size}:${mtimeMs}`;
}

export class ConfigCache {
  /** The config file's text; undefined when it cannot be read (load.ts says why). */
  readonly text: string | undefined;
  private readonly file: string;
  private readonly key: string | undefined;

  constructor(
    private readonly home: string,
    private readonly path: string,
  ) {
    this.file = join(home, CONFIG_CACHE_FILE);
    try {
      this.text = readFileSync(path, "utf8");
    } catch {
      this.text = undefined;
    }
    this.key =
      this.text === undefined
        ? undefined
        : createHash("sha256")
            .update(JSON.stringify([build(), path, this.text]))
            .digest("hex");
  }

  /** The config, when the cache holds this text's. */
  hit(): LoadedConfig | undefined {
    const entry = this.read().find((e) => e.key === this.key);
    if (entry === undefined) return undefined;
    const { root } = entry;
    const warnings = permissionWarnings(this.path).map((w) => ({ ...root, ...w, path: root.path }));
    // Only the default store is cached (save), whose options are empty: its schema, if any, sees {}.
    return loadedConfig(this.path, entry.config, warnings, (schema) =>
      schema === undefined ? ({} as never) : schema.parse({}),
    );
  }

  /** Keeps a config just validated from this text, if it is one the cache keeps. */
  async save({ config, warnings, root }: ValidatedConfig["cacheable"]): Promise<void> {
    const { backend, ...options } = config.store;
    if (this.key === undefined || this.text === undefined || warnings.length > 0) return;
    if (backend !== DEFAULT_BACKEND || Object.keys(options).length > 0) return;
    if (!existsSync(this.home)) return;
    // The config warnings look for tokens only where a server gets them (args, setEnv); a token
    // written anywhere else (a header, a webhook url) must not gain a second copy here either.
    // Loaded only on a miss, which validates the file anyway.
    const { scanText } = await import("../detect/scan.js");
    if (scanText(this.text).length > 0) return;
    const entry: Entry = { key: this.key, path: this.path, config, root };
    // Newest first; an older entry for the same file (another text or build) is dropped.
    const entries = [entry, ...this.read().filter((e) => e.path !== this.path)].slice(
      0,
      MAX_ENTRIES,
    );
    const temp = `${this.file}.${process.pid}.tmp`;
    try {
      writeFileSync(temp, JSON.stringify(entries), { mode: 0o600, flag: "wx" });
      renameSync(temp, this.file);
    } catch {
      // Best effort: without the cache the next command validates the file again.
    }
  }

  private read(): Entry[] {
    let fd: number;
    try {
      fd = openSync(this.file, "r");
    } catch {
      return [];
    }
    try {
      const st = fstatSync(fd);
      // Anyone else able to write it could choose the config (the program `keyward run` starts).
      if ((st.mode & 0o077) !== 0 || st.uid !== process.getuid?.()) return [];
      const entries: unknown = JSON.parse(readFileSync(fd, "utf8"));
      // An older keyward kept one entry, not a list: it misses, and the next save replaces it.
      return Array.isArray(entries) ? (entries as Entry[]) : [];
    } catch {
      return [];
    } finally {
      closeSync(fd);
    }
  }
}
