/**
 * GitHub App installation tokens: the App's JWT buys a one-hour token narrowed to named
 * repositories and permissions (providers.md §1.5; github/docs
 * data/reusables/apps/generate-installation-access-token.md).
 */
import { KeywardError } from "../../core/errors.js";
import { type ProviderResponse, upstreamMessage } from "../http-client.js";
import type { Minted, MintRequest, ProviderContext, ProviderCredential } from "../types.js";
import { signAppJwt } from "./app-jwt.js";
import { githubFetch } from "./request.js";
import type { GitHubSettings } from "./settings.js";

/** Installation tokens live one hour and cannot be extended. */
export const INSTALLATION_TOKEN_SECONDS = 3600;
/** The API takes at most 500 repositories per token. */
const MAX_REPOSITORIES = 500;

export async function mintInstallationToken(
  cred: ProviderCredential,
  request: MintRequest,
  ctx: ProviderContext,
  settings: GitHubSettings,
): Promise<Minted> {
  const app = appOf(cred, settings);
  const permissions = permissionsOf(request.scope);
  const repositories = request.resources?.map((r) => r.slice(r.lastIndexOf("/") + 1));
  if (repositories !== undefined && repositories.length > MAX_REPOSITORIES)
    throw new KeywardError(
      "refused",
      `A GitHub installation token covers at most ${MAX_REPOSITORIES} repositories; ${repositories.length} were named.`,
      "Mint one token per group of repositories, or leave the list out to cover the whole installation.",
    );
  if (request.ttlSeconds !== undefined && request.ttlSeconds > INSTALLATION_TOKEN_SECONDS)
    throw new KeywardError(
      "refused",
      `GitHub installation tokens live one hour; ${request.ttlSeconds} s was asked for.`,
      "Ask for at most 3600 s; keyward mints a fresh token when the old one is due.",
    );

  const response = await githubFetch(ctx, settings, {
    method: "POST",
    path: `/app/installations/${encodeURIComponent(app.installationId)}/access_tokens`,
    bearer: signAppJwt(app.privateKey, app.appId, ctx.now()),
    body: repositories === undefined ? { permissions } : { repositories, permissions },
    secretName: cred.name,
    accept: [401, 404, 422],
  });
  if (response.status !== 201 && response.status !== 200) throw mintError(response, app, cred.name);
  return mintedFrom(await response.json());
}

interface AppSettings {
  appId: string;
  installationId: string;
  privateKey: string;
}

function appOf(cred: ProviderCredential, settings: GitHubSettings): AppSettings {
  const privateKey = cred.companions?.privateKey;
  const missing = [
    settings.appId === undefined ? "the appId setting" : undefined,
    settings.installationId === undefined ? "the installationId setting" : undefined,
    privateKey === undefined
      ? `the App's private key (companion "privateKey" of "${cred.name}")`
      : undefined,
  ].filter((m) => m !== undefined);
  if (missing.length > 0 || privateKey === undefined)
    throw new KeywardError(
      "refused",
      `Minting a GitHub App installation token for "${cred.name}" needs ${missing.join(", ")}.`,
      "Set appId and installationId in the github provider settings and store the App's .pem private key as the secret's privateKey companion (docs/providers.md).",
    );
  return {
    appId: String(settings.appId),
    installationId: String(settings.installationId),
    privateKey,
  };
}

/** ["contents=read", "issues=write"] → { contents: "read", issues: "write" }. */
function permissionsOf(scope: readonly string[]): Record<string, string> {
  if (scope.length === 0)
    throw new KeywardError(
      "refused",
      "A GitHub installation token was asked for without permissions, which would grant everything the App has.",
      "Name the permissions the token needs, e.g. contents=read, issues=write.",
    );
  const permissions: Record<string, string> = {};
  for (const entry of scope) {
    const match = /^([a-z_]+)=(read|write|admin)$/.exec(entry);
    if (match === null)
      throw new KeywardError(
        "invalid_value",
        `"${entry}" is not a GitHub App permission.`,
        "Write permissions as permission=level (read, write or admin), e.g. contents=read.",
      );
    permissions[match[1]!] = match[2]!;
  }
  return permissions;
}

function mintedFrom(body: unknown): Minted {
  const record = (typeof body === "object" && body !== null ? body : {}) as Record<string, unknown>;
  const { token, expires_at: expiresAt, permissions } = record;
  if (typeof token !== "string" || token === "" || typeof expiresAt !== "string")
    throw new KeywardError(
      "upstream_rejected",
      "GitHub's answer to the installation-token request has no token or expiry.",
      "Check the github provider's apiBaseUrl: it may point at a service that is not the GitHub API.",
    );
  const granted =
    typeof permissions === "object" && permissions !== null
      ? Object.entries(permissions).map(([name, level]) => `${name}=${String(level)}`)
      : [];
  return { value: token, expiresAt, scope: granted.sort() };
}

function mintError(response: ProviderResponse, app: AppSettings, secretName: string): KeywardError {
  const message = upstreamMessage(response.text());
  const said = message === undefined ? "" : `: ${message}`;
  if (response.status === 401)
    return new KeywardError(
      "upstream_unauthorized",
      `GitHub rejected the App JWT for app ${app.appId} (401${said}).`,
      `Check the appId setting and that the privateKey companion of "${secretName}" is a current private key of that App; the clock must be right to within a minute.`,
    );
  if (response.status === 404)
    return new KeywardError(
      "not_found",
      `GitHub has no installation ${app.installationId} for app ${app.appId} (404${said}).`,
      "Check the installationId setting: GET /app/installations, authenticated as the App, lists them.",
    );
  return new KeywardError(
    "upstream_rejected",
    `GitHub refused to mint an installation token for app ${app.appId} (${response.status}${said}).`,
    "Ask only for permissions the App was granted and repositories the installation covers.",
  );
}
