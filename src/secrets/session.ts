import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import type { z } from "zod";
import { AccessLog, type Actor, currentActor, LOG_FILE } from "../accesslog/log.js";
import { ConfigCache } from "../config/cache.js";
import { findConfigPath } from "../config/find.js";
import { formatIssue, type LoadedConfig } from "../config/loaded.js";
import { KeywardError } from "../core/errors.js";
import {
  Envelope,
  type KeyHeader,
  type MasterKeySourceKind,
  newStoreId,
} from "../crypto/envelope.js";
import {
  describeSources,
  type MasterKeyOptions,
  newMasterKey,
  resolveMasterKey,
  type SourceStatus,
} from "../crypto/masterkey.js";
import { type BackendFacts, withKeyCustody } from "../store/backend.js";
import { type AnyBackend, BACKEND_NAMES, DEFAULT_BACKEND, loadBackend } from "../store/backends.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import { KeyHeaderFile } from "../store/key-header-file.js";
import { keyWrappers } from "../store/key-wrappers.js";
import type { SecretStore } from "../store/types.js";

export { keywardHome } from "./home.js";

export interface SessionOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  prompt?: MasterKeyOptions["prompt"];
  /** An explicit --config path. */
  configPath?: string;
  cwd: string;
  /** The command words for the access log's actor ("secret get"). */
  command: string;
  /** The MCP profile acting, for `keyward run`. */
  profile?: string;
}

/**
 * What holds the master key's header: the store itself when it encrypts on the client (sqlite,
 * postgres), else `<home>/key-header.json` (the managers, whose values are encrypted server-side;
 * keyward's access log is still sealed under the master key).
 */
export interface KeyHolder {
  keyHeader(): KeyHeader;
  /** Rewraps every data key under a new master key; returns how many were rewrapped. */
  rekey(newHeader: KeyHeader, rewrap: (wrapped: Buffer, aad: string) => Buffer): Promise<number>;
}

/** An unlocked keyward home: the store, its access log, the config and who is acting. */
export class Session {
  private constructor(
    readonly home: string,
    readonly store: SecretStore,
    readonly keys: KeyHolder,
    readonly backend: { name: string; facts: BackendFacts },
    readonly log: AccessLog,
    readonly envelope: Envelope,
    readonly config: LoadedConfig | undefined,
    readonly actor: Actor,
    readonly keySource: { source: MasterKeySourceKind; label: string },
    readonly warnings: string[],
  ) {}

  /**
   * `keyward init`: a new master key, the store (or, for a manager, its key header file) and the
   * access log. A team store that already holds a key header (postgres) is joined instead: this
   * host's master key must open it, and only the local access log is created.
   */
  static async init(opts: SessionOptions, requested?: MasterKeySourceKind): Promise<Session> {
    if (existsSync(join(opts.home, LOG_FILE))) throw alreadyInitialized(opts.home);
    const config = await loadOptionalConfig(opts);
    const { backend, options } = await configuredBackend(config);
    const ctx = { home: opts.home, env: opts.env };
    const shared = await backend.readHeader?.(options, ctx);
    if (shared !== undefined && !backend.shared) throw alreadyInitialized(opts.home);
    if (shared !== undefined) {
      ensurePrivateDir(opts.home);
      return Session.open(opts, { allowNoLog: true });
    }
    // The key first: a KMS that cannot be reached leaves nothing behind, not even the folder.
    const storeId = newStoreId();
    const master = await newMasterKey(requested, masterKeyOptions(opts, config), storeId);
    ensurePrivateDir(opts.home);
    const { envelope, header } = Envelope.create(master.key, master.kind, master.source, {
      storeId,
      ...(master.kdf ? { kdf: master.kdf } : {}),
      ...(master.wrapped ? { wrapped: master.wrapped } : {}),
    });
    const unlock = async () => envelope;
    let store: SecretStore;
    let keys: KeyHolder;
    if (backend.create) {
      master.persist(header.storeId);
      const created = (await backend.create(options, { ...ctx, unlock }, envelope, header)) as
        | (SecretStore & KeyHolder)
        | SecretStore;
      store = created;
      keys = created as SecretStore & KeyHolder;
    } else {
      // The manager is reached before anything is written, so bad credentials leave no half-made home.
      store = await backend.open(options, { ...ctx, unlock });
      master.persist(header.storeId);
      keys = KeyHeaderFile.create(opts.home, header);
    }
    const log = AccessLog.create(opts.home, envelope);
    const actor = currentActor(opts.command, opts.profile);
    log.append({
      actor,
      action: "init",
      outcome: "ok",
      detail: `key source ${master.source}, store ${backend.name}`,
    });
    const keySource = { source: master.source, label: master.label };
    return new Session(
      opts.home,
      store,
      keys,
      { name: backend.name, facts: withKeyCustody(backend.facts(options, ctx), header) },
      log,
      envelope,
      config,
      actor,
      keySource,
      [...master.warnings, ...configWarnings(config)],
    );
  }

  static async open(
    opts: SessionOptions,
    internal: { allowNoLog?: boolean } = {},
  ): Promise<Session> {
    const config = await loadOptionalConfig(opts);
    const { backend, options } = await configuredBackend(config);
    let resolved: Awaited<ReturnType<typeof resolveMasterKey>> | undefined;
    let unlocked: Envelope | undefined;
    const unlock = async (header: KeyHeader) => {
      resolved = await resolveMasterKey(header, masterKeyOptions(opts, config));
      unlocked = Envelope.unlock(resolved.key, header, resolved.label);
      return unlocked;
    };
    const ctx = { home: opts.home, env: opts.env, unlock };
    let store: SecretStore;
    let keys: KeyHolder;
    if (backend.create) {
      store = await backend.open(options, ctx);
      keys = store as SecretStore & KeyHolder;
    } else {
      const file = KeyHeaderFile.open(opts.home);
      if (file === undefined) throw notInitialized(opts.home, backend.name);
      await unlock(file.keyHeader());
      store = await backend.open(options, ctx);
      keys = file;
    }
    const envelope = unlocked!;
    let log: AccessLog;
    if (internal.allowNoLog && !existsSync(join(opts.home, LOG_FILE))) {
      log = AccessLog.create(opts.home, envelope);
    } else {
      log = AccessLog.open(opts.home, envelope);
    }
    const key = resolved!;
    // Only where the key came from: the key itself stays in the envelope.
    const keySource = { source: key.source, label: key.label };
    return new Session(
      opts.home,
      store,
      keys,
      { name: backend.name, facts: withKeyCustody(backend.facts(options, ctx), keys.keyHeader()) },
      log,
      envelope,
      config,
      currentActor(opts.command, opts.profile),
      keySource,
      [...key.warnings, ...configWarnings(config)],
    );
  }

  async close(): Promise<void> {
    this.log.close();
    await this.store.close();
  }
}

/**
 * Opens another store beside the session's own, for `keyward store migrate`: `spec` is a backend
 * name (its options are the active config's store: section, which must name that backend, or it
 * must need none, as sqlite) or the path of a config file whose store: section describes it.
 * A client-side-encrypting store that does not exist yet is created under this home's master
 * key; a manager gets this home's key header file, so the config can be switched to it.
 */
export async function openStoreSpec(
  session: Session,
  spec: string,
  opts: SessionOptions,
): Promise<{ store: SecretStore; backend: string; created: boolean }> {
  const isName = BACKEND_NAMES.includes(spec);
  const { emptyConfig, loadConfig } = await import("../config/load.js");
  let config: LoadedConfig;
  if (isName) {
    const active = session.config ?? emptyConfig();
    config = active.config.store.backend === spec ? active : specConfig(emptyConfig(), spec);
  } else {
    config = loadConfig(resolve(opts.cwd, spec));
  }
  const { backend, options } = await configuredBackend(config);
  const ctx = {
    home: opts.home,
    env: opts.env,
    unlock: async (header: KeyHeader) => {
      const own = session.keys.keyHeader();
      if (header.check === own.check && header.kekSalt === own.kekSalt) return session.envelope;
      const key = await resolveMasterKey(header, masterKeyOptions(opts, config));
      return Envelope.unlock(key.key, header, key.label);
    },
  };
  if (backend.create) {
    const existing = await backend.readHeader?.(options, ctx);
    if (existing === undefined) {
      const store = await backend.create(options, ctx, session.envelope, session.keys.keyHeader());
      return { store, backend: backend.name, created: true };
    }
    return { store: await backend.open(options, ctx), backend: backend.name, created: false };
  }
  const store = await backend.open(options, ctx);
  if (KeyHeaderFile.read(opts.home) === undefined)
    KeyHeaderFile.create(opts.home, session.keys.keyHeader());
  return { store, backend: backend.name, created: false };
}

/** A config holding only `store: { backend }`, for a backend named on the command line. */
function specConfig(config: LoadedConfig, backend: string): LoadedConfig {
  const store = { backend };
  return {
    ...config,
    config: { ...config.config, store },
    storeOptions: <T>(schema: z.ZodType<T> | undefined): T => {
      if (schema === undefined) return {} as T;
      const parsed = schema.safeParse({});
      if (parsed.success) return parsed.data;
      throw new KeywardError(
        "usage",
        `the ${backend} store needs options that the command line cannot give`,
        `write them in a config file's store: section (docs/backends/${backend}.md) and pass that file instead of "${backend}"`,
      );
    },
  };
}

/** The configured backend (sqlite without a config) and its options, checked by its schema. */
export async function configuredBackend(
  config: LoadedConfig | undefined,
): Promise<{ backend: AnyBackend; options: unknown }> {
  const backend = await loadBackend(config?.config.store.backend ?? DEFAULT_BACKEND);
  // No config file: the default backend, which takes no options, so there is nothing to check.
  return { backend, options: config === undefined ? {} : config.storeOptions(backend.options) };
}

/**
 * The master key's header without unlocking it, wherever the configured backend keeps it;
 * undefined when the home is not initialised.
 */
async function headerOf(
  opts: SessionOptions,
  config: LoadedConfig | undefined,
): Promise<KeyHeader | undefined> {
  if (!isInitialized(opts.home)) return undefined;
  const { backend, options } = await configuredBackend(config);
  if (backend.readHeader) return backend.readHeader(options, { home: opts.home, env: opts.env });
  return KeyHeaderFile.read(opts.home);
}

/** Where master keys are looked for: the home, the environment, the prompt and the config's KMS. */
export function masterKeyOptions(
  opts: Pick<SessionOptions, "home" | "env" | "prompt">,
  config: LoadedConfig | undefined,
): MasterKeyOptions {
  return {
    home: opts.home,
    env: opts.env,
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
    kms: keyWrappers(config?.config.masterKey, opts.env),
  };
}

/** `keyward status` before unlocking: the key header (if initialised) and every key source. */
export async function keySources(
  opts: SessionOptions,
): Promise<{ header: KeyHeader | undefined; sources: SourceStatus[] }> {
  const config = await loadOptionalConfig(opts);
  const header = await headerOf(opts, config);
  return { header, sources: await describeSources(header, masterKeyOptions(opts, config)) };
}

/** Whether `home` holds a keyward home (every initialised home has its access log). */
export function isInitialized(home: string): boolean {
  return existsSync(join(home, LOG_FILE));
}

function alreadyInitialized(home: string): KeywardError {
  return new KeywardError(
    "already_initialized",
    `a keyward store already exists in ${home}`,
    "use it as it is, or `keyward rekey` to change its master key",
  );
}

function notInitialized(home: string, backend: string): KeywardError {
  return new KeywardError(
    "not_initialized",
    `there is no keyward home for the ${backend} store in ${home}`,
    "run `keyward init` to create one (or set KEYWARD_HOME to the folder that holds it)",
  );
}

function configWarnings(config: LoadedConfig | undefined): string[] {
  return config === undefined ? [] : config.warnings.map(formatIssue);
}

/**
 * The config file, if there is one: from the cache when this text was validated before, else
 * validated (the YAML parser and the schema load only then) and cached.
 */
async function loadOptionalConfig(opts: SessionOptions): Promise<LoadedConfig | undefined> {
  const path = findConfigPath({
    explicit: opts.configPath,
    env: opts.env,
    cwd: opts.cwd,
    home: opts.home,
  });
  if (path === undefined) return undefined;
  const cache = new ConfigCache(opts.home, path);
  const hit = cache.hit();
  if (hit !== undefined) return hit;
  const { loadConfig, validateConfig } = await import("../config/load.js");
  if (cache.text === undefined) return loadConfig(path);
  const validated = validateConfig(path, cache.text);
  await cache.save(validated.cacheable);
  return validated.loaded;
}
