import { type Catalog, commandName, hasImageArg, hasPackageArg, toolTable } from "../catalog.js";

/**
 * The legacy npm `@modelcontextprotocol/server-github` (unsupported since April 2025, archived out
 * of modelcontextprotocol/servers in May 2025; Docker image `mcp/github`).
 *
 * Sources: tool list from modelcontextprotocol/servers `src/github/index.ts` (last version before
 * archival); key variable and scopes from its `src/github/README.md`, which asks for classic `repo`
 * (or `public_repo` for public repositories only) — shared/reference/mcp-clients.md §4. The server
 * has no toolsets and no read-only mode. Per-tool classic scopes follow that README (every
 * repository tool needs `repo`; `search_users` needs none); fine-grained permissions are DERIVED
 * by us from the REST endpoint each tool calls.
 */
const { tools } = toolTable([
  {
    name: "create_or_update_file",
    needs: ["repo"],
    needsFineGrained: ["contents=write"],
    readOnly: false,
  },
  {
    name: "search_repositories",
    needs: ["repo"],
    needsFineGrained: ["metadata=read"],
    readOnly: true,
  },
  {
    name: "create_repository",
    needs: ["repo"],
    needsFineGrained: ["administration=write"],
    readOnly: false,
  },
  {
    name: "get_file_contents",
    needs: ["repo"],
    needsFineGrained: ["contents=read"],
    readOnly: true,
  },
  { name: "push_files", needs: ["repo"], needsFineGrained: ["contents=write"], readOnly: false },
  { name: "create_issue", needs: ["repo"], needsFineGrained: ["issues=write"], readOnly: false },
  {
    name: "create_pull_request",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=write"],
    readOnly: false,
  },
  {
    name: "fork_repository",
    needs: ["repo"],
    needsFineGrained: ["administration=write", "contents=read"],
    readOnly: false,
  },
  { name: "create_branch", needs: ["repo"], needsFineGrained: ["contents=write"], readOnly: false },
  { name: "list_commits", needs: ["repo"], needsFineGrained: ["contents=read"], readOnly: true },
  { name: "list_issues", needs: ["repo"], needsFineGrained: ["issues=read"], readOnly: true },
  { name: "update_issue", needs: ["repo"], needsFineGrained: ["issues=write"], readOnly: false },
  {
    name: "add_issue_comment",
    needs: ["repo"],
    needsFineGrained: ["issues=write"],
    readOnly: false,
  },
  { name: "search_code", needs: ["repo"], needsFineGrained: ["contents=read"], readOnly: true },
  { name: "search_issues", needs: ["repo"], needsFineGrained: ["issues=read"], readOnly: true },
  { name: "search_users", needs: [], needsFineGrained: [], readOnly: true },
  { name: "get_issue", needs: ["repo"], needsFineGrained: ["issues=read"], readOnly: true },
  {
    name: "get_pull_request",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=read"],
    readOnly: true,
  },
  {
    name: "list_pull_requests",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=read"],
    readOnly: true,
  },
  {
    name: "create_pull_request_review",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=write"],
    readOnly: false,
  },
  {
    name: "merge_pull_request",
    needs: ["repo"],
    needsFineGrained: ["contents=write"],
    readOnly: false,
  },
  {
    name: "get_pull_request_files",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=read"],
    readOnly: true,
  },
  {
    name: "get_pull_request_status",
    needs: ["repo"],
    needsFineGrained: ["statuses=read"],
    readOnly: true,
  },
  {
    name: "update_pull_request_branch",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=write"],
    readOnly: false,
  },
  {
    name: "get_pull_request_comments",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=read"],
    readOnly: true,
  },
  {
    name: "get_pull_request_reviews",
    needs: ["repo"],
    needsFineGrained: ["pull_requests=read"],
    readOnly: true,
  },
]);

const PACKAGE = "@modelcontextprotocol/server-github";

export const serverGithubNpm: Catalog = {
  id: "server-github-npm",
  title: "GitHub reference server (npm @modelcontextprotocol/server-github, archived)",
  provider: "github",
  envVars: ["GITHUB_PERSONAL_ACCESS_TOKEN"],
  sources: [
    "modelcontextprotocol/servers src/github/index.ts (last version before archival)",
    "modelcontextprotocol/servers src/github/README.md",
  ],
  tools,
  recipeHint:
    "This server is archived and unsupported; github/github-mcp-server offers toolsets and a read-only mode.",

  detect(profile) {
    if (hasPackageArg(profile, [PACKAGE]) || hasImageArg(profile, "mcp/github")) return true;
    // A local install: `node …/node_modules/@modelcontextprotocol/server-github/dist/index.js`.
    return (
      commandName(profile) === "node" && (profile.args ?? []).some((a) => a.includes(`${PACKAGE}/`))
    );
  },

  restrict() {
    return {};
  },
};
