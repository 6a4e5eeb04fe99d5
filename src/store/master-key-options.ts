/**
 * The masterKey: section of keyward.yaml: which KMS keeps the master key, for `keyward init` and
 * `keyward rekey`, and how this host reaches it. A store whose key is wrapped names the KMS key
 * itself (src/crypto/envelope.ts), so hosts that only open a store need just the connection and
 * auth settings, or none when VAULT_ADDR / the AWS default chain / Google's ADC say it all. Defaults are
 * applied by vault-transit.ts, aws-kms.ts and gcp-kms.ts, which also serve stores opened without a config file.
 */
import * as z from "zod";
import { ENDPOINT_RULE, isAllowedEndpoint } from "./gcp-api.js";
import {
  mountPath,
  VaultAuthOptions,
  vaultConnectionOptions,
  vaultTimeoutSeconds,
} from "./vault-options.js";

const VaultTransitOptions = z
  .strictObject({
    source: z.literal("vault-transit"),
    ...vaultConnectionOptions,
    mount: mountPath.optional().describe("Where the transit engine is mounted. Default: transit."),
    key: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, { error: "is not a transit key name" })
      .optional()
      .describe("The transit key that encrypts the master key. Default: keyward."),
    auth: VaultAuthOptions.optional().describe(
      "How keyward logs in to Vault, as in store.auth. Default: a token (VAULT_TOKEN, else ~/.vault-token).",
    ),
    timeoutSeconds: vaultTimeoutSeconds.optional(),
  })
  .describe("Vault's transit engine encrypts the master key (docs/master-key.md).");

const AwsKmsOptions = z
  .strictObject({
    source: z.literal("aws-kms"),
    keyId: z
      .string()
      .min(1)
      .optional()
      .describe(
        "The symmetric KMS key: key id, key ARN, alias/<name> or alias ARN. Default: alias/keyward.",
      ),
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: "is not an AWS region" })
      .optional()
      .describe("Default: the key ARN's region, else AWS_REGION / the profile's region."),
    profile: z
      .string()
      .optional()
      .describe(
        "A profile of the shared AWS config to take credentials from, as AWS_PROFILE would.",
      ),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("Another KMS endpoint: a VPC endpoint, FIPS, or a local emulator."),
    timeoutSeconds: z
      .number()
      .positive()
      .max(300)
      .optional()
      .describe("Seconds before one KMS request is abandoned. Default: 10."),
  })
  .describe(
    "AWS KMS encrypts the master key (docs/master-key.md); credentials from the SDK chain.",
  );

const GcpKmsOptions = z
  .strictObject({
    source: z.literal("gcp-kms"),
    keyName: z
      .string()
      .regex(/^projects\/[^/]+\/locations\/[^/]+\/keyRings\/[^/]+\/cryptoKeys\/[^/]+$/, {
        error:
          "is not a CryptoKey name: projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>",
      })
      .optional()
      .describe(
        "The symmetric CryptoKey (purpose ENCRYPT_DECRYPT): projects/<project>/locations/<location>/keyRings/<ring>/cryptoKeys/<key>. Needed by init and rekey; a store remembers its key.",
      ),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .refine(isAllowedEndpoint, ENDPOINT_RULE)
      .optional()
      .describe("Another Cloud KMS endpoint: Private Service Connect, or a local emulator."),
    timeoutSeconds: z
      .number()
      .positive()
      .max(300)
      .optional()
      .describe("Seconds before one Cloud KMS request is abandoned. Default: 10."),
  })
  .describe(
    "GCP Cloud KMS encrypts the master key (docs/master-key.md); Application Default Credentials.",
  );

export const MasterKeyOptionsSchema = z
  .discriminatedUnion("source", [VaultTransitOptions, AwsKmsOptions, GcpKmsOptions])
  .describe(
    "A KMS that keeps the master key encrypted in the store, so hosts need no key file: vault-transit, aws-kms or gcp-kms (docs/master-key.md).",
  );

export type MasterKeyConfig = z.output<typeof MasterKeyOptionsSchema>;
export type VaultTransitConfig = z.output<typeof VaultTransitOptions>;
export type AwsKmsConfig = z.output<typeof AwsKmsOptions>;
export type GcpKmsConfig = z.output<typeof GcpKmsOptions>;
