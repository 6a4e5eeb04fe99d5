import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { after, describe, it } from "node:test";
import { Channel, requestControl } from "../control/channel.js";
import { daemonSocketPath } from "../control/paths.js";
import type { ChangedNotice, DaemonStatus } from "../control/protocol.js";
import { isKeywardError } from "../core/errors.js";
import { rotateDue } from "../rotation/rotate.js";
import {
  fakeMethodFor,
  newStoreHome,
  openStore,
  seedSecret,
  testContext,
} from "../rotation/testing/fixture.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import { TestFeed } from "../store/testing/test-feed.js";
import type { SecretStore } from "../store/types.js";
import { Daemon } from "./daemon.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 300 && !condition(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(condition(), what);
}

/** A stand-in proxy: subscribes for `secrets` on the daemon's socket and acks every notice. */
async function subscriber(home: string, secrets: string[]) {
  const notices: ChangedNotice[] = [];
  const socket = connect(daemonSocketPath(home));
  await new Promise((resolve) => socket.once("connect", resolve));
  let subscribed = false;
  const channel = new Channel(socket, (message, ch) => {
    if (message.type === "subscribed") subscribed = true;
    if (message.type !== "changed") return;
    notices.push(message);
    ch.send({
      type: "ack",
      id: message.id,
      pid: 777,
      profile: "stand-in",
      uses: message.secrets,
      outcome: "restarted",
      running: true,
      versions: {},
      follow: "daemon",
      ms: 0,
    });
  });
  channel.send({ type: "subscribe", id: "s1", pid: 777, profile: "stand-in", secrets });
  await until(() => subscribed, "the daemon confirmed the subscription");
  return { notices, close: () => channel.close() };
}

async function setup() {
  const { dir, home, master } = await newStoreHome();
  dirs.push(dir);
  const store = await openStore(home, master);
  return { dir, home, store };
}

describe("Daemon", () => {
  it("runs rotate --due at start and on its schedule, and pushes what changed to subscribers", async () => {
    const { dir, home, store } = await setup();
    // Due at once: a one-second TTL.
    await seedSecret(store, dir, "svc/api", "api", { rotation: { ttlSeconds: 1 } });
    await new Promise((r) => setTimeout(r, 1100));
    const log: string[] = [];
    let runs = 0;
    const daemon = await Daemon.start({
      home,
      store,
      intervalMs: 60_000,
      watchMs: 20,
      ackTimeoutMs: 2000,
      log: (line) => log.push(line),
      runDue: async () => {
        runs++;
        return rotateDue({
          store,
          ctx: testContext(() => new Date()),
          now: () => new Date(),
          owner: `daemon-test:${randomBytes(4).toString("hex")}`,
          methodFor: fakeMethodFor(store, dir),
        });
      },
    });
    const proxy = await subscriber(home, ["svc/api"]);
    try {
      await until(() => runs === 1 && daemon.status("x").lastRun !== undefined, "ran at start");
      const status = await requestControl<DaemonStatus>(
        daemonSocketPath(home),
        { type: "status" },
        2000,
      );
      assert.equal(status.lastRun?.counts.rotated, 1);
      assert.equal(status.watch, "poll");
      assert.deepEqual(
        status.subscribers.map((s) => s.pid),
        [777],
      );
      // A write by anyone else: the watch sees it and pushes it.
      const record = (await store.get("svc/api"))!;
      await store.putVersion("svc/api", "api-key-by-hand", { expectedRevision: record.revision });
      await until(() => proxy.notices.some((n) => n.secrets.includes("svc/api")), "pushed");
      await until(
        () => log.some((l) => l.includes("proxy pid 777 (stand-in): restarted")),
        "acked",
      );
      // Another daemon for the same home is refused while this one runs.
      await assert.rejects(
        () =>
          Daemon.start({
            home,
            store,
            intervalMs: 60_000,
            watchMs: 20,
            ackTimeoutMs: 100,
            log: () => {},
            runDue: async () => {
              throw new Error("must not run");
            },
          }),
        (e) => isKeywardError(e) && e.code === "conflict",
      );
    } finally {
      proxy.close();
      await daemon.stop();
      await store.close();
    }
    assert.equal(existsSync(daemonSocketPath(home)), false, "stop removes the socket");
  });

  it("follows the store's change feed when it has one, and takes over a socket a killed daemon left", async () => {
    const { dir, home, store } = await setup();
    await seedSecret(store, dir, "svc/api", "api");
    // A daemon killed with SIGKILL: its socket file stays, nobody accepts on it.
    ensurePrivateDir(`${home}/control`);
    const dead = spawn(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(daemonSocketPath(home))}, () => process.stdout.write("up"))`,
    ]);
    await new Promise((resolve) => dead.stdout.once("data", resolve));
    dead.kill("SIGKILL");
    await new Promise((resolve) => dead.once("exit", resolve));
    assert.ok(existsSync(daemonSocketPath(home)));

    const feed = new TestFeed();
    const fed: SecretStore = feed.wrap(store);
    const daemon = await Daemon.start({
      home,
      store: fed,
      intervalMs: 60_000,
      watchMs: 3_600_000, // no polling could explain a push
      ackTimeoutMs: 2000,
      log: () => {},
      runDue: async () => ({
        ok: true,
        counts: {
          rotated: 0,
          resumed: 0,
          revoked: 0,
          dueManual: 0,
          failed: 0,
          locked: 0,
          notDue: 0,
        },
        items: [],
      }),
    });
    const proxy = await subscriber(home, ["svc/api"]);
    try {
      assert.equal(daemon.status("x").watch, "feed");
      const record = (await fed.get("svc/api"))!;
      await fed.putVersion("svc/api", "api-key-by-hand", { expectedRevision: record.revision });
      await until(() => proxy.notices.length === 1, "pushed from the feed");
    } finally {
      proxy.close();
      await daemon.stop();
      await store.close();
    }
  });
});
