/**
 * Both ends of the multi-process store tests. The parent drives a child process running one of
 * the store test workers (store-worker.ts, aws-worker.ts, vault-worker.ts, gcp-store-worker.ts)
 * through a ChildWorker; the worker answers with serveCommands. Commands travel over IPC, never
 * in argv, so test keys stay out of `ps`; each command gets one reply carrying the same id.
 * The scenarios every backend runs this way (a compare-and-set race, a writer killed mid-loop)
 * are here too, so each backend's test only adds what is particular to it.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { randomInt } from "node:crypto";
import { extname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { isKeywardError } from "../../core/errors.js";
import type { SecretStore } from "../types.js";
import { pairLoop, writeLoop } from "./loop-value.js";

/** A worker's answer: what it did, or the error code (and message) of what failed. */
export type WorkerOutcome =
  | { ok: true; revision?: number; version?: number }
  | { ok: false; code: string; message: string };

/** A worker request without its id: what the parent sends. */
export type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** The commands every store worker runs the same way on the store it opened. */
export type StoreCommand =
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  /** writeLoop of `bytes`-long values until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number; bytes: number }
  /** pairLoop: one putVersions to every name each round, until killed. */
  | { id: number; op: "pair-loop"; names: string[]; firstIndex: number; bytes: number };

export class ChildWorker<Command extends object, Reply extends { id: number }> {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  readonly exited: Promise<NodeJS.Signals | number | null>;

  /** `worker` names a script beside this file: "store-worker", "aws-worker", … */
  constructor(worker: string, env: NodeJS.ProcessEnv = process.env) {
    // The script as this file was loaded: compiled .js from dist/, or .ts under a TS loader.
    const script = new URL(
      `./${worker}${extname(fileURLToPath(import.meta.url))}`,
      import.meta.url,
    );
    this.child = spawn(process.execPath, [...process.execArgv, fileURLToPath(script)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
      env,
    });
    this.child.on("message", (reply: Reply) => {
      this.waiting.get(reply.id)?.(reply);
      this.waiting.delete(reply.id);
    });
    this.exited = new Promise((resolve) => {
      this.child.on("exit", (code, signal) => resolve(signal ?? code));
    });
  }

  request(command: Command): Promise<Reply> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, resolve);
      this.exited.then((how) =>
        reject(new Error(`worker exited (${String(how)}) before replying`)),
      );
      this.child.send({ ...command, id });
    });
  }

  kill(): Promise<NodeJS.Signals | number | null> {
    this.child.kill("SIGKILL");
    return this.exited;
  }

  async stop(): Promise<void> {
    if (this.child.connected) this.child.disconnect();
    await this.exited;
  }
}

/**
 * The worker side: runs `handle` for each command that arrives over IPC and replies with the
 * command's id. A handler that returns undefined has replied itself through `reply` (the write
 * loops reply after their first commit and then keep writing until killed). A failure replies
 * `ok: false` with the KeywardError's code, or "crash". When the parent disconnects, `close`
 * runs (so a store can checkpoint) and the process leaves.
 */
export function serveCommands<Request extends { id: number }>(
  handle: (req: Request, reply: (outcome: WorkerOutcome) => void) => Promise<object | undefined>,
  close: () => unknown = () => undefined,
): void {
  process.on("message", (req: Request) => {
    const reply = (outcome: object) => process.send?.({ ...outcome, id: req.id });
    handle(req, reply).then(
      (outcome) => {
        if (outcome !== undefined) reply(outcome);
      },
      (e: unknown) =>
        reply({
          ok: false,
          code: isKeywardError(e) ? e.code : "crash",
          message: e instanceof Error ? e.message : String(e),
        }),
    );
  });
  process.on("disconnect", () => {
    void close();
    process.exit(0);
  });
}

/** Runs one of the commands every store worker shares against its opened store. */
export async function runStoreCommand(
  store: SecretStore,
  req: StoreCommand,
  reply: (outcome: WorkerOutcome) => void,
): Promise<WorkerOutcome> {
  switch (req.op) {
    case "revision":
      return { ok: true, revision: (await store.get(req.name))?.revision ?? 0 };
    case "put": {
      const put = await store.putVersion(req.name, req.value, {
        expectedRevision: req.expectedRevision,
      });
      return { ok: true, revision: put.record.revision, version: put.version.version };
    }
    case "write-loop":
      return writeLoop(store, req.name, req.firstIndex, req.bytes, (revision) =>
        reply({ ok: true, revision }),
      );
    case "pair-loop":
      return pairLoop(store, req.names, req.firstIndex, req.bytes, () => reply({ ok: true }));
  }
}

export function expectOk<R extends WorkerOutcome>(reply: R): Extract<R, { ok: true }> {
  assert.ok(reply.ok, `worker failed: ${reply.ok ? "" : `${reply.code}: ${reply.message}`}`);
  return reply as Extract<R, { ok: true }>;
}

// ---- the scenarios ----------------------------------------------------------------------------

/** What the scenarios ask of a worker: the commands every store worker understands. */
interface ScenarioWorker {
  request(
    command:
      | { op: "revision"; name: string }
      | { op: "put"; name: string; value: string; expectedRevision: number },
  ): Promise<WorkerOutcome>;
}

/**
 * Every worker puts its own value on the same revision of `name`, `rounds` times: exactly one
 * wins each round and the others get `conflict`. Each round's revision is the one every worker
 * reads (they must agree). Returns the winning values in order, with the version each winner
 * was told it wrote.
 */
export async function raceRounds(
  workers: ScenarioWorker[],
  name: string,
  rounds: number,
): Promise<Array<{ value: string; version: number }>> {
  const winners: Array<{ value: string; version: number }> = [];
  for (let round = 0; round < rounds; round++) {
    const seen = await Promise.all(workers.map((w) => w.request({ op: "revision", name })));
    const revisions = seen.map((r) => expectOk(r).revision ?? 0);
    assert.equal(new Set(revisions).size, 1, `round ${round}: workers disagree: ${revisions}`);
    const replies = await Promise.all(
      workers.map((w, i) =>
        w.request({
          op: "put",
          name,
          value: `round-${round}-worker-${i}`,
          expectedRevision: revisions[0] ?? 0,
        }),
      ),
    );
    const won = replies.flatMap((r, i) => (r.ok ? [i] : []));
    assert.equal(won.length, 1, `round ${round}: ${JSON.stringify(replies)}`);
    for (const r of replies) if (!r.ok) assert.equal(r.code, "conflict");
    const winner = expectOk(replies[won[0] as number] as WorkerOutcome);
    assert.ok(winner.version !== undefined, "a put replies with the version it wrote");
    winners.push({ value: `round-${round}-worker-${won[0]}`, version: winner.version });
  }
  return winners;
}

/**
 * After raceRounds on a secret created without a value: no update was lost. Every winner's
 * value is there under the version it was told, in order, each round bumped the revision once,
 * and the last winner is current.
 */
export async function assertRaceKept(
  store: SecretStore,
  name: string,
  winners: Array<{ value: string; version: number }>,
): Promise<void> {
  const record = await store.get(name);
  assert.equal(record?.revision, winners.length + 1);
  assert.deepEqual(
    record?.versions.map((v) => v.version),
    winners.map((w) => w.version),
  );
  for (const w of winners) {
    assert.equal((await store.read(name, { version: w.version })).value, w.value);
  }
  assert.equal((await store.read(name)).value, winners.at(-1)?.value);
}

/**
 * Kills a looping writer at a random moment, `rounds` times. Each round a new worker (`spawn`)
 * is opened with `open`, started on `loop(firstIndex)` (which replies after its first commit)
 * and SIGKILLed at most `maxPauseMs` later; `survivor(firstIndex)` then checks what it left and
 * returns the loop index now stored, which must be at least `firstIndex` and newer than the
 * last round's. The next round's loop starts after it.
 */
export async function killLoopingWriters<
  // const: keeps the literal `op` of the commands written inline by the caller.
  const Command extends object,
  Reply extends WorkerOutcome & { id: number },
>(scenario: {
  rounds: number;
  maxPauseMs: number;
  spawn: () => ChildWorker<Command, Reply>;
  open: NoInfer<Command>;
  loop: (firstIndex: number) => NoInfer<Command>;
  survivor: (firstIndex: number) => Promise<number>;
}): Promise<void> {
  let firstIndex = 1;
  let lastSurvivor = 0;
  for (let round = 0; round < scenario.rounds; round++) {
    const worker = scenario.spawn();
    try {
      expectOk(await worker.request(scenario.open));
      expectOk(await worker.request(scenario.loop(firstIndex)));
      await sleep(randomInt(0, scenario.maxPauseMs));
    } finally {
      assert.equal(await worker.kill(), "SIGKILL");
    }
    const index = await scenario.survivor(firstIndex);
    assert.ok(
      index >= firstIndex && index > lastSurvivor,
      `round ${round}: loop index ${index} is not one this round's writer wrote`,
    );
    lastSurvivor = index;
    firstIndex = index + 1;
  }
}
