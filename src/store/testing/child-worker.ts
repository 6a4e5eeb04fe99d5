/**
 * A child process driven over IPC, for the multi-process store tests (races, SIGKILL mid-write):
 * each command gets one reply with the same id. The child script is one of ./*-worker.ts.
 */
import { type ChildProcess, spawn } from "node:child_process";

export class ChildWorker<Command extends object, Reply extends { id: number }> {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (reply: Reply) => void>();
  private nextId = 1;
  readonly exited: Promise<NodeJS.Signals | number | null>;

  constructor(script: string) {
    this.child = spawn(process.execPath, [...process.execArgv, script], {
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
