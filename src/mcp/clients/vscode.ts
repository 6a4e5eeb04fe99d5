// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the client's own placeholder syntax is the example
/**
 * VS Code (Copilot): the user-profile mcp.json and the workspace .vscode/mcp.json (root keys
 * `servers` and `inputs`), plus the legacy `"mcp": { "servers": … }` in settings.json. All are
 * JSONC: comments and trailing commas are allowed and kept. `type` is required on every entry.
 * Sources: microsoft/vscode-docs docs/copilot/reference/mcp-configuration.md; mcp-clients.md §1–3.
 */
import { basename, join } from "node:path";
import { asRecord, userConfigDir } from "./paths.js";
import { type ClientAdapter, hasTemplate } from "./types.js";

export const vscode: ClientAdapter = {
  id: "vscode",
  displayName: "VS Code",
  configFiles(ctx) {
    const user = join(userConfigDir(ctx), "Code", "User");
    return [
      { path: join(user, "mcp.json"), scope: "user", description: "user mcp.json" },
      {
        path: join(user, "settings.json"),
        scope: "user",
        description: "user settings.json (legacy mcp.servers)",
      },
      {
        path: join(ctx.cwd, ".vscode", "mcp.json"),
        scope: "project",
        description: "workspace .vscode/mcp.json",
      },
      {
        path: join(ctx.cwd, ".vscode", "settings.json"),
        scope: "project",
        description: "workspace settings.json (legacy mcp.servers)",
      },
    ];
  },
  serverMaps(doc, file) {
    const root = asRecord(doc);
    if (basename(file.path) === "settings.json") {
      return asRecord(asRecord(root?.mcp)?.servers) === undefined
        ? []
        : [{ path: ["mcp", "servers"], label: "mcp.servers" }];
    }
    return asRecord(root?.servers) === undefined ? [] : [{ path: ["servers"], label: "servers" }];
  },
  remoteUrlKeys: ["url"],
  isPlaceholder: hasTemplate,
  placeholderExamples: [
    "${input:github_token}",
    "Bearer ${input:gh}",
    "${env:GITHUB_TOKEN}",
    "${workspaceFolder}/server.js",
    "${userHome}/.config/x",
  ],
};
