import { randomBytes } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeywardError } from "../core/errors.js";
import { KEY_BYTES } from "./aead.js";
import {
  type KeyHeader,
  type KeyMaterialKind,
  type KmsSourceKind,
  type MasterKeySourceKind,
  newScryptParams,
  passphraseToMasterKey,
  type WrappedMasterKey,
} from "./envelope.js";
import { type Keyring, osKeyring } from "./keyring.js";

/**
 * Where a master key can come from, in the order they are tried (docs/master-key.md):
 *   1. KEYWARD_MASTER_KEY: 32 bytes as 64 hex characters (base64 accepted with a warning)
 *   2. a key file: KEYWARD_KEY_FILE, or <home>/master.key when it exists; must be mode 0600
 *   3. a passphrase (passphrase stores): KEYWARD_PASSPHRASE, else a hidden prompt on a terminal
 *   4. the OS keyring (Secret Service, macOS Keychain, Windows Credential Manager) when one answers
 * A store whose key a KMS wrapped (Vault transit, AWS KMS, Cloud KMS) asks that KMS after (1) instead of 2–4.
 * Explicit sources come before ambient ones so that CI and scripts can always override.
 */
export interface MasterKeyOptions {
  home: string;
  env: NodeJS.ProcessEnv;
  /** A hidden prompt; absent, or answering "", when there is no terminal. */
  prompt?: (question: string) => Promise<string>;
  keyring?: Keyring;
  /** The KMS clients (they live above crypto, in src/store: the session passes them in). */
  kms: KeyWrappers;
}

/**
 * A KMS that encrypts the master key, so that the store can keep it: src/store/vault-transit.ts,
 * src/store/aws-kms.ts and src/store/gcp-kms.ts. Building one makes no network call.
 */
export interface KeyWrapper {
  readonly source: KmsSourceKind;
  /** For messages and status: which key, where, and which identity. Never a key. */
  readonly label: string;
  /** `storeId` binds the ciphertext to the store where the KMS can (AWS encryption context). */
  wrap(key: Buffer, storeId: string): Promise<WrappedMasterKey>;
  /** Errors name the source, what was tried and the fix; a foreign ciphertext is wrong_master_key. */
  unwrap(wrapped: WrappedMasterKey, storeId: string): Promise<Buffer>;
  /** The same key under the KMS key's newest version, where the KMS can do that without it. */
  rewrap?(wrapped: WrappedMasterKey, storeId: string): Promise<WrappedMasterKey>;
  close(): void;
}

/** A KMS refused to decrypt the header's wrapped key for this store: `label` names the source. */
export function wrappedKeyRefused(label: string, why: string): KeywardError {
  return new KeywardError(
    "wrong_master_key",
    `the master key from ${label} does not open this store: the KMS could not decrypt the wrapped key in the store's header (${why})`,
    "the header's wrapped key was replaced or belongs to another store; restore the store's header from a backup",
  );
}

export interface KeyWrappers {
  /** The source keyward.yaml's masterKey: section names, if any. */
  configured: KmsSourceKind | undefined;
  /** The client for `source`, aimed at the key that wrapped `wrapped` when given. */
  open(source: KmsSourceKind, wrapped?: WrappedMasterKey): Promise<KeyWrapper>;
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

export function keyFilePath(opts: Pick<MasterKeyOptions, "home" | "env">): string {
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
  if (header.wrapped !== undefined) {
    const wrapper = await opts.kms.open(header.wrapped.source, header.wrapped);
    try {
      const key = await wrapper.unwrap(header.wrapped, header.storeId);
      return { key, source: header.wrapped.source, label: wrapper.label, warnings: [] };
    } finally {
      wrapper.close();
    }
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
  /** For the KMS sources: the key as the KMS encrypted it, kept in the key header. */
  wrapped?: WrappedMasterKey;
  /** Persists the key where its source keeps it (key file, keyring) once the store exists. */
  persist: (storeId: string) => void;
}

/**
 * Creates or takes the master key for a new store (init, rekey) whose id is `storeId`.
 * Without an explicit choice: the KMS of keyward.yaml's masterKey: section, else
 * KEYWARD_MASTER_KEY if set, else the OS keyring if one answers, else a new key file at
 * <home>/master.key, saying why the keyring was not used.
 */
export async function newMasterKey(
  requested: MasterKeySourceKind | undefined,
  opts: MasterKeyOptions,
  storeId: string,
): Promise<NewMasterKey> {
  const keyring = opts.keyring ?? osKeyring;
  const warnings: string[] = [];
  let source = requested;
  if (!source) {
    if (opts.kms.configured) source = opts.kms.configured;
    else if (opts.env[ENV_MASTER_KEY]) source = "env";
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
    case "vault-transit":
    case "aws-kms":
    case "gcp-kms": {
      const wrapper = await opts.kms.open(source);
      const key = randomBytes(KEY_BYTES);
      try {
        const wrapped = await wrapper.wrap(key, storeId);
        // Decrypt once now: an identity allowed to encrypt but not to decrypt would otherwise
        // create a store that nobody can open.
        const back = await wrapper.unwrap(wrapped, storeId);
        if (!back.equals(key)) {
          throw new KeywardError(
            "upstream_rejected",
            `${wrapper.label} decrypted the new master key to something else`,
            "check that keyward talks to the KMS itself and not to a proxy that alters answers",
          );
        }
        return {
          key,
          kind: "raw",
          source,
          label: wrapper.label,
          warnings,
          wrapped,
          persist: () => {},
        };
      } finally {
        wrapper.close();
      }
    }
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

/**
 * What `keyward status` shows: each source, in order, and whether it can supply a key now. A KMS
 * is listed second when the store's key is wrapped by one or keyward.yaml names one; that it
 * answers is shown by the session status opens, not asked here.
 */
export async function describeSources(
  header: KeyHeader | undefined,
  opts: MasterKeyOptions,
): Promise<SourceStatus[]> {
  const keyring = opts.keyring ?? osKeyring;
  const file = keyFilePath(opts);
  const probe = keyring.probe();
  const inKeyring = header && probe.ok ? keyring.get(header.storeId) : undefined;
  const kmsSource = header?.wrapped?.source ?? opts.kms.configured;
  const kms: SourceStatus[] = [];
  if (kmsSource !== undefined) {
    const wrapper = await opts.kms.open(kmsSource, header?.wrapped);
    wrapper.close();
    kms.push({
      source: kmsSource,
      available: header?.wrapped !== undefined,
      detail:
        header?.wrapped !== undefined
          ? `${wrapper.label}; the store keeps the master key encrypted by it`
          : header === undefined
            ? `${wrapper.label} (keyward.yaml masterKey:), used by \`keyward init\``
            : `${wrapper.label} (keyward.yaml masterKey:); this store's key is not wrapped by it: \`keyward rekey --key-source ${kmsSource}\` moves it there`,
    });
  }
  const wrappedNote = header?.wrapped
    ? `not used: the key is kept by ${header.wrapped.source}`
    : undefined;
  return [
    {
      source: "env",
      available: Boolean(opts.env[ENV_MASTER_KEY]),
      detail: opts.env[ENV_MASTER_KEY]
        ? `${ENV_MASTER_KEY} is set (any process of this user can read it: fine for CI, prefer a key file or keyring elsewhere)`
        : `${ENV_MASTER_KEY} is not set`,
    },
    ...kms,
    {
      source: "key-file",
      available: wrappedNote === undefined && existsSync(file),
      detail: wrappedNote ?? (existsSync(file) ? `${file} exists` : `${file} does not exist`),
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
      available: wrappedNote === undefined && Boolean(inKeyring?.ok && inKeyring.value !== null),
      detail:
        wrappedNote ??
        (probe.ok
          ? inKeyring?.ok && inKeyring.value !== null
            ? "entry present"
            : "service answers; no entry for this store"
          : `unavailable: ${probe.reason}`),
    },
  ];
}
