/**
 * A test child process spoken to over IPC (store-worker.ts, gcp-store-worker.ts): commands go
 * over the channel (never argv, so nothing sensitive shows in `ps`), each reply carries the id of
 * its command, and the parent can SIGKILL the child at any moment.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

export class ChildWorker<Command extends object, Reply extends { id: number }> {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  readonly exited: Promise<NodeJS.Signals | number | null>;

  constructor(script: URL) {
    this.child = spawn(process.execPath, [...process.execArgv, fileURLToPath(script)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
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
