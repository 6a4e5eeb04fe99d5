import { randomBytes, scrypt as scryptCb, timingSafeEqual } from "node:crypto";
import { promisify } from "node:util";
import { KeywardError } from "../core/errors.js";
import { DecryptionError, deriveKey, KEY_BYTES, open, randomKey, seal } from "./aead.js";

const scrypt = promisify(scryptCb) as (
  password: Buffer,
  salt: Buffer,
  keylen: number,
  options: { N: number; r: number; p: number; maxmem: number },
) => Promise<Buffer>;

/**
 * scrypt parameters for passphrase-derived master keys: N=2^17, r=8, p=1 (128 MiB, about
 * 0.3 s here), the OWASP password-storage minimum. Stored in the key header so they can be
 * raised later without breaking existing stores.
 */
export const SCRYPT_DEFAULTS = { N: 2 ** 17, r: 8, p: 1 } as const;

export type KeyMaterialKind = "raw" | "passphrase";

/** What a store persists about its master key: never the key, only how to check and derive. */
export interface KeyHeader {
  v: 1;
  /** raw: 32 random bytes from KEYWARD_MASTER_KEY, a key file or the OS keyring; passphrase: scrypt. */
  kind: KeyMaterialKind;
  /** Where the key was kept at init (env, key-file, keyring, passphrase): the first source tried. */
  preferredSource: MasterKeySourceKind;
  kdf?: { alg: "scrypt"; N: number; r: number; p: number; salt: string };
  kekSalt: string;
  /** A known plaintext sealed under the KEK: tells a wrong master key from a tampered row. */
  check: string;
  /** Random id naming this store's OS keyring entry (and bound into a KMS-wrapped key). */
  storeId: string;
  /** The master key encrypted by a KMS (vault-transit, aws-kms, gcp-kms): only that service can open it. */
  wrapped?: WrappedMasterKey;
}

/** Sources that keep no key on the host: the store keeps the key encrypted by a KMS. */
export type KmsSourceKind = "vault-transit" | "aws-kms" | "gcp-kms";

export type MasterKeySourceKind = "env" | "key-file" | "keyring" | "passphrase" | KmsSourceKind;

/**
 * A master key as a KMS encrypted it. `key` names the KMS key (Vault: `<mount>/<name>`; AWS: the
 * key ARN Encrypt answered with; GCP: the CryptoKey name), so every host decrypts with the key that encrypted it.
 */
export interface WrappedMasterKey {
  source: KmsSourceKind;
  key: string;
  /** Vault: `vault:vN:…`; AWS: the CiphertextBlob in base64; GCP: the ciphertext in base64. */
  ciphertext: string;
}

const CHECK_PLAINTEXT = Buffer.from("keyward key check v1");
const CHECK_AAD = "keyward:key-check";
const KEK_INFO = "keyward kek v1";

export async function passphraseToMasterKey(
  passphrase: string,
  kdf: NonNullable<KeyHeader["kdf"]>,
): Promise<Buffer> {
  return scrypt(Buffer.from(passphrase, "utf8"), Buffer.from(kdf.salt, "base64"), KEY_BYTES, {
    N: kdf.N,
    r: kdf.r,
    p: kdf.p,
    maxmem: 256 * kdf.N * kdf.r + 1024 * 1024,
  });
}

export function newScryptParams(): NonNullable<KeyHeader["kdf"]> {
  return { alg: "scrypt", ...SCRYPT_DEFAULTS, salt: randomBytes(16).toString("base64") };
}

/**
 * The key-encryption key in memory. Data keys (one per secret) are wrapped by it; values are
 * sealed by the data keys. Rekeying rewraps data keys only, so values are never re-encrypted.
 */
export class Envelope {
  private constructor(private readonly kek: Buffer) {}

  /** A new header and envelope for a master key (init, or the target of a rekey). */
  static create(
    master: Buffer,
    kind: KeyMaterialKind,
    preferredSource: MasterKeySourceKind,
    options: { kdf?: KeyHeader["kdf"]; storeId?: string; wrapped?: WrappedMasterKey } = {},
  ): { envelope: Envelope; header: KeyHeader } {
    assertKeyLength(master);
    const kekSalt = randomBytes(16);
    const kek = deriveKey(master, kekSalt, KEK_INFO);
    const header: KeyHeader = {
      v: 1,
      kind,
      preferredSource,
      kekSalt: kekSalt.toString("base64"),
      check: seal(kek, CHECK_PLAINTEXT, CHECK_AAD).toString("base64"),
      storeId: options.storeId ?? newStoreId(),
      ...(options.kdf ? { kdf: options.kdf } : {}),
      ...(options.wrapped ? { wrapped: options.wrapped } : {}),
    };
    return { envelope: new Envelope(kek), header };
  }

  /** Opens an envelope, or throws wrong_master_key when the key does not match the header. */
  static unlock(master: Buffer, header: KeyHeader, sourceLabel: string): Envelope {
    assertKeyLength(master);
    const kek = deriveKey(master, Buffer.from(header.kekSalt, "base64"), KEK_INFO);
    let check: Buffer;
    try {
      check = open(kek, Buffer.from(header.check, "base64"), CHECK_AAD);
    } catch (e) {
      if (!(e instanceof DecryptionError)) throw e;
      throw new KeywardError(
        "wrong_master_key",
        `the master key from ${sourceLabel} does not open this store`,
        header.kind === "passphrase"
          ? "check the passphrase (KEYWARD_PASSPHRASE or the prompt)"
          : header.wrapped
            ? `the wrapped key in this store's header was replaced or belongs to another store; restore the header from a backup, and unset KEYWARD_MASTER_KEY if it is set (it is tried before ${header.wrapped.source})`
            : "use the key this store was initialised with (KEYWARD_MASTER_KEY, KEYWARD_KEY_FILE or the OS keyring); `keyward status` shows the sources tried",
      );
    }
    if (!timingSafeEqual(check, CHECK_PLAINTEXT)) {
      throw new KeywardError(
        "wrong_master_key",
        `the master key from ${sourceLabel} does not open this store`,
      );
    }
    return new Envelope(kek);
  }

  newDataKey(aad: string): { dataKey: Buffer; wrapped: Buffer } {
    const dataKey = randomKey();
    return { dataKey, wrapped: seal(this.kek, dataKey, aad) };
  }

  /** Throws DecryptionError when the wrapped key was edited or belongs to another row. */
  unwrapDataKey(wrapped: Buffer, aad: string): Buffer {
    return open(this.kek, wrapped, aad);
  }

  wrapDataKey(dataKey: Buffer, aad: string): Buffer {
    return seal(this.kek, dataKey, aad);
  }
}

/** A new store's random id, made before its key so a KMS can bind the wrapped key to it. */
export function newStoreId(): string {
  return randomBytes(8).toString("hex");
}

function assertKeyLength(master: Buffer): void {
  if (master.length !== KEY_BYTES) {
    throw new KeywardError(
      "no_master_key",
      `a master key must be ${KEY_BYTES} bytes, got ${master.length}`,
    );
  }
}

/** Associated data for a secret's wrapped data key and for one version's ciphertext. */
export const aad = {
  dataKey: (secret: string) => `keyward:dek:${secret}`,
  value: (secret: string, version: number) => `keyward:value:${secret}:${version}`,
  logKey: () => "keyward:log-hmac-key",
};
