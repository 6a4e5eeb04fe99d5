/**
 * The PostgreSQL change feed: one subscription follows the `changes` table of a keyward schema.
 * Every committed write appends its rows there and NOTIFYs "<seq> <kind>" in the same
 * transaction, under a lock that makes seq order commit order (src/store/postgres.ts). A
 * subscription LISTENs on its own connection, replays the rows after the last seq it delivered,
 * and on each notification reads the rows after that seq again; notifications only wake it, the
 * table is what it delivers, so a lost or coalesced notification loses nothing. A dropped
 * connection is reopened with backoff and the replay resumes from the last delivered seq.
 * Document followed: PostgreSQL LISTEN / NOTIFY (https://www.postgresql.org/docs/current/sql-notify.html):
 * notifications are delivered only after the notifying transaction commits, in commit order, and
 * to a listening session only between its transactions.
 */
import pg from "pg";
import { KeywardError } from "../core/errors.js";
import { type Backoff, backoffDelay } from "./remote.js";
import type { StoreChange } from "./types.js";

/** Rows read per replay query: bounds memory when a follower catches up after a long gap. */
const PAGE = 500;
/** A safety net: even with no notification, the table is re-read this often (and the connection tested). */
const POLL_MS = 30_000;
/**
 * A feed query unanswered this long means the connection is dead (a silent network failure
 * that TCP keepalive would take minutes to notice): the connection is dropped and reopened.
 */
const QUERY_DEADLINE_MS = 15_000;
/** Reconnecting after a dropped connection waits 100 ms at first, then longer, up to 5 s. */
const RECONNECT_BACKOFF: Backoff = { baseDelayMs: 100, maxDelayMs: 5_000 };

export interface ChangeRow {
  through: string;
  seq: string | null;
  secret: string | null;
  kind: StoreChange["kind"] | null;
  at: string | null;
}

/** What a subscription needs from its store. */
export interface FeedSource {
  /** postgres://user@host:port/database, for messages. */
  location: string;
  /** The NOTIFY channel, as an SQL identifier and as sent by pg_notify. */
  channel: { quoted: string; name: string };
  /** The client config of a dedicated feed connection. */
  clientConfig(): pg.ClientConfig;
  /** The change rows after `afterSeq` (at most `limit`), and the highest seq pruned so far. */
  changesAfter: { name: string; text: string };
  translate(e: unknown): unknown;
  /** The connection is listening: the store may send single-statement reads over it. */
  ready(client: pg.Client): void;
  gone(client: pg.Client): void;
}

export class FeedSubscription {
  private client: pg.Client | undefined;
  private closed = false;
  /** Set while start() runs: a fatal error then rejects start instead of going to onError. */
  private starting = true;
  private fatal: KeywardError | undefined;
  private pumping: Promise<void> | undefined;
  private again = false;
  private failures = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly poll: NodeJS.Timeout;

  constructor(
    private readonly src: FeedSource,
    private last: number,
    private readonly onChange: (change: StoreChange) => void,
    private readonly onError: ((e: unknown) => void) | undefined,
    private readonly onClose: (sub: FeedSubscription) => void,
  ) {
    this.poll = setInterval(() => this.pump(), POLL_MS);
    this.poll.unref();
  }

  /** Connects, listens and replays; rejects (and closes) when the first connection fails. */
  async start(): Promise<void> {
    try {
      await this.connect();
    } catch (e) {
      await this.close();
      throw this.src.translate(e);
    } finally {
      this.starting = false;
    }
    if (this.fatal !== undefined) throw this.fatal;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.poll);
    clearTimeout(this.timer);
    const client = this.client;
    this.client = undefined;
    this.onClose(this);
    if (client !== undefined) {
      this.src.gone(client);
      await client.end().catch(() => {});
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client(this.src.clientConfig());
    client.on("error", (e) => this.lost(client, e));
    client.on("end", () => this.lost(client, undefined));
    client.on("notification", (n) => {
      if (n.channel !== this.src.channel.name) return;
      const seq = Number(n.payload?.split(" ")[0]);
      // A notification for something already delivered (by a replay that raced it) is dropped.
      if (Number.isSafeInteger(seq) && seq <= this.last) return;
      if (client === this.client) this.pump();
    });
    try {
      await client.connect();
      // LISTEN first, then replay: a change committed in between is both notified and in the
      // table, and the seq check delivers it once.
      await client.query(`LISTEN ${this.src.channel.quoted}`);
    } catch (e) {
      await client.end().catch(() => {});
      throw e;
    }
    if (this.closed) {
      await client.end().catch(() => {});
      return;
    }
    this.client = client;
    // Offered for reads at once: a handler re-reading during the replay then needs no second connection.
    this.src.ready(client);
    this.pump();
    while (this.pumping !== undefined) await this.pumping;
    if (this.client === client) this.failures = 0;
  }

  /**
   * Reads and delivers everything after `last` over the current connection; wake-ups that come
   * while a pass runs coalesce into one more pass (on whichever connection is current then).
   */
  private pump(): void {
    if (this.pumping !== undefined) {
      this.again = true;
      return;
    }
    this.pumping = (async () => {
      do {
        this.again = false;
        const client = this.client;
        if (client === undefined || this.closed) return;
        try {
          await this.replay(client);
        } catch (e) {
          if (e instanceof KeywardError) return this.fail(e);
          this.lost(client, e);
        }
      } while (this.again);
    })().finally(() => {
      this.pumping = undefined;
    });
  }

  private async replay(client: pg.Client): Promise<void> {
    for (;;) {
      if (this.client !== client || this.closed) return;
      const { rows } = await withDeadline(
        client.query<ChangeRow>({ ...this.src.changesAfter, values: [this.last, PAGE] }),
      );
      const through = Number(rows[0]?.through ?? 0);
      if (through > this.last) {
        throw new KeywardError(
          "conflict",
          `the changes after ${this.last} in ${this.src.location} were pruned (up to change ${through}), so this follower missed some`,
          "re-read every secret, then subscribe again from the feed's head()",
        );
      }
      let delivered = 0;
      for (const row of rows) {
        if (row.seq === null || row.secret === null || row.kind === null || row.at === null)
          continue;
        const seq = Number(row.seq);
        if (seq <= this.last) continue;
        this.last = seq;
        delivered++;
        try {
          this.onChange({ seq, secret: row.secret, kind: row.kind, at: row.at });
        } catch (e) {
          this.onError?.(e);
        }
        if (this.closed) return;
      }
      if (delivered < PAGE) return;
    }
  }

  /** The connection dropped: report it once, then reconnect with backoff and catch up. */
  private lost(client: pg.Client, e: unknown): void {
    if (client !== this.client || this.closed) return;
    this.client = undefined;
    this.src.gone(client);
    void client.end().catch(() => {});
    const why = e === undefined ? "closed" : String(this.describe(e));
    this.onError?.(
      new KeywardError(
        "upstream_unavailable",
        `the change feed lost its connection to ${this.src.location} (${why}); reconnecting and catching up after change ${this.last}`,
        "nothing to do if it recovers; check the server if this repeats",
      ),
    );
    this.reconnect();
  }

  private reconnect(): void {
    if (this.closed) return;
    const delay = backoffDelay(this.failures, RECONNECT_BACKOFF);
    this.failures++;
    this.timer = setTimeout(() => {
      this.connect().catch((e: unknown) => {
        const translated = this.src.translate(e);
        // A missing store or a pruned gap will not heal by retrying.
        if (
          translated instanceof KeywardError &&
          (translated.code === "not_initialized" || translated.code === "conflict")
        ) {
          return this.fail(translated);
        }
        this.reconnect();
      });
    }, delay);
  }

  /** A failure retrying cannot fix: report it and end the subscription. */
  private fail(e: KeywardError): void {
    if (this.starting) this.fatal = e;
    else this.onError?.(e);
    void this.close();
  }

  private describe(e: unknown): string {
    const translated = this.src.translate(e);
    return translated instanceof Error ? translated.message : String(translated);
  }
}

/** Rejects when `query` is unanswered after QUERY_DEADLINE_MS; the caller then drops the connection. */
function withDeadline<T>(query: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Connection terminated: no answer in ${QUERY_DEADLINE_MS / 1000} s`)),
      QUERY_DEADLINE_MS,
    );
  });
  // The abandoned query rejects once its connection is ended; that is expected.
  query.catch(() => {});
  return Promise.race([query, deadline]).finally(() => clearTimeout(timer));
}
