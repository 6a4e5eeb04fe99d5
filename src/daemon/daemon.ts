/**
 * `keyward daemon`: owns `<home>/control/daemon.sock`, runs `rotate --due` on a schedule, and
 * watches the store once for every subscribed `keyward run` proxy (the store's change feed when
 * it has one, else a poll of the metadata), pushing a notice to each proxy a change concerns
 * and waiting for its ack. Proxies subscribe by connecting; while subscribed they stop polling.
 * Nothing depends on the daemon being up: proxies poll again when it goes, and `keyward revoke`
 * talks to each proxy's own socket. See README.md.
 */
import { randomUUID } from "node:crypto";
import type { Channel } from "../control/channel.js";
import { type ControlEndpoint, listenControl } from "../control/endpoint.js";
import { daemonSocketPath } from "../control/paths.js";
import type { ControlMessage, DaemonStatus, ProxyAck } from "../control/protocol.js";
import { currentVersion, type SecretRecord } from "../core/types.js";
import type { RotationSummary } from "../rotation/rotate.js";
import { FeedFollower } from "../store/feed-follower.js";
import type { SecretStore } from "../store/types.js";

export interface DaemonOptions {
  home: string;
  store: SecretStore;
  /** One scheduled run: rotate what is due, revoke previous values past their grace, notify. */
  runDue(): Promise<RotationSummary>;
  intervalMs: number;
  /** Poll interval of the store watch when the store has no change feed. */
  watchMs: number;
  /** How long a pushed notice waits for a proxy's ack. */
  ackTimeoutMs: number;
  /** One line of the daemon's own log (stderr, or the journal under systemd). */
  log(line: string): void;
  /** Wait before re-subscribing to a failed store feed. Default 1000 ms. */
  feedRetryMs?: number;
}

interface Subscriber {
  pid: number;
  profile: string;
  secrets: Set<string>;
  channel: Channel;
  waiting: Map<string, (ack: ProxyAck | undefined) => void>;
}

export class Daemon {
  private endpoint: ControlEndpoint | undefined;
  private readonly subscribers = new Map<Channel, Subscriber>();
  private readonly startedAt = new Date();
  private scheduleTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private feed: FeedFollower | undefined;
  private seen: Map<string, string> | undefined;
  private watching = false;
  private lastRun: DaemonStatus["lastRun"];
  private nextRunAt: Date | undefined;
  private running: Promise<void> = Promise.resolve();
  private stopped = false;

  private constructor(private readonly options: DaemonOptions) {}

  /** Listens on the daemon socket (refused with `conflict` while another daemon runs), then starts. */
  static async start(options: DaemonOptions): Promise<Daemon> {
    const daemon = new Daemon(options);
    daemon.endpoint = await listenControl(
      daemonSocketPath(options.home),
      (message, channel) => daemon.onMessage(message, channel),
      { onClose: (channel) => daemon.unsubscribe(channel) },
    );
    const feed = options.store.changes?.();
    if (feed === undefined) {
      // The baseline, before any proxy relies on us: a change after this is a change.
      await daemon.watchTick();
      daemon.startWatchPolling();
    } else {
      daemon.feed = new FeedFollower(
        feed,
        {
          onChange: (change) => void daemon.fanOut([change.secret]),
          onUp: () => daemon.stopWatchPolling(),
          onLost: (e) => {
            daemon.options.log(
              `the store's change feed failed (${e instanceof Error ? e.message : String(e)}); polling until it is back`,
            );
            daemon.startWatchPolling();
          },
        },
        options.feedRetryMs,
      );
      await daemon.feed.start();
    }
    daemon.scheduleRun(0);
    return daemon;
  }

  get socketPath(): string {
    return daemonSocketPath(this.options.home);
  }

  status(id: string): DaemonStatus {
    const status: DaemonStatus = {
      type: "status",
      id,
      pid: process.pid,
      startedAt: this.startedAt.toISOString(),
      watch: this.feed?.up ? "feed" : "poll",
      intervalSeconds: Math.round(this.options.intervalMs / 1000),
      subscribers: [...this.subscribers.values()].map((s) => ({
        pid: s.pid,
        profile: s.profile,
        secrets: [...s.secrets],
      })),
    };
    if (this.lastRun !== undefined) status.lastRun = this.lastRun;
    if (this.nextRunAt !== undefined) status.nextRunAt = this.nextRunAt.toISOString();
    return status;
  }

  /** Stops the schedule and the watch, ends every subscription (proxies resume polling), removes the socket. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    if (this.scheduleTimer) clearTimeout(this.scheduleTimer);
    this.stopWatchPolling();
    await this.feed?.close();
    for (const channel of this.subscribers.keys()) channel.close();
    await this.running;
    await this.endpoint?.close();
  }

  // ---- the control socket -------------------------------------------------------------

  private onMessage(message: ControlMessage, channel: Channel): void {
    switch (message.type) {
      case "subscribe":
        this.subscribers.set(channel, {
          pid: message.pid,
          profile: message.profile,
          secrets: new Set(message.secrets),
          channel,
          waiting: new Map(),
        });
        channel.send({ type: "subscribed", id: message.id, pid: process.pid });
        this.options.log(
          `proxy pid ${message.pid} (${message.profile}) subscribed for ${message.secrets.join(", ") || "no secrets"}`,
        );
        return;
      case "status":
        channel.send(this.status(message.id));
        return;
      case "ack": {
        const waiting = this.subscribers.get(channel)?.waiting;
        waiting?.get(message.id)?.(message);
        waiting?.delete(message.id);
        return;
      }
      default:
        channel.send({ type: "error", id: message.id, message: `unexpected ${message.type}` });
    }
  }

  private unsubscribe(channel: Channel): void {
    const subscriber = this.subscribers.get(channel);
    if (subscriber === undefined) return;
    this.subscribers.delete(channel);
    for (const resolve of subscriber.waiting.values()) resolve(undefined);
    this.options.log(`proxy pid ${subscriber.pid} (${subscriber.profile}) unsubscribed`);
  }

  /** Pushes a notice to each subscriber using one of `secrets` and waits for their acks. */
  async fanOut(secrets: readonly string[]): Promise<void> {
    const targets = [...this.subscribers.values()].filter((s) =>
      secrets.some((name) => s.secrets.has(name)),
    );
    await Promise.all(
      targets.map(async (s) => {
        const id = randomUUID();
        const ack = await new Promise<ProxyAck | undefined>((resolve) => {
          const timer = setTimeout(() => {
            s.waiting.delete(id);
            resolve(undefined);
          }, this.options.ackTimeoutMs);
          s.waiting.set(id, (a) => {
            clearTimeout(timer);
            resolve(a);
          });
          s.channel.send({ type: "changed", id, secrets: [...secrets] });
        });
        this.options.log(
          ack === undefined
            ? `proxy pid ${s.pid} (${s.profile}) did not answer a notice about ${secrets.join(", ")}`
            : `proxy pid ${s.pid} (${s.profile}): ${ack.outcome} in ${ack.ms} ms`,
        );
      }),
    );
  }

  // ---- the schedule -------------------------------------------------------------------

  private scheduleRun(delayMs: number): void {
    if (this.stopped) return;
    this.nextRunAt = new Date(Date.now() + delayMs);
    this.scheduleTimer = setTimeout(() => {
      this.running = this.runOnce().finally(() => this.scheduleRun(this.options.intervalMs));
    }, delayMs);
  }

  private async runOnce(): Promise<void> {
    this.nextRunAt = undefined;
    const at = new Date().toISOString();
    try {
      const summary = await this.options.runDue();
      this.lastRun = { at, ok: summary.ok, counts: { ...summary.counts } };
      const c = summary.counts;
      this.options.log(
        `rotate --due: rotated ${c.rotated} (resumed ${c.resumed}), previous revoked ${c.revoked}, manual due ${c.dueManual}, failed ${c.failed}, locked ${c.locked}, not due ${c.notDue}`,
      );
      // What the run changed reaches the proxies now rather than at the next watch tick.
      if (!this.feed?.up) await this.watchTick();
    } catch (e) {
      this.lastRun = { at, ok: false, counts: {} };
      this.options.log(`rotate --due failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  // ---- the store watch ----------------------------------------------------------------

  private startWatchPolling(): void {
    if (this.watchTimer !== undefined || this.stopped) return;
    this.watchTimer = setInterval(() => void this.watchTick(), this.options.watchMs);
  }

  /** One poll: compares each secret's current version and its state with the last poll's. */
  private async watchTick(): Promise<void> {
    if (this.watching || this.stopped) return;
    this.watching = true;
    try {
      const now = new Map(
        (await this.options.store.list()).map((r) => [r.name, signature(r)] as const),
      );
      const before = this.seen;
      this.seen = now;
      if (before === undefined) return;
      const changed = [...now].filter(([name, sig]) => before.get(name) !== sig).map(([n]) => n);
      for (const name of before.keys()) if (!now.has(name)) changed.push(name);
      if (changed.length > 0) await this.fanOut(changed);
    } catch (e) {
      this.options.log(`could not read the store: ${e instanceof Error ? e.message : String(e)}`);
    } finally {
      this.watching = false;
    }
  }

  private stopWatchPolling(): void {
    if (this.watchTimer) clearInterval(this.watchTimer);
    this.watchTimer = undefined;
  }
}

/** What a proxy cares about: which version is current, and whether it may be served. */
function signature(record: SecretRecord): string {
  const current = currentVersion(record);
  return current === undefined
    ? "none"
    : `${current.version}:${current.state}:${current.compromised ? 1 : 0}`;
}
