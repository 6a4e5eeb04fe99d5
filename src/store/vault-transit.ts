/**
 * The master key kept by Vault's transit engine (docs/master-key.md): keyward makes the 32-byte
 * key itself, `POST <mount>/encrypt/<key>` turns it into a `vault:vN:…` ciphertext that the key
 * header keeps, and every open asks `POST <mount>/decrypt/<key>` for it back. No associated data
 * binds it to the store: transit's `rewrap` takes none (hashicorp/vault#29532), and rewrap is what
 * lets a rotated transit key retire its old versions without the key leaving Vault. A ciphertext
 * copied from another store decrypts to that store's key, which the header's check value refuses.
 * Logins, retries and token handling are the Vault backend's own client (vault-client.ts).
 */
import { isKeywardError, KeywardError } from "../core/errors.js";
import type { WrappedMasterKey } from "../crypto/envelope.js";
import type { KeyWrapper } from "../crypto/masterkey.js";
import type { VaultTransitConfig } from "./master-key-options.js";
import { VaultClient, type VaultResponse, vaultErrors } from "./vault-client.js";

export const DEFAULT_TRANSIT_MOUNT = "transit";
export const DEFAULT_TRANSIT_KEY = "keyward";

type TransitOp = "encrypt" | "decrypt" | "rewrap";

export class VaultTransit implements KeyWrapper {
  readonly source = "vault-transit" as const;
  readonly label: string;
  private readonly client: VaultClient;
  private readonly mount: string;
  private readonly name: string;

  /** `wrapped`: an existing store's key, decrypted with the transit key that encrypted it. */
  constructor(options: VaultTransitConfig, env: NodeJS.ProcessEnv, wrapped?: WrappedMasterKey) {
    if (wrapped === undefined) {
      this.mount = options.mount ?? DEFAULT_TRANSIT_MOUNT;
      this.name = options.key ?? DEFAULT_TRANSIT_KEY;
    } else {
      const slash = wrapped.key.lastIndexOf("/");
      this.mount = wrapped.key.slice(0, slash);
      this.name = wrapped.key.slice(slash + 1);
    }
    this.client = new VaultClient(
      {
        ...(options.address === undefined ? {} : { address: options.address }),
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        ...(options.caCert === undefined ? {} : { caCert: options.caCert }),
        auth: options.auth ?? { method: "token" },
        ...(options.timeoutSeconds === undefined
          ? {}
          : { timeoutMs: Math.round(options.timeoutSeconds * 1000) }),
      },
      env,
    );
    this.label = `Vault transit key ${this.name} (mount ${this.mount}) at ${this.client.address}, ${this.client.authDescription}`;
  }

  close(): void {
    this.client.close();
  }

  async wrap(key: Buffer): Promise<WrappedMasterKey> {
    const data = await this.call("encrypt", { plaintext: key.toString("base64") });
    return this.wrapped(data);
  }

  async unwrap(wrapped: WrappedMasterKey): Promise<Buffer> {
    const data = await this.call("decrypt", { ciphertext: wrapped.ciphertext });
    const key =
      typeof data.plaintext === "string" ? Buffer.from(data.plaintext, "base64") : undefined;
    if (key === undefined || key.length !== 32) throw this.notThisStore("it is not a 32-byte key");
    return key;
  }

  /** After `vault write -f <mount>/keys/<key>/rotate`: the same key under the newest version. */
  async rewrap(wrapped: WrappedMasterKey): Promise<WrappedMasterKey> {
    const data = await this.call("rewrap", { ciphertext: wrapped.ciphertext });
    return this.wrapped(data);
  }

  private wrapped(data: Record<string, unknown>): WrappedMasterKey {
    const ciphertext = data.ciphertext;
    if (typeof ciphertext !== "string" || !/^vault:v\d+:/.test(ciphertext)) {
      throw new KeywardError(
        "upstream_rejected",
        `${this.label} answered without a vault:vN: ciphertext`,
        "check that the address points at Vault and that the mount is a transit engine",
      );
    }
    return { source: this.source, key: `${this.mount}/${this.name}`, ciphertext };
  }

  private async call(
    op: TransitOp,
    body: Record<string, string>,
  ): Promise<Record<string, unknown>> {
    const path = `${this.mount}/${op}/${this.name}`;
    let response: VaultResponse;
    try {
      response = await this.client.request("POST", {
        path,
        body,
        accept: [400],
        subject: "the keyward master key",
      });
    } catch (e) {
      throw this.explain(op, path, e);
    }
    if (response.status === 400) throw this.refused(op, vaultErrors(response.body) ?? "400");
    return (response.body?.data ?? {}) as Record<string, unknown>;
  }

  /** Vault's 400s: a missing key, a ciphertext too old for the key's policy, or not this key's. */
  private refused(op: TransitOp, said: string): KeywardError {
    if (/encryption key not found|key not found/i.test(said)) {
      return new KeywardError(
        "no_master_key",
        `master key source vault-transit: Vault has no transit key ${this.name} at mount ${this.mount} (${said}); tried ${this.label}`,
        op === "encrypt"
          ? `create it (vault write -f ${this.mount}/keys/${this.name}) or set masterKey.key to an existing transit key`
          : `the key that wrapped this store's master key is gone: restore it into Vault (vault write ${this.mount}/restore/${this.name} backup=…)`,
      );
    }
    if (/disallowed by policy|too old/i.test(said)) {
      return new KeywardError(
        "no_master_key",
        `master key source vault-transit: Vault refuses to decrypt this store's wrapped key with an old version of transit key ${this.name} (${said})`,
        `lower min_decryption_version of ${this.mount}/keys/${this.name}, then run \`keyward rekey --rewrap\` so the store keeps a ciphertext of the newest version`,
      );
    }
    if (op === "encrypt") {
      return new KeywardError(
        "upstream_rejected",
        `master key source vault-transit: Vault refused to encrypt with ${this.label} (${said})`,
        `check that ${this.mount} is a transit mount and that ${this.name} is a symmetric encryption key (aes256-gcm96)`,
      );
    }
    return this.notThisStore(said);
  }

  private notThisStore(why: string): KeywardError {
    return new KeywardError(
      "wrong_master_key",
      `the master key from ${this.label} does not open this store: Vault could not decrypt the wrapped key in the store's header (${why})`,
      "the header's wrapped key was replaced or belongs to another store; restore the store's header from a backup",
    );
  }

  /** The Vault client's errors, said as this source's: what was tried and the policy it needs. */
  private explain(op: TransitOp, path: string, e: unknown): unknown {
    if (!isKeywardError(e)) return e;
    const message = `master key source vault-transit: ${e.message}`;
    switch (e.code) {
      case "upstream_forbidden":
        return new KeywardError(
          e.code,
          message,
          `grant the policy of the ${this.client.authDescription} "update" on ${this.mount}/encrypt/${this.name} and ${this.mount}/decrypt/${this.name} (and ${this.mount}/rewrap/${this.name} for \`keyward rekey --rewrap\`): docs/master-key.md`,
        );
      case "not_found":
        return new KeywardError(
          "no_master_key",
          `${message}; tried ${op} at ${path}`,
          `enable a transit engine there (vault secrets enable -path=${this.mount} transit) or set masterKey.mount`,
        );
      default:
        return new KeywardError(e.code, message, e.fix);
    }
  }
}
