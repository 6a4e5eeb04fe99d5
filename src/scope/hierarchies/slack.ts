import type { ScopeHierarchy } from "../algebra.js";

/**
 * Slack OAuth scopes are flat: `chat:write` does not imply `chat:write.public`, `channels:history`
 * does not imply `channels:read`. A browser session (`xoxc-` token + `xoxd-` cookie) is not an OAuth
 * grant at all but the user's whole session (shared/reference/mcp-clients.md §4, korotovsky/slack-mcp-server
 * `docs/01-authentication-setup.md`).
 */
export const slackHierarchy: ScopeHierarchy = {
  provider: "slack",
  children: {},
  fullAccessKinds: ["session", "xoxc", "browser-session"],
  fullAccessMeaning: "everything the user can do (browser session token xoxc/xoxd)",
};
