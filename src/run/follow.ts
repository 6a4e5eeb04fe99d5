import type { ProfileConfig } from "../config/schema.js";
import type { FollowMode, ProxyOutcome } from "../control/protocol.js";
import { currentVersion } from "../core/types.js";
import type { Session } from "../secrets/session.js";
import { FeedFollower } from "../store/feed-follower.js";
import type { SecretStore } from "../store/types.js";
import { type InjectedSecret, readProfileSecrets } from "./plan.js";

export type SecretChange =
  | {
      kind: "rotated";
      secrets: InjectedSecret[];
      changed: string[];
      /** The server was stopped for a revocation and every secret has a usable value again. */
      resumed: boolean;
    }
  | { kind: "revoked"; secret: string; reason: string };

export interface FollowerOptions {
  /** Poll interval (ms) when neither the store's feed nor the daemon pushes changes. */
  intervalMs: number;
  /**
   * Whether a server stopped for a revocation comes back once every secret has a usable current
   * version again (a local server: yes; a remote bridge stays refused).
   */
  resumable: boolean;
  /** Wait before re-subscribing to a store feed that failed (polling meanwhile). Default 1000 ms. */
  feedRetryMs?: number;
}

/**
 * Follows the store for one running profile: when a secret gets a new current version the
 * server is restarted with it; when the current version is disabled, compromised or gone and
 * nothing replaces it, the server is stopped (and, if resumable, started again once a usable
 * version is current). Checks read only metadata (no value, so no access-log entry).
 *
 * What triggers a check, best first: the store's own change feed (`store.changes()`, e.g.
 * PostgreSQL LISTEN/NOTIFY: sequence numbers, replayed after a gap); a push on the control
 * socket (`nudge`, from `keyward revoke` or the daemon, which watches the store for all proxies
 * while this one is subscribed: `setDaemon(true)` pauses polling); polling, the last resort.
 * Checks never overlap; a nudge resolves once the change it found has been acted on.
 */
export class StoreFollower {
  private timer: NodeJS.Timeout | undefined;
  /** The store's change mark at the last polled check (stores that have one). */
  private lastMark: string | undefined;
  private feed: FeedFollower | undefined;
  private daemon = false;
  private stopped = false;
  private serverStopped = false;
  /** The check queued behind the one running (nudges coalesce into it). */
  private queued: Promise<ProxyOutcome> | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private onChange: (change: SecretChange) => Promise<void> = async () => {};
  private onError: (e: unknown) => void = () => {};
  private readonly names: ReadonlySet<string>;

  constructor(
    private readonly session: Session,
    private readonly config: ProfileConfig,
    private injected: InjectedSecret[],
    private readonly options: FollowerOptions,
  ) {
    this.names = new Set(injected.map((s) => s.name));
  }

  /** The secrets this proxy injects, by name. */
  get secrets(): string[] {
    return [...this.names];
  }

  get mode(): FollowMode {
    return this.feed?.up ? "feed" : this.daemon ? "daemon" : "poll";
  }

  /** Whether the server runs (false once stopped for a revocation). */
  get running(): boolean {
    return !this.serverStopped;
  }

  /** The version of each secret the server holds now. */
  versions(): Record<string, number> {
    return Object.fromEntries(this.injected.map((s) => [s.name, s.version]));
  }

  start(onChange: (change: SecretChange) => Promise<void>, onError: (e: unknown) => void): void {
    this.onChange = onChange;
    this.onError = onError;
    const store: SecretStore = this.session.store;
    const feed = store.changes?.();
    if (feed === undefined) {
      this.startPolling();
      return;
    }
    this.feed = new FeedFollower(
      feed,
      {
        onChange: (change) => {
          if (this.names.has(change.secret)) void this.nudge();
        },
        onUp: () => {
          this.stopPolling();
          // Changes between reading the values and subscribing, or while the feed was down.
          void this.nudge();
        },
        onLost: (e) => {
          this.onError(e);
          if (!this.daemon) this.startPolling();
        },
      },
      this.options.feedRetryMs,
    );
    void this.feed.start();
  }

  /**
   * Checks now (after the check in flight, if any) and resolves once what it found has been
   * acted on: `restarted` (the new server answered), `stopped`, `unchanged` or `failed`.
   */
  nudge(): Promise<ProxyOutcome> {
    if (this.queued !== undefined) return this.queued;
    const next = this.tail.then(() => {
      this.queued = undefined;
      return this.step();
    });
    this.queued = next;
    this.tail = next.catch(() => {});
    return next;
  }

  /** A daemon subscription opened (it watches the store for us: no polling) or closed. */
  setDaemon(connected: boolean): void {
    if (this.stopped || this.daemon === connected) return;
    this.daemon = connected;
    if (this.feed?.up) return;
    if (connected) this.stopPolling();
    else this.startPolling();
    // Whatever changed between our last poll and the daemon's watch (or while it was going away).
    void this.nudge();
  }

  stop(): void {
    this.stopped = true;
    this.stopPolling();
    void this.feed?.close();
  }

  /** What changed since the values now injected, if anything. */
  async check(): Promise<SecretChange | undefined> {
    const changed: string[] = [];
    for (const s of this.injected) {
      const record = await this.session.store.get(s.name);
      let why: string | undefined;
      if (record === undefined) why = "was deleted";
      else {
        const current = currentVersion(record);
        if (current === undefined || current.state !== "enabled") {
          why = current?.compromised
            ? "marked compromised"
            : current
              ? `version ${current.version} ${current.state}`
              : "has no current version";
        } else if (current.version !== s.version) changed.push(s.name);
      }
      if (why !== undefined) {
        // Already stopped for this: nothing new to do.
        if (this.serverStopped) return undefined;
        return { kind: "revoked", secret: s.name, reason: `${s.name} ${why}` };
      }
    }
    if (this.serverStopped) {
      if (!this.options.resumable) return undefined;
      return {
        kind: "rotated",
        secrets: await readProfileSecrets(this.session, this.config),
        changed: changed.length > 0 ? changed : this.secrets,
        resumed: true,
      };
    }
    if (changed.length === 0) return undefined;
    return {
      kind: "rotated",
      secrets: await readProfileSecrets(this.session, this.config),
      changed,
      resumed: false,
    };
  }

  private async step(): Promise<ProxyOutcome> {
    if (this.stopped) return "unchanged";
    try {
      const change = await this.check();
      if (change === undefined || this.stopped) return "unchanged";
      if (change.kind === "rotated") {
        this.injected = change.secrets;
        this.serverStopped = false;
      } else this.serverStopped = true;
      await this.onChange(change);
      return change.kind === "rotated" ? "restarted" : "stopped";
    } catch (e) {
      // Read again on the next tick, changed or not.
      this.lastMark = undefined;
      this.onError(e);
      return "failed";
    }
  }

  private startPolling(): void {
    if (this.timer !== undefined || this.stopped) return;
    this.timer = setInterval(() => {
      // A check already queued will see whatever this tick would.
      if (this.queued !== undefined) return;
      // Taken before the check reads, so a change committed meanwhile moves it for the next tick.
      const mark = this.session.store.changeMark?.();
      if (mark !== undefined && mark === this.lastMark) return;
      this.lastMark = mark;
      void this.nudge();
    }, this.options.intervalMs);
    this.timer.unref();
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
