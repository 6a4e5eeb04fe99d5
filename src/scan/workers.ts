/**
 * The file pass across threads: reading, decoding and the per-file analyzers are most of an
 * audit's time and each file's outcome depends on that file alone, so files are handed out in
 * small batches to whichever thread is free — worker threads, and the audit's own thread until it
 * has other work (the tree pass). Outcomes come back by walk index, and the audit puts them
 * together in walk order, so the report is the one a single thread makes.
 *
 * Memory stays bounded: a thread holds one file's text at a time, and at most two batches per
 * worker are in flight; what comes back is findings, skips and small summaries.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileOutcome, FilePass } from "./file-pass.js";

/** Files per message: large enough that messaging costs little, small enough to balance the load. */
const BATCH_FILES = 16;
/** Batches queued per worker, so it never waits for the next one. */
const BATCHES_IN_FLIGHT = 2;
/**
 * Batches queued per worker while this thread is busy elsewhere (the tree pass): it hands out
 * batches only between two files of its own work, and one file of the tree pass (a parse and
 * the imports it follows) can outlast two batches. Not more, so that the workers' queues are
 * short when this thread comes back to take its share.
 */
const BATCHES_IN_FLIGHT_PAUSED = 6;

export interface WorkerJob {
  root: string;
  maxFileBytes: number;
}

export interface WorkerBatch {
  items: Array<[index: number, path: string]>;
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

/**
 * Runs the file pass over `paths` (walk index → root-relative path) in the pool's workers and in
 * this thread through `local`, calling `onOutcome` for each file as its outcome arrives (in no
 * particular order). Between batches this thread asks `local.paused()`: while that gives a
 * promise (other work of this thread), the workers take every batch. The caller terminates the
 * pool.
 */
export async function filePassInThreads(
  pool: WorkerPool,
  paths: ReadonlyArray<[index: number, path: string]>,
  local: { pass: FilePass; paused(): Promise<unknown> | undefined },
  onOutcome: (index: number, outcome: FileOutcome) => void,
): Promise<void> {
  const batches: WorkerBatch[] = [];
  for (let at = 0; at < paths.length; at += BATCH_FILES)
    batches.push({ items: paths.slice(at, at + BATCH_FILES) });
  let next = 0;
  let pending = batches.length;
  if (pending === 0) return;
  if (pool.error !== undefined) throw pool.error;
  await new Promise<void>((resolve, reject) => {
    const finished = (): void => {
      pending--;
      if (pending === 0) resolve();
    };
    const threads = pool.workers
      .slice(0, batches.length)
      .map((worker) => ({ worker, inFlight: 0 }));
    const feed = (thread: { worker: Worker; inFlight: number }): void => {
      const most = local.paused() === undefined ? BATCHES_IN_FLIGHT : BATCHES_IN_FLIGHT_PAUSED;
      while (thread.inFlight < most && next < batches.length) {
        thread.worker.postMessage(batches[next++]);
        thread.inFlight++;
      }
    };
    for (const thread of threads) {
      thread.worker.on("message", (result: WorkerResult) => {
        for (const [index, outcome] of result.outcomes) onOutcome(index, outcome);
        thread.inFlight--;
        feed(thread);
        finished();
      });
      thread.worker.on("error", reject);
      thread.worker.on("exit", (code) => {
        if (pending > 0) reject(new Error(`an audit worker exited early (code ${code})`));
      });
      feed(thread);
    }
    // This thread takes batches too, one at a time, letting worker messages in between.
    void (async () => {
      while (next < batches.length) {
        const paused = local.paused();
        if (paused !== undefined) {
          // The workers take what is left meanwhile, even those that found the queue empty.
          for (const thread of threads) feed(thread);
          await paused;
          continue;
        }
        const batch = batches[next++] as WorkerBatch;
        for (const [index, path] of batch.items) onOutcome(index, await local.pass.scan(path));
        finished();
        await new Promise((done) => setImmediate(done));
      }
    })().catch(reject);
  });
}
