// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the client's own placeholder syntax is the example
/**
 * Cursor: ~/.cursor/mcp.json and the project's .cursor/mcp.json, root key mcpServers; stdio
 * entries (command, args, env, envFile) and remote ones (url, headers).
 * Sources: /work/shared/reference/mcp-clients.md §1–3.
 */
import { join } from "node:path";
import { rootMap } from "./paths.js";
import { type ClientAdapter, hasTemplate } from "./types.js";

export const cursor: ClientAdapter = {
  id: "cursor",
  displayName: "Cursor",
  configFiles(ctx) {
    return [
      { path: join(ctx.home, ".cursor", "mcp.json"), scope: "user", description: "user config" },
      {
        path: join(ctx.cwd, ".cursor", "mcp.json"),
        scope: "project",
        description: "project .cursor/mcp.json",
      },
    ];
  },
  serverMaps: (doc) => rootMap(doc, "mcpServers"),
  remoteUrlKeys: ["url"],
  isPlaceholder: hasTemplate,
  placeholderExamples: ["${env:API_KEY}", "Bearer ${env:TOKEN}", "${workspaceFolder}/data"],
};
