/**
 * What every keyward use of the AWS SDK shares (Secrets Manager in aws.ts, KMS in aws-kms.ts):
 * which link of the default credential chain will answer, judged without a network call, so
 * that errors and `keyward status` can name it; and the SDK errors that mean "bad credentials".
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** The source of the SDK's default chain that will supply credentials, judged from env and files. */
export interface CredentialSource {
  kind: "env" | "profile" | "web-identity" | "container" | "instance-metadata" | "none";
  /** As users see it, e.g. "web identity / OIDC (AWS_WEB_IDENTITY_TOKEN_FILE, role …)". */
  label: string;
  /** What to do when AWS refuses what this source gave. */
  fix: string;
}

/**
 * Which link of the SDK's default chain (@aws-sdk/credential-provider-node: environment,
 * shared config profile — SSO, assume-role, web identity, credential_process or keys —, web
 * identity from AWS_WEB_IDENTITY_TOKEN_FILE, container endpoint, instance metadata) answers
 * first, from the environment and the shared config files alone: no network call.
 */
export function credentialSource(
  options: { profile?: string | undefined },
  env: NodeJS.ProcessEnv,
): CredentialSource {
  const profile = options.profile ?? env.AWS_PROFILE;
  if (profile === undefined && env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY) {
    return {
      kind: "env",
      label: `environment (AWS_ACCESS_KEY_ID${env.AWS_SESSION_TOKEN ? ", AWS_SESSION_TOKEN" : ""})`,
      fix: "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY (or unset them and use a profile, SSO or a role)",
    };
  }
  const name = profile ?? "default";
  const home = env.HOME ?? homedir();
  const configFile = env.AWS_CONFIG_FILE ?? join(home, ".aws", "config");
  const credentialsFile = env.AWS_SHARED_CREDENTIALS_FILE ?? join(home, ".aws", "credentials");
  const section = {
    ...iniSection(credentialsFile, name),
    ...iniSection(configFile, name === "default" ? "default" : `profile ${name}`),
  };
  const where = `shared config profile ${name}`;
  if (section.sso_session !== undefined || section.sso_start_url !== undefined) {
    return {
      kind: "profile",
      label: `${where} (IAM Identity Center / SSO)`,
      fix: `run \`aws sso login --profile ${name}\`; the SSO session may have expired`,
    };
  }
  if (section.web_identity_token_file !== undefined) {
    return {
      kind: "profile",
      label: `${where} (web identity, role ${section.role_arn ?? "?"})`,
      fix: `check the token file and role of profile ${name} in ${configFile}`,
    };
  }
  if (section.role_arn !== undefined) {
    return {
      kind: "profile",
      label: `${where} (assume role ${section.role_arn})`,
      fix: `check that profile ${name}'s source credentials may assume ${section.role_arn}`,
    };
  }
  if (section.credential_process !== undefined) {
    return {
      kind: "profile",
      label: `${where} (credential_process)`,
      fix: `run profile ${name}'s credential_process by hand and check what it prints`,
    };
  }
  if (section.aws_access_key_id !== undefined) {
    return {
      kind: "profile",
      label: `${where} (static keys in ${credentialsFile})`,
      fix: `check or rotate the keys of profile ${name} in ${credentialsFile}`,
    };
  }
  if (profile !== undefined) {
    return {
      kind: "profile",
      label: `${where} (not found in ${configFile} or ${credentialsFile})`,
      fix: `add profile ${name} to ${configFile} (\`aws configure sso\`), or name another profile`,
    };
  }
  if (env.AWS_WEB_IDENTITY_TOKEN_FILE && env.AWS_ROLE_ARN) {
    return {
      kind: "web-identity",
      label: `web identity / OIDC (AWS_WEB_IDENTITY_TOKEN_FILE, role ${env.AWS_ROLE_ARN})`,
      fix: "check that the OIDC token file is fresh and that the role's trust policy accepts its issuer, audience and subject",
    };
  }
  if (env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) {
    return {
      kind: "container",
      label: "container credentials (ECS task role or EKS Pod Identity)",
      fix: "check the task or pod role and its IAM policy",
    };
  }
  if (env.AWS_EC2_METADATA_DISABLED && env.AWS_EC2_METADATA_DISABLED !== "false") {
    return {
      kind: "none",
      label: "no source (no keys, profile, web identity or container credentials; IMDS disabled)",
      fix: "set AWS_PROFILE (with `aws configure sso`), or run where a role is attached (web identity, ECS, EC2)",
    };
  }
  return {
    kind: "instance-metadata",
    label: "EC2 instance metadata (IMDS)",
    fix: "attach an instance profile whose role may use the AWS service, or set AWS_PROFILE",
  };
}

/**
 * One section of an AWS shared config/credentials file (`key = value` lines). Hand-written: the
 * facts need a few keys of one section, and the SDK's own loader is not a declared dependency.
 */
function iniSection(path: string, section: string): Record<string, string> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  let inside = false;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (header !== null) {
      inside = header[1] === section;
      continue;
    }
    const pair = /^([A-Za-z0-9_.-]+)\s*=\s*(.*)$/.exec(line);
    if (inside && pair !== null) out[pair[1] as string] = pair[2] ?? "";
  }
  return out;
}

/** SDK errors that say the credentials themselves were refused (not a missing permission). */
export const AUTH_ERRORS = new Set([
  "UnrecognizedClientException",
  "InvalidSignatureException",
  "IncompleteSignatureException",
  "ExpiredTokenException",
  "MissingAuthenticationTokenException",
  "InvalidClientTokenId",
  "SignatureDoesNotMatch",
  "InvalidIdentityTokenException",
  "ExpiredToken",
]);

export function errorName(e: unknown): string {
  return typeof e === "object" && e !== null && "name" in e ? String(e.name) : "";
}
