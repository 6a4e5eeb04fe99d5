import type { KmsSourceKind, WrappedMasterKey } from "../crypto/envelope.js";
import type { KeyWrapper, KeyWrappers } from "../crypto/masterkey.js";
import type {
  AwsKmsConfig,
  GcpKmsConfig,
  MasterKeyConfig,
  VaultTransitConfig,
} from "./master-key-options.js";

/**
 * The KMS master-key sources by name, each loaded on demand (the AWS SDK only by the commands
 * that need it). `configured` is keyward.yaml's masterKey: section; a source it does not name
 * runs with its defaults (VAULT_ADDR and a token; the AWS default chain and alias/keyward;
 * Google's ADC, with the CryptoKey the store names).
 * Adding a source is one file and one case here.
 */
export function keyWrappers(
  configured: MasterKeyConfig | undefined,
  env: NodeJS.ProcessEnv,
): KeyWrappers {
  return {
    configured: configured?.source,
    async open(source: KmsSourceKind, wrapped?: WrappedMasterKey): Promise<KeyWrapper> {
      switch (source) {
        case "vault-transit": {
          const { VaultTransit } = await import("./vault-transit.js");
          const options = configured?.source === source ? configured : { source };
          return new VaultTransit(options as VaultTransitConfig, env, wrapped);
        }
        case "aws-kms": {
          const { AwsKms } = await import("./aws-kms.js");
          const options = configured?.source === source ? configured : { source };
          return new AwsKms(options as AwsKmsConfig, env, wrapped);
        }
        case "gcp-kms": {
          const { GcpKms } = await import("./gcp-kms.js");
          const options = configured?.source === source ? configured : { source };
          return new GcpKms(options as GcpKmsConfig, env, wrapped);
        }
      }
    },
  };
}
