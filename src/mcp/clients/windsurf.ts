// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the client's own placeholder syntax is the example
/**
 * Windsurf: ~/.codeium/windsurf/mcp_config.json (%USERPROFILE%\.codeium\windsurf on Windows),
 * root key mcpServers; remote entries name their endpoint `serverUrl` (not `url`).
 * Sources: /work/shared/reference/mcp-clients.md §1; github/github-mcp-server install-windsurf.md.
 */
import { join } from "node:path";
import { rootMap } from "./paths.js";
import { type ClientAdapter, hasTemplate } from "./types.js";

export const windsurf: ClientAdapter = {
  id: "windsurf",
  displayName: "Windsurf",
  configFiles(ctx) {
    return [
      {
        path: join(ctx.home, ".codeium", "windsurf", "mcp_config.json"),
        scope: "user",
        description: "user config",
      },
    ];
  },
  serverMaps: (doc) => rootMap(doc, "mcpServers"),
  // Some guides write url; serverUrl is what Windsurf documents.
  remoteUrlKeys: ["serverUrl", "url"],
  isPlaceholder: hasTemplate,
  placeholderExamples: ["${env:GITHUB_TOKEN}"],
};
