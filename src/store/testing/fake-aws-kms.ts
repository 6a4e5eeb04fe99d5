/**
 * A local AWS KMS on 127.0.0.1 for tests, so `@aws-sdk/client-kms` runs unchanged against it
 * (pointed here by the client's `endpoint` option or `AWS_ENDPOINT_URL_KMS`).
 *
 * What it reproduces, and from where:
 * - Wire protocol (botocore `kms/2014-11-01/service-2.json` metadata: protocol json,
 *   jsonVersion 1.1, targetPrefix TrentService, signingName kms): `POST /`, `X-Amz-Target:
 *   TrentService.<Operation>`, `Content-Type: application/x-amz-json-1.1`, blobs as base64,
 *   errors as HTTP 400 with `{"__type", "message"}`; SigV4 as in ./fake-aws-protocol.ts.
 * - Encrypt and Decrypt (AWS KMS API Reference, https://docs.aws.amazon.com/kms/latest/APIReference/API_Encrypt.html
 *   and API_Decrypt.html) for symmetric keys: KeyId as key id, key ARN, alias name or alias
 *   ARN; the answer names the key ARN; EncryptionContext must match exactly on Decrypt, else
 *   InvalidCiphertextException; Decrypt with a KeyId other than the ciphertext's key is
 *   IncorrectKeyException; an unknown key or alias NotFoundException; a disabled key
 *   DisabledException; a key pending deletion KMSInvalidStateException; a principal the key
 *   policy does not name AccessDeniedException.
 *
 * The CiphertextBlob is this fake's own (key id ‖ nonce ‖ AES-256-GCM ciphertext ‖ tag), as
 * opaque to clients as AWS's. Every request is recorded for the no-leak tests.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import {
  AwsError,
  answerJson,
  type FakeCredential,
  newCredential,
  type SigningScope,
  verifySigV4,
} from "./fake-aws-protocol.js";
import { closeServer, listenLocal } from "./local-server.js";

const ACCOUNT = "123456789012";

export interface FakeKmsKey {
  id: string;
  arn: string;
  state: "Enabled" | "Disabled" | "PendingDeletion";
  material: Buffer;
  /** Principals the key policy allows; undefined = every registered one. */
  allowed?: Set<string>;
}

export interface RecordedKmsRequest {
  /** `TrentService.<Op>`. */
  op: string;
  body: string;
  principal?: string;
}

type Json = Record<string, unknown>;

export class FakeAwsKms {
  readonly region: string;
  readonly requests: RecordedKmsRequest[] = [];
  baseUrl = "";
  private readonly keys = new Map<string, FakeKmsKey>();
  private readonly aliases = new Map<string, string>();
  private readonly credentials = new Map<string, FakeCredential>();
  private readonly signing: SigningScope;
  private readonly server = createServer((req, res) => void this.handle(req, res));

  constructor(region = "eu-west-1") {
    this.region = region;
    this.signing = {
      region,
      service: "kms",
      credentials: this.credentials,
      now: () => Date.now(),
    };
  }

  async start(): Promise<this> {
    this.baseUrl = await listenLocal(this.server);
    return this;
  }

  async stop(): Promise<void> {
    await closeServer(this.server);
  }

  addUser(principal: string): FakeCredential {
    const credential = newCredential(principal);
    this.credentials.set(credential.accessKeyId, credential);
    return credential;
  }

  /** `aws kms create-key` (symmetric, ENCRYPT_DECRYPT), with an alias if given. */
  createKey(alias?: string): FakeKmsKey {
    const id = randomUUID();
    const key: FakeKmsKey = {
      id,
      arn: `arn:aws:kms:${this.region}:${ACCOUNT}:key/${id}`,
      state: "Enabled",
      material: randomBytes(32),
    };
    this.keys.set(id, key);
    if (alias !== undefined) this.aliases.set(alias, id);
    return key;
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const target = String(req.headers["x-amz-target"] ?? "");
    const recorded: RecordedKmsRequest = { op: target, body: raw.toString("utf8") };
    this.requests.push(recorded);
    try {
      if (req.method !== "POST" || req.url !== "/") {
        throw new AwsError(404, "UnknownOperationException", "Only POST / is served.");
      }
      recorded.principal = verifySigV4(req, raw, this.signing).principal;
      let input: Json;
      try {
        input = raw.length === 0 ? {} : (JSON.parse(raw.toString("utf8")) as Json);
      } catch {
        throw new AwsError(400, "SerializationException", "The request body is not JSON.");
      }
      answerJson(res, 200, this.operation(target, input, recorded.principal));
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      answerJson(res, e.status, { __type: e.type, message: e.message });
    }
  }

  private operation(target: string, input: Json, principal: string): Json {
    switch (target) {
      case "TrentService.Encrypt":
        return this.encrypt(input, principal);
      case "TrentService.Decrypt":
        return this.decrypt(input, principal);
      default:
        throw new AwsError(400, "UnknownOperationException", `${target} is not served here.`);
    }
  }

  private encrypt(input: Json, principal: string): Json {
    const key = this.usable(String(input.KeyId ?? ""), principal, "Encrypt");
    const plaintext = Buffer.from(String(input.Plaintext ?? ""), "base64");
    if (plaintext.length < 1 || plaintext.length > 4096) {
      throw new AwsError(400, "ValidationException", "Plaintext must be 1 to 4096 bytes.");
    }
    const nonce = randomBytes(12);
    const cipher = createCipheriv("aes-256-gcm", key.material, nonce);
    cipher.setAAD(contextAad(input.EncryptionContext));
    const blob = Buffer.concat([
      Buffer.from(key.id, "ascii"),
      nonce,
      cipher.update(plaintext),
      cipher.final(),
      cipher.getAuthTag(),
    ]);
    return {
      CiphertextBlob: blob.toString("base64"),
      KeyId: key.arn,
      EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
    };
  }

  private decrypt(input: Json, principal: string): Json {
    const blob = Buffer.from(String(input.CiphertextBlob ?? ""), "base64");
    const key = this.keys.get(blob.subarray(0, 36).toString("ascii"));
    if (blob.length < 36 + 12 + 16 + 1 || key === undefined) {
      throw new AwsError(400, "InvalidCiphertextException", "");
    }
    if (input.KeyId !== undefined && this.resolve(String(input.KeyId)) !== key) {
      throw new AwsError(
        400,
        "IncorrectKeyException",
        "The key ID in the request does not identify a CMK that can perform this operation.",
      );
    }
    this.usable(key.arn, principal, "Decrypt");
    try {
      const decipher = createDecipheriv("aes-256-gcm", key.material, blob.subarray(36, 48));
      decipher.setAAD(contextAad(input.EncryptionContext));
      decipher.setAuthTag(blob.subarray(blob.length - 16));
      const plaintext = Buffer.concat([
        decipher.update(blob.subarray(48, blob.length - 16)),
        decipher.final(),
      ]);
      return {
        KeyId: key.arn,
        Plaintext: plaintext.toString("base64"),
        EncryptionAlgorithm: "SYMMETRIC_DEFAULT",
      };
    } catch {
      throw new AwsError(400, "InvalidCiphertextException", "");
    }
  }

  private resolve(keyId: string): FakeKmsKey | undefined {
    const prefix = `arn:aws:kms:${this.region}:${ACCOUNT}:`;
    const short = keyId.startsWith(prefix) ? keyId.slice(prefix.length) : keyId;
    if (short.startsWith("alias/")) {
      const id = this.aliases.get(short);
      return id === undefined ? undefined : this.keys.get(id);
    }
    return this.keys.get(short.replace(/^key\//, ""));
  }

  private usable(keyId: string, principal: string, op: string): FakeKmsKey {
    const key = this.resolve(keyId);
    if (key === undefined) {
      throw new AwsError(
        400,
        "NotFoundException",
        keyId.includes("alias/")
          ? `Alias arn:aws:kms:${this.region}:${ACCOUNT}:${keyId.replace(/^.*?(alias\/)/, "$1")} is not found.`
          : `Key '${keyId}' does not exist`,
      );
    }
    if (key.allowed !== undefined && !key.allowed.has(principal)) {
      throw new AwsError(
        400,
        "AccessDeniedException",
        `User: arn:aws:iam::${ACCOUNT}:user/${principal} is not authorized to perform: kms:${op} on resource: ${key.arn} because no resource-based policy allows the kms:${op} action`,
      );
    }
    if (key.state === "Disabled")
      throw new AwsError(400, "DisabledException", `${key.arn} is disabled.`);
    if (key.state === "PendingDeletion") {
      throw new AwsError(400, "KMSInvalidStateException", `${key.arn} is pending deletion.`);
    }
    return key;
  }
}

/** The encryption context as authenticated data: its pairs in key order, as one JSON text. */
function contextAad(context: unknown): Buffer {
  const pairs = Object.entries((context ?? {}) as Record<string, string>).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  );
  return Buffer.from(JSON.stringify(pairs));
}
