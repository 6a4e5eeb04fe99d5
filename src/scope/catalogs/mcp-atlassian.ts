import {
  anyOn,
  type Catalog,
  commandName,
  expandToolsets,
  flag,
  hasImageArg,
  hasPackageArg,
  parseList,
  providesVariable,
  restriction,
  setting,
  type ToolScopes,
  toolTable,
} from "../catalog.js";

/**
 * sooperset/mcp-atlassian (Python; `uvx mcp-atlassian`, image ghcr.io/sooperset/mcp-atlassian).
 *
 * Sources:
 * - Tools and toolsets: docs/tools-reference.mdx ("Toolset Groups"; core toolsets marked Yes).
 * - Settings: docs/configuration.mdx — TOOLSETS / --toolsets (`default` = the core toolsets, `all`;
 *   unset = all toolsets until v0.22.0), ENABLED_TOOLS / --enabled-tools (intersected with
 *   TOOLSETS), READ_ONLY_MODE (write tools disabled whatever else is set). A service whose URL is
 *   not configured registers no tools.
 * - Key variables: shared/reference/mcp-clients.md §4 (docs/authentication.mdx).
 * - Scopes: DERIVED by us. mcp-atlassian documents no per-tool scopes; we map each tool to the
 *   Atlassian OAuth 2.0 classic scopes (the ones a scoped API token or ATLASSIAN_OAUTH_SCOPE names,
 *   e.g. `read:jira-work write:jira-work read:confluence-content.all write:confluence-content`)
 *   from what the Jira/Confluence REST endpoint behind the tool requires. Write tools also read
 *   (they fetch the item they change), so they carry the read scope too.
 */

type Row = ToolScopes & { name: string; toolsets: string[] };
const tool = (toolset: string, name: string, readOnly: boolean, needs: string[]): Row => ({
  name,
  toolsets: [toolset],
  needs,
  readOnly,
});
const JR = ["read:jira-work"];
const JW = ["read:jira-work", "write:jira-work"];
const jiraRead = (toolset: string, ...names: string[]) =>
  names.map((n) => tool(toolset, n, true, JR));
const jiraWrite = (toolset: string, ...names: string[]) =>
  names.map((n) => tool(toolset, n, false, JW));

const CR = ["read:confluence-content.all"];
const CW = ["read:confluence-content.all", "write:confluence-content"];
const CSUMMARY = ["read:confluence-content.summary"];

const { tools, toolsets } = toolTable([
  ...jiraRead(
    "jira_issues",
    "jira_get_issue",
    "jira_search",
    "jira_get_project_issues",
    "jira_batch_get_changelogs",
  ),
  ...jiraWrite(
    "jira_issues",
    "jira_create_issue",
    "jira_update_issue",
    "jira_assign_issue",
    "jira_delete_issue",
    "jira_move_issue",
    "jira_batch_create_issues",
  ),
  ...jiraRead("jira_fields", "jira_search_fields", "jira_get_field_options"),
  ...jiraWrite("jira_comments", "jira_add_comment", "jira_edit_comment"),
  ...jiraRead("jira_transitions", "jira_get_transitions"),
  ...jiraWrite("jira_transitions", "jira_transition_issue"),
  ...jiraRead(
    "jira_projects",
    "jira_get_all_projects",
    "jira_search_projects",
    "jira_get_project_versions",
    "jira_get_project_components",
    "jira_get_project_fields",
  ),
  // Versions are project administration ("Administer projects"): manage:jira-project.
  ...["jira_create_version", "jira_batch_create_versions", "jira_update_version"].map((n) =>
    tool("jira_projects", n, false, ["read:jira-work", "manage:jira-project"]),
  ),
  ...jiraRead(
    "jira_agile",
    "jira_get_agile_boards",
    "jira_get_board_issues",
    "jira_get_sprints_from_board",
    "jira_get_sprint_issues",
  ),
  ...jiraWrite(
    "jira_agile",
    "jira_create_sprint",
    "jira_update_sprint",
    "jira_add_issues_to_sprint",
    "jira_move_issues_to_backlog",
  ),
  ...jiraRead("jira_links", "jira_get_link_types"),
  ...jiraWrite(
    "jira_links",
    "jira_link_to_epic",
    "jira_create_issue_link",
    "jira_create_remote_issue_link",
    "jira_remove_issue_link",
  ),
  ...jiraRead("jira_worklog", "jira_get_worklog"),
  ...jiraWrite("jira_worklog", "jira_add_worklog"),
  ...jiraRead("jira_attachments", "jira_download_attachments", "jira_get_issue_images"),
  tool("jira_users", "jira_get_user_profile", true, ["read:jira-user"]),
  tool("jira_users", "jira_search_assignable_users", true, ["read:jira-user"]),
  ...jiraRead("jira_watchers", "jira_get_issue_watchers"),
  ...jiraWrite("jira_watchers", "jira_add_watcher", "jira_remove_watcher"),
  ...[
    "jira_get_service_desk_for_project",
    "jira_get_service_desk_queues",
    "jira_get_queue_issues",
    "jira_get_request_types",
    "jira_get_request_type_fields",
  ].map((n) => tool("jira_service_desk", n, true, ["read:servicedesk-request"])),
  tool("jira_service_desk", "jira_create_customer_request", false, [
    "read:servicedesk-request",
    "write:servicedesk-request",
  ]),
  ...jiraRead("jira_forms", "jira_get_issue_proforma_forms", "jira_get_proforma_form_details"),
  ...jiraWrite("jira_forms", "jira_update_proforma_form_answers"),
  ...jiraRead("jira_metrics", "jira_get_issue_dates", "jira_get_issue_sla"),
  ...jiraRead(
    "jira_development",
    "jira_get_issue_development_info",
    "jira_get_issues_development_info",
  ),
  ...jiraRead(
    "jira_project_analysis",
    "jira_get_project_epic_hierarchy",
    "jira_get_cross_project_dependencies",
  ),

  tool("confluence_pages", "confluence_search", true, ["search:confluence", ...CSUMMARY]),
  tool("confluence_pages", "confluence_get_page", true, CR),
  tool("confluence_pages", "confluence_get_page_children", true, CSUMMARY),
  tool("confluence_pages", "confluence_get_space_page_tree", true, [
    ...CSUMMARY,
    "read:confluence-space.summary",
  ]),
  tool("confluence_pages", "confluence_get_page_history", true, CR),
  tool("confluence_pages", "confluence_get_page_diff", true, CR),
  tool("confluence_pages", "confluence_get_page_restrictions", true, [
    "read:confluence-content.permission",
  ]),
  ...[
    "confluence_create_page",
    "confluence_update_page",
    "confluence_update_page_section",
    "confluence_delete_page",
    "confluence_move_page",
    "confluence_copy_page",
    "confluence_set_page_restrictions",
  ].map((n) => tool("confluence_pages", n, false, CW)),
  tool("confluence_comments", "confluence_get_comments", true, CR),
  tool("confluence_comments", "confluence_add_comment", false, CW),
  tool("confluence_comments", "confluence_reply_to_comment", false, CW),
  tool("confluence_labels", "confluence_get_labels", true, CSUMMARY),
  tool("confluence_labels", "confluence_add_label", false, CW),
  tool("confluence_users", "confluence_search_user", true, ["read:confluence-user"]),
  tool("confluence_analytics", "confluence_get_page_views", true, CSUMMARY),
  tool("confluence_attachments", "confluence_get_attachments", true, CR),
  ...[
    "confluence_download_attachment",
    "confluence_download_content_attachments",
    "confluence_get_page_images",
  ].map((n) => tool("confluence_attachments", n, true, ["readonly:content.attachment:confluence"])),
  tool("confluence_attachments", "confluence_upload_attachment", false, [
    ...CR,
    "write:confluence-file",
  ]),
  tool("confluence_attachments", "confluence_upload_attachments", false, [
    ...CR,
    "write:confluence-file",
  ]),
  tool("confluence_attachments", "confluence_delete_attachment", false, CW),
  tool("confluence_permissions", "confluence_check_content_permissions", true, [
    "read:confluence-content.permission",
  ]),
  tool("confluence_permissions", "confluence_get_space_permissions", true, [
    "read:confluence-space.summary",
  ]),
  tool("confluence_templates", "confluence_list_page_templates", true, CSUMMARY),
  tool("confluence_templates", "confluence_get_page_template", true, CSUMMARY),
  tool("confluence_templates", "confluence_create_page_from_template", false, CW),
]);

const JIRA_TOOLSETS = Object.keys(toolsets).filter((t) => t.startsWith("jira_"));
const CONFLUENCE_TOOLSETS = Object.keys(toolsets).filter((t) => t.startsWith("confluence_"));

const JIRA_KEYS = ["JIRA_API_TOKEN", "JIRA_PERSONAL_TOKEN"];
const CONFLUENCE_KEYS = ["CONFLUENCE_API_TOKEN", "CONFLUENCE_PERSONAL_TOKEN"];

export const mcpAtlassian: Catalog = {
  id: "mcp-atlassian",
  title: "MCP Atlassian (sooperset/mcp-atlassian)",
  provider: "atlassian",
  envVars: [...JIRA_KEYS, ...CONFLUENCE_KEYS, "ATLASSIAN_OAUTH_ACCESS_TOKEN"],
  sources: [
    "sooperset/mcp-atlassian docs/tools-reference.mdx",
    "sooperset/mcp-atlassian docs/configuration.mdx",
    "sooperset/mcp-atlassian docs/authentication.mdx",
  ],
  toolsets,
  defaultToolsets: [
    "jira_issues",
    "jira_fields",
    "jira_comments",
    "jira_transitions",
    "confluence_pages",
    "confluence_comments",
  ],
  unsetToolsets: "all",
  toolsCombine: "intersect",
  envVarToolsets: {
    ...Object.fromEntries(JIRA_KEYS.map((v) => [v, JIRA_TOOLSETS])),
    ...Object.fromEntries(CONFLUENCE_KEYS.map((v) => [v, CONFLUENCE_TOOLSETS])),
  },
  tools,
  recipeHint:
    "A scoped API token works only through https://api.atlassian.com/ex/jira/{cloudId} (or /ex/confluence/{cloudId}), so set JIRA_URL / CONFLUENCE_URL to that gateway URL (mcp-atlassian issue #968). Server/Data Center PATs cannot be scoped: give the server a dedicated user with only the project and space permissions it needs.",

  detect(profile) {
    const name = commandName(profile);
    if (name === "mcp-atlassian") return true;
    if (hasImageArg(profile, "ghcr.io/sooperset/mcp-atlassian")) return true;
    if (["uvx", "uv", "pipx"].includes(name)) {
      if (hasPackageArg(profile, ["mcp-atlassian"])) return true;
    }
    // `python -m mcp_atlassian`
    const args = profile.args ?? [];
    return (
      /^python(3(\.\d+)?)?$/.test(name) && args.includes("-m") && args.includes("mcp_atlassian")
    );
  },

  restrict(profile) {
    const notes: string[] = [];
    let toolsets = parseList(setting(profile, "TOOLSETS") ?? flag(profile, "--toolsets"));
    const tools = parseList(setting(profile, "ENABLED_TOOLS") ?? flag(profile, "--enabled-tools"));
    const readOnly = anyOn(setting(profile, "READ_ONLY_MODE"), flag(profile, "--read-only", true));
    if (toolsets === undefined) {
      notes.push(
        "TOOLSETS is not set: every toolset is counted (mcp-atlassian 0.22 will enable only the core toolsets)",
      );
    }
    // Only the services the profile configures register tools.
    const jira = providesVariable(profile, "JIRA_URL");
    const confluence = providesVariable(profile, "CONFLUENCE_URL");
    if (jira !== confluence) {
      const served = jira ? JIRA_TOOLSETS : CONFLUENCE_TOOLSETS;
      const chosen = expandToolsets(mcpAtlassian, toolsets ?? ["all"]).toolsets;
      toolsets = chosen.filter((t) => served.includes(t));
      notes.push(
        `only ${jira ? "Jira" : "Confluence"} is configured: its toolsets alone are counted`,
      );
    }
    if ((profile.args ?? []).some((a) => a === "--env-file" || a.startsWith("--env-file="))) {
      notes.push("settings in the container's --env-file are not visible to keyward");
    }
    return restriction({ toolsets, tools, readOnly, notes });
  },
};
