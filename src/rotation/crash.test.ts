/**
 * Fault injection with real processes: a worker SIGKILLs itself at each step boundary of a
 * rotation, for each provider kind; a fresh process then runs `rotateDue`. And two processes
 * rotating one secret at once.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { after, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { RotationStep } from "../store/types.js";
import type { RotationOutcome, RotationSummary } from "./rotate.js";
import { assertRotationInvariants } from "./testing/assertions.js";
import {
  newStoreHome,
  openStore,
  type StoreHome,
  seedSecret,
  upstreamFor,
} from "./testing/fixture.js";
import type { WorkerJob } from "./testing/rotation-worker.js";

const WORKER = fileURLToPath(
  new URL(`./testing/rotation-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface WorkerRun {
  reply: Promise<unknown>;
  exit: Promise<NodeJS.Signals | number | null>;
}

function runWorker(home: StoreHome, job: Omit<WorkerJob, "home" | "keyHex" | "dir">): WorkerRun {
  const child = spawn(process.execPath, [...process.execArgv, WORKER], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const exit = new Promise<NodeJS.Signals | number | null>((resolve) => {
    child.on("exit", (code, signal) => resolve(signal ?? code));
  });
  const reply = new Promise<unknown>((resolve, reject) => {
    child.once("message", resolve);
    exit.then((how) => reject(new Error(`worker exited (${String(how)}) without replying`)));
  });
  reply.catch(() => {}); // a killed worker never replies; callers that expect that use `exit`
  const full: WorkerJob = {
    ...job,
    home: home.home,
    keyHex: home.master.toString("hex"),
    dir: home.dir,
  };
  child.send(full);
  return { reply, exit };
}

/** Runs `work` over `items`, `width` at a time (the machine has two cores). */
async function inBatches<T>(items: T[], width: number, work: (item: T) => Promise<void>) {
  for (let i = 0; i < items.length; i += width) {
    await Promise.all(items.slice(i, i + width).map(work));
  }
}

const KINDS = ["api", "mint", "refresh"] as const;
const BOUNDARIES: RotationStep[] = ["create", "set", "test", "finish", "revoke-previous", "done"];
const noGrace = { rotation: { ttlSeconds: 90 * 86400, graceSeconds: 0 } };

describe("rotation under SIGKILL", () => {
  it("killed at every step boundary, for every provider kind, a fresh rotateDue finishes cleanly", async () => {
    const home = await newStoreHome();
    dirs.push(home.dir);
    const cases = KINDS.flatMap((kind) =>
      BOUNDARIES.map((boundary) => ({ kind, boundary, name: `${kind}/${boundary}` })),
    );
    const setup = await openStore(home.home, home.master);
    const firstValues = new Map<string, string>();
    for (const c of cases) {
      firstValues.set(c.name, (await seedSecret(setup, home.dir, c.name, c.kind, noGrace)).value);
    }
    await setup.close();

    // One process per boundary, rotating one secret of each kind, killed once all three
    // records have reached the boundary.
    await inBatches(BOUNDARIES, 2, async (boundary) => {
      const run = runWorker(home, {
        owner: `killed-at-${boundary}`,
        // Short, so the fresh process can take over the dead worker's locks at once.
        lockTtlSeconds: 0.2,
        secrets: KINDS.map((kind) => `${kind}/${boundary}`),
        killAt: boundary,
      });
      assert.equal(await run.exit, "SIGKILL", `the worker was killed at ${boundary}`);
    });

    const store = await openStore(home.home, home.master);
    for (const c of cases) {
      const rotation = await store.getRotation(c.name);
      assert.equal(rotation?.step, c.boundary, `${c.name} died with its record at ${c.boundary}`);
      const record = await store.get(c.name);
      assert.equal(record?.versions.filter((v) => v.stages.includes("current")).length, 1);
      assert.equal(
        (await store.read(c.name)).value === firstValues.get(c.name),
        ["create", "set", "test", "finish"].includes(c.boundary),
        `${c.name}: the old value is current until finish is done`,
      );
    }
    await store.close();

    await sleep(250); // the dead workers' locks expire
    const rerun = runWorker(home, { owner: "fresh-process", lockTtlSeconds: 300 });
    const summary = (await rerun.reply) as RotationSummary;
    assert.equal(await rerun.exit, 0);
    assert.equal(
      summary.ok,
      true,
      JSON.stringify(summary.items.filter((i) => i.outcome?.status === "failed")),
    );
    assert.deepEqual(summary.counts, {
      rotated: 12, // create, set, test and finish, for three kinds: resumed
      resumed: 12,
      revoked: 15, // those twelve, plus the three killed before revoking
      dueManual: 0,
      failed: 0,
      locked: 0,
      notDue: 6, // killed at revoke-previous (revoked, then nothing due) and at done
    });

    const after = await openStore(home.home, home.master);
    for (const c of cases) {
      const upstream = upstreamFor(home.dir, c.name);
      await assertRotationInvariants(after, upstream, c.name);
      assert.equal(
        upstream.calls().filter((call) => call.op === "rotate").length,
        1,
        `${c.name}: exactly one new key was made upstream`,
      );
      assert.equal(upstream.stateOf(firstValues.get(c.name) as string), "revoked");
      assert.equal((await after.getRotation(c.name))?.step, "done");
      const record = await after.get(c.name);
      assert.deepEqual(
        record?.versions.map((v) => [v.version, v.stages]),
        [
          [1, ["previous"]],
          [2, ["current"]],
        ],
      );
    }
    await after.close();
  });

  it("two processes rotating one secret at once: exactly one proceeds, the other reports locked", async () => {
    const home = await newStoreHome();
    dirs.push(home.dir);
    const setup = await openStore(home.home, home.master);
    await seedSecret(setup, home.dir, "race/key", "api", noGrace);
    await setup.close();

    const reachedFile = join(home.dir, "reached");
    const releaseFile = join(home.dir, "release");
    // Whoever wins the lock parks at `test` until released, so the loser's attempt is certain
    // to meet a held lock, however the two are scheduled.
    const runs = ["a", "b"].map((id) =>
      runWorker(home, {
        owner: `racer-${id}`,
        lockTtlSeconds: 60,
        secrets: ["race/key"],
        holdAt: { step: "test", reachedFile, releaseFile },
      }),
    );
    const first = (await Promise.race(runs.map((r) => r.reply))) as RotationOutcome[];
    assert.deepEqual(first, [{ status: "locked", secret: "race/key" }]);
    while (!existsSync(reachedFile)) await sleep(10);
    writeFileSync(releaseFile, "");
    const outcomes = (await Promise.all(runs.map((r) => r.reply))) as RotationOutcome[][];
    assert.deepEqual(
      outcomes
        .flat()
        .map((o) => o.status)
        .sort(),
      ["locked", "rotated"],
    );

    const store = await openStore(home.home, home.master);
    const upstream = upstreamFor(home.dir, "race/key");
    assert.equal(upstream.calls().filter((c) => c.op === "rotate").length, 1);
    await assertRotationInvariants(store, upstream, "race/key");
    await store.close();
  });
});
