// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the client's own placeholder syntax is the example
/**
 * Claude Desktop: claude_desktop_config.json, root key mcpServers, stdio entries only (remote
 * servers are added in the Connectors UI; url entries in this file are skipped as invalid).
 * Sources: /work/shared/reference/mcp-clients.md §1.
 */
import { join } from "node:path";
import { rootMap, userConfigDir } from "./paths.js";
import { type ClientAdapter, hasTemplate } from "./types.js";

export const claudeDesktop: ClientAdapter = {
  id: "claude-desktop",
  displayName: "Claude Desktop",
  configFiles(ctx) {
    // No official Linux build; community builds use ~/.config/Claude/.
    return [
      {
        path: join(userConfigDir(ctx), "Claude", "claude_desktop_config.json"),
        scope: "user",
        description: "user config",
      },
    ];
  },
  serverMaps: (doc) => rootMap(doc, "mcpServers"),
  remoteUrlKeys: [],
  isPlaceholder: hasTemplate,
  // .mcpb bundles substitute these into mcp_config before the entry is launched.
  placeholderExamples: ["${user_config.api_key}", "${__dirname}/server/index.js"],
};
