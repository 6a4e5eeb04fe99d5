/**
 * A child process for ../crash.test.ts: opens the store, runs one rotation job and replies over
 * IPC (the master key arrives over IPC too, never in argv). With `killAt` it SIGKILLs itself
 * once every secret's rotation record has reached that step (the rotations run side by side and
 * wait for each other there, so one process covers one boundary for several secrets); with
 * `holdAt` it waits there until a file appears, so a second process can try the same secret
 * meanwhile.
 */
import { existsSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import type { RotationStep } from "../../store/types.js";
import { type RotateDueDeps, rotateDue, rotateSecret } from "../rotate.js";
import { fakeMethodFor, openStore, testContext } from "./fixture.js";

export interface WorkerJob {
  home: string;
  keyHex: string;
  /** Where the fake upstream files live. */
  dir: string;
  owner: string;
  lockTtlSeconds: number;
  /** Rotate these secrets side by side, or run rotateDue when absent. */
  secrets?: string[];
  killAt?: RotationStep;
  holdAt?: { step: RotationStep; reachedFile: string; releaseFile: string };
}

const job = await new Promise<WorkerJob>((resolve) => process.once("message", resolve));
const store = await openStore(job.home, Buffer.from(job.keyHex, "hex"));
const now = () => new Date();
const atKillStep = new Set<string>();
const deps: RotateDueDeps = {
  store,
  ctx: testContext(now),
  now,
  owner: job.owner,
  lockTtlSeconds: job.lockTtlSeconds,
  methodFor: fakeMethodFor(store, job.dir),
  async onStep(step, record) {
    if (step === job.killAt) {
      atKillStep.add(record.secret);
      while (atKillStep.size < (job.secrets?.length ?? 1)) await sleep(5);
      process.kill(process.pid, "SIGKILL");
    }
    if (step === job.holdAt?.step) {
      writeFileSync(job.holdAt.reachedFile, "");
      while (!existsSync(job.holdAt.releaseFile)) await sleep(10);
    }
  },
};

let reply: unknown;
if (job.secrets === undefined) reply = await rotateDue(deps);
else {
  reply = await Promise.all(
    job.secrets.map(async (name) => {
      const record = await store.get(name);
      if (record === undefined) throw new Error(`no secret ${name}`);
      return rotateSecret({ ...deps, ...deps.methodFor(record) }, name);
    }),
  );
}
await store.close();
process.send?.(reply, () => process.disconnect());
