/**
 * A local GCP Cloud KMS for tests: `cryptoKeys.encrypt` and `cryptoKeys.decrypt` of the v1 REST
 * API on 127.0.0.1, close enough that the official client (@google-cloud/kms in its REST mode)
 * runs against it unchanged. Callers authenticate with tokens from the Secret Manager fake's STS
 * (workload identity federation, as in gcp-env.ts), as every Google API accepts them.
 *
 * What it follows:
 * - cloud.google.com/kms/docs/reference/rest/v1/projects.locations.keyRings.cryptoKeys/encrypt
 *   and …/decrypt: `POST /v1/{name}:encrypt` with `{plaintext, additionalAuthenticatedData,
 *   plaintextCrc32c, additionalAuthenticatedDataCrc32c}` (bytes as base64, int64 as strings),
 *   answered with `{name: <the CryptoKeyVersion used>, ciphertext, ciphertextCrc32c,
 *   verifiedPlaintextCrc32c, verifiedAdditionalAuthenticatedDataCrc32c, protectionLevel}`;
 *   `POST /v1/{name}:decrypt` with `{ciphertext, additionalAuthenticatedData, ciphertextCrc32c,
 *   additionalAuthenticatedDataCrc32c}`, answered with `{plaintext, plaintextCrc32c, usedPrimary,
 *   protectionLevel}`. Encrypt uses the key's primary version; decrypt finds the version in the
 *   ciphertext, so a rotated key still decrypts what older versions encrypted. Permissions
 *   cloudkms.cryptoKeyVersions.useToEncrypt / useToDecrypt.
 * - cloud.google.com/kms/docs/data-integrity-guidelines: a checksum that does not match its
 *   field is INVALID_ARGUMENT; a wrong AAD or foreign ciphertext is INVALID_ARGUMENT
 *   "Decryption failed: the ciphertext is invalid."; a version that is not enabled is
 *   FAILED_PRECONDITION "<version> is not enabled, current state is: DISABLED.".
 * - gax-nodejs REST mode asks for `$alt=json;enum-encoding=int`: protectionLevel is then 1
 *   (SOFTWARE). Errors are google.rpc.Status bodies (AIP-193).
 * It is test code and ships nowhere.
 */
import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { crc32c } from "../crc32c.js";
import {
  type FakeGcpSecretManager,
  RpcError,
  rpcBody,
  rpcServer,
  send,
} from "./fake-gcp-secret-manager.js";
import { closeServer, listenLocal } from "./local-server.js";

type VersionState = "ENABLED" | "DISABLED" | "DESTROYED";

interface KeyVersion {
  state: VersionState;
  material: Buffer;
}

interface CryptoKey {
  versions: KeyVersion[];
  /** 1-based number of the primary version. */
  primary: number;
}

export interface KmsRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

const ROUTE =
  /^\/v1\/(projects\/[^/:]+\/locations\/[^/:]+\/keyRings\/[^/:]+\/cryptoKeys\/[^/:]+):(encrypt|decrypt)$/;
const PERMISSION = {
  encrypt: "cloudkms.cryptoKeyVersions.useToEncrypt",
  decrypt: "cloudkms.cryptoKeyVersions.useToDecrypt",
} as const;

export class FakeGcpKms {
  readonly requests: KmsRequest[] = [];
  private readonly keys = new Map<string, CryptoKey>();
  private readonly denied = new Set<string>();
  private failures: Array<{ status: number; rpcStatus: string }> = [];

  private constructor(
    private readonly server: Server,
    private readonly sts: FakeGcpSecretManager,
  ) {}

  /** `sts`: the fake whose STS issues the tokens this one accepts. */
  static async start(sts: FakeGcpSecretManager): Promise<FakeGcpKms> {
    let fake: FakeGcpKms | undefined;
    const server = rpcServer((req, res) => (fake as FakeGcpKms).handle(req, res));
    fake = new FakeGcpKms(server, sts);
    fake.origin = await listenLocal(server);
    return fake;
  }

  /** `http://127.0.0.1:<port>` */
  origin = "";

  /** Creates a symmetric ENCRYPT_DECRYPT key with one enabled primary version; returns its name. */
  createKey(keyRing: string, key: string, location = "global"): string {
    const name = `projects/${this.sts.projectId}/locations/${location}/keyRings/${keyRing}/cryptoKeys/${key}`;
    this.keys.set(name, {
      versions: [{ state: "ENABLED", material: randomBytes(32) }],
      primary: 1,
    });
    return name;
  }

  /** A new primary version (`gcloud kms keys versions create --primary`); returns its number. */
  rotate(name: string): number {
    const key = this.mustKey(name);
    key.versions.push({ state: "ENABLED", material: randomBytes(32) });
    key.primary = key.versions.length;
    return key.primary;
  }

  setVersionState(name: string, version: number, state: VersionState): void {
    const v = this.mustKey(name).versions[version - 1];
    if (v === undefined) throw new Error(`no version ${version} of ${name}`);
    v.state = state;
    if (state === "DESTROYED") v.material.fill(0);
  }

  deny(permission: string): void {
    this.denied.add(permission);
  }

  allowAll(): void {
    this.denied.clear();
  }

  /** The next request is answered with `status` (e.g. 503) instead of being handled. */
  failNext(status: number, rpcStatus: string): void {
    this.failures.push({ status, rpcStatus });
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private mustKey(name: string): CryptoKey {
    const key = this.keys.get(name);
    if (key === undefined) throw new Error(`no key ${name}`);
    return key;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", this.origin);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      headers[k] = Array.isArray(v) ? v.join(", ") : String(v ?? "");
    }
    this.requests.push({ method: req.method ?? "", url: url.pathname + url.search, headers, body });
    const failure = this.failures.shift();
    if (failure !== undefined) {
      send(res, failure.status, rpcBody(failure.status, failure.rpcStatus, "injected by the test"));
      return;
    }
    try {
      const ints = (url.searchParams.get("$alt") ?? "").includes("enum-encoding=int");
      send(res, 200, this.api(req.method ?? "", url, body, headers.authorization, ints));
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
      send(res, e.httpStatus, rpcBody(e.httpStatus, e.status, e.message));
    }
  }

  private api(
    method: string,
    url: URL,
    body: string,
    authorization: string | undefined,
    ints: boolean,
  ): unknown {
    const m = ROUTE.exec(url.pathname);
    if (m === null || method !== "POST") {
      throw new RpcError(404, "NOT_FOUND", `no route for ${method} ${url.pathname}`);
    }
    const [, name = "", verb] = m;
    const op = verb as "encrypt" | "decrypt";
    if (!this.sts.accepts(authorization)) {
      throw new RpcError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
      );
    }
    if (this.denied.has(PERMISSION[op])) {
      throw new RpcError(
        403,
        "PERMISSION_DENIED",
        `Permission '${PERMISSION[op]}' denied on resource '${name}' (or it may not exist).`,
      );
    }
    const key = this.keys.get(name);
    if (key === undefined) throw new RpcError(404, "NOT_FOUND", `${name} not found.`);
    const json = JSON.parse(body || "{}") as Record<string, unknown>;
    const aad = checkedBytes(
      json,
      "additionalAuthenticatedData",
      "additionalAuthenticatedDataCrc32c",
    );
    const protectionLevel = ints ? 1 : "SOFTWARE";
    if (op === "encrypt") {
      const plaintext = checkedBytes(json, "plaintext", "plaintextCrc32c");
      if (plaintext.length === 0) {
        throw new RpcError(400, "INVALID_ARGUMENT", "Plaintext is required.");
      }
      const version = this.usable(name, key, key.primary);
      const iv = randomBytes(12);
      const cipher = createCipheriv("aes-256-gcm", version.material, iv);
      cipher.setAAD(aad);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(key.primary);
      const ciphertext = Buffer.concat([
        header,
        iv,
        cipher.update(plaintext),
        cipher.final(),
        cipher.getAuthTag(),
      ]);
      return {
        name: `${name}/cryptoKeyVersions/${key.primary}`,
        ciphertext: ciphertext.toString("base64"),
        ciphertextCrc32c: String(crc32c(ciphertext)),
        verifiedPlaintextCrc32c: json.plaintextCrc32c !== undefined,
        verifiedAdditionalAuthenticatedDataCrc32c:
          json.additionalAuthenticatedDataCrc32c !== undefined,
        protectionLevel,
      };
    }
    const ciphertext = checkedBytes(json, "ciphertext", "ciphertextCrc32c");
    const invalid = new RpcError(
      400,
      "INVALID_ARGUMENT",
      "Decryption failed: the ciphertext is invalid.",
    );
    if (ciphertext.length < 4 + 12 + 16) throw invalid;
    const number = ciphertext.readUInt32BE(0);
    if (key.versions[number - 1] === undefined) throw invalid;
    const version = this.usable(name, key, number);
    try {
      const decipher = createDecipheriv(
        "aes-256-gcm",
        version.material,
        ciphertext.subarray(4, 16),
      );
      decipher.setAAD(aad);
      decipher.setAuthTag(ciphertext.subarray(ciphertext.length - 16));
      const plaintext = Buffer.concat([
        decipher.update(ciphertext.subarray(16, ciphertext.length - 16)),
        decipher.final(),
      ]);
      return {
        plaintext: plaintext.toString("base64"),
        plaintextCrc32c: String(crc32c(plaintext)),
        usedPrimary: number === key.primary,
        protectionLevel,
      };
    } catch {
      throw invalid;
    }
  }

  private usable(name: string, key: CryptoKey, number: number): KeyVersion {
    const version = key.versions[number - 1] as KeyVersion;
    if (version.state !== "ENABLED") {
      throw new RpcError(
        400,
        "FAILED_PRECONDITION",
        `${name}/cryptoKeyVersions/${number} is not enabled, current state is: ${version.state}.`,
      );
    }
    return version;
  }
}

/** A bytes field and its optional CRC32C (an int64, so a string in JSON), checked as KMS does. */
function checkedBytes(json: Record<string, unknown>, field: string, crcField: string): Buffer {
  const raw = json[field];
  const bytes = typeof raw === "string" ? Buffer.from(raw, "base64") : Buffer.alloc(0);
  const crc = json[crcField];
  if (crc !== undefined && crc !== null && Number(crc) !== crc32c(bytes)) {
    throw new RpcError(
      400,
      "INVALID_ARGUMENT",
      `The checksum in field ${snake(crcField)} did not match the data in field ${snake(field)}.`,
    );
  }
  return bytes;
}

function snake(field: string): string {
  return field.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}
