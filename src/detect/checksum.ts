/**
 * Offline checksums of token formats that carry one (see /work/shared/reference/token-formats.md §1).
 * CRC-32 is node's own zlib.crc32 (CRC-32/IEEE, Node ≥ 20.15), so no dependency is needed.
 */
import { crc32 } from "node:zlib";
import type { Validation } from "./types.js";

/** Base62 digits in the order GitHub and npm use for their checksum: 0-9, A-Z, a-z. */
export const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `value` in base62, left-padded with "0" to `width` digits. */
export function toBase62(value: number, width: number): string {
  let out = "";
  let rest = value;
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, "0");
}

/** Checksum of a GitHub classic (ghp_, gho_, ghu_, ghs_, ghr_) or npm token: CRC-32 of the 30-char body, prefix excluded, as 6 base62 digits. */
export function classicChecksum(body: string): string {
  return toBase62(crc32(body), 6);
}

/** A classic-format token: prefix + body + its checksum. Builds examples and test fixtures at run time, so no checksum-valid token is ever stored. */
export function withClassicChecksum(prefix: string, body: string): string {
  return prefix + body + classicChecksum(body);
}

/** `prefix(4) + body(30) + checksum(6)`; anything of another length has no classic checksum to check. */
export function validateClassicToken(token: string): Validation {
  if (token.length !== 40) return "unknown";
  return classicChecksum(token.slice(4, 34)) === token.slice(34) ? "valid" : "invalid";
}

/** Grafana service-account token tail: CRC-32 of `glsa_` + 32-char body as 8 hex digits, little-endian byte order. */
export function grafanaChecksum(head: string): string {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(crc32(head));
  return bytes.toString("hex");
}

/** `glsa_` + 32 + `_` + 8 hex = 46 chars; the CRC covers the first 37. */
export function validateGrafanaToken(token: string): Validation {
  if (token.length !== 46 || token[37] !== "_") return "unknown";
  return grafanaChecksum(token.slice(0, 37)) === token.slice(38).toLowerCase()
    ? "valid"
    : "invalid";
}

/** Atlassian `AT…` tokens as they appear escaped in config files, URLs and JSON: `\=` and `%3D` stand for `=`. */
export function unescapeAtlassianToken(raw: string): string {
  return raw.replace(/\\=|%3[dD]/g, "=");
}

/** Atlassian `AT…` token tail: CRC-32 of everything before it, prefix included, as 8 hex digits (big-endian, uppercase in the wild). */
export function atlassianChecksum(head: string): string {
  return crc32(head).toString(16).toUpperCase().padStart(8, "0");
}

export function validateAtlassianToken(raw: string): Validation {
  const token = unescapeAtlassianToken(raw);
  const tail = token.slice(-8);
  if (token.length <= 8 || !/^[0-9A-Fa-f]{8}$/.test(tail)) return "invalid";
  return atlassianChecksum(token.slice(0, -8)) === tail.toUpperCase() ? "valid" : "invalid";
}

const BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * The 12-digit AWS account id encoded in an access key id (AKIA…, ASIA…): base32-decode the 16
 * chars after the prefix, take the first 6 bytes as a big-endian integer z, account =
 * (z & 0x7fffffffff80) >> 7. Identifies the owner; proves nothing about validity (no checksum).
 * Returns undefined for anything that is not 4 + 16 base32 chars.
 */
export function awsAccountId(keyId: string): string | undefined {
  if (!/^[A-Z0-9]{4}[A-Z2-7]{16}$/.test(keyId)) return undefined;
  let z = 0n;
  // 16 base32 chars = 80 bits; the first 48 bits (6 bytes) are the first 9.6 chars.
  for (const char of keyId.slice(4)) z = (z << 5n) | BigInt(BASE32.indexOf(char));
  const first48 = z >> 32n;
  const account = (first48 & 0x7fffffffff80n) >> 7n;
  return account.toString().padStart(12, "0");
}
