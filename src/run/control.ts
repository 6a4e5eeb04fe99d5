/**
 * A running `keyward run`'s end of the control protocol (src/control/README.md): its own socket
 * `<home>/control/run-<pid>.sock`, on which `keyward revoke` (or anyone) tells it which secrets
 * changed and gets an ack once it has acted; and, while `keyward daemon` runs, a subscription to
 * the daemon, which then watches the store for it (polling pauses) and pushes notices.
 */
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { Channel, connectControl } from "../control/channel.js";
import { type ControlEndpoint, listenControl } from "../control/endpoint.js";
import { daemonSocketPath, proxySocketPath, socketPathFits } from "../control/paths.js";
import type { ChangedNotice, ControlMessage, ProxyAck } from "../control/protocol.js";
import type { StoreFollower } from "./follow.js";

/** How often a proxy without a daemon looks for one that has started. */
export const DAEMON_RETRY_MS = 2000;

export interface ProxyControlOptions {
  home: string;
  profile: string;
  follower: StoreFollower;
  /** keyward's notices (stderr). */
  notice: (text: string) => void;
  daemonRetryMs?: number;
}

export class ProxyControl {
  private endpoint: ControlEndpoint | undefined;
  private daemon: Channel | undefined;
  private retry: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(private readonly options: ProxyControlOptions) {}

  /**
   * Listens on this process's socket and subscribes to the daemon if one runs. A socket that
   * cannot be created (a KEYWARD_HOME too long for a Unix socket path) is reported once: the
   * proxy then follows the store by polling only, and `keyward revoke` cannot reach it.
   */
  static async open(options: ProxyControlOptions): Promise<ProxyControl> {
    const control = new ProxyControl(options);
    const path = proxySocketPath(options.home, process.pid);
    try {
      if (!socketPathFits(path)) throw new Error(`${path} is too long for a Unix socket`);
      control.endpoint = await listenControl(path, (message, channel) =>
        control.onMessage(message, channel),
      );
    } catch (e) {
      options.notice(
        `keyward: no control socket (${e instanceof Error ? e.message : String(e)}); this server follows the store by polling and keyward revoke cannot wait for it`,
      );
    }
    control.connectDaemon();
    return control;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.daemon?.close();
    await this.endpoint?.close();
  }

  private onMessage(message: ControlMessage, channel: Channel): void {
    if (message.type === "changed") void this.onChanged(message, channel);
    else if (message.type === "hello") {
      const { follower, profile } = this.options;
      channel.send({
        type: "hello",
        id: message.id,
        pid: process.pid,
        profile,
        secrets: follower.secrets,
        follow: follower.mode,
        running: follower.running,
        versions: follower.versions(),
      });
    } else if (message.type !== "ack" && message.type !== "subscribed") {
      channel.send({ type: "error", id: message.id, message: `unexpected ${message.type}` });
    }
  }

  /** Acts on a notice (through the follower's check) and acks once done. */
  private async onChanged(notice: ChangedNotice, channel: Channel): Promise<void> {
    const started = performance.now();
    const { follower, profile } = this.options;
    const uses = notice.secrets.filter((name) => follower.secrets.includes(name));
    const outcome = uses.length === 0 ? "unchanged" : await follower.nudge();
    const ack: ProxyAck = {
      type: "ack",
      id: notice.id,
      pid: process.pid,
      profile,
      uses,
      outcome,
      running: follower.running,
      versions: follower.versions(),
      follow: follower.mode,
      ms: Math.round(performance.now() - started),
    };
    channel.send(ack);
  }

  /** Subscribes to the daemon if its socket exists; retries every few seconds otherwise. */
  private connectDaemon(): void {
    if (this.closed) return;
    const path = daemonSocketPath(this.options.home);
    const again = () => {
      if (this.closed) return;
      this.retry = setTimeout(
        () => this.connectDaemon(),
        this.options.daemonRetryMs ?? DAEMON_RETRY_MS,
      );
      this.retry.unref();
    };
    if (!existsSync(path)) {
      again();
      return;
    }
    connectControl(path, 1000).then(
      (socket) => {
        if (this.closed) {
          socket.destroy();
          return;
        }
        const { follower, profile } = this.options;
        const channel = new Channel(
          socket,
          (message, ch) => {
            if (message.type === "subscribed") follower.setDaemon(true);
            else this.onMessage(message, ch);
          },
          () => {
            this.daemon = undefined;
            follower.setDaemon(false);
            again();
          },
        );
        socket.unref();
        this.daemon = channel;
        channel.send({
          type: "subscribe",
          id: randomUUID(),
          pid: process.pid,
          profile,
          secrets: follower.secrets,
        });
      },
      () => again(),
    );
  }
}
