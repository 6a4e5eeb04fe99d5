/**
 * The master key kept by AWS KMS (docs/master-key.md): keyward makes the 32-byte key itself,
 * KMS `Encrypt` turns it into a CiphertextBlob that the key header keeps, and every open asks
 * `Decrypt` for it back, through the official SDK with credentials from its default chain. The
 * encryption context `{"keyward-store": <store id>}` binds the ciphertext to this store (and
 * shows in CloudTrail, so a team can tell which store a Decrypt was for).
 */
import {
  DecryptCommand,
  EncryptCommand,
  KMSClient,
  type KMSClientConfig,
} from "@aws-sdk/client-kms";
import { KeywardError } from "../core/errors.js";
import type { WrappedMasterKey } from "../crypto/envelope.js";
import { type KeyWrapper, wrappedKeyRefused } from "../crypto/masterkey.js";
import {
  AUTH_ERRORS,
  type CredentialSource,
  credentialSource,
  errorName,
} from "./aws-credentials.js";
import type { AwsKmsConfig } from "./master-key-options.js";

export const DEFAULT_KMS_KEY_ID = "alias/keyward";
const DEFAULT_TIMEOUT_SECONDS = 10;

type KmsOp = "Encrypt" | "Decrypt";

export class AwsKms implements KeyWrapper {
  readonly source = "aws-kms" as const;
  readonly label: string;
  private readonly client: KMSClient;
  private readonly keyId: string;
  private readonly credentials: CredentialSource;
  private readonly where: string;

  /** `wrapped`: an existing store's key, decrypted with the KMS key (ARN) that encrypted it. */
  constructor(options: AwsKmsConfig, env: NodeJS.ProcessEnv, wrapped?: WrappedMasterKey) {
    this.keyId = wrapped?.key ?? options.keyId ?? DEFAULT_KMS_KEY_ID;
    // A key ARN says its region; otherwise the SDK's own resolution (AWS_REGION, the profile).
    const region = options.region ?? /^arn:aws[a-z-]*:kms:([a-z0-9-]+):/.exec(this.keyId)?.[1];
    this.credentials = credentialSource(options, env);
    this.where =
      options.endpoint !== undefined
        ? `at ${options.endpoint}`
        : region !== undefined
          ? `in ${region}`
          : "in the SDK's default region";
    const timeout = Math.round((options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000);
    const config: KMSClientConfig = {
      retryMode: "standard",
      requestHandler: {
        connectionTimeout: timeout,
        requestTimeout: timeout,
        throwOnRequestTimeout: true,
      },
      ...(region === undefined ? {} : { region }),
      ...(options.profile === undefined ? {} : { profile: options.profile }),
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    };
    this.client = new KMSClient(config);
    this.label = `AWS KMS key ${this.keyId} ${this.where}, SDK default chain: ${this.credentials.label}`;
  }

  close(): void {
    this.client.destroy();
  }

  async wrap(key: Buffer, storeId: string): Promise<WrappedMasterKey> {
    const out = await this.send("Encrypt", () =>
      this.client.send(
        new EncryptCommand({
          KeyId: this.keyId,
          Plaintext: key,
          EncryptionContext: context(storeId),
        }),
      ),
    );
    if (out.CiphertextBlob === undefined || out.KeyId === undefined) {
      throw new KeywardError(
        "upstream_rejected",
        `${this.label} answered Encrypt without a ciphertext or key ARN`,
        "check that masterKey.endpoint (if set) points at AWS KMS",
      );
    }
    // The ARN, not the alias: an alias moved to another key later must not break this store.
    return {
      source: this.source,
      key: out.KeyId,
      ciphertext: Buffer.from(out.CiphertextBlob).toString("base64"),
    };
  }

  async unwrap(wrapped: WrappedMasterKey, storeId: string): Promise<Buffer> {
    const out = await this.send("Decrypt", () =>
      this.client.send(
        new DecryptCommand({
          KeyId: this.keyId,
          CiphertextBlob: Buffer.from(wrapped.ciphertext, "base64"),
          EncryptionContext: context(storeId),
        }),
      ),
    );
    const key = out.Plaintext === undefined ? undefined : Buffer.from(out.Plaintext);
    if (key === undefined || key.length !== 32)
      throw wrappedKeyRefused(this.label, "it is not a 32-byte key");
    return key;
  }

  private async send<T>(op: KmsOp, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (e) {
      throw this.explain(op, e);
    }
  }

  /** The SDK's errors as this source's: what was tried and what fixes it. */
  private explain(op: KmsOp, e: unknown): KeywardError {
    const type = errorName(e);
    const tried = `master key source aws-kms: ${op} with ${this.label}`;
    const meta = (e as { $metadata?: { httpStatusCode?: number } }).$metadata;
    const message = String((e as Error)?.message ?? "").slice(0, 200);
    if (type === "CredentialsProviderError") {
      return new KeywardError(
        "upstream_unauthorized",
        `${tried} failed: no usable AWS credentials (the SDK default chain tried ${this.credentials.label})`,
        this.credentials.fix,
      );
    }
    if (AUTH_ERRORS.has(type)) {
      return new KeywardError(
        "upstream_unauthorized",
        `${tried} failed: AWS refused the credentials (${type})`,
        this.credentials.fix,
      );
    }
    switch (type) {
      case "AccessDeniedException":
        return new KeywardError(
          "upstream_forbidden",
          `${tried} was denied (AccessDeniedException)`,
          `allow kms:Encrypt and kms:Decrypt on ${this.keyId} to this identity, in the key policy or its IAM policy (docs/master-key.md)`,
        );
      case "NotFoundException":
        return new KeywardError(
          "no_master_key",
          `${tried} failed: there is no such KMS key (NotFoundException)`,
          `create it (aws kms create-key, then aws kms create-alias --alias-name ${DEFAULT_KMS_KEY_ID} --target-key-id <key id>) or set masterKey.keyId to an existing key`,
        );
      case "DisabledException":
        return new KeywardError(
          "no_master_key",
          `${tried} failed: the KMS key is disabled (DisabledException)`,
          `enable it: aws kms enable-key --key-id ${this.keyId}`,
        );
      case "KMSInvalidStateException":
        return new KeywardError(
          "no_master_key",
          `${tried} failed: the KMS key cannot be used in its state (${message || type})`,
          `if it is pending deletion, cancel that: aws kms cancel-key-deletion --key-id ${this.keyId}, then aws kms enable-key`,
        );
      case "InvalidCiphertextException":
      case "IncorrectKeyException":
        return wrappedKeyRefused(this.label, type);
      case "InvalidKeyUsageException":
        return new KeywardError(
          "config_invalid",
          `${tried} failed: the key is not a symmetric ENCRYPT_DECRYPT key (${type})`,
          "set masterKey.keyId to a symmetric encryption key",
        );
    }
    if (/region is missing/i.test(message)) {
      return new KeywardError(
        "config_invalid",
        `${tried} failed: no AWS region is set`,
        "set masterKey.region, AWS_REGION, or use a key ARN as masterKey.keyId",
      );
    }
    if (type === "TimeoutError" || /ETIMEDOUT|timed? ?out/i.test(message)) {
      return new KeywardError(
        "upstream_timeout",
        `${tried} got no answer in time`,
        "check the network path to KMS, or raise masterKey.timeoutSeconds",
      );
    }
    if (meta?.httpStatusCode === undefined) {
      return new KeywardError(
        "upstream_unavailable",
        `${tried} could not reach KMS (${(e as { code?: string }).code ?? (type || "network error")})`,
        "check the network and the region or endpoint setting, then run the command again",
      );
    }
    return new KeywardError(
      meta.httpStatusCode >= 500 ? "upstream_unavailable" : "upstream_rejected",
      `${tried} failed: ${type}: ${message}`,
      "see docs/master-key.md for what keyward expects of the KMS key",
    );
  }
}

function context(storeId: string): Record<string, string> {
  return { "keyward-store": storeId };
}
