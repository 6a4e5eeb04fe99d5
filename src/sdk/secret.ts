import { inspect } from "node:util";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import { currentVersion } from "../core/types.js";
import { SECRET_MAP_VAR } from "../run/env.js";
import { SecretService } from "../secrets/service.js";
import { isInitialized, keywardHome, Session } from "../secrets/session.js";
import { learnSecret } from "./scrub.js";

/** Where a handle's value comes from: a variable `keyward run` set, or the keyward store itself. */
export type SecretSource = "env" | "store";

export interface SecretOptions {
  /**
   * The variable holding the value. Under `keyward run` it is found in KEYWARD_SECRET_MAP, so
   * this is only needed when the profile maps the secret under another name; outside
   * `keyward run` and with no keyward store, the value is read from this variable (development).
   */
  env?: string;
  /** Standalone mode: poll the store and switch to a new current version (default true). */
  followRotation?: boolean;
  /** Standalone mode: how often the store is polled, in milliseconds (default 1000). */
  pollMs?: number;
  /** The environment to read (default process.env): the master key source, KEYWARD_HOME, the variables. */
  processEnv?: NodeJS.ProcessEnv;
  /** Where a keyward.yaml is looked for (default process.cwd()). */
  cwd?: string;
}

export interface RotatedEvent {
  name: string;
  version: number;
}

export interface RevokedEvent {
  name: string;
  /** Why, e.g. "version 3 disabled"; never a value. */
  reason: string;
}

interface SecretEvents {
  rotated: RotatedEvent;
  revoked: RevokedEvent;
  /** Following the store failed once (it is retried at the next poll). */
  error: Error;
}

/**
 * A secret by name. The value is only ever returned by `value()`: printing, logging, inspecting,
 * JSON-serialising or interpolating the handle gives `[secret <name>]`.
 */
export interface SecretHandle {
  readonly name: string;
  readonly source: SecretSource;
  /** The variable the value was read from (source "env"). */
  readonly envVar: string | undefined;
  /** The current value; throws KeywardError("disabled") once the secret was revoked. */
  value(): string;
  /** The store version in use (source "store"); undefined for a variable. */
  version(): number | undefined;
  on<E extends keyof SecretEvents>(event: E, listener: (e: SecretEvents[E]) => void): this;
  off<E extends keyof SecretEvents>(event: E, listener: (e: SecretEvents[E]) => void): this;
  /** Stops following the store and releases it when no other handle uses it. */
  close(): Promise<void>;
  toString(): string;
  toJSON(): string;
}

type Listener = (e: never) => void;

class Handle implements SecretHandle {
  readonly #listeners = new Map<keyof SecretEvents, Set<Listener>>();
  #value: string;
  #version: number | undefined;
  #revoked: string | undefined;
  #stop: (() => Promise<void>) | undefined;

  constructor(
    readonly name: string,
    readonly source: SecretSource,
    readonly envVar: string | undefined,
    value: string,
    version: number | undefined,
  ) {
    this.#value = value;
    this.#version = version;
    learnSecret(name, value);
  }

  value(): string {
    if (this.#revoked !== undefined) {
      throw new KeywardError(
        "disabled",
        `${this.name} was revoked: ${this.#revoked}`,
        `set a new current version (keyward secret set ${this.name}) or rotate it (keyward rotate ${this.name})`,
      );
    }
    return this.#value;
  }

  version(): number | undefined {
    return this.#version;
  }

  on<E extends keyof SecretEvents>(event: E, listener: (e: SecretEvents[E]) => void): this {
    const set = this.#listeners.get(event) ?? new Set<Listener>();
    set.add(listener as Listener);
    this.#listeners.set(event, set);
    return this;
  }

  off<E extends keyof SecretEvents>(event: E, listener: (e: SecretEvents[E]) => void): this {
    this.#listeners.get(event)?.delete(listener as Listener);
    return this;
  }

  async close(): Promise<void> {
    const stop = this.#stop;
    this.#stop = undefined;
    await stop?.();
  }

  toString(): string {
    return `[secret ${this.name}]`;
  }

  toJSON(): string {
    return this.toString();
  }

  [Symbol.toPrimitive](): string {
    return this.toString();
  }

  [inspect.custom](): string {
    return this.toString();
  }

  /** @internal The store follower's hooks. */
  followWith(stop: () => Promise<void>): void {
    this.#stop = stop;
  }

  /** @internal */
  rotate(value: string, version: number): void {
    learnSecret(this.name, value);
    this.#value = value;
    this.#version = version;
    this.#revoked = undefined;
    this.emit("rotated", { name: this.name, version });
  }

  /** @internal */
  revoke(reason: string): void {
    if (this.#revoked === reason) return;
    this.#revoked = reason;
    this.emit("revoked", { name: this.name, reason });
  }

  /** @internal */
  emit<E extends keyof SecretEvents>(event: E, payload: SecretEvents[E]): void {
    for (const listener of this.#listeners.get(event) ?? []) {
      (listener as (e: SecretEvents[E]) => void)(payload);
    }
  }
}

export function isSecretHandle(x: unknown): x is SecretHandle {
  return x instanceof Handle;
}

/** KEYWARD_SECRET_MAP (src/run/env.ts): `VAR=secret-name` pairs, comma-separated; names only. */
export function parseSecretMap(text: string | undefined): Map<string, string> | undefined {
  if (text === undefined) return undefined;
  const varBySecret = new Map<string, string>();
  for (const pair of text.split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) varBySecret.set(pair.slice(at + 1), pair.slice(0, at));
  }
  return varBySecret;
}

/**
 * A handle on a secret, by name.
 *
 * - Under `keyward run` (KEYWARD_SECRET_MAP is set) the value is the variable the profile maps the
 *   secret to. A rotation restarts the server, so the handle never changes.
 * - Otherwise, when a keyward store exists (KEYWARD_HOME, else ~/.keyward), it is opened with this
 *   process's master key source (KEYWARD_MASTER_KEY, KEYWARD_KEY_FILE, KEYWARD_PASSPHRASE or the OS
 *   keyring; never a prompt: stdin is the MCP transport) and the current version read, logged in
 *   the access log. The store is then polled: a new current version replaces the value and fires
 *   "rotated"; a disabled or deleted one fires "revoked" and makes `value()` throw.
 * - Otherwise `opts.env`, when set, is read as a plain variable.
 *
 * Throws KeywardError naming where it looked, never a value.
 */
export async function secret(name: string, opts: SecretOptions = {}): Promise<SecretHandle> {
  parseSecretName(name);
  const env = opts.processEnv ?? process.env;
  const map = parseSecretMap(env[SECRET_MAP_VAR]);
  if (map !== undefined) return fromKeywardRun(name, map, env, opts.env);

  const home = keywardHome(env);
  if (isInitialized(home)) return fromStore(name, home, env, opts);

  if (opts.env !== undefined && env[opts.env]) {
    return new Handle(name, "env", opts.env, env[opts.env]!, undefined);
  }
  throw new KeywardError(
    "not_found",
    `${name} is not available: this process is not run by keyward run (no ${SECRET_MAP_VAR}), there is no keyward store at ${home}${opts.env === undefined ? "" : `, and ${opts.env} is not set`}`,
    `start the server with \`keyward run <profile>\` (profile env: { VAR: ${name} }), or create a store (keyward init; keyward secret set ${name}) and give this process its master key (KEYWARD_MASTER_KEY, KEYWARD_KEY_FILE or the OS keyring)`,
  );
}

function fromKeywardRun(
  name: string,
  map: Map<string, string>,
  env: NodeJS.ProcessEnv,
  explicitVar: string | undefined,
): SecretHandle {
  const envVar = map.get(name) ?? explicitVar;
  if (envVar === undefined) {
    const injected = [...map.keys()];
    throw new KeywardError(
      "not_found",
      `${name} is not injected into this server: its keyward run profile maps ${injected.length ? injected.join(", ") : "no secrets"}`,
      `add it to the profile in keyward.yaml: env: { <VARIABLE>: ${name} }`,
    );
  }
  const value = env[envVar];
  if (!value) {
    throw new KeywardError(
      "not_found",
      `${name} is not available: ${envVar} is not set in this server's environment`,
      `map it in the keyward run profile: env: { ${envVar}: ${name} }`,
    );
  }
  return new Handle(name, "env", envVar, value, undefined);
}

async function fromStore(
  name: string,
  home: string,
  env: NodeJS.ProcessEnv,
  opts: SecretOptions,
): Promise<SecretHandle> {
  const session = await acquireSession(home, env, opts.cwd ?? process.cwd());
  let handle: Handle;
  try {
    const read = await new SecretService(session).get(name);
    handle = new Handle(name, "store", undefined, read.value, read.version.version);
  } catch (e) {
    await releaseSession(home);
    throw inStore(e, name, home);
  }
  if (opts.followRotation === false) {
    await releaseSession(home);
    return handle;
  }
  const timer = setInterval(() => void follow(session, handle), opts.pollMs ?? 1000);
  timer.unref();
  handle.followWith(async () => {
    clearInterval(timer);
    await releaseSession(home);
  });
  return handle;
}

/** Handles with a poll in flight: a slow read is not overlapped by the next tick. */
const polling = new WeakSet<Handle>();

/**
 * One poll: reads only the record's metadata (no access-log entry); the value is read, and
 * logged, only when a new version became current. Mirrors src/run/follow.ts.
 */
async function follow(session: Session, handle: Handle): Promise<void> {
  if (polling.has(handle)) return;
  polling.add(handle);
  try {
    const record = await session.store.get(handle.name);
    const current = record === undefined ? undefined : currentVersion(record);
    if (record === undefined) handle.revoke(`${handle.name} was deleted`);
    else if (current === undefined) handle.revoke(`${handle.name} has no current version`);
    else if (current.state !== "enabled" || current.compromised) {
      handle.revoke(
        current.compromised ? "marked compromised" : `version ${current.version} ${current.state}`,
      );
    } else if (current.version !== handle.version()) {
      const read = await new SecretService(session).get(handle.name);
      handle.rotate(read.value, read.version.version);
    }
  } catch (e) {
    handle.emit("error", e instanceof Error ? e : new Error(String(e)));
  } finally {
    polling.delete(handle);
  }
}

/** A store error, saying which store it came from. */
function inStore(e: unknown, name: string, home: string): unknown {
  if (!isKeywardError(e)) return e;
  return new KeywardError(
    e.code,
    `cannot read ${name} from the keyward store at ${home}: ${e.message}`,
    e.fix,
  );
}

/**
 * Handles of one process share one open store per home (one SQLite connection, one master-key
 * unlock), closed with the last handle.
 */
const sessions = new Map<string, { session: Promise<Session>; users: number }>();

async function acquireSession(home: string, env: NodeJS.ProcessEnv, cwd: string): Promise<Session> {
  let entry = sessions.get(home);
  if (entry === undefined) {
    const session = Session.open({ home, env, cwd, command: "sdk" });
    entry = { session, users: 0 };
    sessions.set(home, entry);
    session.catch(() => sessions.delete(home));
  }
  entry.users++;
  try {
    return await entry.session;
  } catch (e) {
    throw inStore(e, "secrets", home);
  }
}

async function releaseSession(home: string): Promise<void> {
  const entry = sessions.get(home);
  if (entry === undefined) return;
  entry.users--;
  if (entry.users > 0) return;
  sessions.delete(home);
  await (await entry.session).close();
}
