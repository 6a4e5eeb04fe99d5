/**
 * GitHub: classic and fine-grained PATs, OAuth and App user tokens, App installation tokens.
 * Facts and sources: /work/shared/reference/providers.md §1 (summarised in docs/providers.md).
 */
import { KeywardError } from "../../core/errors.js";
import type {
  Identity,
  Provider,
  ProviderContext,
  ProviderCredential,
  ProviderInfo,
  ScopeProbe,
  ScopeReport,
} from "../types.js";
import { parseAcceptedPermissions, parseOAuthScopes, parseTokenExpiration } from "./headers.js";
import { mintInstallationToken } from "./mint.js";
import { githubFetch } from "./request.js";
import { revokeInstallationToken, revokeLeakedTokens } from "./revoke.js";
import { type GitHubSettings, parseGitHubSettings } from "./settings.js";
import { GITHUB_PREFIXES, identifyGitHubToken } from "./tokens.js";

const KIND_TITLES: Record<string, string> = {
  "classic-pat": "classic personal access token",
  "fine-grained-pat": "fine-grained personal access token",
  oauth: "OAuth app token",
  "user-to-server": "GitHub App user token",
  refresh: "GitHub App refresh token",
  installation: "GitHub App installation token",
};

const UI_ONLY = {
  level: "no",
  note: "GitHub has no API that creates it; manual steps",
} as const;

export const githubInfo: ProviderInfo = {
  id: "github",
  title: "GitHub",
  capabilities: {
    "classic-pat": {
      identify: { level: "yes", note: "ghp_ prefix, CRC-32 checksum offline" },
      "introspect-scope": { level: "yes", note: "X-OAuth-Scopes header" },
      "introspect-expiry": {
        level: "yes",
        note: "GitHub-Authentication-Token-Expiration header; none if it never expires",
      },
      verify: { level: "yes", note: "GET /rate_limit (free of the primary limit)" },
      mint: { level: "no", note: "PATs are created in the UI only" },
      rotate: UI_ONLY,
      revoke: { level: "yes", note: "POST /credentials/revoke (asynchronous; owner emailed)" },
    },
    "fine-grained-pat": {
      identify: { level: "yes", note: "github_pat_ prefix and shape; no documented checksum" },
      "introspect-scope": {
        level: "partial",
        note: "no header lists them; learnt from X-Accepted-GitHub-Permissions of probed endpoints",
      },
      "introspect-expiry": { level: "yes", note: "GitHub-Authentication-Token-Expiration header" },
      verify: { level: "yes", note: "GET /rate_limit" },
      mint: { level: "no", note: "PATs are created in the UI only" },
      rotate: UI_ONLY,
      revoke: { level: "yes", note: "POST /credentials/revoke (asynchronous; owner emailed)" },
    },
    oauth: {
      identify: { level: "yes", note: "gho_ prefix, CRC-32 checksum offline" },
      "introspect-scope": { level: "yes", note: "X-OAuth-Scopes header" },
      "introspect-expiry": { level: "yes", note: "header, when the token expires" },
      verify: { level: "yes", note: "GET /rate_limit" },
      mint: { level: "no", note: "issued by the OAuth app's web flow" },
      rotate: { level: "no", note: "re-run the OAuth app's authorization" },
      revoke: { level: "yes", note: "POST /credentials/revoke (github.com only)" },
    },
    "user-to-server": {
      identify: { level: "yes", note: "ghu_ prefix, CRC-32 checksum offline" },
      "introspect-scope": {
        level: "partial",
        note: "App permissions ∩ the user's; learnt from probed endpoints",
      },
      "introspect-expiry": { level: "yes", note: "header; 8 hours" },
      verify: { level: "yes", note: "GET /rate_limit" },
      mint: { level: "no", note: "issued by the App's user authorization" },
      rotate: { level: "no", note: "refresh-token exchange not implemented" },
      revoke: { level: "yes", note: "POST /credentials/revoke (github.com only)" },
    },
    refresh: {
      identify: { level: "yes", note: "ghr_ prefix, CRC-32 checksum offline" },
      "introspect-scope": { level: "no", note: "not an API credential" },
      "introspect-expiry": { level: "no", note: "6 months from issue; not reported" },
      verify: { level: "no", note: "not an API credential" },
      mint: { level: "no" },
      rotate: { level: "no", note: "refresh-token exchange not implemented" },
      revoke: { level: "yes", note: "POST /credentials/revoke (github.com only)" },
    },
    installation: {
      identify: { level: "yes", note: "ghs_ prefix: CRC-32 (classic) or ghs_<app id>_<JWT>" },
      "introspect-scope": {
        level: "partial",
        note: "fixed when minted; learnt from probed endpoints",
      },
      "introspect-expiry": { level: "yes", note: "1 hour; from the mint answer or the header" },
      verify: { level: "yes", note: "GET /rate_limit" },
      mint: {
        level: "yes",
        note: "App JWT → POST /app/installations/{id}/access_tokens, narrowed to repositories and permissions",
      },
      rotate: {
        level: "yes",
        note: "mints a new token; the old one is revoked after the grace period or expires within the hour",
      },
      revoke: { level: "yes", note: "DELETE /installation/token" },
    },
  },
  manualRotation: [
    "Create a new token with the same scopes or permissions (or fewer) and an expiry: github.com/settings/tokens for classic PATs, github.com/settings/personal-access-tokens for fine-grained ones (on GitHub Enterprise Server, the same pages on your host). Do not use Regenerate: it replaces the value in place, so whatever still runs with the old one fails at once.",
    "Store it as the pending version: keyward secret set <name> --stage pending (the value on stdin).",
    "Once the pending version is verified and promoted and the servers have restarted, delete the old token on the same page.",
  ],
};

const REFRESH_NOT_API =
  "GitHub App refresh tokens only buy user tokens at github.com/login/oauth/access_token; they are not API credentials.";

/** The value's GitHub identity, or a refusal that nothing was sent: another provider's key must never reach GitHub. */
function githubIdentity(cred: ProviderCredential, action: string): Identity {
  const identity = identifyGitHubToken(cred.value);
  if (identity === undefined)
    throw new KeywardError(
      "refused",
      `"${cred.name}" does not look like a GitHub token (no ${GITHUB_PREFIXES.join(", ")} prefix), so keyward did not send it to GitHub to ${action}.`,
      "Check the provider configured for this secret; `keyward providers` lists which keys each provider takes.",
    );
  return identity;
}

function refuseMalformed(cred: ProviderCredential, identity: Identity, action: string): never {
  throw new KeywardError(
    "refused",
    `"${cred.name}" looks like a GitHub ${KIND_TITLES[identity.kind]} but fails its format check (checksum or shape): a typo or a truncated copy. Nothing was sent to GitHub to ${action}.`,
    "Copy the whole token again from where it was issued and store it with keyward secret set.",
  );
}

async function verify(
  cred: ProviderCredential,
  ctx: ProviderContext,
): Promise<{ ok: boolean; identity?: Identity; detail?: string }> {
  const identity = githubIdentity(cred, "verify it");
  if (identity.kind === "refresh")
    throw new KeywardError(
      "refused",
      REFRESH_NOT_API,
      "Verify the user token it refreshes instead.",
    );
  if (identity.formatValid === false)
    return {
      ok: false,
      identity,
      detail:
        "It fails GitHub's offline format check (checksum or shape), so it cannot work; nothing was sent to GitHub.",
    };
  const settings = parseGitHubSettings(ctx.settings);
  const response = await githubFetch(ctx, settings, {
    path: "/rate_limit",
    bearer: cred.value,
    secretName: cred.name,
    accept: [401],
  });
  if (response.status === 401)
    return {
      ok: false,
      identity,
      detail:
        "GitHub answered 401 Bad credentials: the token is revoked, expired or was never issued.",
    };
  const expires = parseTokenExpiration(
    response.headers.get("github-authentication-token-expiration") ?? "",
  );
  return {
    ok: true,
    identity,
    detail: `GitHub accepts the ${KIND_TITLES[identity.kind]}${expires === undefined ? "" : `; it expires ${expires}`}.`,
  };
}

async function introspect(cred: ProviderCredential, ctx: ProviderContext): Promise<ScopeReport> {
  const identity = githubIdentity(cred, "read its scopes");
  if (identity.kind === "refresh")
    throw new KeywardError(
      "refused",
      REFRESH_NOT_API,
      "Check the scopes of the user token it refreshes instead.",
    );
  if (identity.formatValid === false) refuseMalformed(cred, identity, "read its scopes");
  const settings = parseGitHubSettings(ctx.settings);
  // /rate_limit does not count against the primary rate limit and carries the scope and expiry headers.
  const response = await githubFetch(ctx, settings, {
    path: "/rate_limit",
    bearer: cred.value,
    secretName: cred.name,
  });
  const expiresAt = parseTokenExpiration(
    response.headers.get("github-authentication-token-expiration") ?? "",
  );
  const scopes = response.headers.get("x-oauth-scopes");
  const withExpiry = (report: ScopeReport): ScopeReport =>
    expiresAt === undefined ? report : { ...report, expiresAt };
  // Classic PATs and OAuth tokens carry X-OAuth-Scopes; fine-grained actors (fine-grained PATs, App tokens) do not.
  if (scopes !== null && (identity.kind === "classic-pat" || identity.kind === "oauth"))
    return withExpiry({ granted: parseOAuthScopes(scopes), partial: false });
  const probes = await probeAll(cred, ctx, settings);
  return withExpiry({ granted: learntPermissions(probes), partial: true, probes });
}

/**
 * Calls each configured probe path and reads X-Accepted-GitHub-Permissions, which GitHub sends to
 * fine-grained actors on every REST answer (github.blog changelog 2023-08-10).
 */
async function probeAll(
  cred: ProviderCredential,
  ctx: ProviderContext,
  settings: GitHubSettings,
): Promise<ScopeProbe[]> {
  const probes: ScopeProbe[] = [];
  for (const path of settings.scopeProbes ?? []) {
    const response = await githubFetch(ctx, settings, {
      path,
      bearer: cred.value,
      secretName: cred.name,
      accept: [403, 404],
    });
    probes.push({
      endpoint: `GET ${path}`,
      outcome: response.status === 403 ? "denied" : response.status === 404 ? "hidden" : "allowed",
      accepted: parseAcceptedPermissions(
        response.headers.get("x-accepted-github-permissions") ?? "",
      ),
    });
  }
  return probes;
}

/**
 * Permissions an allowed probe proves: only when the endpoint accepts a single set (with several,
 * any one may be the key's). Public resources can answer without the permission, so probes
 * should name private ones.
 */
function learntPermissions(probes: readonly ScopeProbe[]): string[] {
  const learnt = new Set<string>();
  for (const probe of probes)
    if (probe.outcome === "allowed" && probe.accepted.length === 1)
      for (const permission of probe.accepted[0]!) learnt.add(permission);
  return [...learnt].sort();
}

async function revoke(
  cred: ProviderCredential,
  ctx: ProviderContext,
): Promise<{ revoked: boolean; detail?: string }> {
  const identity = githubIdentity(cred, "revoke it");
  if (identity.formatValid === false) refuseMalformed(cred, identity, "revoke it");
  const settings = parseGitHubSettings(ctx.settings);
  if (identity.kind === "installation") return revokeInstallationToken(cred, ctx, settings);
  return revokeLeakedTokens([cred.value], ctx, settings, cred.name);
}

/** Rotation by API exists only for installation tokens: mint the next one from the App's key. */
async function rotate(
  cred: ProviderCredential,
  ctx: ProviderContext,
): Promise<{ value: string; expiresAt?: string }> {
  const kind = identifyGitHubToken(cred.value)?.kind;
  const firstMint = cred.value === "" && cred.companions?.privateKey !== undefined;
  if (kind !== "installation" && !firstMint)
    throw new KeywardError(
      "refused",
      `GitHub cannot rotate "${cred.name}" by API${kind === undefined ? "" : `: a ${KIND_TITLES[kind]} is created in GitHub's settings only`}.`,
      `Rotate it by hand: ${githubInfo
        .manualRotation!.map((step, i) => `${i + 1}. ${step.replace("<name>", cred.name)}`)
        .join(" ")}`,
    );
  const settings = parseGitHubSettings(ctx.settings);
  if (settings.permissions === undefined || settings.permissions.length === 0)
    throw new KeywardError(
      "refused",
      `Rotating "${cred.name}" mints a new installation token, and the github provider settings name no permissions for it.`,
      "Set permissions (e.g. [contents=read, issues=write]) and optionally repositories in the github provider settings.",
    );
  const minted = await mintInstallationToken(
    cred,
    { scope: settings.permissions, resources: settings.repositories },
    ctx,
    settings,
  );
  return minted.expiresAt === undefined
    ? { value: minted.value }
    : { value: minted.value, expiresAt: minted.expiresAt };
}

export const githubProvider: Provider = {
  info: githubInfo,
  identify: identifyGitHubToken,
  verify,
  introspect,
  mint: (cred, request, ctx) =>
    mintInstallationToken(cred, request, ctx, parseGitHubSettings(ctx.settings)),
  rotate,
  revoke,
};

/** For the revocation runbook: many leaked tokens at once, 1,000 per request (see revoke.ts). */
export function revokeGitHubTokens(
  values: readonly string[],
  ctx: ProviderContext,
  secretName: string,
): Promise<{ revoked: boolean; detail?: string }> {
  return revokeLeakedTokens(values, ctx, parseGitHubSettings(ctx.settings), secretName);
}
