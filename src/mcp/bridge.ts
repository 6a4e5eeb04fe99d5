import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import { createParser } from "eventsource-parser";
import { KeywardError } from "../core/errors.js";
import {
  asList,
  DEFAULT_MAX_LINE_BYTES,
  type Envelope,
  envelopeOf,
  errorResponse,
  frame,
  idKey,
  type JsonRpcId,
  LineSplitter,
  type Scrubber,
  type ScrubHit,
  scrubLine,
} from "./framing.js";
import { type ArgumentPolicy, applyArgumentPolicy, secretNames, type ToolsCall } from "./policy.js";
import type { Finding } from "./proxy.js";

/** Where the bridge connects and what it adds to every request. Both may hold secrets. */
export interface BridgeEndpoint {
  /** May carry a secret in its query: never printed (only its origin is). */
  url: string;
  headers: Record<string, string>;
}

export interface BridgeOptions {
  endpoint: BridgeEndpoint;
  /** Whose credential the headers carry, for error messages: names only, never values. */
  credential: { profile: string; secrets: string[] };
  /** Must know every value in `endpoint`: all that comes back is scrubbed with it. */
  scrubber: Scrubber;
  /** What to do with a secret in `tools/call` arguments from the client. */
  argumentPolicy: ArgumentPolicy;
  onFinding?(finding: Finding): void;
  clientIn: Readable;
  clientOut: Writable;
  errOut: Writable;
  /** Messages (a line from the client, a JSON body or SSE event from the server) above this are dropped. */
  maxLineBytes?: number;
  /** How long client EOF waits for answers still in flight, and for the session's DELETE. */
  graceMs?: number;
  /** How long the end waits for the client to read what is still queued for it. */
  flushTimeoutMs?: number;
}

export type BridgeEnd = "client-eof" | "client-gone" | "signal" | "revoked";

export interface BridgeResult {
  exitCode: number;
  end: BridgeEnd;
}

/** JSON-RPC "internal error": the request was not (or no longer) served by the remote server. */
export const BRIDGE_ERROR_CODE = -32603;
const REPLAY_ID_PREFIX = "keyward-replay-";
/** Requests in flight at once; beyond it the client's stdin is not read (bounded memory). */
const MAX_EXCHANGES = 256;
const ERROR_BODY_BYTES = 64 * 1024;
const ACCEPT = "application/json, text/event-stream";

type State = "running" | "revoked" | "closing" | "done";

/** One HTTP request to the server and the client requests it still owes an answer to. */
interface Exchange {
  controller: AbortController;
  pending: Map<string, JsonRpcId>;
  done: Promise<void>;
}

interface Handshake {
  /** The client's last `initialize`, replayed when the server ends the session (HTTP 404). */
  request: Record<string, unknown>;
  key: string;
  result?: unknown;
  initialized: boolean;
}

/**
 * `keyward run` for a remote server: the client speaks stdio to keyward, keyward speaks
 * Streamable HTTP to the server (one POST per message; the answer as JSON or an SSE stream;
 * an optional GET stream for server-initiated messages) and adds the profile's headers to every
 * request. Everything that comes back is scrubbed like a local server's stdout; messages
 * without a secret are forwarded byte for byte. Written on fetch and eventsource-parser rather
 * than the SDK's client transport, which drops messages that fail its schema.
 * See README.md for sessions, errors, rotation and revocation.
 */
export class McpBridge {
  private readonly maxLineBytes: number;
  private readonly graceMs: number;
  private readonly flushTimeoutMs: number;
  private endpoint: BridgeEndpoint;
  private scrubber: Scrubber;
  private state: State = "running";
  private sessionId: string | undefined;
  private protocolVersion: string | undefined;
  private handshake: Handshake | undefined;
  /** Requests sent and not yet answered, for the method a response belongs to. */
  private readonly inflight = new Map<string, { id: JsonRpcId; method: string }>();
  private readonly exchanges = new Set<Exchange>();
  /** Resolves when no initialize is waiting for its session id: later messages wait for it. */
  private gate: Promise<void> = Promise.resolve();
  private renewing: Promise<boolean> | undefined;
  /** The replayed initialize waiting for its answer (swallowed, never forwarded). */
  private replay:
    | { key: string; controller: AbortController; done: (message: Record<string, unknown>) => void }
    | undefined;
  private replayCount = 0;
  private listen: AbortController | undefined;
  private revokeReason = "";
  private clientEnded = false;
  private clientGone = false;
  private readonly reported = new Set<string>();
  private readonly splitter: LineSplitter;
  private finished!: (result: BridgeResult) => void;
  private readonly result = new Promise<BridgeResult>((resolve) => {
    this.finished = resolve;
  });

  constructor(private readonly opts: BridgeOptions) {
    this.maxLineBytes = opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.graceMs = opts.graceMs ?? 2000;
    this.flushTimeoutMs = opts.flushTimeoutMs ?? 2000;
    this.scrubber = opts.scrubber;
    this.endpoint = checkEndpoint(opts.endpoint);
    this.splitter = new LineSplitter(
      (line) => this.onClientLine(line),
      (bytes) =>
        this.note(
          `dropped a ${bytes}-byte line from the client: over the ${this.maxLineBytes}-byte limit; it was not sent`,
        ),
      this.maxLineBytes,
    );
  }

  start(): void {
    const { clientIn, clientOut, errOut } = this.opts;
    errOut.on("error", () => {}); // nowhere left to report to
    clientOut.on("error", () => this.onClientGone());
    clientIn.on("data", this.onClientData);
    clientIn.on("end", this.onClientEnd);
    clientIn.on("error", this.onClientEnd);
  }

  /** Resolves when the bridge is done: the caller then exits with `exitCode`. */
  wait(): Promise<BridgeResult> {
    return this.result;
  }

  /** The session the server gave at initialize, if any. */
  get session(): string | undefined {
    return this.sessionId;
  }

  /**
   * A rotated credential: later requests carry the new url and headers. Requests in flight and
   * an open GET stream keep the ones they were sent with. The scrubber must know the new values
   * first (and keep the old ones).
   */
  setEndpoint(endpoint: BridgeEndpoint): void {
    this.endpoint = checkEndpoint(endpoint);
  }

  setScrubber(scrubber: Scrubber): void {
    this.scrubber = scrubber;
  }

  /**
   * The credential was revoked: requests in flight are abandoned and they and every later
   * request are answered with an error naming the reason (names only; it is scrubbed anyway).
   * The bridge keeps running until the client closes its end; the session is not ended with
   * the revoked credential.
   */
  revoke(reason: string): void {
    if (this.state !== "running") return;
    this.state = "revoked";
    this.revokeReason = this.scrubber.redactText(reason).text;
    this.listen?.abort();
    this.replay?.controller.abort();
    for (const exchange of this.exchanges) {
      exchange.controller.abort();
      this.failExchange(exchange, this.revokedMessage(), { keyward: "revoked" });
    }
    this.note(`stopped sending requests to the remote MCP server: ${this.revokeReason}`);
    if (this.clientEnded) void this.close("revoked");
  }

  /** Ends the bridge now (keyward was signalled): abandons requests, ends the session. */
  async shutdown(signal: NodeJS.Signals = "SIGTERM"): Promise<BridgeResult> {
    if (this.state === "closing" || this.state === "done") return this.result;
    const revoked = this.state === "revoked";
    this.state = "closing";
    this.abandonAll("keyward is shutting down");
    if (!revoked) await this.endSession();
    await this.finish("signal", 128 + (constants.signals[signal] ?? 15));
    return this.result;
  }

  // ---------------------------------------------------------------- client side

  private readonly onClientData = (chunk: Buffer): void => this.splitter.push(chunk);

  private readonly onClientEnd = (): void => {
    if (this.clientEnded) return;
    this.clientEnded = true;
    this.splitter.end();
    if (this.state === "running" || this.state === "revoked") void this.close("client-eof");
  };

  private onClientGone(): void {
    if (this.clientGone) return;
    this.clientGone = true;
    this.clientEnded = true;
    this.note("the MCP client closed its end; ending the remote session");
    if (this.state === "running" || this.state === "revoked") void this.close("client-gone");
  }

  private onClientLine(line: Buffer): void {
    if (this.state === "closing" || this.state === "done" || isBlank(line)) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line.toString("utf8"));
    } catch {
      // Not ours to judge: the client speaks to the server, which answers a parse error.
      if (this.state === "running") this.send(line, new Map(), undefined);
      return;
    }
    if (this.state === "revoked") {
      for (const message of asList(parsed)) {
        const envelope = envelopeOf(message);
        if (envelope.kind === "request") {
          this.writeClient(
            frame(
              errorResponse(envelope.id, BRIDGE_ERROR_CODE, this.revokedMessage(), {
                keyward: "revoked",
              }),
            ),
          );
        }
      }
      return;
    }
    const isBatch = Array.isArray(parsed);
    const forward: unknown[] = [];
    const pending = new Map<string, JsonRpcId>();
    let changed = false;
    for (const message of asList(parsed)) {
      const out = this.clientMessage(message);
      if (out !== message) changed = true;
      if (out === undefined) continue;
      forward.push(out);
      const envelope = envelopeOf(out);
      if (envelope.kind === "request") pending.set(idKey(envelope.id), envelope.id);
    }
    if (forward.length === 0) return;
    const body = changed ? unframed(isBatch ? forward : forward[0]) : line;
    this.send(body, pending, isBatch ? undefined : forward[0]);
  }

  /** One client message: returns it, a replacement, or undefined when it must not be sent. */
  private clientMessage(message: unknown): unknown {
    const envelope = envelopeOf(message);
    if (envelope.kind === "notification") {
      if (envelope.method === "notifications/initialized" && this.handshake !== undefined) {
        this.handshake.initialized = true;
      } else if (envelope.method === "notifications/cancelled") {
        const requestId = (message as { params?: { requestId?: unknown } }).params?.requestId;
        if (typeof requestId === "string" || typeof requestId === "number") {
          this.inflight.delete(idKey(requestId));
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
    const key = idKey(envelope.id);
    this.inflight.set(key, { id: envelope.id, method: envelope.method });
    if (envelope.method === "initialize") {
      // A new session: the old one (if any) is ended, the version is negotiated again.
      if (this.sessionId !== undefined) void this.endSession();
      this.sessionId = undefined;
      this.protocolVersion = undefined;
      this.listen?.abort();
      this.handshake = { request: out as Record<string, unknown>, key, initialized: false };
    }
    return out;
  }

  private applyArgumentPolicy(id: JsonRpcId, message: ToolsCall): unknown {
    const decision = applyArgumentPolicy(id, message, this.opts.argumentPolicy, this.scrubber);
    if (decision.hits.length > 0) this.report(decision.hits, "client->server", "tools/call");
    if (decision.reply) this.writeClient(decision.reply);
    return decision.forward;
  }

  // ---------------------------------------------------------------- HTTP side

  /** POSTs one client line (a message or a batch) and forwards its answer. */
  private send(body: Buffer, pending: Map<string, JsonRpcId>, message: unknown): void {
    const exchange: Exchange = {
      controller: new AbortController(),
      pending,
      done: Promise.resolve(),
    };
    this.exchanges.add(exchange);
    if (this.exchanges.size >= MAX_EXCHANGES) this.opts.clientIn.pause();
    exchange.done = this.post(exchange, body, message, false).finally(() => {
      this.exchanges.delete(exchange);
      if (this.exchanges.size < MAX_EXCHANGES && this.state === "running") {
        this.opts.clientIn.resume();
      }
    });
  }

  private async post(
    exchange: Exchange,
    body: Buffer,
    message: unknown,
    retried: boolean,
  ): Promise<void> {
    const envelope = envelopeOf(message);
    const isInitialize = envelope.kind === "request" && envelope.method === "initialize";
    // Messages go out in the client's order, and none before initialize has its session id.
    const previous = this.gate;
    let release: (() => void) | undefined;
    if (isInitialize) this.gate = new Promise((resolve) => (release = resolve));
    try {
      await previous;
      if (exchange.controller.signal.aborted) return;
      const sentSession = this.sessionId;
      let response: Response;
      try {
        response = await this.request("POST", this.headersFor(message), body, exchange.controller);
      } catch (error) {
        if (exchange.controller.signal.aborted) return; // whoever aborted it has answered
        this.failExchange(exchange, this.unreachable(error), { keyward: "network" });
        return;
      }
      this.noteSession(response);
      release?.();
      if (response.ok) {
        await this.forwardAnswer(response, exchange);
        this.failExchange(
          exchange,
          "the remote MCP server ended its answer without a response to this request",
          { keyward: "retry" },
        );
        if (envelope.kind === "notification" && envelope.method === "notifications/initialized") {
          this.openListenStream();
        }
        return;
      }
      if (response.status === 404 && sentSession !== undefined && !isInitialize && !retried) {
        await response.body?.cancel();
        if (await this.renewSession(sentSession)) {
          return await this.post(exchange, body, message, true);
        }
        this.failExchange(
          exchange,
          "the remote MCP server ended the session (HTTP 404) and keyward could not start a new one",
          { keyward: "session" },
        );
        return;
      }
      await this.failStatus(response, exchange);
    } catch (error) {
      if (!exchange.controller.signal.aborted) {
        this.failExchange(exchange, this.unreachable(error), { keyward: "network" });
      }
    } finally {
      release?.();
    }
  }

  /** Sends one HTTP request to the endpoint. Redirects are followed only within its origin. */
  private async request(
    method: "POST" | "GET" | "DELETE",
    headers: Headers,
    body: Buffer | undefined,
    controller: AbortController,
  ): Promise<Response> {
    let url = this.endpoint.url;
    for (let hops = 0; ; hops++) {
      const response = await fetch(url, {
        method,
        headers,
        ...(body !== undefined ? { body } : {}),
        redirect: "manual",
        signal: controller.signal,
      });
      const location = response.headers.get("location");
      if ((response.status !== 307 && response.status !== 308) || location === null || hops === 3)
        return response;
      const next = new URL(location, url);
      if (next.origin !== new URL(url).origin) return response;
      await response.body?.cancel();
      url = next.href;
    }
  }

  private headersFor(message: unknown): Headers {
    const headers = new Headers(this.endpoint.headers);
    headers.set("accept", ACCEPT);
    headers.set("content-type", "application/json");
    if (this.sessionId !== undefined) headers.set("mcp-session-id", this.sessionId);
    const modern = modernHeaders(message);
    if (modern !== undefined) {
      for (const [name, value] of Object.entries(modern)) headers.set(name, value);
    } else if (this.protocolVersion !== undefined) {
      headers.set("mcp-protocol-version", this.protocolVersion);
    }
    return headers;
  }

  private noteSession(response: Response): void {
    const session = response.headers.get("mcp-session-id");
    if (session !== null && session !== "") this.sessionId = session;
  }

  /** Forwards the messages of a 2xx answer: a JSON body, an SSE stream, or nothing (202). */
  private async forwardAnswer(response: Response, exchange: Exchange | undefined): Promise<void> {
    const type = response.headers.get("content-type") ?? "";
    if (type.includes("text/event-stream")) {
      await this.forwardEvents(response, exchange);
    } else if (type.includes("application/json")) {
      const body = await readBody(response, this.maxLineBytes);
      if (body === undefined) {
        this.note(
          `dropped a JSON answer from the remote MCP server: over the ${this.maxLineBytes}-byte limit; it was not forwarded`,
        );
      } else {
        this.onServerMessage(oneLine(body), exchange);
      }
    } else {
      await response.body?.cancel();
    }
  }

  /** Forwards each SSE `message` event; returns the stream's last event id and retry hint. */
  private async forwardEvents(
    response: Response,
    exchange: Exchange | undefined,
  ): Promise<{ lastEventId?: string; retryMs?: number }> {
    const out: { lastEventId?: string; retryMs?: number } = {};
    const events: string[] = [];
    let oversize = false;
    const parser = createParser({
      onEvent: (event) => {
        if (event.id !== undefined) out.lastEventId = event.id;
        // Priming events carry only an id; other event types are not MCP messages.
        if ((event.event === undefined || event.event === "message") && !isBlankText(event.data))
          events.push(event.data);
      },
      onRetry: (ms) => {
        out.retryMs = ms;
      },
      onError: (error) => {
        if (error.type === "max-buffer-size-exceeded") oversize = true;
      },
      maxBufferSize: this.maxLineBytes,
    });
    const decoder = new TextDecoder();
    const body = response.body;
    if (body === null) return out;
    for await (const chunk of body) {
      parser.feed(decoder.decode(chunk, { stream: true }));
      for (const data of events.splice(0)) {
        this.onServerMessage(oneLine(Buffer.from(data, "utf8")), exchange);
        await this.clientDrained();
      }
      if (oversize) {
        this.note(
          `dropped an event from the remote MCP server: over the ${this.maxLineBytes}-character limit; the rest of its stream was not forwarded`,
        );
        await body.cancel();
        break;
      }
    }
    return out;
  }

  /** An error status: the client gets a JSON-RPC error for each request the POST carried. */
  private async failStatus(response: Response, exchange: Exchange): Promise<void> {
    const status = response.status;
    const raw = await readBody(response, ERROR_BODY_BYTES, true);
    const text = raw === undefined ? "" : this.scrubText(raw.toString("utf8"));
    if (status === 401 || status === 403) {
      const challenge = response.headers.get("www-authenticate");
      const message = this.authMessage(status);
      if (!this.reported.has(`auth ${status}`)) {
        this.reported.add(`auth ${status}`);
        this.note(message);
      }
      this.failExchange(exchange, message, {
        keyward: status === 401 ? "unauthorized" : "forbidden",
        status,
        profile: this.opts.credential.profile,
        secrets: this.opts.credential.secrets,
        ...(challenge !== null ? { wwwAuthenticate: this.scrubText(challenge) } : {}),
        ...(text !== "" ? { body: clip(text) } : {}),
      });
      return;
    }
    if (status >= 300 && status < 400) {
      const location = response.headers.get("location");
      const where = location === null ? "" : ` to ${originOf(location, this.endpoint.url)}`;
      this.failExchange(
        exchange,
        `the remote MCP server redirected${where} (HTTP ${status}); keyward sends profile ${this.opts.credential.profile}'s credential only to ${this.origin()}: update the profile's url if the server has moved`,
        { keyward: "http", status },
      );
      return;
    }
    // A JSON-RPC answer in the error body is forwarded as a stdio server's would be: one that
    // names a request of this POST, or (for a line without requests) an error with id null.
    if (raw !== undefined && this.answersPending(raw, exchange)) {
      this.onServerMessage(oneLine(raw), exchange);
    }
    this.failExchange(
      exchange,
      `the remote MCP server answered HTTP ${status}${text === "" ? "" : `: ${clip(text, 500)}`}`,
      { keyward: "http", status },
    );
  }

  private answersPending(raw: Buffer, exchange: Exchange): boolean {
    try {
      return asList(JSON.parse(raw.toString("utf8"))).some((message) => {
        const envelope = envelopeOf(message);
        if (envelope.kind === "response") return exchange.pending.has(idKey(envelope.id));
        const m = message as { id?: unknown; error?: unknown };
        return exchange.pending.size === 0 && m.id === null && typeof m.error === "object";
      });
    } catch {
      return false;
    }
  }

  /** Answers the requests an exchange still owes with an error; a lone notification gets a note. */
  private failExchange(exchange: Exchange, message: string, data: Record<string, unknown>): void {
    if (exchange.pending.size === 0) {
      if (data.keyward !== "retry" && data.keyward !== "revoked") this.note(message);
      return;
    }
    for (const [key, id] of exchange.pending) {
      this.inflight.delete(key);
      this.writeClient(frame(errorResponse(id, BRIDGE_ERROR_CODE, message, data)));
    }
    exchange.pending.clear();
  }

  /**
   * The server no longer knows the session (HTTP 404): starts a new one by replaying the
   * client's initialize (its answer is not forwarded) and `notifications/initialized`.
   */
  private renewSession(staleSession: string): Promise<boolean> {
    if (this.handshake?.result === undefined) return Promise.resolve(false);
    if (this.sessionId !== staleSession) return Promise.resolve(true); // renewed meanwhile
    this.renewing ??= this.replayHandshake(this.handshake).finally(() => {
      this.renewing = undefined;
    });
    return this.renewing;
  }

  private async replayHandshake(handshake: Handshake): Promise<boolean> {
    const previous = this.gate;
    let release!: () => void;
    this.gate = new Promise((resolve) => (release = resolve));
    this.listen?.abort();
    const id = `${REPLAY_ID_PREFIX}${++this.replayCount}`;
    // Not in `exchanges`: nothing about it is ever reported to the client.
    const exchange: Exchange = {
      controller: new AbortController(),
      pending: new Map(),
      done: Promise.resolve(),
    };
    let answer: Record<string, unknown> | undefined;
    this.replay = {
      key: idKey(id),
      controller: exchange.controller,
      done: (message) => (answer = message),
    };
    try {
      await previous;
      this.sessionId = undefined;
      const request = { ...handshake.request, id };
      const response = await this.request(
        "POST",
        this.headersFor(request),
        unframed(request),
        exchange.controller,
      );
      this.noteSession(response);
      if (response.ok) await this.forwardAnswer(response, exchange);
      else await response.body?.cancel();
      if (answer === undefined || !("result" in answer) || this.sessionId === undefined) {
        this.note(
          `the remote MCP server ended the session and did not accept a new one (HTTP ${response.status})`,
        );
        return false;
      }
      if (handshake.initialized) {
        const initialized = { jsonrpc: "2.0", method: "notifications/initialized" };
        const sent = await this.request(
          "POST",
          this.headersFor(initialized),
          unframed(initialized),
          exchange.controller,
        );
        await sent.body?.cancel();
      }
      this.note("the remote MCP server ended the session; keyward started a new one");
      this.openListenStream();
      return true;
    } catch (error) {
      if (!exchange.controller.signal.aborted) this.note(this.unreachable(error));
      return false;
    } finally {
      this.replay = undefined;
      release();
    }
  }

  /**
   * The GET stream for server-initiated messages (legacy sessions). Reopened when it ends,
   * with backoff; not at all when the server has none (405) or the session is gone.
   */
  private openListenStream(): void {
    if (this.listen !== undefined || this.state !== "running" || this.sessionId === undefined)
      return;
    const controller = new AbortController();
    this.listen = controller;
    void this.listenLoop(controller).finally(() => {
      if (this.listen === controller) this.listen = undefined;
    });
  }

  private async listenLoop(controller: AbortController): Promise<void> {
    let delayMs = 1000;
    let lastEventId: string | undefined;
    while (!controller.signal.aborted && this.state === "running") {
      const session = this.sessionId;
      if (session === undefined) return;
      try {
        const headers = this.headersFor(undefined);
        headers.set("accept", "text/event-stream");
        headers.delete("content-type");
        if (lastEventId !== undefined) headers.set("last-event-id", lastEventId);
        const response = await this.request("GET", headers, undefined, controller);
        const type = response.headers.get("content-type") ?? "";
        if (response.ok && type.includes("text/event-stream")) {
          const stream = await this.forwardEvents(response, undefined);
          lastEventId = stream.lastEventId ?? lastEventId;
          delayMs = stream.retryMs ?? 1000;
        } else {
          await response.body?.cancel();
          // 405: the server offers no stream; 404/409: the session is gone or has one already.
          if ([404, 405, 409].includes(response.status) || session !== this.sessionId) return;
          if (response.status === 401 || response.status === 403) {
            this.note(this.authMessage(response.status));
            return;
          }
          delayMs = Math.min(delayMs * 2, 30_000);
        }
      } catch {
        if (controller.signal.aborted) return;
        delayMs = Math.min(delayMs * 2, 30_000);
      }
      try {
        await sleep(delayMs, undefined, { signal: controller.signal, ref: false });
      } catch {
        return;
      }
    }
  }

  /** Ends the session with DELETE (best effort, bounded by the grace period). */
  private async endSession(): Promise<void> {
    const session = this.sessionId;
    if (session === undefined) return;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.graceMs);
    try {
      const headers = this.headersFor(undefined);
      headers.delete("content-type");
      headers.set("mcp-session-id", session);
      const response = await this.request("DELETE", headers, undefined, controller);
      await response.body?.cancel();
    } catch {
      // Best effort: the server expires the session on its own.
    } finally {
      clearTimeout(timer);
    }
  }

  // ---------------------------------------------------------------- server → client

  private onServerMessage(line: Buffer, exchange: Exchange | undefined): void {
    const scrubbed = scrubLine(line, this.scrubber);
    if (scrubbed.kind === "not-json") {
      if (isBlank(line)) return;
      this.report(scrubbed.hits, "server->client");
      this.note(
        `the remote MCP server sent a message that is not JSON (not forwarded): ${clip(scrubbed.text)}`,
      );
      return;
    }
    if (scrubbed.kind === "unsafe") {
      this.report(scrubbed.hits, "server->client", this.methodOf(scrubbed.envelopes[0]));
      // A batch is dropped whole: none of its elements is answered.
      const envelope = scrubbed.batch ? undefined : scrubbed.envelopes[0];
      this.withholdServerMessage(envelope, scrubbed.hits);
      return;
    }
    const envelopes = scrubbed.envelopes;
    if (scrubbed.kind === "scrubbed") {
      this.report(scrubbed.hits, "server->client", this.methodOf(envelopes[0]));
    }
    for (let i = 0; i < envelopes.length; i++) {
      const envelope = envelopes[i]!;
      if (envelope.kind !== "response") continue;
      const key = idKey(envelope.id);
      for (const open of this.exchanges) open.pending.delete(key);
      exchange?.pending.delete(key);
      if (this.replay !== undefined && key === this.replay.key) {
        this.replay.done(asList(scrubbed.message())[i] as Record<string, unknown>);
        return;
      }
      if (key === this.handshake?.key && this.inflight.get(key)?.method === "initialize") {
        const message = asList(scrubbed.message())[i] as {
          result?: { protocolVersion?: unknown };
        };
        const result = message.result;
        this.handshake.result = result;
        if (typeof result?.protocolVersion === "string") {
          this.protocolVersion = result.protocolVersion;
        }
      }
      this.inflight.delete(key);
    }
    this.writeClient(scrubbed.kind === "clean" ? line : scrubbed.line);
  }

  /**
   * A secret was found and no valid JSON without it could be made (only with a broken
   * scrubber). A response becomes an error so nobody waits forever; a server request is
   * answered with that error.
   */
  private withholdServerMessage(envelope: Envelope | undefined, hits: ScrubHit[]): void {
    const text = `keyward withheld a message from the remote MCP server: it contained the secret ${secretNames(hits)} and could not be redacted safely`;
    this.note(text);
    if (envelope?.kind === "response") {
      const key = idKey(envelope.id);
      for (const open of this.exchanges) open.pending.delete(key);
      this.inflight.delete(key);
      this.writeClient(frame(errorResponse(envelope.id, BRIDGE_ERROR_CODE, text)));
    } else if (envelope?.kind === "request") {
      this.send(
        unframed(errorResponse(envelope.id, BRIDGE_ERROR_CODE, text)),
        new Map(),
        undefined,
      );
    }
  }

  // ---------------------------------------------------------------- output and end

  private writeClient(buffer: Buffer): void {
    const { clientOut } = this.opts;
    if (this.clientGone || clientOut.destroyed) return;
    clientOut.write(buffer);
    if (buffer.at(-1) !== 0x0a) clientOut.write("\n");
  }

  /** Backpressure: a stream from the server is read no faster than the client reads. */
  private clientDrained(): Promise<void> {
    const { clientOut } = this.opts;
    if (this.clientGone || clientOut.destroyed || !clientOut.writableNeedDrain) {
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = (): void => {
        clientOut.off("drain", done);
        clientOut.off("close", done);
        resolve();
      };
      clientOut.once("drain", done);
      clientOut.once("close", done);
    });
  }

  private async close(end: BridgeEnd): Promise<void> {
    if (this.state === "closing" || this.state === "done") return;
    const revoked = this.state === "revoked";
    this.state = "closing";
    // Answers still in flight go out for a while: the client may still be reading.
    const grace = new AbortController();
    await Promise.race([
      Promise.allSettled([...this.exchanges].map((exchange) => exchange.done)),
      sleep(this.graceMs, undefined, { signal: grace.signal, ref: false }).catch(() => {}),
    ]);
    grace.abort();
    this.abandonAll("keyward is shutting down: the MCP client closed its end");
    // A revoked credential is not used again, not even to end the session.
    if (!revoked) await this.endSession();
    await this.finish(revoked ? "revoked" : end, 0);
  }

  private abandonAll(message: string): void {
    this.listen?.abort();
    this.replay?.controller.abort();
    for (const exchange of this.exchanges) {
      exchange.controller.abort();
      this.failExchange(exchange, message, { keyward: "closing" });
    }
  }

  private async finish(end: BridgeEnd, exitCode: number): Promise<void> {
    if (this.state === "done") return;
    this.state = "done";
    const { clientIn, clientOut } = this.opts;
    clientIn.pause();
    clientIn.off("data", this.onClientData);
    clientIn.off("end", this.onClientEnd);
    clientIn.off("error", this.onClientEnd);
    if (!this.clientGone && !clientOut.destroyed && clientOut.writableNeedDrain) {
      // process.exit drops what a pipe has not taken yet: give the client a bounded chance.
      await Promise.race([
        this.clientDrained(),
        sleep(this.flushTimeoutMs, undefined, { ref: false }),
      ]);
    }
    this.finished({ exitCode, end });
  }

  // ---------------------------------------------------------------- messages and notes

  private authMessage(status: number): string {
    const { profile, secrets } = this.opts.credential;
    if (secrets.length === 0) {
      return `the remote MCP server at ${this.origin()} requires a credential (HTTP ${status}) and profile ${profile} sends none: add headers: { Authorization: "Bearer {{secret:<name>}}" } to profiles.${profile}`;
    }
    const names = secrets.join(", ");
    return status === 401
      ? `the remote MCP server at ${this.origin()} rejected the credential of profile ${profile} (HTTP 401): check the key ${names}; it may be expired, revoked or meant for another server (keyward scope check ${profile})`
      : `the remote MCP server at ${this.origin()} refused this request with the credential of profile ${profile} (HTTP 403): the key ${names} may lack the permission it needs (keyward scope check ${profile})`;
  }

  private unreachable(error: unknown): string {
    const cause = (error as { cause?: { code?: unknown; message?: unknown } })?.cause;
    const why =
      typeof cause?.code === "string"
        ? cause.code
        : typeof cause?.message === "string"
          ? cause.message
          : error instanceof Error
            ? error.message
            : String(error);
    return this.scrubText(`could not reach the remote MCP server at ${this.origin()}: ${why}`);
  }

  private revokedMessage(): string {
    return `keyward stopped sending requests to the remote MCP server: ${this.revokeReason}`;
  }

  /** The endpoint's origin, for messages: never its path or query, which may hold a secret. */
  private origin(): string {
    return this.scrubber.redactText(new URL(this.endpoint.url).origin).text;
  }

  private note(text: string): void {
    this.opts.errOut.write(`keyward: ${this.scrubber.redactText(text).text}\n`);
  }

  private scrubText(text: string): string {
    const scrubbed = this.scrubber.redactText(text);
    this.report(scrubbed.hits, "server->client");
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
    if (envelope.kind === "response") return this.inflight.get(idKey(envelope.id))?.method;
    return undefined;
  }
}

/**
 * Refuses an endpoint fetch could not send. Checked here because fetch's own error quotes the
 * offending header value, which is a secret.
 */
function checkEndpoint(endpoint: BridgeEndpoint): BridgeEndpoint {
  try {
    new URL(endpoint.url);
  } catch {
    throw new KeywardError("config_invalid", "the remote MCP server's url is not a URL");
  }
  for (const [name, value] of Object.entries(endpoint.headers)) {
    try {
      new Headers([[name, value]]);
    } catch {
      throw new KeywardError(
        "config_invalid",
        `the ${name} header cannot be sent: its name or value holds a character HTTP does not allow`,
        "check the header name and the value of the secret it names",
      );
    }
  }
  return endpoint;
}

/**
 * Headers a modern-era (2026-07-28) request must carry over HTTP: the version from its
 * `_meta`, `Mcp-Method`, and `Mcp-Name` for the methods that name a tool, prompt or resource.
 */
function modernHeaders(message: unknown): Record<string, string> | undefined {
  if (typeof message !== "object" || message === null || Array.isArray(message)) return undefined;
  const m = message as { method?: unknown; params?: { _meta?: Record<string, unknown> } };
  const version = m.params?._meta?.["io.modelcontextprotocol/protocolVersion"];
  if (typeof version !== "string" || typeof m.method !== "string") return undefined;
  const out: Record<string, string> = {
    "mcp-protocol-version": version,
    "mcp-method": headerValue(m.method),
  };
  const params = m.params as { name?: unknown; uri?: unknown };
  const name =
    m.method === "resources/read"
      ? params.uri
      : m.method === "tools/call" || m.method === "prompts/get"
        ? params.name
        : undefined;
  if (typeof name === "string") out["mcp-name"] = headerValue(name);
  return out;
}

/** The spec's header value encoding: visible ASCII as is, anything else as `=?base64?…?=`. */
function headerValue(value: string): string {
  const plain = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/.test(value);
  return plain && !/^=\?base64\?.*\?=$/.test(value)
    ? value
    : `=?base64?${Buffer.from(value, "utf8").toString("base64")}?=`;
}

/** Reads a body up to `limit` bytes; beyond it, undefined (or the first `limit` bytes if `cut`). */
async function readBody(
  response: Response,
  limit: number,
  cut = false,
): Promise<Buffer | undefined> {
  const body = response.body;
  if (body === null) return Buffer.alloc(0);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.byteLength;
    if (size > limit) {
      await body.cancel();
      if (!cut) return undefined;
      parts.push(Buffer.from(chunk).subarray(0, chunk.byteLength - (size - limit)));
      return Buffer.concat(parts);
    }
    parts.push(Buffer.from(chunk));
  }
  return Buffer.concat(parts, size);
}

/**
 * One stdio line from a JSON text: in valid JSON a raw CR or LF can only be whitespace between
 * tokens, so each becomes a space (trailing ones are cut). A body without any is not copied.
 */
function oneLine(body: Buffer): Buffer {
  let end = body.length;
  while (end > 0 && (body[end - 1] === 0x0a || body[end - 1] === 0x0d || body[end - 1] === 0x20))
    end--;
  const trimmed = body.subarray(0, end);
  if (!trimmed.includes(0x0a) && !trimmed.includes(0x0d)) return trimmed;
  const copy = Buffer.from(trimmed);
  for (let i = 0; i < copy.length; i++) {
    if (copy[i] === 0x0a || copy[i] === 0x0d) copy[i] = 0x20;
  }
  return copy;
}

/** A message as an HTTP body: its JSON without the stdio newline. */
function unframed(message: unknown): Buffer {
  return Buffer.from(JSON.stringify(message), "utf8");
}

function originOf(location: string, base: string): string {
  try {
    return new URL(location, base).origin;
  } catch {
    return "an address that is not a URL";
  }
}

function isBlank(line: Buffer): boolean {
  for (const byte of line) {
    if (byte !== 0x20 && byte !== 0x09 && byte !== 0x0d && byte !== 0x0a) return false;
  }
  return true;
}

function isBlankText(text: string): boolean {
  return text.trim() === "";
}

/** Keeps notes readable: an error body can be megabytes long. */
function clip(text: string, max = 2000): string {
  const line = text.replace(/\s+$/, "");
  return line.length <= max ? line : `${line.slice(0, max)}… (${line.length} characters)`;
}
