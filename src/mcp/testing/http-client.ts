// Test helper: the SDK's Client speaking stdio framing to an in-process McpBridge, through a
// pair of PassThrough streams (the SDK's own ReadBuffer and serializeMessage do the framing).
import { PassThrough } from "node:stream";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { ReadBuffer, serializeMessage } from "@modelcontextprotocol/sdk/shared/stdio.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import type { JSONRPCMessage } from "@modelcontextprotocol/sdk/types.js";
import { type BridgeOptions, McpBridge } from "../bridge.js";
import type { Finding } from "../proxy.js";
import { TextPeer } from "./peers.js";

/** A Transport over two streams: what the client writes and what it reads. */
class StreamTransport implements Transport {
  onclose?: () => void;
  onerror?: (error: Error) => void;
  onmessage?: (message: JSONRPCMessage) => void;
  private readonly buffer = new ReadBuffer();

  constructor(
    private readonly toBridge: PassThrough,
    private readonly fromBridge: PassThrough,
  ) {}

  async start(): Promise<void> {
    this.fromBridge.on("data", (chunk: Buffer) => {
      this.buffer.append(chunk);
      for (;;) {
        let message: JSONRPCMessage | null;
        try {
          message = this.buffer.readMessage();
        } catch (error) {
          this.onerror?.(error as Error);
          continue;
        }
        if (message === null) break;
        this.onmessage?.(message);
      }
    });
  }

  async send(message: JSONRPCMessage): Promise<void> {
    this.toBridge.write(serializeMessage(message));
  }

  async close(): Promise<void> {
    this.toBridge.end();
    this.onclose?.();
  }
}

export interface BridgedClient {
  client: Client;
  bridge: McpBridge;
  /** Runs the SDK's initialize handshake through the bridge. */
  connect(): Promise<void>;
  /** What the bridge wrote to the client, raw. */
  clientSaw: TextPeer;
  /** keyward's notes. */
  notes: TextPeer;
  findings: Finding[];
  /** The client's side of the bridge's stdin: raw lines can be written here too. */
  toBridge: PassThrough;
}

/** Starts a bridge on in-memory streams, with an SDK Client on the other end. */
export function bridgeClient(
  opts: Omit<BridgeOptions, "clientIn" | "clientOut" | "errOut" | "onFinding">,
): BridgedClient {
  const toBridge = new PassThrough();
  const fromBridge = new PassThrough();
  const errOut = new PassThrough();
  const findings: Finding[] = [];
  const bridge = new McpBridge({
    graceMs: 500,
    ...opts,
    clientIn: toBridge,
    clientOut: fromBridge,
    errOut,
    onFinding: (finding) => findings.push(finding),
  });
  const clientSaw = new TextPeer(fromBridge);
  const notes = new TextPeer(errOut);
  bridge.start();
  const client = new Client({ name: "keyward-bridge-test", version: "1.0.0" });
  return {
    client,
    bridge,
    connect: () => client.connect(new StreamTransport(toBridge, fromBridge)),
    clientSaw,
    notes,
    findings,
    toBridge,
  };
}
