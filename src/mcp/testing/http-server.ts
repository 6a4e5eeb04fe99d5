// Test helper: a Streamable HTTP MCP server on 127.0.0.1 built with the SDK (McpServer +
// StreamableHTTPServerTransport, one per session). It checks `Authorization: Bearer <token>`
// against a set of accepted tokens, records what it received, and is deliberately leaky: its
// tools and its 401 body echo the credential back, so the tests can check keyward scrubs it.
// Any path other than /mcp is redirected (308) to /mcp.
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import { z } from "zod";

export interface HttpMcpServerOptions {
  /** Accepted bearer tokens; a request without one of them gets 401. Mutable. */
  tokens: Set<string>;
  /** Answer POSTs with JSON bodies instead of SSE streams. */
  jsonResponse?: boolean;
}

export interface ReceivedRequest {
  method: string;
  authorization: string | undefined;
  session: string | undefined;
  protocolVersion: string | undefined;
  /** The raw POST body. */
  body: Buffer;
}

export interface HttpMcpServer {
  url: string;
  received: ReceivedRequest[];
  /** Session ids the client ended with DELETE. */
  deleted: string[];
  /** Forgets every session: the next request with one gets 404. */
  expireSessions(): Promise<void>;
  /** Sends a logging notification on every open GET stream (server-initiated). */
  broadcast(text: string): Promise<void>;
  close(): Promise<void>;
}

export async function startHttpMcpServer(opts: HttpMcpServerOptions): Promise<HttpMcpServer> {
  const sessions = new Map<string, { transport: StreamableHTTPServerTransport; mcp: McpServer }>();
  const received: ReceivedRequest[] = [];
  const deleted: string[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const body = await readAll(req);
    const header = (name: string) => {
      const value = req.headers[name];
      return Array.isArray(value) ? value.join(", ") : value;
    };
    const session = header("mcp-session-id");
    received.push({
      method: req.method ?? "",
      authorization: header("authorization"),
      session,
      protocolVersion: header("mcp-protocol-version"),
      body,
    });
    if (req.url !== "/mcp") {
      // Moved within the same origin: clients follow it with the same method and body.
      res.writeHead(308, { location: "/mcp" });
      res.end();
      return;
    }
    const authorization = header("authorization") ?? "";
    if (!opts.tokens.has(authorization.replace(/^Bearer /, ""))) {
      // Leaky on purpose, like servers that quote the token they refused.
      res.writeHead(401, {
        "content-type": "application/json",
        "www-authenticate": 'Bearer error="invalid_token"',
      });
      res.end(
        JSON.stringify({ error: "invalid_token", detail: `not a valid token: ${authorization}` }),
      );
      return;
    }
    if (req.method === "DELETE" && session !== undefined) deleted.push(session);
    let parsed: unknown;
    try {
      parsed = body.length > 0 ? JSON.parse(body.toString("utf8")) : undefined;
    } catch {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32700, message: "Parse error" },
          id: null,
        }),
      );
      return;
    }
    const known = session === undefined ? undefined : sessions.get(session);
    if (known !== undefined) {
      await known.transport.handleRequest(req, res, parsed);
      return;
    }
    if (session !== undefined) {
      res.writeHead(404, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32001, message: "Session not found" },
          id: null,
        }),
      );
      return;
    }
    if (req.method !== "POST" || !isInitializeRequest(parsed)) {
      res.writeHead(400, { "content-type": "application/json" });
      res.end(
        JSON.stringify({
          jsonrpc: "2.0",
          error: { code: -32000, message: "Bad Request: no session" },
          id: null,
        }),
      );
      return;
    }
    const mcp = buildServer();
    const transport = new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      enableJsonResponse: opts.jsonResponse ?? false,
      onsessioninitialized: (id) => {
        sessions.set(id, { transport, mcp });
      },
    });
    transport.onclose = () => {
      if (transport.sessionId !== undefined) sessions.delete(transport.sessionId);
    };
    await mcp.connect(transport);
    await transport.handleRequest(req, res, parsed);
  };

  const http: Server = createServer((req, res) => {
    handle(req, res).catch((error: Error) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(error.message);
    });
  });
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;

  const closeSessions = async () => {
    const open = [...sessions.values()];
    sessions.clear();
    await Promise.all(open.map(({ mcp }) => mcp.close()));
  };

  return {
    url: `http://127.0.0.1:${port}/mcp`,
    received,
    deleted,
    expireSessions: closeSessions,
    async broadcast(text) {
      await Promise.all(
        [...sessions.values()].map(({ mcp }) =>
          mcp.sendLoggingMessage({ level: "info", data: text }),
        ),
      );
    },
    async close() {
      await closeSessions();
      http.closeAllConnections();
      await new Promise<void>((resolve) => http.close(() => resolve()));
    },
  };
}

function buildServer(): McpServer {
  const mcp = new McpServer(
    { name: "leaky-http", version: "1.0.0" },
    { capabilities: { logging: {} } },
  );
  mcp.registerTool(
    "echo-headers",
    { description: "Returns the request's headers, as JSON and as base64 of that JSON." },
    async (extra) => {
      const json = JSON.stringify(extra.requestInfo?.headers ?? {});
      return {
        content: [
          { type: "text", text: json },
          { type: "text", text: Buffer.from(json).toString("base64") },
        ],
      };
    },
  );
  mcp.registerTool(
    "big",
    {
      description:
        "Logs the credential, then returns `kib` KiB of text with the credential in the middle.",
      inputSchema: { kib: z.number().int().positive() },
    },
    async ({ kib }, extra) => {
      const authorization = String(extra.requestInfo?.headers.authorization ?? "");
      await extra.sendNotification({
        method: "notifications/message",
        params: { level: "info", data: `working with ${authorization}` },
      });
      const half = "x".repeat((kib * 1024) / 2);
      return { content: [{ type: "text", text: `${half}${authorization}${half}` }] };
    },
  );
  return mcp;
}

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of req) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}
