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
 * Not a secret though well formed: a JWT whose payload says it is anonymous (`"role": "anon"`:
 * Supabase's anon key, which the client library sends from every browser), or jwt.io's published
 * example token (`"sub": "1234567890", "name": "John Doe"`), copied into countless docs and tests.
 */
export function isNotSecretJwt(token: string): boolean {
  const payload = decodeJsonObject(token.split(".")[1] ?? "");
  if (payload === undefined) return false;
  return payload.role === "anon" || (payload.sub === "1234567890" && payload.name === "John Doe");
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
    ],
    falsePositives: [
      // Supabase's anon key: public by design
      `NEXT_PUBLIC_SUPABASE_ANON_KEY=${supabase("anon")}`,
      // jwt.io's example token
      `token: ${segment({ alg: "HS256", typ: "JWT" })}.${segment({ sub: "1234567890", name: "John Doe", iat: 1516239022 })}.${exampleChars("jwt/jwtio", 43, URL_SAFE_CHARS)}`,
      // not JSON inside
      `token=eyJ${exampleChars("jwt/fp1", 30)}.eyJ${exampleChars("jwt/fp2", 30)}.${exampleChars("jwt/fp3", 43)}`,
      // unsigned
      `token=${segment({ alg: "none" })}.${segment({ sub: "x" })}.${exampleChars("jwt/fp4", 20)}`,
      // no signature part
      `token=${segment({ alg: "HS256" })}.${segment({ sub: "x" })}.`,
    ],
  },
];
