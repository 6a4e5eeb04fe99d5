/**
 * What the local AWS fakes share (fake-aws-secrets-manager.ts, fake-aws-kms.ts): the AWS JSON
 * 1.1 error shape, registered key pairs, and SigV4 verification (AWS General Reference,
 * "Signature Version 4 signing process"): a well-formed `Authorization` header scoped to the
 * fake's region and service, signed by a registered credential. Unknown key:
 * UnrecognizedClientException (400); bad signature: InvalidSignatureException (400); expired
 * session: ExpiredTokenException (400); no header: MissingAuthenticationTokenException (403);
 * malformed: IncompleteSignatureException.
 */
import { createHash, createHmac, randomBytes, randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { UPPER_BASE32 } from "../../detect/rules/examples.js";

export interface FakeCredential {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  /** Unix ms; requests signed with it afterwards get ExpiredTokenException. */
  expiresAt?: number;
  principal: string;
}

/** An AWS error answer: `{"__type", "Message"}` with an HTTP status. */
export class AwsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SigningScope {
  region: string;
  /** The signing name: secretsmanager, kms. */
  service: string;
  credentials: ReadonlyMap<string, FakeCredential>;
  now: () => number;
}

/** A long-term key pair (AKIA…) for `principal`, built at run time. */
export function newCredential(principal: string): FakeCredential {
  return {
    accessKeyId: `AK${"IA"}${randomChars(16, UPPER_BASE32)}`,
    secretAccessKey: randomBytes(30).toString("base64"),
    principal,
  };
}

/** An AWS JSON 1.1 answer. */
export function answerJson(
  res: ServerResponse,
  status: number,
  body: Record<string, unknown>,
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/x-amz-json-1.1",
    "content-length": Buffer.byteLength(text),
    "x-amzn-requestid": randomUUID(),
  });
  res.end(text);
}

/** Verifies the SigV4 Authorization header and returns the credential that signed it. */
export function verifySigV4(
  req: IncomingMessage,
  body: Buffer,
  signing: SigningScope,
): FakeCredential {
  const header = req.headers.authorization;
  if (header === undefined) {
    throw new AwsError(403, "MissingAuthenticationTokenException", "Missing Authentication Token");
  }
  const m =
    /^AWS4-HMAC-SHA256 Credential=([A-Z0-9]+)\/(\d{8})\/([a-z0-9-]+)\/([a-z0-9-]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/.exec(
      header,
    );
  if (m === null) {
    throw new AwsError(
      400,
      "IncompleteSignatureException",
      "Authorization header requires 'Credential', 'Signature' and 'SignedHeaders' parameters in the AWS4-HMAC-SHA256 format.",
    );
  }
  const [, keyId = "", date = "", region, service, signedHeaders = "", signature = ""] = m;
  if (service !== signing.service || region !== signing.region) {
    throw new AwsError(
      400,
      "InvalidSignatureException",
      `Credential should be scoped to a valid region and service '${signing.service}' in ${signing.region}.`,
    );
  }
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const names = signedHeaders.split(";");
  if (!/^\d{8}T\d{6}Z$/.test(amzDate) || !amzDate.startsWith(date)) {
    throw new AwsError(400, "IncompleteSignatureException", "X-Amz-Date is missing or malformed.");
  }
  if (!names.includes("host") || !names.includes("x-amz-date")) {
    throw new AwsError(400, "IncompleteSignatureException", "host and x-amz-date must be signed.");
  }
  const signedAt = Date.parse(
    `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
  );
  // Real time: clockOffsetMs simulates elapsed days, not a skewed client.
  if (Math.abs(Date.now() - signedAt) > 15 * 60_000) {
    throw new AwsError(400, "InvalidSignatureException", "Signature expired.");
  }
  const credential = signing.credentials.get(keyId);
  if (
    credential === undefined ||
    (credential.sessionToken !== undefined &&
      req.headers["x-amz-security-token"] !== credential.sessionToken)
  ) {
    throw new AwsError(
      400,
      "UnrecognizedClientException",
      "The security token included in the request is invalid.",
    );
  }
  if (credential.expiresAt !== undefined && credential.expiresAt <= signing.now()) {
    throw new AwsError(
      400,
      "ExpiredTokenException",
      "The security token included in the request is expired",
    );
  }
  const canonicalHeaders = names
    .map(
      (n) =>
        `${n}:${String(req.headers[n] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const canonicalRequest = [
    req.method,
    "/",
    "",
    canonicalHeaders,
    signedHeaders,
    sha256Hex(body),
  ].join("\n");
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonicalRequest)].join("\n");
  let key = hmac(`AWS4${credential.secretAccessKey}`, date);
  for (const part of [region ?? "", service ?? "", "aws4_request"]) key = hmac(key, part);
  if (hmac(key, stringToSign).toString("hex") !== signature) {
    throw new AwsError(
      400,
      "InvalidSignatureException",
      "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
    );
  }
  return credential;
}

function sha256Hex(data: string | Buffer): string {
  return createHash("sha256").update(data).digest("hex");
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac("sha256", key).update(data).digest();
}

export function randomChars(length: number, alphabet: string): string {
  let out = "";
  for (const byte of randomBytes(length)) out += alphabet[byte % alphabet.length];
  return out;
}
