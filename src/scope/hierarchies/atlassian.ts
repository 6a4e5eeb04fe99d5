import type { ScopeHierarchy } from "../algebra.js";

/**
 * Atlassian scopes (classic OAuth 2.0 scopes such as `read:jira-work`, granular ones such as
 * `read:issue:jira`) are flat: `write:jira-work` does not imply `read:jira-work`. A classic API token
 * or a Server/Data Center PAT carries all of the user's permissions (shared/reference/providers.md §3.1):
 * over-privileged by definition, the fix is a scoped API token.
 */
export const atlassianHierarchy: ScopeHierarchy = {
  provider: "atlassian",
  children: {},
  fullAccessKinds: ["classic", "classic-api-token", "api-token", "server-pat", "pat"],
  fullAccessMeaning: "everything the user can do in Jira and Confluence (classic API token)",
};
