/**
 * What the backends that talk to a server share (postgres, vault, gcp): how long to wait before
 * trying a failed call again, and how many calls to keep in flight at once. Pure helpers, no I/O
 * of their own.
 */

/** Bounds of an exponential back-off, in milliseconds. */
export interface Backoff {
  /** The wait before the first retry (before jitter). */
  baseDelayMs: number;
  /** No wait is longer than this (before jitter). */
  maxDelayMs: number;
  /** Growth per retry; 2 unless a backend wants to reach its cap sooner. */
  factor?: number;
}

/**
 * The wait before retry number `retry` (0 for the first): exponential up to the cap, with "equal
 * jitter" (half of it fixed, half random), so clients that failed together do not retry together
 * but every retry still waits.
 */
export function backoffDelay(retry: number, backoff: Backoff): number {
  const cap = Math.min(backoff.maxDelayMs, backoff.baseDelayMs * (backoff.factor ?? 2) ** retry);
  return cap / 2 + Math.random() * (cap / 2);
}

/** `fn` over `items` with at most `limit` calls in flight; results in the order of `items`. */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return out;
}
