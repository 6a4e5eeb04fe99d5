import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { ProfileConfig } from "../config/schema.js";
import { Session } from "../secrets/session.js";
import { TestFeed } from "../store/testing/test-feed.js";
import { type TestHome, testHome } from "../testing/cli.js";
import { type SecretChange, StoreFollower } from "./follow.js";
import { readProfileSecrets } from "./plan.js";

const value = () => `kwfollow_${randomBytes(24).toString("base64url")}`;
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 200 && !condition(); i++) await settle(10);
  assert.ok(condition(), what);
}

describe("StoreFollower", () => {
  let t: TestHome;
  let session: Session;
  const profile = { command: "x", args: [], env: { KEY: "app/key" } } as unknown as ProfileConfig;

  before(async () => {
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "app/key"], { stdin: value() })).code, 0);
    session = await Session.open({
      home: t.env.KEYWARD_HOME as string,
      env: t.env,
      cwd: t.home,
      command: "test",
    });
  });
  after(async () => {
    await session.close();
    t.cleanup();
  });

  /** The session as keyward run sees it, its store given `feed`'s change feed. */
  const withFeed = (feed: TestFeed): Session =>
    Object.create(session, { store: { value: feed.wrap(session.store) } }) as Session;

  const follower = async (s: Session, intervalMs: number) => {
    const seen: SecretChange[] = [];
    const f = new StoreFollower(s, profile, await readProfileSecrets(s, profile), {
      intervalMs,
      resumable: true,
      feedRetryMs: 30,
    });
    f.start(
      async (c) => {
        seen.push(c);
      },
      () => {},
    );
    return { f, seen };
  };

  it("follows the store's change feed instead of polling", async () => {
    const feed = new TestFeed();
    const s = withFeed(feed);
    const { f, seen } = await follower(s, 3_600_000);
    try {
      await until(() => f.mode === "feed", "subscribed to the feed");
      await s.store.putVersion("app/key", value(), {
        expectedRevision: (await s.store.get("app/key"))!.revision,
      });
      await until(() => seen.length === 1, "the change arrived through the feed, with no poll");
      assert.equal(seen[0]?.kind, "rotated");
    } finally {
      f.stop();
    }
  });

  it("after a gap, re-subscribes from the last sequence it saw and gets the missed change replayed", async () => {
    const feed = new TestFeed();
    const s = withFeed(feed);
    const { f, seen } = await follower(s, 3_600_000);
    try {
      await until(() => f.mode === "feed", "subscribed");
      const bump = async () =>
        s.store.putVersion("app/key", value(), {
          expectedRevision: (await s.store.get("app/key"))!.revision,
        });
      await bump();
      await until(() => seen.length === 1, "first change");
      const lastSeen = feed.changes.length;
      feed.fail();
      assert.equal(f.mode, "poll", "polling is the fallback while the feed is down");
      // A change nobody is subscribed to hear, made directly so the wrapper numbers it.
      await bump();
      await until(() => seen.length === 2 && f.mode === "feed", "replayed after re-subscribing");
      assert.equal(feed.subscribedAfter.at(-1), lastSeen, "resumed after the last sequence seen");
    } finally {
      f.stop();
    }
  });

  it("stops the server when the version is disabled and starts it again once a usable one is current", async () => {
    const { f, seen } = await follower(session, 3_600_000);
    try {
      const record = (await session.store.get("app/key"))!;
      const current = record.versions.find((v) => v.stages.includes("current"))!;
      await session.store.setVersionState("app/key", current.version, "disabled", {
        expectedRevision: record.revision,
        compromised: true,
      });
      assert.equal(await f.nudge(), "stopped");
      assert.equal(f.running, false);
      assert.equal(await f.nudge(), "unchanged", "already stopped: nothing more to do");
      await session.store.putVersion("app/key", value(), {
        expectedRevision: (await session.store.get("app/key"))!.revision,
      });
      assert.equal(await f.nudge(), "restarted");
      assert.equal(f.running, true);
      const last = seen.at(-1);
      assert.ok(last?.kind === "rotated" && last.resumed);
      assert.equal(f.versions()["app/key"], current.version + 1);
    } finally {
      f.stop();
    }
  });

  it("pauses polling while a daemon pushes changes, and polls again when it goes", async () => {
    const { f, seen } = await follower(session, 20);
    try {
      f.setDaemon(true);
      await settle(50);
      const before = seen.length;
      await session.store.putVersion("app/key", value(), {
        expectedRevision: (await session.store.get("app/key"))!.revision,
      });
      await settle(200);
      assert.equal(seen.length, before, "no poll noticed it: the daemon would push it");
      assert.equal(f.mode, "daemon");
      f.setDaemon(false);
      await until(() => seen.length === before + 1, "the change is caught once the daemon is gone");
      assert.equal(f.mode, "poll");
    } finally {
      f.stop();
    }
  });

  it("polling reads the secrets only when the store's change mark moved, by another connection or its own", async () => {
    let reads = 0;
    const counting = Object.create(session.store, {
      get: {
        value: (name: string) => {
          reads++;
          return session.store.get(name);
        },
      },
    });
    const s = Object.create(session, { store: { value: counting } }) as Session;
    const { f, seen } = await follower(s, 20);
    // Another process's connection to the same store.
    const other = await Session.open({
      home: t.env.KEYWARD_HOME as string,
      env: t.env,
      cwd: t.home,
      command: "test",
    });
    try {
      await until(() => reads >= 1, "the first tick checks");
      await settle(250);
      assert.equal(reads, 1, "an unchanged store is not read again, tick after tick");
      await other.store.putVersion("app/key", value(), {
        expectedRevision: (await other.store.get("app/key"))!.revision,
      });
      await until(() => seen.length === 1, "another connection's commit is noticed");
      assert.equal(seen[0]?.kind, "rotated");
      const afterOther = reads;
      await session.store.putVersion("app/key", value(), {
        expectedRevision: (await session.store.get("app/key"))!.revision,
      });
      await until(() => seen.length === 2, "a commit on the follower's own connection too");
      assert.ok(reads > afterOther);
    } finally {
      f.stop();
      await other.close();
    }
  });
});
