import { generateKeyPairSync } from "node:crypto";
import type { TokenRule, Validation } from "../types.js";
import { BASE64_CHARS, exampleChars, HEX } from "./examples.js";

/** Body lines of a PEM/PGP block: escapes (`\n` in JSON) become newlines; armor headers (`Proc-Type: …`) and the PGP CRC line (`=abcd`) are dropped. */
function bodyLines(block: string): string[] {
  const inner = block.replace(/^-----BEGIN[^\n\\]*?-----/, "").replace(/-----END[\s\S]*$/, "");
  return inner
    .replace(/\\r\\n|\\n|\\r/g, "\n")
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.includes(":") && !/^=[A-Za-z0-9+/]{4}$/.test(line));
}

/** A DER SEQUENCE whose length field accounts for exactly the decoded bytes (PKCS#1, PKCS#8, SEC1). */
function isDerSequence(bytes: Buffer): boolean {
  if (bytes.length < 2 || bytes[0] !== 0x30) return false;
  const first = bytes[1] ?? 0;
  if (first < 0x80) return 2 + first === bytes.length;
  const size = first & 0x7f;
  if (size === 0 || size > 4 || bytes.length < 2 + size) return false;
  let length = 0;
  for (let i = 0; i < size; i++) length = length * 256 + (bytes[2 + i] ?? 0);
  return 2 + size + length === bytes.length;
}

/**
 * "valid" when the body decodes to a well-formed key container (DER sequence or openssh-key-v1),
 * "invalid" when the body is not base64 at all (prose or filler between the armor lines),
 * "unknown" otherwise (encrypted legacy PEM, PGP, truncated keys: still worth redacting).
 */
export function validatePrivateKey(block: string): Validation {
  const lines = bodyLines(block);
  const body = lines.join("");
  if (!/^[A-Za-z0-9+/]{64,}={0,2}$/.test(body)) {
    return lines.some((line) => /^[A-Za-z0-9+/]{40,}={0,2}$/.test(line)) ? "unknown" : "invalid";
  }
  const bytes = Buffer.from(body, "base64");
  if (bytes.subarray(0, 15).toString("latin1") === "openssh-key-v1\0") return "valid";
  return isDerSequence(bytes) ? "valid" : "unknown";
}

// Generated at load time: a real key shape without a committed key (Ed25519 keeps it fast).
const pkcs8 = generateKeyPairSync("ed25519")
  .privateKey.export({ type: "pkcs8", format: "pem" })
  .toString();
const rsaHeader = "-----BEGIN RSA PRIVATE KEY-----";
const rsaFooter = "-----END RSA PRIVATE KEY-----";
const encryptedBody = exampleChars("private-key/encrypted", 128, BASE64_CHARS);
const encryptedLegacy = [
  rsaHeader,
  "Proc-Type: 4,ENCRYPTED",
  `DEK-Info: AES-128-CBC,${exampleChars("private-key/iv", 32, HEX).toUpperCase()}`,
  "",
  encryptedBody.slice(0, 64),
  encryptedBody.slice(64),
  rsaFooter,
].join("\n");

/**
 * A PuTTY key file: "valid" when it says `Encryption: none` and its private lines are base64 (the
 * key is usable as it stands), "unknown" when encrypted (it still needs only its passphrase).
 */
export function validatePuttyKey(file: string): Validation {
  const lines = /Private-Lines: \d{1,4}\r?\n([\s\S]*)$/.exec(file)?.[1] ?? "";
  if (!/^(?:[A-Za-z0-9+/=]{1,128}\r?\n)+$/.test(lines)) return "invalid";
  return /\nEncryption: none\r?\n/.test(file) ? "valid" : "unknown";
}

/** A `.ppk` file's text, with base64 lines of the given lengths in place of the key. */
function puttyKey(encryption: string, seed: string): string {
  const lines = (count: number, name: string) =>
    Array.from({ length: count }, (_, i) => exampleChars(`${seed}/${name}${i}`, 64, BASE64_CHARS));
  return [
    "PuTTY-User-Key-File-2: ssh-rsa",
    `Encryption: ${encryption}`,
    "Comment: rsa-key-20240101",
    "Public-Lines: 2",
    ...lines(2, "public"),
    "Private-Lines: 3",
    ...lines(3, "private"),
    `Private-MAC: ${exampleChars(`${seed}/mac`, 40, HEX)}`,
    "",
  ].join("\n");
}

export const privateKeyRules: TokenRule[] = [
  {
    id: "private-key",
    title: "Private key block",
    provider: "pem",
    category: "private-key",
    // The body (at most 32 KiB) cannot run through a "-----" armor line, so a BEGIN without its
    // END stops at the next armor line instead of scanning on: the scan stays linear.
    pattern:
      /-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----(?:[^-]|-(?!----)){64,32768}-----END[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----/g,
    secretGroup: 0,
    validate: validatePrivateKey,
    keywords: ["private key"],
    truePositives: [pkcs8, `{"key":${JSON.stringify(pkcs8)}}`, encryptedLegacy],
    falsePositives: [
      "-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----",
      `${rsaHeader}\nPaste your private key here. It starts with MII and is usually many lines long.\n${rsaFooter}`,
      `-----BEGIN PUBLIC KEY-----\n${"MCowBQYDK2VwAyEA".repeat(4)}\n-----END PUBLIC KEY-----`,
    ],
  },
  {
    id: "putty-private-key",
    title: "PuTTY private key file",
    provider: "putty",
    category: "private-key",
    // From the header to the last private line; the public lines in between are bounded.
    pattern:
      /PuTTY-User-Key-File-[23]: [\w@.-]{1,64}\r?\nEncryption: [\w-]{1,32}\r?\n[\s\S]{0,8192}?Private-Lines: \d{1,4}\r?\n(?:[A-Za-z0-9+/=]{1,128}\r?\n){1,400}/g,
    secretGroup: 0,
    validate: validatePuttyKey,
    keywords: ["putty-user-key-file"],
    truePositives: [puttyKey("none", "putty/plain"), puttyKey("aes256-cbc", "putty/encrypted")],
    falsePositives: [
      "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\nComment: docs\nPublic-Lines: 1\nAAAA\nPrivate-Lines: 1\n<paste the private lines here>\n",
    ],
  },
];
