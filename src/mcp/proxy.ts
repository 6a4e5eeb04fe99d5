import { isAscii } from "node:buffer";
import type { Readable, Writable } from "node:stream";
import { KeywardError } from "../core/errors.js";
import {
  asList,
  DEFAULT_MAX_LINE_BYTES,
  type Envelope,
  envelopeOf,
  errorResponse,
  frame,
  type JsonRpcId,
  LineSplitter,
  type Scrubber,
  type ScrubHit,
  scrubLine,
} from "./framing.js";
import { inspectLine, type LineInfo } from "./inspect.js";
import { type ArgumentPolicy, applyArgumentPolicy, secretNames, type ToolsCall } from "./policy.js";
import { type ServerExit, ServerProcess } from "./server-process.js";
import { StderrScrubber } from "./stderr.js";

export type { Scrubber, ScrubHit } from "./framing.js";

export type { ArgumentPolicy } from "./policy.js";

export interface Finding {
  direction: "server->client" | "client->server" | "stderr";
  /** The secret's name; never its value. */
  secret: string;
  form: string;
  method?: string;
}

export interface ProxyOptions {
  command: string;
  /** Never put a secret here: argv is visible to every local user. Secrets go in `env`. */
  args: string[];
  /** The complete child environment, built by the caller. */
  env: Record<string, string>;
  cwd?: string;
  scrubber: Scrubber;
  /** What to do with a secret in `tools/call` arguments from the client. */
  argumentPolicy: ArgumentPolicy;
  onFinding?(finding: Finding): void;
  clientIn: Readable;
  clientOut: Writable;
  errOut: Writable;
  /** Each wait of the shutdown sequence (stdin close → SIGTERM → SIGKILL). Default 2000 ms. */
  graceMs?: number;
  /** Lines longer than this are dropped, never forwarded. Default 256 MiB. */
  maxLineBytes?: number;
  /** How long a restart waits for the new server to answer the replayed initialize. */
  replayTimeoutMs?: number;
  /** How long the end waits for the client to read what is still queued for it. */
  flushTimeoutMs?: number;
}

export type ProxyEnd =
  | "server-exit" // the server exited on its own (or could not start)
  | "client-eof" // the client closed its end; the server was shut down
  | "client-gone" // writing to the client failed (EPIPE); the server was shut down
  | "signal" // shutdown(signal), e.g. the proxy received SIGTERM
  | "revoked"; // stopForRevocation, then the client closed its end

export interface ProxyResult {
  /** The last server's exit status (128 + n for signal n; 127 if it could not be started). */
  exitCode: number;
  end: ProxyEnd;
}

/** JSON-RPC "internal error": the request was not (or no longer) served by the server. */
export const PROXY_ERROR_CODE = -32603;
/** JSON-RPC "invalid params": a tools/call blocked by the argument policy. */
export { BLOCKED_ERROR_CODE } from "./policy.js";

const REPLAY_ID_PREFIX = "keyward-replay-";

type State = "running" | "restarting" | "revoked" | "closing" | "done";

interface Handshake {
  /** The client's last `initialize` request, replayed to a restarted legacy-era server. */
  request: Record<string, unknown>;
  id: JsonRpcId;
  result?: { capabilities?: { tools?: { listChanged?: boolean } } };
  initialized: boolean;
}

/**
 * Pauses a stream while any reason holds it. Backpressure: the proxy never buffers more than a
 * chunk or a line beyond what its destination accepts.
 */
class Gate {
  private readonly reasons = new Set<string>();
  constructor(private readonly stream: Readable) {}
  hold(reason: string): void {
    this.reasons.add(reason);
    this.stream.pause();
  }
  release(reason: string): void {
    this.reasons.delete(reason);
    if (this.reasons.size === 0) this.stream.resume();
  }
}

/**
 * Client requests waiting for the server's answer: id → method (`1` and `"1"` are different ids).
 * The oldest one sits in a slot of its own while no other is in flight, so one request at a time
 * (the common case) never touches the Map: its deleted entries filled V8's table every few
 * requests, each time rehashed into a new allocation. Overlapping requests go to the Map, which
 * keeps a placeholder entry because V8 also reallocates a Map's table whenever a delete leaves
 * it (nearly) empty.
 */
class InFlight {
  private static readonly PLACEHOLDER = Symbol("placeholder");
  /** Only filled while `later` is empty: it is always the oldest request. */
  private slotId: JsonRpcId | undefined;
  private slotMethod = "";
  private readonly later = new Map<JsonRpcId | symbol, string>([[InFlight.PLACEHOLDER, ""]]);

  method(id: JsonRpcId): string | undefined {
    return id === this.slotId ? this.slotMethod : this.later.get(id);
  }

  set(id: JsonRpcId, method: string): void {
    if (id === this.slotId || (this.slotId === undefined && this.later.size === 1)) {
      this.slotId = id;
      this.slotMethod = method;
    } else {
      this.later.set(id, method);
    }
  }

  delete(id: JsonRpcId): void {
    if (id === this.slotId) this.slotId = undefined;
    else this.later.delete(id);
  }

  /** Oldest first. */
  ids(): JsonRpcId[] {
    const ids = this.slotId === undefined ? [] : [this.slotId];
    for (const id of this.later.keys()) if (typeof id !== "symbol") ids.push(id);
    return ids;
  }

  clear(): void {
    this.slotId = undefined;
    this.later.clear();
    this.later.set(InFlight.PLACEHOLDER, "");
  }
}

/** One running server with the per-process state attached to it. */
interface ServerRun {
  process: ServerProcess;
  stdoutGate: Gate;
  stderrGate: Gate;
  /** Ids of server→client requests still waiting for the client's answer. */
  requests: Set<JsonRpcId>;
  /** The replayed initialize waiting for its answer (swallowed, never forwarded). */
  replay?: { id: JsonRpcId; done: (result: unknown, error: unknown) => void };
  messages: number;
}

/**
 * A stdio MCP proxy: spawns the server with the caller's environment, forwards JSON-RPC lines
 * both ways, scrubs secrets from everything the server says (stdout and stderr) and applies the
 * argument policy to `tools/call`. Lines without a secret are forwarded byte for byte.
 * See README.md for the lifecycle, restart and revocation rules.
 */
export class McpProxy {
  private readonly graceMs: number;
  private readonly maxLineBytes: number;
  private readonly replayTimeoutMs: number;
  private readonly flushTimeoutMs: number;
  private scrubber: Scrubber;
  private env: Record<string, string>;
  private state: State = "running";
  private run: ServerRun | undefined;
  /** Every server process not yet exited, including one being stopped for a restart. */
  private readonly live = new Set<ServerRun>();
  private lastExit: ServerExit | undefined;
  private readonly clientGate: Gate;
  private readonly clientSplitter: LineSplitter;
  private clientEnded = false;
  private clientGone = false;
  private restarting: Promise<void> = Promise.resolve();
  private restartCount = 0;
  private revokeReason = "";
  /** Client lines that arrived while the server was being restarted (clientIn is paused). */
  private queued: Array<[line: Buffer, framed: Buffer | undefined]> = [];
  /** Client→server requests waiting for an answer. */
  private readonly inflight = new InFlight();
  /** Server→client request ids of servers that are gone: the client's late answers are dropped. */
  private staleServerRequests = new Set<JsonRpcId>();
  private handshake: Handshake | undefined;
  private finished: ((result: ProxyResult) => void) | undefined;
  private readonly result: Promise<ProxyResult>;
  private started = false;
  private readonly onClientData = (chunk: Buffer): void => this.clientSplitter.push(chunk);
  private readonly onClientEof = (): void => {
    this.clientSplitter.end();
    this.onClientEnd();
  };
  private readonly onClientError = (): void => this.onClientEnd();

  constructor(private readonly opts: ProxyOptions) {
    this.graceMs = opts.graceMs ?? 2000;
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.replayTimeoutMs = opts.replayTimeoutMs ?? 10_000;
    this.flushTimeoutMs = opts.flushTimeoutMs ?? 10_000;
    this.scrubber = opts.scrubber;
    this.env = opts.env;
    this.clientGate = new Gate(opts.clientIn);
    this.clientSplitter = new LineSplitter(
      (line, framed) => this.onClientLine(line, framed),
      (bytes) => this.note(`dropped a ${bytes}-byte line from the client: over the line limit`),
      this.maxLineBytes,
    );
    this.result = new Promise((resolve) => {
      this.finished = resolve;
    });
  }

  /** Spawns the server and starts forwarding. */
  start(): void {
    if (this.started) throw new Error("McpProxy already started");
    this.started = true;
    const { clientIn, clientOut, errOut } = this.opts;
    errOut.on("error", () => {}); // nowhere left to report to
    clientOut.on("error", (error: NodeJS.ErrnoException) => this.onClientGone(error));
    clientIn.on("data", this.onClientData);
    clientIn.on("end", this.onClientEof);
    clientIn.on("error", this.onClientError);
    this.run = this.spawnServer();
  }

  /** Resolves when the proxy is done: the caller then exits with `exitCode`. */
  wait(): Promise<ProxyResult> {
    return this.result;
  }

  /** The running server's pid (undefined while none runs). */
  get serverPid(): number | undefined {
    return this.run?.process.pid;
  }

  /** Replaces the scrubber, e.g. with one that knows a rotated value (keep the old ones in it). */
  setScrubber(scrubber: Scrubber): void {
    this.scrubber = scrubber;
  }

  /**
   * Restarts the server with a new environment (credential rotation) without ending the client's
   * session: stops the old server (its answers during the grace period still go out), answers
   * requests still in flight with an error, starts the new one and, for a legacy-era session,
   * replays the client's `initialize` and `notifications/initialized`, swallowing the replayed
   * answer. Then, if the server declared `tools.listChanged`, tells the client to re-list tools.
   * Client messages that arrive meanwhile wait and are forwarded to the new server.
   */
  restart(env: Record<string, string>): Promise<void> {
    const next = this.restarting.then(() => this.doRestart(env));
    this.restarting = next.catch(() => {});
    return next;
  }

  /**
   * Stops the server because a credential was revoked. Requests in flight and every later
   * request get a JSON-RPC error naming the reason; the proxy keeps running until the client
   * closes its end (or `restart` brings a server back). `reason` must not hold a secret value;
   * it is scrubbed anyway.
   */
  stopForRevocation(reason: string): Promise<void> {
    const next = this.restarting.then(() => this.doRevoke(reason));
    this.restarting = next.catch(() => {});
    return next;
  }

  /**
   * Ends the proxy now: the proxy itself was signalled. The signal is forwarded to the server's
   * process group, SIGKILL follows after the grace period.
   */
  async shutdown(signal: NodeJS.Signals = "SIGTERM"): Promise<ProxyResult> {
    if (this.state === "closing" || this.state === "done") {
      // A second signal: do not wait any longer.
      this.run?.process.signal("SIGKILL");
      return this.result;
    }
    this.state = "closing";
    await this.finish(await this.stopAll(signal), "signal");
    return this.result;
  }

  // ---------------------------------------------------------------- server side

  private spawnServer(): ServerRun {
    const process = new ServerProcess(
      { command: this.opts.command, args: this.opts.args, env: this.env, cwd: this.opts.cwd },
      this.graceMs,
    );
    const run: ServerRun = {
      process,
      stdoutGate: new Gate(process.child.stdout),
      stderrGate: new Gate(process.child.stderr),
      requests: new Set(),
      messages: 0,
    };
    const stdout = new LineSplitter(
      (line, framed) => this.onServerLine(run, line, framed),
      (bytes) =>
        this.note(
          `dropped a ${bytes}-byte line from the server's stdout: over the ${this.maxLineBytes}-byte limit; it was not forwarded`,
        ),
      this.maxLineBytes,
    );
    process.child.stdout.on("data", (chunk: Buffer) => stdout.push(chunk));
    process.child.stdout.on("end", () => stdout.end());
    const stderr = new StderrScrubber(
      (text) => this.scrubText(text, "stderr"),
      (text) => this.writeErr(run, text),
      this.scrubber.lookbehind,
    );
    process.child.stderr.on("data", (chunk: Buffer) => stderr.push(chunk));
    process.child.stderr.on("end", () => stderr.end());
    this.live.add(run);
    void process.exited.then((exit) => this.onServerExit(run, exit));
    return run;
  }

  /** `framed` is the line with its newline (LineSplitter), forwarded when nothing was found. */
  private onServerLine(run: ServerRun, line: Buffer, framed: Buffer | undefined): void {
    const scrubbed = scrubLine(line, this.scrubber);
    if (scrubbed.kind === "not-json") {
      if (isBlank(line)) return;
      this.report(scrubbed.hits, "server->client");
      this.note(
        `the server wrote a non-JSON line to stdout (not forwarded): ${clip(scrubbed.text)}`,
      );
      return;
    }
    if (scrubbed.kind === "unsafe") {
      this.report(scrubbed.hits, "server->client", this.methodOf(scrubbed.envelopes[0]));
      // A batch is dropped whole: none of its elements is answered.
      const envelope = scrubbed.batch ? undefined : scrubbed.envelopes[0];
      this.withholdServerMessage(run, envelope, scrubbed.hits);
      return;
    }
    const envelopes = scrubbed.envelopes;
    if (scrubbed.kind === "scrubbed") {
      this.report(scrubbed.hits, "server->client", this.methodOf(envelopes[0]));
    }
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      if (envelope.kind === "response") {
        const { id } = envelope;
        if (run.replay !== undefined && id === run.replay.id) {
          const m = asList(scrubbed.message())[i] as { result?: unknown; error?: unknown };
          run.replay.done(m.result, m.error);
          return;
        }
        if (id === this.handshake?.id && this.inflight.method(id) === "initialize") {
          const m = asList(scrubbed.message())[i] as { result?: Handshake["result"] };
          this.handshake.result = m.result;
        }
        this.inflight.delete(id);
      } else if (envelope.kind === "request") {
        run.requests.add(envelope.id);
      }
    }
    run.messages++;
    this.writeClient(scrubbed.kind === "clean" ? (framed ?? line) : scrubbed.line, run);
  }

  /**
   * A secret was found and no valid JSON without it could be made (only happens if the scrubber
   * breaks JSON and a secret survives leaf-by-leaf scrubbing). The message is replaced by an
   * error so nobody waits forever.
   */
  private withholdServerMessage(
    run: ServerRun,
    envelope: Envelope | undefined,
    hits: ScrubHit[],
  ): void {
    const names = secretNames(hits);
    const text = `keyward withheld a message from the MCP server: it contained the secret ${names} and could not be redacted safely`;
    this.note(text);
    if (envelope?.kind === "response") {
      this.inflight.delete(envelope.id);
      this.writeClient(frame(errorResponse(envelope.id, PROXY_ERROR_CODE, text)), run);
    } else if (envelope?.kind === "request") {
      this.writeServer(run, frame(errorResponse(envelope.id, PROXY_ERROR_CODE, text)));
    }
  }

  private onServerExit(run: ServerRun, exit: ServerExit): void {
    this.live.delete(run);
    this.lastExit = exit;
    run.stdoutGate.release("client-out");
    this.clientGate.release("server-in");
    if (run !== this.run) return; // a stop we asked for: its caller goes on
    this.run = undefined;
    if (this.state !== "running" && this.state !== "restarting") return;
    if (exit.spawnError !== undefined) {
      this.note(
        `could not start the MCP server command ${JSON.stringify(this.opts.command)}: ${exit.spawnError.code ?? exit.spawnError.message}`,
      );
    } else if (exit.exitCode !== 0) {
      const how =
        exit.signal !== null ? `was killed by ${exit.signal}` : `exited with code ${exit.exitCode}`;
      const when = run.messages === 0 ? " before sending any message" : "";
      this.note(`the MCP server ${how}${when}`);
    }
    this.state = "closing";
    void this.finish(exit, "server-exit");
  }

  // ---------------------------------------------------------------- client side

  private onClientLine(line: Buffer, framed: Buffer | undefined): void {
    if (this.state === "closing" || this.state === "done") return;
    if (this.state === "restarting") {
      this.queued.push([line, framed]);
      return;
    }
    const running = this.state === "running" ? this.run : undefined;
    if (running !== undefined && this.forwardedAsIs(running, line, framed)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString("utf8"));
    } catch {
      // Not ours to judge: the client speaks to the server. Forwarded as is.
      if (this.state === "running" && this.run !== undefined) {
        this.writeServer(this.run, framed ?? line);
      }
      return;
    }
    if (this.state === "revoked" || this.run === undefined) {
      for (const message of asList(parsed)) {
        const envelope = envelopeOf(message);
        if (envelope.kind === "request") {
          this.writeClient(frame(this.revokedError(envelope.id)));
        }
      }
      return;
    }
    const run = this.run;
    const isBatch = Array.isArray(parsed);
    const forward: unknown[] = [];
    let changed = false;
    for (const message of asList(parsed)) {
      const out = this.clientMessage(run, message);
      if (out !== message) changed = true;
      if (out !== undefined) forward.push(out);
    }
    if (!changed) this.writeServer(run, framed ?? line);
    else if (forward.length > 0) this.writeServer(run, frame(isBatch ? forward : forward[0]));
  }

  /**
   * The common case without JSON.parse: when every message of the line is forwarded unchanged
   * and only its envelope matters (inspectLine), records them and forwards the line. Returns
   * false, having changed nothing, when the line needs clientMessage: a tools/call whose
   * arguments could hold a secret, an `initialize` (kept for replay), a cancellation, an answer
   * to a server that is gone, or anything inspectLine does not vouch for.
   */
  private forwardedAsIs(run: ServerRun, line: Buffer, framed: Buffer | undefined): boolean {
    const info = inspectLine(line, true);
    if (info === undefined) return false;
    const { envelopes } = info;
    for (const envelope of envelopes) {
      if (envelope.kind === "response") {
        const { id } = envelope;
        if (!run.requests.has(id) && this.staleServerRequests.has(id)) return false;
      } else if (envelope.kind === "request") {
        if (envelope.method === "initialize") return false;
        if (envelope.method === "tools/call" && !this.argumentsPassUnchecked(line, info)) {
          return false;
        }
      } else if (envelope.kind === "notification") {
        if (envelope.method === "notifications/cancelled") return false;
      }
    }
    for (const envelope of envelopes) {
      if (envelope.kind === "response") {
        run.requests.delete(envelope.id);
      } else if (envelope.kind === "request") {
        this.inflight.set(envelope.id, envelope.method);
      } else if (envelope.kind === "notification") {
        if (envelope.method === "notifications/initialized" && this.handshake !== undefined) {
          this.handshake.initialized = true;
        }
      }
    }
    this.writeServer(run, framed ?? line);
    return true;
  }

  /**
   * Whether a tools/call line can go out without the argument policy, which parses the line and
   * scrubs `JSON.stringify(params.arguments)`: under `allow`, or when that text is known to be
   * the piece of the line at `argumentsAt` (the line is canonical, the piece is ASCII, so its
   * bytes and its string read alike) and the scrubber finds nothing in it.
   */
  private argumentsPassUnchecked(line: Buffer, info: LineInfo): boolean {
    if (this.opts.argumentPolicy === "allow") return true;
    if (!info.canonical || info.batch) return false;
    // No arguments: the policy has nothing to check either.
    if (info.argumentsAt === undefined) return true;
    const [start, end] = info.argumentsAt;
    const text = line.subarray(start, end);
    return isAscii(text) && this.scrubber.redactBuffer(text).hits.length === 0;
  }

  /** One client message: returns it, a replacement, or undefined when it must not be sent. */
  private clientMessage(run: ServerRun, message: unknown): unknown {
    const envelope = envelopeOf(message);
    if (envelope.kind === "response") {
      const { id } = envelope;
      if (run.requests.delete(id)) return message;
      // The answer to a request of a server that has since been restarted.
      if (this.staleServerRequests.delete(id)) return undefined;
      return message;
    }
    if (envelope.kind === "notification") {
      const params = (message as { params?: { requestId?: unknown } }).params;
      if (envelope.method === "notifications/initialized" && this.handshake !== undefined) {
        this.handshake.initialized = true;
      } else if (envelope.method === "notifications/cancelled") {
        const requestId = params?.requestId;
        if (typeof requestId === "string" || typeof requestId === "number") {
          this.inflight.delete(requestId);
        }
      }
      return message;
    }
    if (envelope.kind !== "request") return message;
    let out = message;
    if (envelope.method === "tools/call") {
      out = this.applyArgumentPolicy(envelope.id, message as ToolsCall);
      if (out === undefined) return undefined;
    }
    const { id } = envelope;
    this.inflight.set(id, envelope.method);
    if (envelope.method === "initialize") {
      this.handshake = { request: out as Record<string, unknown>, id, initialized: false };
    }
    return out;
  }

  private applyArgumentPolicy(id: JsonRpcId, message: ToolsCall): unknown {
    const decision = applyArgumentPolicy(id, message, this.opts.argumentPolicy, this.scrubber);
    if (decision.hits.length > 0) this.report(decision.hits, "client->server", "tools/call");
    if (decision.reply) this.writeClient(decision.reply);
    return decision.forward;
  }

  private onClientEnd(): void {
    if (this.clientEnded) return;
    this.clientEnded = true;
    if (this.state === "running" || this.state === "revoked") void this.close("client-eof");
    // restarting: doRestart closes when it is done.
  }

  private onClientGone(error: NodeJS.ErrnoException): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.clientEnded = true;
    this.note(
      `the MCP client closed its end (${error.code ?? error.message}); shutting down the server`,
    );
    // Nothing more can reach the client: let the server's output drain into the void.
    this.clientGate.release("client-out");
    for (const run of this.live) run.stdoutGate.release("client-out");
    if (this.state === "running" || this.state === "revoked") void this.close("client-gone");
  }

  /** The client is done: stop the server the way the MCP spec asks, then finish. */
  private async close(end: ProxyEnd): Promise<void> {
    const revoked = this.state === "revoked";
    this.state = "closing";
    await this.finish(await this.stopAll(), revoked ? "revoked" : end);
  }

  /** Stops every server still alive; returns the exit of the last one to have exited. */
  private async stopAll(signal?: NodeJS.Signals): Promise<ServerExit | undefined> {
    await Promise.all([...this.live].map((run) => run.process.stop(this.graceMs, signal)));
    return this.lastExit;
  }

  // ---------------------------------------------------------------- restart and revocation

  private async doRestart(env: Record<string, string>): Promise<void> {
    if (this.state === "closing" || this.state === "done") throw shuttingDown();
    this.state = "restarting";
    this.clientGate.hold("restart");
    await this.stopServer("keyward restarted the MCP server for a credential rotation");
    if (this.state !== "restarting") throw shuttingDown();
    this.env = env;
    const run = this.spawnServer();
    this.run = run;
    const handshake = this.handshake;
    if (handshake?.result !== undefined) await this.replayHandshake(run, handshake);
    if (this.run !== run) {
      // The new server exited (or the proxy was signalled) during the replay.
      throw new KeywardError(
        "io",
        "the restarted MCP server exited during its start; the proxy has stopped",
        "check the server's stderr above; the new credentials may be rejected",
      );
    }
    this.state = "running";
    this.note("restarted the MCP server with new credentials");
    for (const [line, framed] of this.queued.splice(0)) this.onClientLine(line, framed);
    this.clientGate.release("restart");
    if (this.clientEnded) await this.close(this.clientGone ? "client-gone" : "client-eof");
  }

  private async doRevoke(reason: string): Promise<void> {
    if (this.state === "closing" || this.state === "done" || this.state === "revoked") return;
    this.revokeReason = this.scrubber.redactText(reason).text;
    this.state = "revoked";
    await this.stopServer(this.revokedMessage());
    this.note(`stopped the MCP server: ${this.revokeReason}`);
    if (this.clientEnded) await this.close("client-eof");
  }

  /** Stops the current server (if any) and answers what it left unanswered with `message`. */
  private async stopServer(message: string): Promise<void> {
    const run = this.run;
    if (run !== undefined) {
      this.run = undefined; // its exit is expected now; its output still goes out meanwhile
      await run.process.stop(this.graceMs);
      for (const id of run.requests) this.staleServerRequests.add(id);
    }
    for (const id of this.inflight.ids()) {
      this.writeClient(frame(errorResponse(id, PROXY_ERROR_CODE, message, { keyward: "retry" })));
    }
    this.inflight.clear();
  }

  private async replayHandshake(run: ServerRun, handshake: Handshake): Promise<void> {
    this.restartCount++;
    const id = `${REPLAY_ID_PREFIX}${this.restartCount}`;
    const answered = new Promise<{ ok: boolean; why?: string }>((resolve) => {
      const timer = setTimeout(
        () => resolve({ ok: false, why: "no answer in time" }),
        this.replayTimeoutMs,
      );
      const settle = (outcome: { ok: boolean; why?: string }): void => {
        clearTimeout(timer);
        run.replay = undefined;
        resolve(outcome);
      };
      run.replay = {
        id,
        done: (_result, error) =>
          settle(error === undefined ? { ok: true } : { ok: false, why: "an error" }),
      };
      void run.process.exited.then(() => settle({ ok: false, why: "it exited" }));
    });
    this.writeServer(run, frame({ ...handshake.request, id }));
    const outcome = await answered;
    if (!outcome.ok) {
      this.note(`the restarted MCP server answered the replayed initialize with ${outcome.why}`);
      return;
    }
    if (handshake.initialized) {
      this.writeServer(run, frame({ jsonrpc: "2.0", method: "notifications/initialized" }));
    }
    // New credentials can change the tool set (servers filter tools by token scope). Comparing
    // lists would mean issuing our own tools/list calls; a spurious list_changed only makes the
    // client list again, so it is sent whenever the server declared that it may send one.
    if (handshake.result?.capabilities?.tools?.listChanged === true) {
      this.writeClient(frame({ jsonrpc: "2.0", method: "notifications/tools/list_changed" }));
    }
  }

  private revokedMessage(): string {
    return `keyward stopped this MCP server: ${this.revokeReason}`;
  }

  private revokedError(id: JsonRpcId): Record<string, unknown> {
    return errorResponse(id, PROXY_ERROR_CODE, this.revokedMessage(), { keyward: "revoked" });
  }

  // ---------------------------------------------------------------- output

  private writeClient(buffer: Buffer, from?: ServerRun): void {
    const { clientOut } = this.opts;
    if (this.clientGone || clientOut.destroyed) return;
    if (writeLine(clientOut, buffer)) return;
    this.clientGate.hold("client-out");
    from?.stdoutGate.hold("client-out");
    clientOut.once("drain", () => {
      this.clientGate.release("client-out");
      from?.stdoutGate.release("client-out");
    });
  }

  private writeServer(run: ServerRun, buffer: Buffer): void {
    const stdin = run.process.child.stdin;
    if (run.process.hasExited || stdin.writableEnded || stdin.destroyed) return;
    if (writeLine(stdin, buffer)) return;
    this.clientGate.hold("server-in");
    stdin.once("drain", () => this.clientGate.release("server-in"));
  }

  private writeErr(run: ServerRun, text: string): void {
    if (text.length === 0) return;
    if (this.opts.errOut.write(text)) return;
    run.stderrGate.hold("err-out");
    this.opts.errOut.once("drain", () => run.stderrGate.release("err-out"));
  }

  private note(text: string): void {
    this.opts.errOut.write(`keyward: ${text}\n`);
  }

  private scrubText(text: string, direction: Finding["direction"]): string {
    const scrubbed = this.scrubber.redactText(text);
    this.report(scrubbed.hits, direction);
    return scrubbed.text;
  }

  private report(hits: ScrubHit[], direction: Finding["direction"], method?: string): void {
    const onFinding = this.opts.onFinding;
    if (onFinding === undefined) return;
    for (const hit of hits) {
      onFinding(
        method === undefined
          ? { direction, secret: hit.secret, form: hit.form }
          : { direction, secret: hit.secret, form: hit.form, method },
      );
    }
  }

  /** The method a server message belongs to: its own, or that of the request it answers. */
  private methodOf(envelope: Envelope | undefined): string | undefined {
    if (envelope === undefined) return undefined;
    if (envelope.kind === "request" || envelope.kind === "notification") return envelope.method;
    if (envelope.kind === "response") return this.inflight.method(envelope.id);
    return undefined;
  }

  private async finish(exit: ServerExit | undefined, end: ProxyEnd): Promise<void> {
    if (this.state === "done") return;
    this.state = "done";
    const { clientIn, clientOut } = this.opts;
    clientIn.pause();
    clientIn.off("data", this.onClientData);
    clientIn.off("end", this.onClientEof);
    clientIn.off("error", this.onClientError);
    if (!this.clientGone && !clientOut.destroyed && clientOut.writableNeedDrain) {
      // process.exit drops what a pipe has not taken yet: give the client a bounded chance.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.flushTimeoutMs);
        const done = (): void => {
          clearTimeout(timer);
          resolve();
        };
        clientOut.once("drain", done);
        clientOut.once("error", done);
        clientOut.once("close", done);
      });
    }
    this.finished?.({ exitCode: exit?.exitCode ?? 1, end });
  }
}

/**
 * Writes one line. Lines normally come framed (LineSplitter's view with the newline, or
 * frame()): one write. A redacted line, or a last line without a newline, gets one: corking
 * makes the two one writev. Returns false when the stream wants the writer to wait for "drain".
 */
function writeLine(stream: Writable, buffer: Buffer): boolean {
  if (buffer[buffer.length - 1] === 0x0a) return stream.write(buffer);
  stream.cork();
  const ok = stream.write(buffer);
  const okNewline = stream.write("\n");
  stream.uncork();
  return ok && okNewline;
}

/** Forwards SIGTERM, SIGINT and SIGHUP to anything that can shut down (the proxy, the bridge). */
export function forwardSignals(proxy: {
  shutdown(signal?: NodeJS.Signals): Promise<unknown>;
}): () => void {
  const signals: NodeJS.Signals[] = ["SIGTERM", "SIGINT", "SIGHUP"];
  const onSignal = (signal: NodeJS.Signals): void => {
    void proxy.shutdown(signal);
  };
  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/** Runs a proxy until it is done, forwarding signals; the caller then exits with `exitCode`. */
export async function runProxy(opts: ProxyOptions): Promise<ProxyResult> {
  const proxy = new McpProxy(opts);
  const removeHandlers = forwardSignals(proxy);
  try {
    proxy.start();
    return await proxy.wait();
  } finally {
    removeHandlers();
  }
}

function shuttingDown(): KeywardError {
  return new KeywardError(
    "conflict",
    "the MCP proxy is shutting down; the server cannot be restarted",
  );
}

function isBlank(line: Buffer): boolean {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d) return false;
  }
  return true;
}

/** Keeps stderr notes readable: a non-JSON line can be megabytes long. */
function clip(text: string, max = 2000): string {
  const line = text.replace(/\r?\n$/, "");
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length} characters)`;
}
