// A tiny JSON-RPC client for compatibility tests: newline-delimited JSON over a child's stdio,
// written by hand (not the SDK Client) so that every line in both directions is recorded exactly
// as sent and received, and so that the test decides ids, order and timing itself.
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { LineSplitter } from "../../mcp/framing.js";

export type JsonRpcId = string | number;
export type Message = Record<string, unknown> & { id?: JsonRpcId; method?: string };

export interface TranscriptLine {
  /** send: client → server; recv: server → client. */
  dir: "send" | "recv";
  /** The line without its `\n`, exactly as it went over the pipe. */
  line: string;
}

export type RequestHandler = (params: Record<string, unknown>, message: Message) => unknown;

export interface SpawnOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
}

/** Raised when an awaited message does not come; carries what was received for the report. */
export class WaitTimeout extends Error {}

export class RawClient {
  readonly transcript: TranscriptLine[] = [];
  readonly stderr: string[] = [];
  private readonly received: Message[] = [];
  private readonly handlers = new Map<string, RequestHandler>();
  private readonly waiters = new Set<() => void>();
  private nextId = 1;
  private readonly exited: Promise<number | null>;

  constructor(private readonly child: ChildProcessWithoutNullStreams) {
    const splitter = new LineSplitter(
      (line) => this.onLine(line.toString("utf8")),
      () => {},
    );
    child.stdout.on("data", (chunk: Buffer) => splitter.push(chunk));
    child.stdout.on("end", () => splitter.end());
    child.stderr.on("data", (chunk: Buffer) => this.stderr.push(chunk.toString("utf8")));
    child.stdin.on("error", () => {}); // the peer went away; the test sees it as a missing answer
    this.exited = new Promise((resolve) => {
      child.on("close", (code, signal) => {
        for (const wake of this.waiters) wake();
        resolve(signal === null ? code : null);
      });
    });
  }

  static spawn(opts: SpawnOptions): RawClient {
    return new RawClient(
      spawn(opts.command, opts.args, { env: opts.env, stdio: ["pipe", "pipe", "pipe"] }),
    );
  }

  /** Answers server→client requests of `method` with the handler's return value as `result`. */
  handle(method: string, handler: RequestHandler): void {
    this.handlers.set(method, handler);
  }

  /** Sends a request and resolves with the whole response message (result or error). */
  async request(
    method: string,
    params?: Record<string, unknown>,
    opts: { id?: JsonRpcId; timeoutMs?: number } = {},
  ): Promise<Message> {
    const id = opts.id ?? this.nextId++;
    this.send({ jsonrpc: "2.0", id, method, ...(params === undefined ? {} : { params }) });
    return this.waitFor(
      (m) => m.id === id && m.method === undefined,
      `the response to ${method} (id ${JSON.stringify(id)})`,
      opts.timeoutMs,
    );
  }

  /** A fresh request id, for requests sent with `send` (e.g. to be cancelled). */
  newId(): number {
    return this.nextId++;
  }

  notify(method: string, params?: Record<string, unknown>): void {
    this.send({ jsonrpc: "2.0", method, ...(params === undefined ? {} : { params }) });
  }

  send(message: Message): void {
    this.sendLine(JSON.stringify(message));
  }

  sendLine(line: string): void {
    this.transcript.push({ dir: "send", line });
    this.child.stdin.write(`${line}\n`);
  }

  /** Resolves with the first received message (in arrival order) that matches. */
  async waitFor(
    match: (message: Message) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<Message> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.received.find(match);
      if (found !== undefined) return found;
      const left = deadline - Date.now();
      if (left <= 0 || this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new WaitTimeout(
          `no ${what} within ${timeoutMs} ms; stderr:\n${this.stderr.join("").slice(-4000)}`,
        );
      }
      await new Promise<void>((resolve) => {
        const wake = (): void => {
          clearTimeout(timer);
          this.waiters.delete(wake);
          resolve();
        };
        const timer = setTimeout(wake, left);
        this.waiters.add(wake);
      });
    }
  }

  /** Every received message so far, parsed. */
  messages(): Message[] {
    return [...this.received];
  }

  /**
   * Ends the session the way the MCP spec asks a client to: close the server's stdin, wait, then
   * SIGTERM. Resolves with the exit code (null when it ended by a signal).
   */
  async close(graceMs = 3000): Promise<number | null> {
    this.child.stdin.end();
    const timer = setTimeout(() => this.child.kill("SIGTERM"), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Cleanup after a failure: SIGTERM (keyward passes it on to the server's process group). */
  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGTERM");
  }

  private onLine(line: string): void {
    this.transcript.push({ dir: "recv", line });
    let message: Message;
    try {
      message = JSON.parse(line) as Message;
    } catch {
      return; // recorded as is; the comparison reports it
    }
    this.received.push(message);
    for (const wake of [...this.waiters]) wake();
    if (typeof message.method === "string" && message.id !== undefined) {
      void this.answer(message);
    }
  }

  private async answer(message: Message): Promise<void> {
    const id = message.id as JsonRpcId;
    const handler = this.handlers.get(message.method as string);
    if (handler === undefined) {
      this.send({
        jsonrpc: "2.0",
        id,
        error: { code: -32601, message: `Method not found: ${message.method}` },
      });
      return;
    }
    try {
      const params = (message.params ?? {}) as Record<string, unknown>;
      this.send({ jsonrpc: "2.0", id, result: await handler(params, message) });
    } catch (e) {
      this.send({ jsonrpc: "2.0", id, error: { code: -32603, message: (e as Error).message } });
    }
  }
}
