import type { ChangeFeed, SecretStore, StoreChange } from "../types.js";

/**
 * A change feed over a real SQLite store, as a backend with LISTEN/NOTIFY would give one: every
 * committed write becomes a numbered change, `subscribe` replays what came after `afterSeq`, and
 * `fail()` drops every subscriber (a lost connection) while changes keep being numbered.
 */
export class TestFeed implements ChangeFeed {
  readonly changes: StoreChange[] = [];
  readonly subscribedAfter: number[] = [];
  private subscribers = new Set<{
    onChange: (c: StoreChange) => void;
    onError?: (e: unknown) => void;
  }>();

  wrap(store: SecretStore): SecretStore {
    const writes = new Set([
      "putVersion",
      "moveStage",
      "setVersionState",
      "updateMetadata",
      "delete",
    ]);
    return new Proxy(store, {
      get: (target, key, receiver) => {
        if (key === "changes") return () => this;
        const member = Reflect.get(target, key, receiver);
        if (typeof member !== "function") return member;
        if (typeof key !== "string" || !writes.has(key)) return member.bind(target);
        return async (name: string, ...rest: unknown[]) => {
          const result = await member.call(target, name, ...rest);
          this.commit(name);
          return result;
        };
      },
    });
  }

  commit(secret: string): void {
    const change: StoreChange = {
      seq: this.changes.length + 1,
      secret,
      kind: "version",
      at: new Date().toISOString(),
    };
    this.changes.push(change);
    for (const s of this.subscribers) s.onChange(change);
  }

  fail(): void {
    const lost = [...this.subscribers];
    this.subscribers.clear();
    for (const s of lost) s.onError?.(new Error("the feed connection dropped"));
  }

  async head(): Promise<number> {
    return this.changes.length;
  }

  async subscribe(
    afterSeq: number,
    onChange: (change: StoreChange) => void,
    onError?: (e: unknown) => void,
  ): Promise<{ close(): Promise<void> }> {
    this.subscribedAfter.push(afterSeq);
    for (const change of this.changes.filter((c) => c.seq > afterSeq)) onChange(change);
    const subscriber = { onChange, ...(onError ? { onError } : {}) };
    this.subscribers.add(subscriber);
    return {
      close: async () => {
        this.subscribers.delete(subscriber);
      },
    };
  }
}
