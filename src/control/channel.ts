import { randomUUID } from "node:crypto";
import { connect as netConnect, type Socket } from "node:net";
import { LineSplitter } from "../mcp/framing.js";
import { type ControlMessage, parseMessage } from "./protocol.js";

/** Control messages are small; a longer line is a confused or hostile peer: the connection is dropped. */
const MAX_LINE_BYTES = 64 * 1024;

/** One connection carrying control messages, one JSON object per line, in both directions. */
export class Channel {
  private closed = false;
  private readonly splitter: LineSplitter;

  constructor(
    readonly socket: Socket,
    onMessage: (message: ControlMessage, channel: Channel) => void,
    onClose?: () => void,
  ) {
    this.splitter = new LineSplitter(
      (line) => {
        const message = parseMessage(line.toString("utf8"));
        if (message !== undefined) onMessage(message, this);
      },
      () => this.close(),
      MAX_LINE_BYTES,
    );
    socket.on("data", (chunk: Buffer) => this.splitter.push(chunk));
    socket.on("error", () => this.close());
    socket.on("close", () => {
      this.closed = true;
      onClose?.();
    });
  }

  get isClosed(): boolean {
    return this.closed || this.socket.destroyed;
  }

  send(message: ControlMessage): void {
    if (this.isClosed) return;
    this.socket.write(`${JSON.stringify(message)}\n`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.destroy();
  }
}

/** A message before its id is set (Omit over each member of the union). */
export type WithoutId<M> = M extends unknown ? Omit<M, "id"> : never;

/** Why a socket could not be reached: nobody listens (stale), no file, or no answer in time. */
export type Unreachable = "refused" | "missing" | "timeout";

export class ControlError extends Error {
  constructor(
    readonly reason: Unreachable,
    message: string,
  ) {
    super(message);
    this.name = "ControlError";
  }
}

/** Connects to a control socket; rejects with a ControlError saying why it cannot be reached. */
export function connectControl(path: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new ControlError("timeout", `no connection to ${path} in ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      socket.removeAllListeners("error");
      resolve(socket);
    });
    socket.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const reason: Unreachable = e.code === "ENOENT" ? "missing" : "refused";
      reject(new ControlError(reason, `${path}: ${e.code ?? e.message}`));
    });
  });
}

/**
 * Sends one request and waits for the answer carrying its id (a new random id is set).
 * Rejects with a ControlError: `refused`/`missing` when nobody listens, `timeout` when the
 * peer connected but did not answer within `timeoutMs` (counted from the start).
 */
export async function requestControl<T extends ControlMessage>(
  path: string,
  message: WithoutId<ControlMessage>,
  timeoutMs: number,
): Promise<T> {
  const started = Date.now();
  const socket = await connectControl(path, timeoutMs);
  const id = randomUUID();
  return new Promise<T>((resolve, reject) => {
    let settled = false;
    const settle = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      channel.close();
      fn();
    };
    const timer = setTimeout(
      () =>
        settle(() =>
          reject(new ControlError("timeout", `no answer from ${path} in ${timeoutMs} ms`)),
        ),
      Math.max(1, timeoutMs - (Date.now() - started)),
    );
    const channel = new Channel(
      socket,
      (reply) => {
        if (reply.id === id) settle(() => resolve(reply as T));
      },
      () =>
        settle(() =>
          reject(new ControlError("timeout", `${path} closed the connection without answering`)),
        ),
    );
    channel.send({ ...message, id } as ControlMessage);
  });
}
