/**
 * Revocation at the source. Installation tokens revoke themselves (`DELETE /installation/token`,
 * docs.github.com/en/rest/apps/installations); everything else a user holds goes through the
 * credential-revocation API, built for leaked tokens (providers.md §1.6;
 * docs.github.com/en/enterprise-cloud@latest/rest/credentials/revoke).
 */
import { KeywardError } from "../../core/errors.js";
import { upstreamMessage } from "../http-client.js";
import type { ProviderContext, ProviderCredential } from "../types.js";
import { githubFetch } from "./request.js";
import { type GitHubSettings, isEnterpriseServer } from "./settings.js";
import { type GitHubTokenKind, identifyGitHubToken } from "./tokens.js";

/** The revocation API takes at most 1,000 credentials per request. */
const MAX_CREDENTIALS_PER_REQUEST = 1000;

/** Kinds the revocation API takes: github.com since 2026-03-26 all user-held kinds; Enterprise Server 3.19 PATs only. */
const REVOCABLE_ON_GITHUB: readonly GitHubTokenKind[] = [
  "classic-pat",
  "fine-grained-pat",
  "oauth",
  "user-to-server",
  "refresh",
];
const REVOCABLE_ON_SERVER: readonly GitHubTokenKind[] = ["classic-pat", "fine-grained-pat"];

export interface RevokeResult {
  revoked: boolean;
  detail?: string;
}

/** `DELETE /installation/token`, authenticated with the token itself: 204 and it is dead. */
export async function revokeInstallationToken(
  cred: ProviderCredential,
  ctx: ProviderContext,
  settings: GitHubSettings,
): Promise<RevokeResult> {
  const response = await githubFetch(ctx, settings, {
    method: "DELETE",
    path: "/installation/token",
    bearer: cred.value,
    secretName: cred.name,
    accept: [401],
  });
  if (response.status === 401)
    return {
      revoked: true,
      detail:
        "GitHub no longer accepts the installation token (401): it was already revoked or has expired.",
    };
  return {
    revoked: true,
    detail: "GitHub revoked the installation token (DELETE /installation/token).",
  };
}

/**
 * Sends leaked tokens to the credential-revocation API, 1,000 per request. On github.com the API
 * is unauthenticated (an authenticated call is answered 403) and allows 60 requests an hour; on
 * GitHub Enterprise Server it wants authentication, so each token authenticates its own
 * revocation there (derived: the documentation does not say whose authentication it expects).
 * Revocation is asynchronous and irreversible; GitHub emails the owner. Every value must be a
 * GitHub token of a revocable kind, or nothing is sent.
 */
export async function revokeLeakedTokens(
  values: readonly string[],
  ctx: ProviderContext,
  settings: GitHubSettings,
  secretName: string,
): Promise<RevokeResult> {
  const server = isEnterpriseServer(settings);
  const revocable = server ? REVOCABLE_ON_SERVER : REVOCABLE_ON_GITHUB;
  const refused = values.filter((v) => {
    const identity = identifyGitHubToken(v);
    return (
      identity === undefined || identity.formatValid === false || !revocable.includes(identity.kind)
    );
  });
  if (refused.length > 0)
    throw new KeywardError(
      "refused",
      `${refused.length === values.length ? "The value" : `${refused.length} of the values`} of "${secretName}" ${refused.length === 1 ? "is" : "are"} not a token GitHub's credential-revocation API takes${server ? " on Enterprise Server (classic and fine-grained PATs only)" : ""}; nothing was sent.`,
      "Revoke it in the owner's GitHub settings, or revoke an installation token with the token itself.",
    );
  const batches = server ? values.map((v) => [v]) : chunk(values, MAX_CREDENTIALS_PER_REQUEST);
  for (const credentials of batches) {
    const response = await githubFetch(ctx, settings, {
      method: "POST",
      path: "/credentials/revoke",
      bearer: server ? credentials[0] : undefined,
      body: { credentials },
      secretName,
      accept: [422],
      // Revoking twice has the same effect as once, so a 5xx may be retried.
      idempotent: true,
      sensitive: credentials,
    });
    if (response.status === 422) {
      const message = upstreamMessage(response.text());
      throw new KeywardError(
        "upstream_rejected",
        `GitHub refused to revoke "${secretName}" (422${message === undefined ? "" : `: ${message}`}).`,
        "GitHub answers 422 when a value is not a token it issued or the endpoint is over its limit (60 requests an hour): wait an hour and try again, or revoke the token in the owner's settings.",
      );
    }
  }
  return {
    revoked: true,
    detail: `GitHub accepted the revocation of ${values.length === 1 ? "the token" : `${values.length} tokens`}; it completes asynchronously and the owner is emailed.`,
  };
}

function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
