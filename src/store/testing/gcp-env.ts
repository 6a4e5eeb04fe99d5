/**
 * Application Default Credentials for tests that never leave this machine: an external_account
 * (workload identity federation) credentials file whose token_url is the fake's STS endpoint and
 * whose subject token is a local file, exactly what a CI runner or a GKE pod configures
 * (cloud.google.com/iam/docs/workload-identity-federation-with-other-providers, "Create a
 * credential configuration"). The metadata server is pointed at the fake too (GCE_METADATA_HOST,
 * read by gcp-metadata), where any request is counted, so a test can prove none was made.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FakeGcpSecretManager } from "./fake-gcp-secret-manager.js";

export interface GcpTestEnv {
  dir: string;
  /** The environment keyward gets: GOOGLE_APPLICATION_CREDENTIALS and a private HOME. */
  env: NodeJS.ProcessEnv;
  credentialsFile: string;
  cleanup(): void;
}

export function gcpTestEnv(
  fake: FakeGcpSecretManager,
  subjectToken = fake.subjectToken,
): GcpTestEnv {
  const dir = mkdtempSync(join(tmpdir(), "keyward-gcp-"));
  const tokenFile = join(dir, "oidc-token");
  writeFileSync(tokenFile, subjectToken, { mode: 0o600 });
  const credentialsFile = join(dir, "adc.json");
  writeFileSync(
    credentialsFile,
    JSON.stringify({
      type: "external_account",
      audience: fake.audience,
      subject_token_type: "urn:ietf:params:oauth:token-type:jwt",
      token_url: fake.tokenUrl,
      credential_source: { file: tokenFile },
    }),
    { mode: 0o600 },
  );
  process.env.GCE_METADATA_HOST = fake.host;
  return {
    dir,
    env: { GOOGLE_APPLICATION_CREDENTIALS: credentialsFile, HOME: dir },
    credentialsFile,
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}
