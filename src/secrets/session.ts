import { AccessLog, type Actor, currentActor } from "../accesslog/log.js";
import { findConfigPath, formatIssue, type LoadedConfig, loadConfig } from "../config/load.js";
import { KeywardError } from "../core/errors.js";
import { Envelope, type KeyHeader, type MasterKeySourceKind } from "../crypto/envelope.js";
import { type MasterKeyOptions, newMasterKey, resolveMasterKey } from "../crypto/masterkey.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import { SqliteStore } from "../store/sqlite.js";

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

/** An unlocked keyward home: the store, its access log, the config and who is acting. */
export class Session {
  private constructor(
    readonly home: string,
    readonly store: SqliteStore,
    readonly log: AccessLog,
    readonly envelope: Envelope,
    readonly config: LoadedConfig | undefined,
    readonly actor: Actor,
    readonly keySource: { source: MasterKeySourceKind; label: string },
    readonly warnings: string[],
  ) {}

  static async init(opts: SessionOptions, requested?: MasterKeySourceKind): Promise<Session> {
    const keyOpts = { home: opts.home, env: opts.env, prompt: opts.prompt };
    if (SqliteStore.readHeader(opts.home)) {
      throw new KeywardError(
        "already_initialized",
        `a keyward store already exists in ${opts.home}`,
        "use it as it is, or `keyward rekey` to change its master key",
      );
    }
    ensurePrivateDir(opts.home);
    const master = await newMasterKey(requested, keyOpts);
    const { envelope, header } = Envelope.create(
      master.key,
      master.kind,
      master.source,
      master.kdf ? { kdf: master.kdf } : {},
    );
    master.persist(header.storeId);
    const store = SqliteStore.create(opts.home, envelope, header);
    const log = AccessLog.create(opts.home, envelope);
    const actor = currentActor(opts.command, opts.profile);
    log.append({ actor, action: "init", outcome: "ok", detail: `key source ${master.source}` });
    const config = loadOptionalConfig(opts);
    const keySource = { source: master.source, label: master.label };
    return new Session(opts.home, store, log, envelope, config, actor, keySource, [
      ...master.warnings,
      ...configWarnings(config),
    ]);
  }

  static async open(opts: SessionOptions): Promise<Session> {
    let resolved: Awaited<ReturnType<typeof resolveMasterKey>> | undefined;
    let unlocked: Envelope | undefined;
    const store = await SqliteStore.open(opts.home, async (header: KeyHeader) => {
      resolved = await resolveMasterKey(header, {
        home: opts.home,
        env: opts.env,
        prompt: opts.prompt,
      });
      unlocked = Envelope.unlock(resolved.key, header, resolved.label);
      return unlocked;
    });
    const envelope = unlocked!;
    const log = AccessLog.open(opts.home, envelope);
    const key = resolved!;
    const config = loadOptionalConfig(opts);
    // Only where the key came from: the key itself stays in the envelope.
    const keySource = { source: key.source, label: key.label };
    return new Session(
      opts.home,
      store,
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

function configWarnings(config: LoadedConfig | undefined): string[] {
  return config ? config.warnings.map(formatIssue) : [];
}

function loadOptionalConfig(opts: SessionOptions): LoadedConfig | undefined {
  const path = findConfigPath({
    explicit: opts.configPath,
    env: opts.env,
    cwd: opts.cwd,
    home: opts.home,
  });
  if (path === undefined) return undefined;
  return loadConfig(path);
}
