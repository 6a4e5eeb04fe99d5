/**
 * The envelope layer shared by the stores that encrypt on the client (sqlite, postgres): a
 * random data key per secret, wrapped by the master key's KEK with the secret's name as
 * associated data, and each version's value sealed (AES-256-GCM) by that data key with name and
 * version as associated data. A ciphertext or wrapped key moved to another row fails to open.
 */
import { KeywardError } from "../core/errors.js";
import { DecryptionError, open, seal } from "../crypto/aead.js";
import { aad, type Envelope, type KeyHeader } from "../crypto/envelope.js";

/** A new data key for `name` and its wrapped form, the only form a store keeps. */
export function newDataKey(kek: Envelope, name: string): { dataKey: Buffer; wrapped: Buffer } {
  return kek.newDataKey(aad.dataKey(name));
}

/** The data key of `name`, or undefined when the wrapped key does not authenticate. */
export function unwrapDataKey(kek: Envelope, wrapped: Buffer, name: string): Buffer | undefined {
  try {
    return kek.unwrapDataKey(wrapped, aad.dataKey(name));
  } catch (e) {
    if (e instanceof DecryptionError) return undefined;
    throw e;
  }
}

/** Rekey: the data key of `name` wrapped under the new KEK by `rewrap`; tampered keys fail. */
export function rewrapDataKey(
  rewrap: (wrapped: Buffer, aad: string) => Buffer,
  wrapped: Buffer,
  name: string,
  backup: string,
): Buffer {
  try {
    return rewrap(wrapped, aad.dataKey(name));
  } catch (e) {
    if (e instanceof DecryptionError) throw dataKeyTampered(name, backup);
    throw e;
  }
}

/** Seals one version's value; the plaintext buffer is zeroed after use. */
export function sealValue(dataKey: Buffer, name: string, version: number, value: string): Buffer {
  const plaintext = Buffer.from(value, "utf8");
  try {
    return seal(dataKey, plaintext, aad.value(name, version));
  } finally {
    plaintext.fill(0);
  }
}

/**
 * Opens one version's value. `backup` names what to restore ("store.db", "schema keyward") in
 * the fix of a `tampered` error, which names the secret and version, never the value.
 */
export function openValue(
  dataKey: Buffer,
  name: string,
  version: number,
  sealed: Buffer,
  backup: string,
): string {
  let plaintext: Buffer;
  try {
    plaintext = open(dataKey, sealed, aad.value(name, version));
  } catch (e) {
    if (!(e instanceof DecryptionError)) throw e;
    throw new KeywardError(
      "tampered",
      `secret ${name} version ${version} failed authentication: its stored ciphertext was altered or belongs to another row`,
      `restore ${backup} from a backup, or destroy this version and put a new value; treat the secret as exposed if you did not make the change`,
    );
  }
  const value = plaintext.toString("utf8");
  plaintext.fill(0);
  return value;
}

export function dataKeyTampered(name: string, backup: string): KeywardError {
  return new KeywardError(
    "tampered",
    `the data key of secret ${name} failed authentication: it was altered or belongs to another row`,
    `restore ${backup} from a backup; treat the secret as exposed if you did not make the change`,
  );
}

/** A stored key header, or undefined when it is not one. */
export function parseKeyHeader(json: string): KeyHeader | undefined {
  let h: Partial<KeyHeader>;
  try {
    h = JSON.parse(json) as Partial<KeyHeader>;
  } catch {
    return undefined;
  }
  const valid =
    typeof h === "object" &&
    h !== null &&
    h.v === 1 &&
    (h.kind === "raw" || h.kind === "passphrase") &&
    typeof h.kekSalt === "string" &&
    typeof h.check === "string" &&
    typeof h.storeId === "string" &&
    (h.wrapped === undefined ||
      (typeof h.wrapped.key === "string" && typeof h.wrapped.ciphertext === "string"));
  return valid ? (h as KeyHeader) : undefined;
}
