/**
 * The config options every use of Vault shares: where it is and how keyward logs in. The KV
 * backend (vault.ts) and the transit master-key source (vault-transit.ts) both take them, so a
 * team writes the same auth: block in store: and masterKey:.
 */
import * as z from "zod";

export const mountPath = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, {
    error: "is not a Vault mount path",
  });

const envVar = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: "is not an environment variable name" });

export const VaultAuthOptions = z
  .discriminatedUnion("method", [
    z.strictObject({
      method: z.literal("token"),
      tokenFile: z
        .string()
        .optional()
        .describe("File holding the token when VAULT_TOKEN is not set. Default: ~/.vault-token."),
    }),
    z.strictObject({
      method: z.literal("approle"),
      mount: mountPath
        .optional()
        .describe("Where AppRole is mounted under auth/. Default: approle."),
      roleIdEnv: envVar
        .optional()
        .describe("Variable holding the role id. Default: VAULT_ROLE_ID."),
      roleIdFile: z
        .string()
        .optional()
        .describe("File holding the role id (instead of a variable)."),
      secretIdEnv: envVar
        .optional()
        .describe("Variable holding the secret id. Default: VAULT_SECRET_ID."),
      secretIdFile: z
        .string()
        .optional()
        .describe(
          "File holding the secret id (instead of a variable), e.g. one Vault Agent wrote.",
        ),
    }),
    z.strictObject({
      method: z.literal("jwt"),
      mount: mountPath
        .optional()
        .describe("Where the JWT/OIDC method is mounted under auth/. Default: jwt."),
      role: z
        .string()
        .optional()
        .describe("The Vault role to log in as. Default: the mount's default_role."),
      jwtFile: z
        .string()
        .optional()
        .describe("File holding the JWT, e.g. a CI OIDC token written by the pipeline."),
      jwtEnv: envVar
        .optional()
        .describe("Variable holding the JWT (when there is no file). Default: VAULT_JWT."),
    }),
    z.strictObject({
      method: z.literal("kubernetes"),
      mount: mountPath
        .optional()
        .describe("Where Kubernetes auth is mounted under auth/. Default: kubernetes."),
      role: z.string().min(1).describe("The Vault role bound to this pod's service account."),
      tokenFile: z
        .string()
        .optional()
        .describe(
          "The service-account token file. Default: /var/run/secrets/kubernetes.io/serviceaccount/token.",
        ),
    }),
  ])
  .describe(
    "How keyward logs in to Vault. Credentials are never written here: only which variable or file holds them.",
  );

/** Where Vault is: the same settings and defaults as the vault CLI. */
export const vaultConnectionOptions = {
  address: z
    .string()
    .optional()
    .describe("Vault's URL. Default: VAULT_ADDR, else https://127.0.0.1:8200 (as the vault CLI)."),
  namespace: z
    .string()
    .optional()
    .describe("Vault Enterprise / OpenBao namespace. Default: VAULT_NAMESPACE."),
  caCert: z
    .string()
    .optional()
    .describe(
      "PEM file of the CA that signed Vault's certificate. Default: VAULT_CACERT, then VAULT_CAPATH.",
    ),
};

export const vaultTimeoutSeconds = z
  .number()
  .positive()
  .max(300)
  .describe("Seconds before one request to Vault is abandoned (it is retried).");
