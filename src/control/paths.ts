import { readdirSync } from "node:fs";
import { join } from "node:path";

/** Where the control sockets live: `<home>/control/`, 0700 like the home. */
export function controlDir(home: string): string {
  return join(home, "control");
}

/** The daemon's socket. */
export function daemonSocketPath(home: string): string {
  return join(controlDir(home), "daemon.sock");
}

/** The socket a `keyward run` process listens on. */
export function proxySocketPath(home: string, pid: number): string {
  return join(controlDir(home), `run-${pid}.sock`);
}

/**
 * Unix socket paths are short: 108 bytes on Linux, 104 on macOS, including the final NUL. A longer
 * path cannot be bound (KEYWARD_HOME too deep): the caller says so and falls back.
 */
export const MAX_SOCKET_PATH_BYTES = 103;

export function socketPathFits(path: string): boolean {
  return Buffer.byteLength(path) <= MAX_SOCKET_PATH_BYTES;
}

const PROXY_SOCKET = /^run-(\d+)\.sock$/;

/** The registered `keyward run` sockets, by pid (whether their process still lives or not). */
export function listProxySockets(home: string): Array<{ pid: number; path: string }> {
  let names: string[];
  try {
    names = readdirSync(controlDir(home));
  } catch {
    return [];
  }
  const out: Array<{ pid: number; path: string }> = [];
  for (const name of names) {
    const match = PROXY_SOCKET.exec(name);
    if (match) out.push({ pid: Number(match[1]), path: join(controlDir(home), name) });
  }
  return out.sort((a, b) => a.pid - b.pid);
}
