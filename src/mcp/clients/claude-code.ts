// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the client's own placeholder syntax is the example
/**
 * Claude Code: ~/.claude.json (user scope under mcpServers, local scope under
 * projects["<abs path>"].mcpServers) and the project's .mcp.json (meant to be committed).
 * Entries carry `type` (stdio | http | sse); remote ones have url and headers.
 * The enterprise managed-mcp.json is the administrator's and is left alone.
 * Sources: /work/shared/reference/mcp-clients.md §1–3.
 */
import { join } from "node:path";
import { asRecord } from "./paths.js";
import { type ClientAdapter, hasTemplate, type ServerMapRef } from "./types.js";

export const claudeCode: ClientAdapter = {
  id: "claude-code",
  displayName: "Claude Code",
  configFiles(ctx) {
    return [
      {
        path: join(ctx.home, ".claude.json"),
        scope: "user",
        description: "user and local-scope config",
      },
      { path: join(ctx.cwd, ".mcp.json"), scope: "project", description: "project .mcp.json" },
    ];
  },
  serverMaps(doc) {
    const root = asRecord(doc);
    const maps: ServerMapRef[] = [];
    if (asRecord(root?.mcpServers) !== undefined) {
      maps.push({ path: ["mcpServers"], label: "mcpServers" });
    }
    for (const [project, settings] of Object.entries(asRecord(root?.projects) ?? {})) {
      if (asRecord(asRecord(settings)?.mcpServers) === undefined) continue;
      maps.push({
        path: ["projects", project, "mcpServers"],
        label: `projects[${JSON.stringify(project)}].mcpServers`,
      });
    }
    return maps;
  },
  remoteUrlKeys: ["url"],
  isPlaceholder: hasTemplate,
  placeholderExamples: ["${GITHUB_PAT}", "${GITHUB_PAT:-}", "Bearer ${API_TOKEN:-none}"],
};
