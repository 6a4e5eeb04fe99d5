/**
 * One GitHub API call with the documented conventions (providers.md §1.2; github/docs
 * troubleshooting-the-rest-api.md): a User-Agent (requests without one are rejected), the
 * GitHub media type, and a pinned API version (an unknown one is answered 400).
 */
import { type ProviderResponse, providerFetch } from "../http-client.js";
import type { ProviderContext } from "../types.js";
import { apiUrl, type GitHubSettings } from "./settings.js";

export const GITHUB_API_VERSION = "2022-11-28";

export interface GitHubCall {
  method?: string;
  path: string;
  /** Sent as `Authorization: Bearer …`: a token, or the App JWT. None for the revocation API on github.com. */
  bearer?: string;
  body?: unknown;
  secretName: string;
  accept?: readonly number[];
  idempotent?: boolean;
  /** Values sent in the body (the revocation API's credentials), kept out of error messages. */
  sensitive?: readonly string[];
}

export function githubFetch(
  ctx: ProviderContext,
  settings: GitHubSettings,
  call: GitHubCall,
): Promise<ProviderResponse> {
  const headers: Record<string, string> = {
    accept: "application/vnd.github+json",
    "user-agent": "keyward",
    "x-github-api-version": GITHUB_API_VERSION,
  };
  if (call.bearer !== undefined) headers.authorization = `Bearer ${call.bearer}`;
  return providerFetch(ctx, {
    method: call.method ?? "GET",
    url: apiUrl(settings, call.path),
    headers,
    body: call.body,
    provider: "GitHub",
    secretName: call.secretName,
    accept: call.accept,
    idempotent: call.idempotent,
    sensitive: call.sensitive,
  });
}
