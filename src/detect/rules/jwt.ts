import { createHmac } from "node:crypto";
import type { TokenRule, Validation } from "../types.js";
import { TOKEN_START } from "./boundary.js";
import { exampleChars, URL_SAFE_CHARS } from "./examples.js";

function decodeJsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Structure check: header and payload decode as JSON objects and the header names a signing
 * algorithm. An unsigned token (`alg: none`) proves nothing to whoever holds it, so it is no credential.
 */
export function validateJwt(token: string): Validation {
  const [header, payload] = token.split(".");
  if (header === undefined || payload === undefined) return "invalid";
  const head = decodeJsonObject(header);
  if (head === undefined || typeof head.alg !== "string" || head.alg.toLowerCase() === "none") {
    return "invalid";
  }
  return decodeJsonObject(payload) === undefined ? "invalid" : "valid";
}

/**
 * HMAC keys that documentation signs its example tokens with: jwt.io's defaults, PyJWT's and
 * jsonwebtoken's READMEs (`"secret"`, `'shhhhh'`), joserfc's (`"your-secret-key"`).
 */
const EXAMPLE_HMAC_KEYS = [
  "secret",
  "your-256-bit-secret",
  "your-384-bit-secret",
  "your-512-bit-secret",
  "your-secret-key",
  "your_secret_key",
  "secret-key",
  "secret_key",
  "secretkey",
  "mysecret",
  "my-secret",
  "my_secret",
  "supersecret",
  "shhhhh",
  "key",
  "password",
  "changeme",
];
const HMAC_HASHES: Record<string, string> = { HS256: "sha256", HS384: "sha384", HS512: "sha512" };

/** An HS256/384/512 token whose signature checks out with a documentation key: an example. */
function isSignedWithExampleKey(token: string, alg: unknown): boolean {
  const hash = typeof alg === "string" ? HMAC_HASHES[alg] : undefined;
  if (hash === undefined) return false;
  const dot = token.lastIndexOf(".");
  const signed = token.slice(0, dot);
  const signature = token.slice(dot + 1);
  return EXAMPLE_HMAC_KEYS.some(
    (key) => createHmac(hash, key).update(signed).digest("base64url") === signature,
  );
}

/**
 * Not a secret though well formed: a JWT whose payload says it is anonymous (`"role": "anon"`:
 * Supabase's anon key, which the client library sends from every browser), jwt.io's published
 * example token (`"sub": "1234567890", "name": "John Doe"`), copied into countless docs and tests,
 * or one signed with a key documentation uses (anyone can forge those).
 */
export function isNotSecretJwt(token: string): boolean {
  const [header = "", payloadPart = ""] = token.split(".");
  const payload = decodeJsonObject(payloadPart);
  if (payload === undefined) return false;
  if (payload.role === "anon" || (payload.sub === "1234567890" && payload.name === "John Doe"))
    return true;
  return isSignedWithExampleKey(token, decodeJsonObject(header)?.alg);
}

/** `header.payload.signature` signed with `key` (HS256), for the rule's examples. */
function signedHs256(header: object, payload: object, key: string): string {
  const signed = `${segment(header)}.${segment(payload)}`;
  return `${signed}.${createHmac("sha256", key).update(signed).digest("base64url")}`;
}

function segment(value: object): string {
  return Buffer.from(JSON.stringify(value)).toString("base64url");
}

const hs256 = `${segment({ alg: "HS256", typ: "JWT" })}.${segment({ sub: "user-42", iat: 1767225600, exp: 1767229200 })}.${exampleChars("jwt/hs256", 43, URL_SAFE_CHARS)}`;
const supabase = (role: string): string =>
  `${segment({ alg: "HS256", typ: "JWT" })}.${segment({ iss: "supabase", ref: "abcdefghijklmnopqrst", role, iat: 1714000000, exp: 2029360000 })}.${exampleChars(`jwt/${role}`, 43, URL_SAFE_CHARS)}`;
const rs256 = `${segment({ alg: "RS256", kid: "k1" })}.${segment({ iss: "https://issuer.test", aud: "api" })}.${exampleChars("jwt/rs256", 342, URL_SAFE_CHARS)}`;

export const jwtRules: TokenRule[] = [
  {
    id: "jwt",
    title: "JSON Web Token",
    provider: "jwt",
    category: "jwt",
    // Header and payload are base64url JSON objects, so both start with "eyJ" ('{"').
    pattern: new RegExp(
      `${TOKEN_START}eyJ[A-Za-z0-9_-]{15,4096}\\.eyJ[A-Za-z0-9_-]{15,16384}\\.[A-Za-z0-9_-]{16,2048}(?![A-Za-z0-9_-])`,
      "g",
    ),
    secretGroup: 0,
    validate: validateJwt,
    notSecret: isNotSecretJwt,
    keywords: ["eyj"],
    truePositives: [
      `Authorization: Bearer ${hs256}`,
      `{"id_token":"${rs256}"}`,
      `SUPABASE_SERVICE_ROLE_KEY=${supabase("service_role")}`,
      // signed with a key of its own
      `token = "${signedHs256({ alg: "HS256", typ: "JWT" }, { some: "payload" }, exampleChars("jwt/key", 32))}"`,
    ],
    falsePositives: [
      // Supabase's anon key: public by design
      `NEXT_PUBLIC_SUPABASE_ANON_KEY=${supabase("anon")}`,
      // jwt.io's example token
      `token: ${segment({ alg: "HS256", typ: "JWT" })}.${segment({ sub: "1234567890", name: "John Doe", iat: 1516239022 })}.${exampleChars("jwt/jwtio", 43, URL_SAFE_CHARS)}`,
      // signed with the key PyJWT's README uses: anyone can forge it
      `token = "${signedHs256({ alg: "HS256", typ: "JWT" }, { some: "payload" }, "secret")}"`,
      // not JSON inside
      `token=eyJ${exampleChars("jwt/fp1", 30)}.eyJ${exampleChars("jwt/fp2", 30)}.${exampleChars("jwt/fp3", 43)}`,
      // unsigned
      `token=${segment({ alg: "none" })}.${segment({ sub: "x" })}.${exampleChars("jwt/fp4", 20)}`,
      // no signature part
      `token=${segment({ alg: "HS256" })}.${segment({ sub: "x" })}.`,
    ],
  },
];
