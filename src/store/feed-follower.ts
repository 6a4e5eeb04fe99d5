import type { ChangeFeed, StoreChange } from "./types.js";

export interface FeedHandlers {
  onChange(change: StoreChange): void;
  /** Subscribed, at first or again after a loss: the follower may stop polling and catch up. */
  onUp(): void;
  /** The subscription failed or could not be made: the follower polls until onUp. */
  onLost(e: unknown): void;
}

/**
 * One live subscription to a store's change feed: from the feed's head the first time, then
 * from the last sequence delivered, subscribing again `retryMs` after a loss, so a follower that
 * reconnects misses nothing (the feed replays what came after that sequence). Shared by
 * `keyward run`'s StoreFollower and the daemon's store watch.
 */
export class FeedFollower {
  private subscription: { close(): Promise<void> } | undefined;
  private retry: NodeJS.Timeout | undefined;
  private lastSeq = 0;
  private closed = false;

  constructor(
    private readonly feed: ChangeFeed,
    private readonly handlers: FeedHandlers,
    private readonly retryMs = 1000,
  ) {}

  /** Whether a subscription is live now. */
  get up(): boolean {
    return this.subscription !== undefined;
  }

  /** Subscribes; a failure is reported through onLost and retried, never thrown. */
  async start(): Promise<void> {
    if (this.closed) return;
    try {
      if (this.lastSeq === 0) this.lastSeq = await this.feed.head();
      const subscription = await this.feed.subscribe(
        this.lastSeq,
        (change) => {
          if (change.seq > this.lastSeq) this.lastSeq = change.seq;
          this.handlers.onChange(change);
        },
        (e) => this.lost(e),
      );
      if (this.closed) {
        await subscription.close();
        return;
      }
      this.subscription = subscription;
      this.handlers.onUp();
    } catch (e) {
      this.lost(e);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    const subscription = this.subscription;
    this.subscription = undefined;
    await subscription?.close().catch(() => {});
  }

  private lost(e: unknown): void {
    if (this.closed) return;
    const lost = this.subscription;
    this.subscription = undefined;
    void lost?.close().catch(() => {});
    this.handlers.onLost(e);
    if (this.retry) clearTimeout(this.retry);
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.start();
    }, this.retryMs);
    this.retry.unref();
  }
}
