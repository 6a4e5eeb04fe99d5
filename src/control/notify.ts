import { unlinkSync } from "node:fs";
import { ControlError, requestControl } from "./channel.js";
import { listProxySockets } from "./paths.js";
import type { ProxyAck } from "./protocol.js";

export interface SilentProxy {
  pid: number;
  socket: string;
  /** Why there was no ack: it accepted the notice but did not answer in time, or the connection broke. */
  reason: string;
}

export interface FanOut {
  /** Every proxy that answered, whether the notice concerned it (`uses` non-empty) or not. */
  acks: ProxyAck[];
  /** Proxies that are alive (they accepted the connection) but did not answer in time. */
  silent: SilentProxy[];
  /** Registrations of processes that are gone (nobody accepts on the socket): removed. */
  stale: Array<{ pid: number; socket: string }>;
}

/**
 * Tells every registered `keyward run` proxy under `home` that `secrets` changed, all at once,
 * and waits (at most `timeoutMs`) for each to act and answer. Needs no daemon: each proxy owns
 * its socket. Stale registrations are cleaned up, never trusted.
 */
export async function notifyProxies(
  home: string,
  secrets: readonly string[],
  timeoutMs: number,
): Promise<FanOut> {
  const out: FanOut = { acks: [], silent: [], stale: [] };
  await Promise.all(
    listProxySockets(home).map(async ({ pid, path }) => {
      try {
        const ack = await requestControl<ProxyAck>(
          path,
          { type: "changed", secrets: [...secrets] },
          timeoutMs,
        );
        if (ack.type === "ack") out.acks.push(ack);
        else out.silent.push({ pid, socket: path, reason: `answered ${ack.type}, not ack` });
      } catch (e) {
        if (!(e instanceof ControlError)) throw e;
        if (e.reason === "missing") return; // it ended (and removed its socket) meanwhile
        if (e.reason === "refused") {
          try {
            unlinkSync(path);
          } catch {
            // removed by someone else meanwhile
          }
          out.stale.push({ pid, socket: path });
          return;
        }
        out.silent.push({ pid, socket: path, reason: e.message });
      }
    }),
  );
  out.acks.sort((a, b) => a.pid - b.pid);
  out.silent.sort((a, b) => a.pid - b.pid);
  out.stale.sort((a, b) => a.pid - b.pid);
  return out;
}
