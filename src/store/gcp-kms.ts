/**
 * The master key kept by GCP Cloud KMS (docs/master-key.md): keyward makes the 32-byte key
 * itself, `cryptoKeys.encrypt` turns it into a ciphertext that the key header keeps, and every
 * open asks `cryptoKeys.decrypt` for it back, through the official client
 * (@google-cloud/kms, REST mode) with Application Default Credentials. The additional
 * authenticated data `keyward-store:<store id>` binds the ciphertext to this store, and CRC32C
 * checksums go both ways, as Google's data-integrity guide asks of every client.
 */
import { KeyManagementServiceClient } from "@google-cloud/kms";
import { KeywardError } from "../core/errors.js";
import type { WrappedMasterKey } from "../crypto/envelope.js";
import { type KeyWrapper, wrappedKeyRefused } from "../crypto/masterkey.js";
import { crc32c } from "./crc32c.js";
import { ADC_FIX, type AdcSource, adcSource, classify, restClient } from "./gcp-api.js";
import type { GcpKmsConfig } from "./master-key-options.js";

const DEFAULT_ENDPOINT = "https://cloudkms.googleapis.com";
const DEFAULT_TIMEOUT_SECONDS = 10;
/** projects/P/locations/L/keyRings/R/cryptoKeys/K, optionally /cryptoKeyVersions/N. */
const KEY_VERSION =
  /^(projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+)(\/cryptoKeyVersions\/\d+)?$/;

type KmsOp = "encrypt" | "decrypt";

export class GcpKms implements KeyWrapper {
  readonly source = "gcp-kms" as const;
  readonly label: string;
  private readonly client: KeyManagementServiceClient;
  private readonly keyName: string | undefined;
  private readonly adc: AdcSource;
  private readonly origin: string;

  /** `wrapped`: an existing store's key, decrypted with the CryptoKey that encrypted it. */
  constructor(options: GcpKmsConfig, env: NodeJS.ProcessEnv, wrapped?: WrappedMasterKey) {
    this.keyName = wrapped?.key ?? options.keyName;
    this.adc = adcSource(env);
    const endpoint = new URL(options.endpoint ?? DEFAULT_ENDPOINT);
    const rest = restClient(endpoint, options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS, this.adc);
    this.client = new KeyManagementServiceClient({ ...rest.options });
    this.origin = rest.origin;
    const where = options.endpoint === undefined ? "" : ` at ${options.endpoint}`;
    this.label = `Cloud KMS key ${this.keyName ?? "(none set)"}${where}, Application Default Credentials: ${this.adc.label}`;
  }

  /** No default is possible: a CryptoKey name carries the project, which only the user knows. */
  private key(): string {
    if (this.keyName === undefined) {
      throw new KeywardError(
        "config_invalid",
        "master key source gcp-kms needs the CryptoKey to use",
        "set masterKey: { source: gcp-kms, keyName: projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key> } in keyward.yaml",
      );
    }
    return this.keyName;
  }

  close(): void {
    void this.client.close().catch(() => {});
  }

  async wrap(key: Buffer, storeId: string): Promise<WrappedMasterKey> {
    const aad = context(storeId);
    const name = this.key();
    const [out] = await this.client
      .encrypt({
        name,
        plaintext: key,
        additionalAuthenticatedData: aad,
        plaintextCrc32c: { value: crc32c(key) },
        additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
      })
      .catch((e: unknown) => {
        throw this.explain("encrypt", e);
      });
    const ciphertext = bytes(out.ciphertext);
    if (
      ciphertext === undefined ||
      out.verifiedPlaintextCrc32c !== true ||
      out.verifiedAdditionalAuthenticatedDataCrc32c !== true ||
      Number(out.ciphertextCrc32c?.value) !== crc32c(ciphertext)
    ) {
      // Google's data-integrity guide: discard such an answer; keyward has written nothing yet.
      throw this.unchecked("encrypt", "a ciphertext or checksums");
    }
    // The CryptoKey, not the version that encrypted: decrypt finds the version in the
    // ciphertext, so a rotated key (a new primary version) still opens this store.
    const used = KEY_VERSION.exec(out.name ?? "")?.[1] ?? name;
    return { source: this.source, key: used, ciphertext: ciphertext.toString("base64") };
  }

  async unwrap(wrapped: WrappedMasterKey, storeId: string): Promise<Buffer> {
    const aad = context(storeId);
    const name = this.key();
    const ciphertext = Buffer.from(wrapped.ciphertext, "base64");
    const [out] = await this.client
      .decrypt({
        name,
        ciphertext,
        additionalAuthenticatedData: aad,
        ciphertextCrc32c: { value: crc32c(ciphertext) },
        additionalAuthenticatedDataCrc32c: { value: crc32c(aad) },
      })
      .catch((e: unknown) => {
        throw this.explain("decrypt", e);
      });
    const key = bytes(out.plaintext);
    if (key === undefined || Number(out.plaintextCrc32c?.value) !== crc32c(key)) {
      throw this.unchecked("decrypt", "a plaintext or checksum");
    }
    if (key.length !== 32) throw wrappedKeyRefused(this.label, "it is not a 32-byte key");
    return key;
  }

  /** The client's errors as this source's: what was tried and what fixes it, never the raw error. */
  /** An answer whose data or checksums fail Google's integrity checks: nothing was written. */
  private unchecked(op: KmsOp, what: string): KeywardError {
    return new KeywardError(
      "upstream_rejected",
      `${this.label} answered ${op} with ${what} that do not check out`,
      "run the command again; if it persists, check that masterKey.endpoint (if set) points at Cloud KMS itself",
    );
  }

  private explain(op: KmsOp, e: unknown): KeywardError {
    const f = classify(e, this.origin);
    const tried = `master key source gcp-kms: ${op} with ${this.label}`;
    // As in the Secret Manager store: GCP's own text is kept only for calls that carry no key,
    // since an answer to an encrypt call could quote what it was sent.
    const said = op === "encrypt" ? f.status : f.detail;
    if (f.kind === "credentials") {
      return new KeywardError(
        "upstream_unauthorized",
        `${tried} failed: could not get Google credentials (${f.detail})`,
        ADC_FIX,
      );
    }
    if (f.kind === "timeout") {
      return new KeywardError(
        "upstream_timeout",
        `${tried} got no answer in time`,
        "check the network path to Cloud KMS, or raise masterKey.timeoutSeconds",
      );
    }
    if (f.kind === "network") {
      return new KeywardError(
        "upstream_unavailable",
        `${tried} could not reach Cloud KMS (${f.detail})`,
        "check the network and masterKey.endpoint (if set), then run the command again",
      );
    }
    switch (f.status) {
      case "UNAUTHENTICATED":
        return new KeywardError(
          "upstream_unauthorized",
          `${tried} failed: Cloud KMS rejected the credentials (UNAUTHENTICATED)`,
          ADC_FIX,
        );
      case "PERMISSION_DENIED": {
        // Cloud KMS answers PERMISSION_DENIED for a key that does not exist, too.
        const permission = /Permission '([a-zA-Z.]+)'/.exec(f.detail)?.[1];
        return new KeywardError(
          "upstream_forbidden",
          `${tried} was denied (${permission ?? "PERMISSION_DENIED"}), or the key does not exist`,
          `grant this identity roles/cloudkms.cryptoKeyEncrypterDecrypter on ${this.keyName ?? "the key"} (gcloud kms keys add-iam-policy-binding), and check the key name`,
        );
      }
      case "NOT_FOUND":
        return new KeywardError(
          "no_master_key",
          `${tried} failed: there is no such CryptoKey (NOT_FOUND)`,
          "create it (gcloud kms keyrings create <ring> --location <location>; gcloud kms keys create <key> --keyring <ring> --location <location> --purpose encryption) or set masterKey.keyName to an existing key",
        );
      case "FAILED_PRECONDITION":
        return new KeywardError(
          "no_master_key",
          `${tried} failed: the key version cannot be used in its state (${said})`,
          "enable it (gcloud kms keys versions enable <version> --key <key> --keyring <ring> --location <location>), or restore it if it is scheduled for destruction",
        );
      case "INVALID_ARGUMENT":
        // Wrong additional authenticated data or a ciphertext from another key or store.
        if (op === "decrypt") return wrappedKeyRefused(this.label, f.detail);
        return new KeywardError(
          "config_invalid",
          `${tried} failed: ${said}`,
          "set masterKey.keyName to a symmetric key with purpose ENCRYPT_DECRYPT",
        );
    }
    return new KeywardError(
      ["UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED"].includes(f.status)
        ? "upstream_unavailable"
        : "upstream_rejected",
      `${tried} failed: ${op === "encrypt" ? f.status : `${f.status}: ${f.detail}`}`,
      "see docs/master-key.md for what keyward expects of the Cloud KMS key",
    );
  }
}

function context(storeId: string): Buffer {
  return Buffer.from(`keyward-store:${storeId}`, "utf8");
}

/** The REST mode decodes bytes fields to Uint8Array (a base64 string from older gax versions). */
/** A bytes field of an answer (base64 in REST mode), or undefined when it is missing. */
function bytes(value: Uint8Array | string | null | undefined): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? Buffer.from(value, "base64") : Buffer.from(value);
}
