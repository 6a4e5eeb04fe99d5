import { type Catalog, commandName, hasImageArg, hasPackageArg, toolTable } from "../catalog.js";

/**
 * The Slack reference server `@modelcontextprotocol/server-slack` (archived; the maintained fork
 * `@zencoderai/slack-mcp-server` keeps the same tools and variables; Docker image `mcp/slack`).
 *
 * Sources: shared/reference/mcp-clients.md §6, from modelcontextprotocol/servers `src/slack/README.md`
 * (bot scopes) and `src/slack/index.ts` (the Web API method behind each tool). `slack_list_channels`
 * also uses `groups:read` for private channels; the README leaves it out, so it is not counted.
 * The server has no toolsets and no read-only mode; SLACK_CHANNEL_IDS limits the channels listed,
 * not what the token may do.
 */
const { tools } = toolTable([
  { name: "slack_list_channels", needs: ["channels:read"], readOnly: true },
  { name: "slack_post_message", needs: ["chat:write"], readOnly: false },
  { name: "slack_reply_to_thread", needs: ["chat:write"], readOnly: false },
  { name: "slack_add_reaction", needs: ["reactions:write"], readOnly: false },
  { name: "slack_get_channel_history", needs: ["channels:history"], readOnly: true },
  { name: "slack_get_thread_replies", needs: ["channels:history"], readOnly: true },
  { name: "slack_get_users", needs: ["users:read"], readOnly: true },
  { name: "slack_get_user_profile", needs: ["users.profile:read"], readOnly: true },
]);

export const slackReference: Catalog = {
  id: "server-slack",
  title: "Slack reference server (npm @modelcontextprotocol/server-slack)",
  provider: "slack",
  envVars: ["SLACK_BOT_TOKEN"],
  sources: [
    "modelcontextprotocol/servers src/slack/README.md",
    "modelcontextprotocol/servers src/slack/index.ts",
  ],
  tools,

  detect(profile) {
    if (
      hasPackageArg(profile, ["@modelcontextprotocol/server-slack", "@zencoderai/slack-mcp-server"])
    ) {
      return true;
    }
    if (hasImageArg(profile, "mcp/slack")) return true;
    return (
      commandName(profile) === "node" &&
      (profile.args ?? []).some((a) => a.includes("@modelcontextprotocol/server-slack/"))
    );
  },

  restrict() {
    return {};
  },
};
