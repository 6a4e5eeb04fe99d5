/**
 * Test support, loaded with `node --import` before a keyward process: the machine looks idle with
 * four cores, so an audit of 400 files or more starts worker threads whatever the real load, and
 * every worker's script is written to stderr as `worker <url>`.
 */
import { syncBuiltinESMExports } from "node:module";
import os from "node:os";
import workerThreads, { type WorkerOptions } from "node:worker_threads";

const { Worker } = workerThreads;
// No CPU times: the audit cannot tell the cores are busy, so it counts them idle.
Object.assign(os, { availableParallelism: () => 4, cpus: () => [] });
Object.assign(workerThreads, {
  Worker: class extends Worker {
    constructor(script: string | URL, options?: WorkerOptions) {
      process.stderr.write(`worker ${String(script)}\n`);
      super(script, options);
    }
  },
});
// ES modules that import these by name see the replacements from here on.
syncBuiltinESMExports();
