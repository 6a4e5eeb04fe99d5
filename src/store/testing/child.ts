/**
 * A child process running one of the store test workers (store-worker.ts, aws-worker.ts), spoken
 * to over IPC: commands never travel in argv, so test keys stay out of `ps`. Each command gets
 * one reply carrying the same id.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export class ChildWorker<Command extends object, Reply extends { id: number }> {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  readonly exited: Promise<NodeJS.Signals | number | null>;

  constructor(script: URL, env: NodeJS.ProcessEnv = process.env) {
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
