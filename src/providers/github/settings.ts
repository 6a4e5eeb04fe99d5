/**
 * The GitHub provider's settings, as the config hands them over in ProviderContext.settings.
 * Parsed here, so a typo fails with the setting's name instead of a confusing upstream answer.
 */
import * as z from "zod";
import { KeywardError } from "../../core/errors.js";

export const GITHUB_API = "https://api.github.com";

const id = z.union([z.string().regex(/^[A-Za-z0-9._-]{1,100}$/), z.number().int().positive()]);
const permission = z.string().regex(/^[a-z_]+=(read|write|admin)$/, {
  error: "must be permission=level, e.g. contents=read",
});

const GitHubSettingsSchema = z.looseObject({
  /** https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  apiBaseUrl: z.url({ protocol: /^https?$/ }).default(GITHUB_API),
  /** GitHub App ID or client ID (the JWT's `iss`). */
  appId: id.optional(),
  installationId: id.optional(),
  /** What rotation asks for when it mints the next installation token. */
  permissions: z.array(permission).optional(),
  repositories: z.array(z.string().min(1)).max(500).optional(),
  /** GET paths probed to learn what a fine-grained PAT or installation token may do. */
  scopeProbes: z.array(z.string().regex(/^\/[^\s?#]*(\?[^\s#]*)?$/)).optional(),
});

export type GitHubSettings = z.infer<typeof GitHubSettingsSchema>;

export function parseGitHubSettings(settings: Record<string, unknown>): GitHubSettings {
  const parsed = GitHubSettingsSchema.safeParse(settings);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0]!;
  const path = issue.path.map(String).join(".");
  throw new KeywardError(
    "config_invalid",
    `GitHub provider setting "${path}": ${issue.message}.`,
    "Fix the github provider's settings in the keyward config (see docs/providers.md).",
  );
}

/** An API URL under the configured base (which for GitHub Enterprise Server ends in /api/v3). */
export function apiUrl(settings: GitHubSettings, path: string): URL {
  return new URL(settings.apiBaseUrl.replace(/\/+$/, "") + path);
}

/**
 * GitHub Enterprise Server's API lives under /api/v3; github.com and GHE.com (api.SUBDOMAIN.ghe.com)
 * at the root. The credential-revocation API differs between them (providers.md §1.6).
 */
export function isEnterpriseServer(settings: GitHubSettings): boolean {
  return /\/api\/v3\/?$/.test(new URL(settings.apiBaseUrl).pathname);
}
