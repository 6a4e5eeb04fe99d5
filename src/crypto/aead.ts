import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * AES-256-GCM with a random 96-bit nonce. Sealed layout: version(1) | nonce(12) | tag(16) | ciphertext.
 * Associated data binds a ciphertext to where it belongs (secret name, version), so a row copied
 * onto another row fails to open instead of yielding the wrong secret.
 */
const FORMAT_VERSION = 1;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
export const KEY_BYTES = 32;

/** Thrown when a ciphertext does not authenticate: wrong key, edited bytes or wrong associated data. */
export class DecryptionError extends Error {
  constructor() {
    super("ciphertext failed authentication");
    this.name = "DecryptionError";
  }
}

export function randomKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

export function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(NONCE_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, nonce);
  cipher.setAAD(Buffer.from(aad, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  return Buffer.concat([Buffer.of(FORMAT_VERSION), nonce, cipher.getAuthTag(), body]);
}

export function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 1 + NONCE_BYTES + TAG_BYTES || sealed[0] !== FORMAT_VERSION) {
    throw new DecryptionError();
  }
  const nonce = sealed.subarray(1, 1 + NONCE_BYTES);
  const tag = sealed.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + TAG_BYTES);
  const decipher = createDecipheriv("aes-256-gcm", key, nonce);
  decipher.setAAD(Buffer.from(aad, "utf8"));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([
      decipher.update(sealed.subarray(1 + NONCE_BYTES + TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new DecryptionError();
  }
}

/** HKDF-SHA256: one master key yields independent keys for independent purposes. */
export function deriveKey(master: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync("sha256", master, salt, info, KEY_BYTES));
}
