/**
 * A worker thread of the audit's file pass (workers.ts): the registry's analyzers for the root,
 * then batches of files in, outcomes out. Batches are worked one at a time, in arrival order.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FilePass } from "./file-pass.js";
import { analyzersFor } from "./registry.js";
import type { WorkerBatch, WorkerJob, WorkerResult } from "./workers.js";

const job = workerData as WorkerJob;
const pass = new FilePass(job.root, analyzersFor(job.root), job.maxFileBytes);
const port = parentPort;
let queue = Promise.resolve();

port?.on("message", (batch: WorkerBatch) => {
  queue = queue.then(async () => {
    const result: WorkerResult = { outcomes: [] };
    for (const [index, path] of batch.items) result.outcomes.push([index, await pass.scan(path)]);
    port.postMessage(result);
  });
});
