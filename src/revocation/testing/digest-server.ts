// A real MCP server (the SDK's McpServer over stdio) for the revocation tests: its one tool,
// `key-digest`, answers the SHA-256 of the key keyward injected (SERVICE_KEY) and its own pid,
// so a test can tell which value a running server holds without the value crossing the proxy.
import { createHash } from "node:crypto";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";

const server = new McpServer({ name: "keyward-digest-fixture", version: "1.0.0" });
server.registerTool("key-digest", { description: "SHA-256 of the injected key" }, async () => ({
  content: [
    {
      type: "text",
      text: JSON.stringify({
        sha256: createHash("sha256")
          .update(process.env.SERVICE_KEY ?? "")
          .digest("hex"),
        pid: process.pid,
      }),
    },
  ],
}));
await server.connect(new StdioServerTransport());
