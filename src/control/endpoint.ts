import { chmodSync, existsSync, unlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { dirname } from "node:path";
import { KeywardError } from "../core/errors.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import { Channel, ControlError, connectControl } from "./channel.js";
import { socketPathFits } from "./paths.js";
import type { ControlMessage } from "./protocol.js";

/** How long a probe of an existing socket file waits before calling its owner hung. */
const PROBE_TIMEOUT_MS = 1000;

export interface ControlEndpoint {
  readonly path: string;
  close(): Promise<void>;
}

/**
 * Listens on a control socket in a 0700 folder, the socket itself 0600. A socket file left by a
 * dead process (nobody accepts on it) is removed, not trusted; one a live process accepts on is
 * refused with `conflict`. Each connection gets a Channel whose messages go to `onMessage`.
 */
export async function listenControl(
  path: string,
  onMessage: (message: ControlMessage, channel: Channel) => void,
  options: { onConnection?: (channel: Channel) => void; onClose?: (channel: Channel) => void } = {},
): Promise<ControlEndpoint> {
  if (!socketPathFits(path)) {
    throw new KeywardError(
      "usage",
      `the control socket path ${path} is too long for a Unix socket`,
      "set KEYWARD_HOME to a shorter folder",
    );
  }
  ensurePrivateDir(dirname(path));
  await removeStale(path);
  const server: Server = createServer((socket) => {
    const channel: Channel = new Channel(socket, onMessage, () => options.onClose?.(channel));
    options.onConnection?.(channel);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", (e: NodeJS.ErrnoException) =>
      reject(
        e.code === "EADDRINUSE"
          ? new KeywardError("conflict", `another process already listens on ${path}`)
          : new KeywardError("io", `cannot listen on ${path}: ${e.code ?? e.message}`),
      ),
    );
    server.listen(path, () => resolve());
  });
  // The folder is 0700 already; 0600 on the socket too, so it stays private if the folder is not.
  chmodSync(path, 0o600);
  let closed = false;
  return {
    path,
    async close() {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => server.close(() => resolve()));
      try {
        unlinkSync(path);
      } catch {
        // already gone (server.close may remove it)
      }
    },
  };
}

/** Removes `path` if it is a socket nobody accepts on; refuses if someone does. */
async function removeStale(path: string): Promise<void> {
  if (!existsSync(path)) return;
  try {
    const socket = await connectControl(path, PROBE_TIMEOUT_MS);
    socket.destroy();
  } catch (e) {
    if (e instanceof ControlError && e.reason === "missing") return;
    if (e instanceof ControlError && e.reason === "refused") {
      unlinkSync(path);
      return;
    }
    // A listener that accepts nothing in time: hung, but alive. Not ours to remove.
  }
  throw new KeywardError(
    "conflict",
    `another process already listens on ${path}`,
    "stop it first (or remove the file if you are sure no keyward process uses it)",
  );
}
