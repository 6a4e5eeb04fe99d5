// A small MCP server on the v2 SDK (@modelcontextprotocol/server) for the 2026-07-28 era tests.
// serveStdio answers `server/discover` and serves stateless requests; the tools expose the
// environment keyward injected, in several encodings, plus the request metadata they received
// and a multi-round-trip (input_required) exchange.
import { acceptedContent, inputRequired, McpServer } from "@modelcontextprotocol/server";
import { serveStdio } from "@modelcontextprotocol/server/stdio";
import { z } from "zod";

/** The env variable holding the injected key (set by the test's keyward profile). */
const KEY_VAR = "MODERN_API_KEY";
/** Opaque state for the input_required round: the client must echo it byte for byte. */
export const REQUEST_STATE = "opaque-state:v1:Zm9vYmFy+/=";

serveStdio(() => {
  const server = new McpServer(
    { name: "keyward-modern-fixture", version: "1.0.0" },
    {
      capabilities: { tools: {} },
      instructions: "A fixture that reports its environment; keyward must scrub the key.",
    },
  );

  server.registerTool(
    "get-env",
    {
      description: "Returns the environment, and the key hex- and URL-encoded",
      inputSchema: z.object({}),
    },
    async () => {
      const key = Buffer.from(process.env[KEY_VAR] ?? "", "utf8");
      return {
        content: [
          { type: "text", text: JSON.stringify(process.env, null, 2) },
          {
            type: "text",
            text: `hex=${key.toString("hex")} HEX=${key.toString("hex").toUpperCase()} url=${encodeURIComponent(key.toString("utf8"))}`,
          },
        ],
        structuredContent: { env: { ...process.env } },
      };
    },
  );

  server.registerTool(
    "get-binary-env",
    {
      description: "Returns the key inside binary content: image data and a resource blob",
      inputSchema: z.object({}),
    },
    async () => {
      const key = Buffer.from(process.env[KEY_VAR] ?? "", "utf8");
      return {
        content: [
          // Base64 of a longer text: the key sits at an offset inside the base64 run.
          {
            type: "image",
            mimeType: "image/png",
            data: Buffer.concat([Buffer.from("Authorization: Bearer "), key]).toString("base64"),
          },
          {
            type: "resource",
            resource: {
              uri: "keyward://fixture/key",
              mimeType: "application/octet-stream",
              blob: key.toString("base64"),
            },
          },
        ],
      };
    },
  );

  server.registerTool(
    "echo-request",
    {
      description: "Returns the request metadata and arguments the server received",
      inputSchema: z.object({ note: z.string() }),
    },
    async ({ note }, ctx) => {
      const received = {
        note,
        _meta: ctx.mcpReq._meta ?? null,
        envelope: ctx.mcpReq.envelope ?? null,
      };
      return {
        content: [{ type: "text", text: JSON.stringify(received) }],
        structuredContent: received,
      };
    },
  );

  const confirmation = z.object({ confirm: z.boolean() });
  server.registerTool(
    "confirm",
    {
      description: "Asks the client to confirm (multi-round-trip), then answers",
      inputSchema: z.object({ action: z.string() }),
    },
    async ({ action }, ctx) => {
      const answer = acceptedContent(ctx.mcpReq.inputResponses, "confirm", confirmation);
      if (answer === undefined || ctx.mcpReq.requestState() !== REQUEST_STATE) {
        return inputRequired({
          inputRequests: {
            confirm: inputRequired.elicit({
              message: `Really ${action}?`,
              requestedSchema: confirmation,
            }),
          },
          requestState: REQUEST_STATE,
        });
      }
      return { content: [{ type: "text", text: `${action}: confirmed=${answer.confirm}` }] };
    },
  );

  return server;
});
