/**
 * The JWT a GitHub App signs to ask for installation tokens (providers.md §1.5; github/docs
 * "Generating a JSON Web Token (JWT) for a GitHub App"): RS256 over {iat, exp, iss}.
 *
 * Written with node:crypto rather than a JWT library: one fixed algorithm, three claims and no
 * verification make it about fifteen lines, and a library would add a dependency (and its
 * algorithm-confusion surface) to the process that holds every key.
 */
import { createPrivateKey, createSign, type KeyObject } from "node:crypto";
import { KeywardError } from "../../core/errors.js";

/** GitHub allows `exp` at most 10 minutes ahead; back-dating `iat` by 60 s absorbs clock drift and keeps the span at 600 s. */
const ISSUED_SKEW_SECONDS = 60;
const LIFETIME_SECONDS = 540;

const base64url = (json: unknown) => Buffer.from(JSON.stringify(json)).toString("base64url");

/** Signs the App JWT. `appId` is the App ID or client ID; `privateKeyPem` the App's PEM private key. */
export function signAppJwt(privateKeyPem: string, appId: string, now: Date): string {
  const issuedAt = Math.floor(now.getTime() / 1000) - ISSUED_SKEW_SECONDS;
  const claims = {
    iat: issuedAt,
    exp: issuedAt + ISSUED_SKEW_SECONDS + LIFETIME_SECONDS,
    iss: appId,
  };
  const signingInput = `${base64url({ alg: "RS256", typ: "JWT" })}.${base64url(claims)}`;
  const signature = createSign("RSA-SHA256")
    .update(signingInput)
    .sign(appPrivateKey(privateKeyPem));
  return `${signingInput}.${signature.toString("base64url")}`;
}

function appPrivateKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch {
    // node's parse error can quote the input; say only what is wrong.
    throw new KeywardError(
      "invalid_value",
      "The GitHub App private key is not a PEM private key.",
      "Store the .pem file GitHub generated for the App (Settings → Developer settings → GitHub Apps → Private keys).",
    );
  }
  if (key.asymmetricKeyType !== "rsa")
    throw new KeywardError(
      "invalid_value",
      `The GitHub App private key is ${key.asymmetricKeyType ?? "not asymmetric"}, not RSA.`,
      "GitHub App keys are RSA: store the .pem file GitHub generated for the App.",
    );
  return key;
}
