import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { FeedFollower } from "./feed-follower.js";
import { TestFeed } from "./testing/test-feed.js";
import type { StoreChange } from "./types.js";

describe("FeedFollower", () => {
  it("starts at the feed's head, and after a loss resubscribes from the last change it saw", async () => {
    const feed = new TestFeed();
    feed.commit("before/start");
    const seen: StoreChange[] = [];
    const events: string[] = [];
    const follower = new FeedFollower(
      feed,
      {
        onChange: (c) => seen.push(c),
        onUp: () => events.push("up"),
        onLost: () => events.push("lost"),
      },
      10,
    );
    await follower.start();
    assert.equal(follower.up, true);
    assert.deepEqual(feed.subscribedAfter, [1], "what came before start is not replayed");
    feed.commit("a");
    feed.fail();
    assert.equal(follower.up, false);
    feed.commit("b"); // committed while nobody listens
    for (let i = 0; i < 200 && !follower.up; i++) await delay(5);
    assert.equal(follower.up, true, "subscribed again after retryMs");
    assert.deepEqual(feed.subscribedAfter, [1, 2]);
    assert.deepEqual(
      seen.map((c) => c.secret),
      ["a", "b"],
      "the change made while down is replayed, nothing twice",
    );
    assert.deepEqual(events, ["up", "lost", "up"]);
    await follower.close();
    feed.commit("c");
    assert.equal(seen.length, 2, "nothing after close");
  });

  it("a feed that cannot be reached is reported and retried, never thrown", async () => {
    const feed = new TestFeed();
    let refusals = 2;
    const subscribe = feed.subscribe.bind(feed);
    feed.subscribe = async (...args) => {
      if (refusals-- > 0) throw new Error("connection refused");
      return subscribe(...args);
    };
    const lost: string[] = [];
    const follower = new FeedFollower(
      feed,
      { onChange: () => {}, onUp: () => {}, onLost: (e) => lost.push(String(e)) },
      5,
    );
    await follower.start();
    for (let i = 0; i < 200 && !follower.up; i++) await delay(5);
    assert.equal(follower.up, true);
    assert.equal(lost.length, 2);
    await follower.close();
  });
});
