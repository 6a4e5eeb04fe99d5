/**
 * The file pass across worker threads: reading, decoding and the per-file analyzers are most of
 * an audit's time and each file's outcome depends on that file alone, so files are handed out in
 * small batches to whichever worker is free. Outcomes come back by walk index, and the audit puts
 * them together in walk order, so the report is the one a single thread makes.
 *
 * Memory stays bounded: a worker holds one file's text at a time, and at most two batches per
 * worker are in flight; what comes back is findings, skips and small summaries.
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import type { FileOutcome } from "./file-pass.js";

/** Files per message: large enough that messaging costs little, small enough to balance the load. */
const BATCH_FILES = 16;
/** Batches queued per worker, so it never waits for the next one. */
const BATCHES_IN_FLIGHT = 2;

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
 * Runs the file pass over `paths` (walk index → root-relative path) in `count` workers, calling
 * `onOutcome` for each file as its outcome arrives (in no particular order).
 */
export async function filePassInWorkers(
  job: WorkerJob,
  paths: ReadonlyArray<[index: number, path: string]>,
  count: number,
  onOutcome: (index: number, outcome: FileOutcome) => void,
): Promise<void> {
  const batches: WorkerBatch[] = [];
  for (let at = 0; at < paths.length; at += BATCH_FILES)
    batches.push({ items: paths.slice(at, at + BATCH_FILES) });
  let next = 0;
  let pending = batches.length;
  if (pending === 0) return;
  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const feed = (worker: Worker): void => {
        const batch = batches[next];
        if (batch === undefined) return;
        next++;
        worker.postMessage(batch);
      };
      for (let i = 0; i < Math.min(count, batches.length); i++) {
        const worker = new Worker(workerUrl(), { workerData: job satisfies WorkerJob });
        workers.push(worker);
        worker.on("message", (result: WorkerResult) => {
          for (const [index, outcome] of result.outcomes) onOutcome(index, outcome);
          pending--;
          if (pending === 0) resolve();
          else feed(worker);
        });
        worker.on("error", reject);
        worker.on("exit", (code) => {
          if (pending > 0) reject(new Error(`an audit worker exited early (code ${code})`));
        });
        for (let k = 0; k < BATCHES_IN_FLIGHT; k++) feed(worker);
      }
    });
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}
