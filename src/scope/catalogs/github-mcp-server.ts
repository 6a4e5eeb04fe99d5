import {
  anyOn,
  type Catalog,
  commandName,
  flag,
  hasImageArg,
  header,
  parseList,
  type Restriction,
  restriction,
  setting,
  type ToolScopes,
  toolTable,
} from "../catalog.js";

/**
 * github/github-mcp-server (Go; image ghcr.io/github/github-mcp-server; remote
 * https://api.githubcopilot.com/mcp/).
 *
 * Sources:
 * - Tools and required classic scopes: shared/reference/mcp-clients.md §5, from the server's
 *   README.md (generated tool list, 2026-08), docs/scope-filtering.md and
 *   pkg/inventory/server_tool.go (RequiredScopes). A tool's scopes are all required.
 * - Toolset of each tool and read/write split: pkg/github/tools.go (AllTools, toolset metadata;
 *   default toolsets context, repos, issues, pull_requests, users).
 * - Settings: docs/server-configuration.md (GITHUB_TOOLSETS / --toolsets, GITHUB_TOOLS / --tools,
 *   GITHUB_EXCLUDE_TOOLS, GITHUB_READ_ONLY / --read-only, --dynamic-toolsets, remote /x/{toolset},
 *   /readonly and X-MCP-* headers). GITHUB_TOOLSETS wins over --toolsets; read-only beats every list.
 * - Fine-grained permissions: upstream for the tools docs/permissions-filtering.md lists (actions_*,
 *   get_job_logs, code/secret scanning and Dependabot alerts, issue_read, issue_write, list_issues,
 *   create_pull_request, list_pull_requests, pull_request_read, create_branch, create_or_update_file,
 *   get_file_contents, list_branches, list_commits, list_tags, push_files). Every other
 *   fine-grained entry is DERIVED by us from the REST endpoint each tool calls (docs.github.com,
 *   "Permissions required for fine-grained personal access tokens"). Absent = not known.
 * - Notifications tools: the notifications REST API refuses fine-grained tokens (classicOnly).
 */

const read = (
  name: string,
  toolsets: string[],
  needs: string[],
  needsFineGrained?: string[],
): ToolScopes & { name: string; toolsets: string[] } => ({
  name,
  toolsets,
  needs,
  needsFineGrained,
  readOnly: true,
});
const write = (
  name: string,
  toolsets: string[],
  needs: string[],
  needsFineGrained?: string[],
): ToolScopes & { name: string; toolsets: string[] } => ({
  name,
  toolsets,
  needs,
  needsFineGrained,
  readOnly: false,
});

const { tools, toolsets } = toolTable([
  // context
  read("get_me", ["context"], [], []),
  read("get_teams", ["context"], ["read:org"], ["members=read"]),
  read("get_team_members", ["context"], ["read:org"], ["members=read"]),
  // repos
  read("search_repositories", ["repos"], ["repo"], ["metadata=read"]),
  read("get_file_contents", ["repos"], ["repo"], ["contents=read"]),
  read("list_commits", ["repos"], ["repo"], ["contents=read"]),
  read("search_code", ["repos"], ["repo"], ["contents=read"]),
  read("search_commits", ["repos"], ["repo"], ["contents=read"]),
  read("get_commit", ["repos"], ["repo"], ["contents=read"]),
  read("list_branches", ["repos"], ["repo"], ["contents=read"]),
  read("list_tags", ["repos"], ["repo"], ["contents=read"]),
  read("get_tag", ["repos"], ["repo"], ["contents=read"]),
  read("list_releases", ["repos"], ["repo"], ["contents=read"]),
  read("get_latest_release", ["repos"], ["repo"], ["contents=read"]),
  read("get_release_by_tag", ["repos"], ["repo"], ["contents=read"]),
  read("list_repository_collaborators", ["repos"], ["repo"], ["metadata=read"]),
  write("create_or_update_file", ["repos"], ["repo"], ["contents=write"]),
  write("create_repository", ["repos"], ["repo"], ["administration=write"]),
  {
    ...write("delete_repository", ["repos"], ["delete_repo", "repo"], ["administration=write"]),
    destructive: true,
  },
  write("fork_repository", ["repos"], ["repo"], ["administration=write", "contents=read"]),
  write("create_branch", ["repos"], ["repo"], ["contents=write"]),
  write("push_files", ["repos"], ["repo"], ["contents=write"]),
  write("delete_file", ["repos"], ["repo"], ["contents=write"]),
  // git
  read("get_repository_tree", ["git"], ["repo"], ["contents=read"]),
  // issues
  read("issue_read", ["issues"], ["repo"], ["issues=read"]),
  read("search_issues", ["issues"], ["repo"], ["issues=read"]),
  read("list_issues", ["issues"], ["repo"], ["issues=read"]),
  // Required: none (accepted: admin:org, read:org, repo, write:org): they answer with what they can see.
  read("list_issue_types", ["issues"], [], []),
  read("list_issue_fields", ["issues"], [], []),
  read("get_label", ["issues", "labels"], ["repo"], ["issues=read"]),
  write("issue_write", ["issues"], ["repo"], ["issues=write"]),
  write("add_issue_comment", ["issues"], ["repo"], ["issues=write"]),
  write("sub_issue_write", ["issues"], ["repo"], ["issues=write"]),
  // users, orgs
  read("search_users", ["users"], ["repo"], []),
  read("search_orgs", ["orgs"], ["read:org"], []),
  // pull_requests
  read("pull_request_read", ["pull_requests"], ["repo"], ["pull_requests=read"]),
  read("list_pull_requests", ["pull_requests"], ["repo"], ["pull_requests=read"]),
  read("search_pull_requests", ["pull_requests"], ["repo"], ["pull_requests=read"]),
  write("merge_pull_request", ["pull_requests"], ["repo"], ["contents=write"]),
  write("update_pull_request_branch", ["pull_requests"], ["repo"], ["pull_requests=write"]),
  write("create_pull_request", ["pull_requests"], ["repo"], ["pull_requests=write"]),
  write("update_pull_request", ["pull_requests"], ["repo"], ["pull_requests=write"]),
  write("pull_request_review_write", ["pull_requests"], ["repo"], ["pull_requests=write"]),
  write("add_comment_to_pending_review", ["pull_requests"], ["repo"], ["pull_requests=write"]),
  write("add_reply_to_pull_request_comment", ["pull_requests"], ["repo"], ["pull_requests=write"]),
  // copilot, copilot_issue_intents
  write("assign_copilot_to_issue", ["copilot"], ["repo"], ["issues=write"]),
  write("request_copilot_review", ["copilot"], ["repo"], ["pull_requests=write"]),
  write(
    "assign_copilot_to_issue_with_intent",
    ["copilot_issue_intents"],
    ["repo"],
    ["issues=write"],
  ),
  // code_quality: no public fine-grained mapping known.
  read("get_code_quality_finding", ["code_quality"], ["repo"]),
  // code_security, secret_protection, dependabot (required security_events; repo accepted)
  read("get_code_scanning_alert", ["code_security"], ["security_events"], ["security_events=read"]),
  read(
    "list_code_scanning_alerts",
    ["code_security"],
    ["security_events"],
    ["security_events=read"],
  ),
  read(
    "get_secret_scanning_alert",
    ["secret_protection"],
    ["security_events"],
    ["secret_scanning_alerts=read"],
  ),
  read(
    "list_secret_scanning_alerts",
    ["secret_protection"],
    ["security_events"],
    ["secret_scanning_alerts=read"],
  ),
  read("get_dependabot_alert", ["dependabot"], ["security_events"], ["vulnerability_alerts=read"]),
  read(
    "list_dependabot_alerts",
    ["dependabot"],
    ["security_events"],
    ["vulnerability_alerts=read"],
  ),
  // notifications: classic only
  ...[
    read("list_notifications", ["notifications"], ["notifications"]),
    read("get_notification_details", ["notifications"], ["notifications"]),
    write("dismiss_notification", ["notifications"], ["notifications"]),
    write("mark_all_notifications_read", ["notifications"], ["notifications"]),
    write("manage_notification_subscription", ["notifications"], ["notifications"]),
    write("manage_repository_notification_subscription", ["notifications"], ["notifications"]),
  ].map((row) => ({ ...row, classicOnly: true })),
  // discussions
  read("list_discussions", ["discussions"], ["repo"], ["discussions=read"]),
  read("get_discussion", ["discussions"], ["repo"], ["discussions=read"]),
  read("get_discussion_comments", ["discussions"], ["repo"], ["discussions=read"]),
  read("list_discussion_categories", ["discussions"], ["repo"], ["discussions=read"]),
  write("discussion_comment_write", ["discussions"], ["repo"], ["discussions=write"]),
  // actions
  read("actions_list", ["actions"], ["repo"], ["actions=read"]),
  read("actions_get", ["actions"], ["repo"], ["actions=read"]),
  read("get_job_logs", ["actions"], ["repo"], ["actions=read"]),
  write("actions_run_trigger", ["actions"], ["repo"], ["actions=write"]),
  // security_advisories
  read("list_global_security_advisories", ["security_advisories"], ["security_events"], []),
  read("get_global_security_advisory", ["security_advisories"], ["security_events"], []),
  read(
    "list_repository_security_advisories",
    ["security_advisories"],
    ["security_events"],
    ["repository_advisories=read"],
  ),
  read(
    "list_org_repository_security_advisories",
    ["security_advisories"],
    ["security_events"],
    ["repository_advisories=read"],
  ),
  // gists
  read("list_gists", ["gists"], [], []),
  read("get_gist", ["gists"], [], []),
  write("create_gist", ["gists"], ["gist"], ["gists=write"]),
  write("update_gist", ["gists"], ["gist"], ["gists=write"]),
  // projects (fine-grained: organization projects; user-owned projects have no fine-grained permission)
  read("projects_list", ["projects"], ["read:project"], ["organization_projects=read"]),
  read("projects_get", ["projects"], ["read:project"], ["organization_projects=read"]),
  write("projects_write", ["projects"], ["project"], ["organization_projects=write"]),
  // stargazers
  read("list_starred_repositories", ["stargazers"], ["repo"], ["starring=read"]),
  write("star_repository", ["stargazers"], ["repo"], ["starring=write"]),
  write("unstar_repository", ["stargazers"], ["repo"], ["starring=write"]),
  // labels (get_label is listed with issues above)
  read("list_label", ["labels"], ["repo"], ["issues=read"]),
  write("label_write", ["labels"], ["repo"], ["issues=write"]),
]);

const IMAGE = "ghcr.io/github/github-mcp-server";
const REMOTE_HOST = /^(api\.githubcopilot\.com|copilot-api\.[a-z0-9-]+\.ghe\.com)$/i;

function remoteUrl(url: string | undefined): URL | undefined {
  if (url === undefined) return undefined;
  try {
    const parsed = new URL(url);
    return REMOTE_HOST.test(parsed.hostname) && /^\/mcp(\/|$)/.test(parsed.pathname)
      ? parsed
      : undefined;
  } catch {
    return undefined;
  }
}

/** Remote settings from the path: /mcp/x/{toolset}[/readonly], /mcp/readonly. */
function remoteRestriction(url: URL): Restriction {
  const segments = url.pathname.split("/").filter((s) => s !== "");
  const x = segments.indexOf("x");
  return restriction({
    toolsets: x >= 0 ? parseList(segments[x + 1]) : undefined,
    readOnly: segments.includes("readonly") ? true : undefined,
  });
}

export const githubMcpServer: Catalog = {
  id: "github-mcp-server",
  title: "GitHub MCP Server (github/github-mcp-server)",
  provider: "github",
  envVars: ["GITHUB_PERSONAL_ACCESS_TOKEN"],
  sources: [
    "github/github-mcp-server README.md (tool list, 2026-08)",
    "github/github-mcp-server docs/scope-filtering.md",
    "github/github-mcp-server docs/permissions-filtering.md",
    "github/github-mcp-server docs/server-configuration.md",
    "github/github-mcp-server pkg/github/tools.go",
  ],
  toolsets,
  defaultToolsets: ["context", "repos", "issues", "pull_requests", "users"],
  unsetToolsets: "default",
  toolsCombine: "union",
  tools,

  detect(profile) {
    const name = commandName(profile);
    if (name === "github-mcp-server") return true;
    if (remoteUrl(profile.url) !== undefined) return true;
    if (hasImageArg(profile, IMAGE)) return true;
    // `go run github.com/github/github-mcp-server/cmd/github-mcp-server` (or a checkout's ./cmd/…)
    return (
      name === "go" &&
      (profile.args ?? []).some((a) => /(^|\/)github-mcp-server\/cmd\/github-mcp-server/.test(a))
    );
  },

  restrict(profile) {
    const notes: string[] = [];
    const remote = remoteUrl(profile.url);
    const fromPath = remote ? remoteRestriction(remote) : {};
    let toolsets =
      parseList(setting(profile, "GITHUB_TOOLSETS") ?? flag(profile, "--toolsets")) ??
      parseList(header(profile, "X-MCP-Toolsets")) ??
      fromPath.toolsets;
    const tools = parseList(
      setting(profile, "GITHUB_TOOLS") ??
        flag(profile, "--tools") ??
        header(profile, "X-MCP-Tools"),
    );
    const excludeTools = parseList(
      setting(profile, "GITHUB_EXCLUDE_TOOLS") ??
        flag(profile, "--exclude-tools") ??
        header(profile, "X-MCP-Exclude-Tools"),
    );
    const readOnly =
      anyOn(
        setting(profile, "GITHUB_READ_ONLY"),
        flag(profile, "--read-only", true),
        header(profile, "X-MCP-Readonly"),
      ) ?? fromPath.readOnly;
    const dynamic = anyOn(
      setting(profile, "GITHUB_DYNAMIC_TOOLSETS"),
      flag(profile, "--dynamic-toolsets", true),
    );
    if (dynamic) {
      toolsets = ["all"];
      notes.push("dynamic toolsets: the model can enable any toolset, so every toolset is counted");
    }
    if (
      anyOn(
        setting(profile, "GITHUB_LOCKDOWN_MODE"),
        flag(profile, "--lockdown-mode", true),
        header(profile, "X-MCP-Lockdown"),
      )
    ) {
      notes.push("lockdown mode filters content; it does not narrow what the key can do");
    }
    if ((profile.args ?? []).some((a) => a === "--env-file" || a.startsWith("--env-file="))) {
      notes.push("settings in the container's --env-file are not visible to keyward");
    }
    return restriction({ toolsets, tools, excludeTools, readOnly, notes });
  },
};
