/**
 * The file pass across threads: reading, decoding and the per-file analyzers are most of an
 * audit's time and each file's outcome depends on that file alone, so files are taken in small
 * batches by whichever thread is free — worker threads, and the audit's own thread when it has no
 * other work (the tree pass). Each thread claims the next batch from a counter they share
 * (Atomics): a worker never waits for this thread to hand it work, which it did for about a
 * third of its time while this thread was busy with its own files or the tree pass. Outcomes come
 * back by walk index, and the audit puts them together in walk order, so the report is the one a
 * single thread makes.
 *
 * Memory stays bounded: a thread holds one file's text at a time; what comes back is findings,
 * skips and small summaries.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileOutcome, FilePass } from "./file-pass.js";

/** Files per claim: enough that messaging costs little, few enough that threads end together. */
const BATCH_FILES = 16;

export interface WorkerJob {
  root: string;
  maxFileBytes: number;
}

/** The pass a worker joins: every path, and the counter of batches claimed so far. */
export interface WorkerPass {
  paths: ReadonlyArray<[index: number, path: string]>;
  /** one Int32: the next batch to claim (batch b is paths[b * BATCH_FILES, (b + 1) * BATCH_FILES)) */
  claimed: SharedArrayBuffer;
}

export interface WorkerResult {
  outcomes: Array<[index: number, outcome: FileOutcome]>;
}

/** The worker script sits beside this file (.js when compiled, .ts under tsx). */
function workerUrl(): URL {
  return new URL(`./file-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
}

/**
 * Worker threads started ahead of the file pass: each loads its modules and analyzers (most of
 * its start-up) while the audit's own thread is still listing the tree. A worker that fails
 * before the pass starts fails the pass.
 */
export class WorkerPool {
  readonly workers: Worker[];
  private failure: Error | undefined;

  constructor(job: WorkerJob, count: number) {
    this.workers = Array.from({ length: count }, () => {
      const worker = new Worker(workerUrl(), { workerData: job satisfies WorkerJob });
      worker.on("error", (error) => {
        this.failure ??= error;
      });
      worker.on("exit", (code) => {
        this.failure ??= new Error(`an audit worker exited early (code ${code})`);
      });
      return worker;
    });
  }

  /** The first error a worker raised, if any. */
  get error(): Error | undefined {
    return this.failure;
  }

  async terminate(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

/** Claims the next batch of `pass`: its files, or undefined when every batch is claimed. */
export function claimBatch(
  pass: WorkerPass,
  claimed: Int32Array,
): ReadonlyArray<[index: number, path: string]> | undefined {
  const from = Atomics.add(claimed, 0, 1) * BATCH_FILES;
  return from < pass.paths.length ? pass.paths.slice(from, from + BATCH_FILES) : undefined;
}

/**
 * Runs the file pass over `paths` (walk index → root-relative path) in the pool's workers and in
 * this thread through `local`, calling `onOutcome` for each file as its outcome arrives (in no
 * particular order). Before each batch this thread asks `local.paused()`: while that gives a
 * promise (other work of this thread), it claims nothing and the workers go on. The caller
 * terminates the pool.
 */
export async function filePassInThreads(
  pool: WorkerPool,
  paths: ReadonlyArray<[index: number, path: string]>,
  local: { pass: FilePass; paused(): Promise<unknown> | undefined },
  onOutcome: (index: number, outcome: FileOutcome) => void,
): Promise<void> {
  if (paths.length === 0) return;
  if (pool.error !== undefined) throw pool.error;
  const pass: WorkerPass = { paths, claimed: new SharedArrayBuffer(4) };
  const claimed = new Int32Array(pass.claimed);
  let left = paths.length;
  await new Promise<void>((resolve, reject) => {
    const arrived = (count: number): void => {
      left -= count;
      if (left === 0) resolve();
    };
    for (const worker of pool.workers) {
      worker.on("message", (result: WorkerResult) => {
        for (const [index, outcome] of result.outcomes) onOutcome(index, outcome);
        arrived(result.outcomes.length);
      });
      worker.on("error", reject);
      worker.on("exit", (code) => {
        if (left > 0) reject(new Error(`an audit worker exited early (code ${code})`));
      });
      worker.postMessage(pass);
    }
    // This thread claims batches too, letting worker messages (outcomes) in between.
    void (async () => {
      for (;;) {
        const paused = local.paused();
        if (paused !== undefined) {
          await paused;
          continue;
        }
        const batch = claimBatch(pass, claimed);
        if (batch === undefined) return;
        for (const [index, path] of batch) onOutcome(index, await local.pass.scan(path));
        arrived(batch.length);
        await new Promise((done) => setImmediate(done));
      }
    })().catch(reject);
  });
}
