/**
 * A raw JSON-RPC client for the proxy benchmarks: writes one request line to a child's stdin
 * and awaits the response line. Not the MCP SDK, whose per-message validation would dominate a
 * sub-millisecond round trip. One request in flight at a time (the benchmarks are sequential).
 */
import { type ChildProcessByStdio, spawn } from "node:child_process";
import type { Readable, Writable } from "node:stream";
import { LineSplitter } from "../../src/mcp/framing.js";

/** Responses from the bench server and keyward's own errors both start this way. */
const RESPONSE_PREFIX = /^\{"jsonrpc":"2\.0","id":(\d+),"(result|error)"/;

export interface Response {
  /** The raw line, newline excluded. */
  line: Buffer;
  isError: boolean;
  /** Arrival time, performance.now(). */
  at: number;
}

export class RpcClient {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** stderr lines with their arrival times (performance.now()). */
  readonly stderr: Array<{ at: number; text: string }> = [];
  private nextId = 1;
  private pending:
    | { id: number; resolve: (r: Response) => void; reject: (e: Error) => void }
    | undefined;
  private readonly exited: Promise<number | null>;

  constructor(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
    this.child = spawn(command, args, { env, stdio: ["pipe", "pipe", "pipe"] });
    const splitter = new LineSplitter(
      (line) => this.onLine(line),
      () => {},
    );
    this.child.stdout.on("data", (chunk: Buffer) => splitter.push(chunk));
    let partial = "";
    this.child.stderr.on("data", (chunk: Buffer) => {
      const at = performance.now();
      const lines = (partial + chunk.toString("utf8")).split("\n");
      partial = lines.pop() ?? "";
      for (const text of lines) this.stderr.push({ at, text });
    });
    this.exited = new Promise((resolve) => this.child.on("exit", (code) => resolve(code)));
    this.child.on("exit", () => {
      const pending = this.pending;
      this.pending = undefined;
      const text = this.stderr.map((l) => l.text).join("\n");
      pending?.reject(new Error(`the benchmarked process exited during a request:\n${text}`));
    });
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  request(method: string, params: unknown): Promise<Response> {
    if (this.pending !== undefined) throw new Error("one request at a time");
    const id = this.nextId++;
    const done = new Promise<Response>((resolve, reject) => {
      this.pending = { id, resolve, reject };
    });
    this.child.stdin.write(
      `{"jsonrpc":"2.0","id":${id},"method":"${method}","params":${JSON.stringify(params)}}\n`,
    );
    return done;
  }

  notify(method: string, params: unknown = {}): void {
    this.child.stdin.write(
      `{"jsonrpc":"2.0","method":"${method}","params":${JSON.stringify(params)}}\n`,
    );
  }

  /** initialize + notifications/initialized, as an MCP client opens a session. */
  async initialize(): Promise<Response> {
    const r = await this.request("initialize", {
      protocolVersion: "2025-06-18",
      capabilities: {},
      clientInfo: { name: "keyward-bench", version: "1.0.0" },
    });
    if (r.isError) throw new Error(`initialize failed: ${r.line.toString("utf8")}`);
    this.notify("notifications/initialized");
    return r;
  }

  callTool(name: string, args: Record<string, unknown>): Promise<Response> {
    return this.request("tools/call", { name, arguments: args });
  }

  /** Closes stdin (the MCP way to end a stdio session) and waits for the exit. */
  close(): Promise<number | null> {
    this.child.stdin.end();
    return this.exited;
  }

  private onLine(line: Buffer): void {
    const match = RESPONSE_PREFIX.exec(line.toString("latin1", 0, 64));
    if (match === null) return; // a notification (e.g. tools/list_changed after a restart)
    const pending = this.pending;
    if (pending === undefined || Number(match[1]) !== pending.id) return;
    this.pending = undefined;
    pending.resolve({ line, isError: match[2] === "error", at: performance.now() });
  }
}

/** Which bench server process answered an echo call, and when it was started (epoch ms). */
export function servedBy(response: Response): { pid: number; startedAt: number } {
  const match = / from pid (\d+) started ([\d.]+)"/.exec(response.line.toString("utf8"));
  if (match === null) {
    throw new Error(`not an echo result: ${response.line.toString("utf8", 0, 300)}`);
  }
  return { pid: Number(match[1]), startedAt: Number(match[2]) };
}
