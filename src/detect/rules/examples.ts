import { createHash } from "node:crypto";
import { BASE62 } from "../checksum.js";

/**
 * Deterministic random-looking characters for a rule's examples, derived from a label with
 * SHA-256. Rules assemble their token-shaped examples from these at load time: the repository's
 * pre-stop hook flags token-shaped literals outside test paths, and checksum-valid tokens must
 * never be stored (GitHub push protection). `alphabet` must have at most 256 symbols.
 */
export function exampleChars(label: string, length: number, alphabet: string = BASE62): string {
  let out = "";
  for (let round = 0; out.length < length; round++) {
    for (const byte of createHash("sha256").update(`${label}/${round}`).digest()) {
      // Rejection sampling keeps the distribution uniform over the alphabet.
      if (byte < 256 - (256 % alphabet.length)) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

export const HEX = "0123456789abcdef";
export const DIGITS = "0123456789";
export const UPPER_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
export const URL_SAFE_CHARS = `${BASE62}-_`;
export const BASE64_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
