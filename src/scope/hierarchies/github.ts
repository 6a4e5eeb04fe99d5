import type { ScopeHierarchy } from "../algebra.js";

/**
 * GitHub classic OAuth/PAT scopes (parent ⊃ children) and fine-grained permissions
 * (`perm=level`, read < write < admin).
 *
 * Source: shared/reference/providers.md §1.4, from github/docs
 * `content/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps.md`; levels from
 * github/github-mcp-server `docs/permissions-filtering.md` ("read < write < admin").
 */
const CLASSIC: Record<string, readonly string[]> = {
  repo: ["repo:status", "repo_deployment", "public_repo", "repo:invite", "security_events"],
  "admin:repo_hook": ["write:repo_hook"],
  "write:repo_hook": ["read:repo_hook"],
  "admin:org": ["write:org"],
  "write:org": ["read:org"],
  "admin:public_key": ["write:public_key"],
  "write:public_key": ["read:public_key"],
  "admin:gpg_key": ["write:gpg_key"],
  "write:gpg_key": ["read:gpg_key"],
  user: ["read:user", "user:email", "user:follow"],
  project: ["read:project"],
  "admin:enterprise": ["manage_runners:enterprise", "manage_billing:enterprise", "read:enterprise"],
};

const STANDALONE = [
  "admin:org_hook",
  "gist",
  "notifications",
  "delete_repo",
  "write:packages",
  "read:packages",
  "delete:packages",
  "codespace",
  "workflow",
  "read:audit_log",
];

const KNOWN_CLASSIC = new Set([
  ...Object.keys(CLASSIC),
  ...Object.values(CLASSIC).flat(),
  ...STANDALONE,
]);

/**
 * Fine-grained permission names (github/rest-api-description `app-permissions`, the catalog
 * github-mcp-server generates `pkg/permissions` from). Used only to accept `contents:read` as a
 * spelling of `contents=read`; a name missing here is still compared, just not re-spelt.
 */
const FINE_GRAINED_NAMES = new Set([
  "actions",
  "administration",
  "checks",
  "codespaces",
  "contents",
  "dependabot_secrets",
  "deployments",
  "discussions",
  "environments",
  "gists",
  "issues",
  "members",
  "metadata",
  "organization_administration",
  "organization_projects",
  "packages",
  "pages",
  "pull_requests",
  "repository_advisories",
  "repository_hooks",
  "repository_projects",
  "secret_scanning_alerts",
  "secrets",
  "security_events",
  "starring",
  "statuses",
  "vulnerability_alerts",
  "workflows",
]);

export const githubHierarchy: ScopeHierarchy = {
  provider: "github",
  children: CLASSIC,
  levels: ["read", "write", "admin"],
  known: KNOWN_CLASSIC,
  canonical: (scope) => {
    const colon = /^([a-z_]+):(read|write|admin)$/.exec(scope);
    return colon && FINE_GRAINED_NAMES.has(colon[1]!) ? `${colon[1]}=${colon[2]}` : scope;
  },
  // Every fine-grained PAT carries read access to repository metadata (GitHub's PAT creation page).
  alwaysGranted: ["metadata=read"],
  fullAccessMeaning: "everything the account can do",
};
