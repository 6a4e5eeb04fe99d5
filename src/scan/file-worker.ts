/**
 * A worker thread of the audit's file pass (workers.ts): the registry's analyzers for the root,
 * then the pass: batches of files claimed one at a time from the counter every thread shares,
 * outcomes out.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FilePass } from "./file-pass.js";
import { analyzersFor } from "./registry.js";
import { claimBatch, type WorkerJob, type WorkerPass, type WorkerResult } from "./workers.js";

const job = workerData as WorkerJob;
const pass = new FilePass(job.root, analyzersFor(job.root), job.maxFileBytes);
const port = parentPort;

// Batches are claimed from the counter this pass shares with every thread, until none are left.
port?.on("message", async (work: WorkerPass) => {
  const claimed = new Int32Array(work.claimed);
  for (
    let batch = claimBatch(work, claimed);
    batch !== undefined;
    batch = claimBatch(work, claimed)
  ) {
    const result: WorkerResult = { outcomes: [] };
    for (const [index, path] of batch) result.outcomes.push([index, await pass.scan(path)]);
    port.postMessage(result);
  }
});
