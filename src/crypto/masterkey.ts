import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeywardError } from "../core/errors.js";
import { KEY_BYTES } from "./aead.js";
import {
  type KeyHeader,
  type KeyMaterialKind,
  type MasterKeySourceKind,
  newScryptParams,
  passphraseToMasterKey,
} from "./envelope.js";
import { type Keyring, osKeyring } from "./keyring.js";

/**
 * Where a master key can come from, in the order they are tried (docs/master-key.md):
 *   1. KEYWARD_MASTER_KEY: 32 bytes as 64 hex characters (base64 accepted with a warning)
 *   2. a key file: KEYWARD_KEY_FILE, or <home>/master.key when it exists; must be mode 0600
 *   3. a passphrase (passphrase stores): KEYWARD_PASSPHRASE, else a hidden prompt on a terminal
 *   4. the OS keyring (Secret Service, macOS Keychain, Windows Credential Manager) when one answers
 * Explicit sources come before ambient ones so that CI and scripts can always override.
 */
export interface MasterKeyOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  /** A hidden prompt; absent when there is no terminal. */
  prompt?: (question: string) => Promise<string>;
  keyring?: Keyring;
}

export interface ResolvedMasterKey {
  key: Buffer;
  source: MasterKeySourceKind;
  /** For messages: "KEYWARD_MASTER_KEY", "key file /x/master.key", … Never the key. */
  label: string;
  warnings: string[];
}

export interface SourceStatus {
  source: MasterKeySourceKind;
  available: boolean;
  detail: string;
}

export const ENV_MASTER_KEY = "KEYWARD_MASTER_KEY";
export const ENV_KEY_FILE = "KEYWARD_KEY_FILE";
export const ENV_PASSPHRASE = "KEYWARD_PASSPHRASE";

const ENV_WARNING =
  "the master key came from KEYWARD_MASTER_KEY: any process of this user can read it; prefer a key file or the OS keyring outside CI";

export function keyFilePath(opts: MasterKeyOptions): string {
  return opts.env[ENV_KEY_FILE] || join(opts.home, "master.key");
}

/** Parses 64 hex characters (or base64 of 32 bytes, with a warning). The value never appears in errors. */
export function parseRawKey(text: string, label: string): { key: Buffer; warnings: string[] } {
  const s = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(s)) return { key: Buffer.from(s, "hex"), warnings: [] };
  if (/^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(s)) {
    const key = Buffer.from(s.replace(/-/g, "+").replace(/_/g, "/"), "base64");
    if (key.length === KEY_BYTES) {
      return { key, warnings: [`${label} holds base64; 64 hex characters is the documented form`] };
    }
  }
  throw new KeywardError(
    "no_master_key",
    `${label} is not a 32-byte key (expected 64 hex characters, ${s.length} characters given)`,
    "generate one with: openssl rand -hex 32",
  );
}

function readKeyFile(path: string): { key: Buffer; warnings: string[] } {
  const mode = statSync(path).mode;
  if ((mode & 0o077) !== 0) {
    throw new KeywardError(
      "unsafe_permissions",
      `key file ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)})`,
      `chmod 600 ${path}`,
    );
  }
  return parseRawKey(readFileSync(path, "utf8"), `key file ${path}`);
}

/** Resolves the master key for an existing store described by its header. */
export async function resolveMasterKey(
  header: KeyHeader,
  opts: MasterKeyOptions,
): Promise<ResolvedMasterKey> {
  const envKey = opts.env[ENV_MASTER_KEY];
  if (envKey) {
    const { key, warnings } = parseRawKey(envKey, ENV_MASTER_KEY);
    // The environment warning is given at init and by `keyward status`, not on every command.
    return { key, source: "env", label: ENV_MASTER_KEY, warnings };
  }
  if (header.kind === "raw") {
    const file = keyFilePath(opts);
    if (opts.env[ENV_KEY_FILE] || existsSync(file)) {
      if (!existsSync(file)) {
        throw new KeywardError(
          "no_master_key",
          `key file ${file} (from ${ENV_KEY_FILE}) does not exist`,
        );
      }
      const { key, warnings } = readKeyFile(file);
      return { key, source: "key-file", label: `key file ${file}`, warnings };
    }
    const keyring = opts.keyring ?? osKeyring;
    const stored = keyring.get(header.storeId);
    if (stored.ok && stored.value !== null) {
      const { key, warnings } = parseRawKey(stored.value, "the OS keyring entry");
      return { key, source: "keyring", label: "the OS keyring", warnings };
    }
    throw new KeywardError(
      "no_master_key",
      `no master key found for this store (tried ${ENV_MASTER_KEY}, key file ${file}, OS keyring: ${stored.ok ? "no entry" : stored.reason})`,
      `set ${ENV_MASTER_KEY} or ${ENV_KEY_FILE} to the key this store was initialised with`,
    );
  }
  // Passphrase store.
  let passphrase = opts.env[ENV_PASSPHRASE];
  let label: string = ENV_PASSPHRASE;
  if (!passphrase && opts.prompt) {
    passphrase = await opts.prompt("Passphrase: ");
    label = "the passphrase";
  }
  if (!passphrase) {
    throw new KeywardError(
      "no_master_key",
      "this store is locked with a passphrase and there is no terminal to ask for it",
      `set ${ENV_PASSPHRASE} (or ${ENV_MASTER_KEY} to the derived key) for scripts and CI`,
    );
  }
  if (!header.kdf)
    throw new KeywardError("corrupt_store", "passphrase store has no KDF parameters");
  return {
    key: await passphraseToMasterKey(passphrase, header.kdf),
    source: "passphrase",
    label,
    warnings: [],
  };
}

export interface NewMasterKey extends ResolvedMasterKey {
  kind: KeyMaterialKind;
  kdf?: KeyHeader["kdf"];
  /** Persists the key where its source keeps it (key file, keyring) once the store exists. */
  persist: (storeId: string) => void;
}

/**
 * Creates or takes the master key for a new store (init, rekey).
 * Without an explicit choice: KEYWARD_MASTER_KEY if set, else the OS keyring if one answers,
 * else a new key file at <home>/master.key, saying why the keyring was not used.
 */
export async function newMasterKey(
  requested: MasterKeySourceKind | undefined,
  opts: MasterKeyOptions,
): Promise<NewMasterKey> {
  const keyring = opts.keyring ?? osKeyring;
  const warnings: string[] = [];
  let source = requested;
  if (!source) {
    if (opts.env[ENV_MASTER_KEY]) source = "env";
    else if (opts.env[ENV_PASSPHRASE]) source = "passphrase";
    else {
      const probe = keyring.probe();
      if (probe.ok) source = "keyring";
      else {
        source = "key-file";
        warnings.push(
          `no OS keyring service answered (${probe.reason}); the master key is kept in a key file instead. Keep that file out of backups of the store, or use --key-source passphrase`,
        );
      }
    }
  }
  switch (source) {
    case "env": {
      const text = opts.env[ENV_MASTER_KEY];
      if (!text) {
        throw new KeywardError(
          "no_master_key",
          `${ENV_MASTER_KEY} is not set`,
          "export KEYWARD_MASTER_KEY=$(openssl rand -hex 32)",
        );
      }
      const parsed = parseRawKey(text, ENV_MASTER_KEY);
      return {
        key: parsed.key,
        kind: "raw",
        source,
        label: ENV_MASTER_KEY,
        warnings: [...warnings, ENV_WARNING, ...parsed.warnings],
        persist: () => {},
      };
    }
    case "key-file": {
      const file = keyFilePath(opts);
      if (existsSync(file)) {
        const { key, warnings: w } = readKeyFile(file);
        return {
          key,
          kind: "raw",
          source,
          label: `key file ${file}`,
          warnings: [...warnings, ...w],
          persist: () => {},
        };
      }
      const key = randomBytes(KEY_BYTES);
      return {
        key,
        kind: "raw",
        source,
        label: `key file ${file}`,
        warnings,
        persist: () => writeFileSync(file, `${key.toString("hex")}\n`, { mode: 0o600, flag: "wx" }),
      };
    }
    case "keyring": {
      const probe = keyring.probe();
      if (!probe.ok) {
        throw new KeywardError(
          "no_master_key",
          `the OS keyring is not available: ${probe.reason}`,
          "use --key-source key-file or --key-source passphrase",
        );
      }
      const key = randomBytes(KEY_BYTES);
      return {
        key,
        kind: "raw",
        source,
        label: "the OS keyring",
        warnings,
        persist: (storeId) => keyring.set(storeId, key.toString("hex")),
      };
    }
    case "passphrase": {
      let passphrase = opts.env[ENV_PASSPHRASE];
      if (!passphrase && opts.prompt) {
        passphrase = await opts.prompt("New passphrase: ");
        const again = await opts.prompt("Repeat passphrase: ");
        if (again !== passphrase)
          throw new KeywardError("invalid_value", "the passphrases do not match");
      }
      if (!passphrase) {
        throw new KeywardError(
          "no_master_key",
          "a passphrase store needs a passphrase and there is no terminal to ask for it",
          `set ${ENV_PASSPHRASE}`,
        );
      }
      if (passphrase.length < 12) {
        throw new KeywardError(
          "invalid_value",
          "the passphrase is shorter than 12 characters",
          "choose a longer passphrase",
        );
      }
      const kdf = newScryptParams();
      return {
        key: await passphraseToMasterKey(passphrase, kdf),
        kind: "passphrase",
        kdf,
        source,
        label: "the passphrase",
        warnings,
        persist: () => {},
      };
    }
  }
}

/** What `keyward status` shows: each source, in order, and whether it can supply a key now. */
export function describeSources(
  header: KeyHeader | undefined,
  opts: MasterKeyOptions,
): SourceStatus[] {
  const keyring = opts.keyring ?? osKeyring;
  const file = keyFilePath(opts);
  const probe = keyring.probe();
  const inKeyring = header && probe.ok ? keyring.get(header.storeId) : undefined;
  return [
    {
      source: "env",
      available: Boolean(opts.env[ENV_MASTER_KEY]),
      detail: opts.env[ENV_MASTER_KEY]
        ? `${ENV_MASTER_KEY} is set (any process of this user can read it: fine for CI, prefer a key file or keyring elsewhere)`
        : `${ENV_MASTER_KEY} is not set`,
    },
    {
      source: "key-file",
      available: existsSync(file),
      detail: existsSync(file) ? `${file} exists` : `${file} does not exist`,
    },
    {
      source: "passphrase",
      available: header?.kind === "passphrase",
      detail:
        header?.kind === "passphrase"
          ? `scrypt N=${header.kdf?.N} r=${header.kdf?.r} p=${header.kdf?.p}; ${opts.env[ENV_PASSPHRASE] ? `${ENV_PASSPHRASE} is set` : "asked on a terminal"}`
          : "store is not passphrase-locked",
    },
    {
      source: "keyring",
      available: Boolean(inKeyring?.ok && inKeyring.value !== null),
      detail: probe.ok
        ? inKeyring?.ok && inKeyring.value !== null
          ? "entry present"
          : "service answers; no entry for this store"
        : `unavailable: ${probe.reason}`,
    },
  ];
}
