/**
 * A minimal, fast MCP server for the proxy benchmarks: raw newline-delimited JSON-RPC over
 * stdio, no SDK, so the server is never the bottleneck of a round trip. It answers
 * `initialize`, `tools/list` and `tools/call` of two tools:
 *   echo {text}           → a small text result naming this process's pid and start time
 *                            (restarts are visible)
 *   blob {bytes, kind}    → one result line of about `bytes` bytes: "text" (ASCII prose) or
 *                            "base64" (an image content block of random base64)
 * It exits when its stdin ends, as an MCP stdio server should.
 */
import { randomBytes } from "node:crypto";
import { LineSplitter } from "../../src/mcp/framing.js";

const WORDS =
  "the of and to in is for on that with as by this from issue pull request review merged branch commit failed passed build deploy error warning user repository file path line function returns value config server client tool result".split(
    " ",
  );

/** ASCII prose needing no JSON escapes; 1 MiB of it repeated, since building 64 MiB word by word is slow. */
function prose(bytes: number): Buffer {
  const unit = 1 << 20;
  const words: string[] = [];
  for (let size = 0; size < Math.min(bytes, unit); ) {
    const word = WORDS[Math.floor(Math.random() * WORDS.length)]!;
    words.push(word);
    size += word.length + 1;
  }
  const chunk = Buffer.from(words.join(" "));
  const out = Buffer.alloc(bytes, 0x20);
  for (let at = 0; at < bytes; at += chunk.length) chunk.copy(out, at);
  return out;
}

function blobLine(id: number, bytes: number, kind: string): Buffer {
  const head =
    kind === "base64"
      ? `{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"image","mimeType":"image/png","data":"`
      : `{"jsonrpc":"2.0","id":${id},"result":{"content":[{"type":"text","text":"`;
  const tail = `"}],"isError":false}}\n`;
  const body =
    kind === "base64"
      ? Buffer.from(randomBytes(Math.floor(bytes / 4) * 3).toString("base64"))
      : prose(bytes);
  return Buffer.concat([Buffer.from(head), body, Buffer.from(tail)]);
}

interface Request {
  id?: number | string;
  method?: string;
  params?: { protocolVersion?: string; name?: string; arguments?: Record<string, unknown> };
}

// Every response starts with `{"jsonrpc":"2.0","id":` so the bench client can match it by prefix.
function respond(id: number | string, result: unknown): void {
  process.stdout.write(
    `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":${JSON.stringify(result)}}\n`,
  );
}

function onLine(line: Buffer): void {
  const request = JSON.parse(line.toString("utf8")) as Request;
  const { id, method, params } = request;
  if (id === undefined) return; // notifications need no answer
  switch (method) {
    case "initialize":
      respond(id, {
        protocolVersion: params?.protocolVersion ?? "2025-06-18",
        capabilities: { tools: {} },
        serverInfo: { name: "keyward-bench-server", version: "1.0.0" },
      });
      return;
    case "tools/list":
      respond(id, { tools: [] });
      return;
    case "tools/call": {
      const args = params?.arguments ?? {};
      if (params?.name === "blob" && typeof id === "number") {
        process.stdout.write(blobLine(id, Number(args.bytes), String(args.kind)));
        return;
      }
      // The pid shows which process answered; timeOrigin (epoch ms) when it was started.
      const text = `echo ${String(args.text)} from pid ${process.pid} started ${performance.timeOrigin}`;
      respond(id, { content: [{ type: "text", text }] });
      return;
    }
    default:
      process.stdout.write(
        `{"jsonrpc":"2.0","id":${JSON.stringify(id)},"error":{"code":-32601,"message":"unknown method"}}\n`,
      );
  }
}

const splitter = new LineSplitter(onLine, () => {});
process.stdin.on("data", (chunk: Buffer) => splitter.push(chunk));
process.stdin.on("end", () => process.exit(0));
