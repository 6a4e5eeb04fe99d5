import { type ChildProcessByStdio, spawn } from "node:child_process";
import { constants } from "node:os";
import type { Readable, Writable } from "node:stream";

export interface ServerSpec {
  command: string;
  args: string[];
  /** The complete environment of the child; nothing is inherited. */
  env: Record<string, string>;
  cwd?: string;
}

export interface ServerExit {
  /** Exit status as a shell reports it: the code, or 128 + signal number. */
  exitCode: number;
  signal: NodeJS.Signals | null;
  /** Set when the command could not be started at all (the exit code is then 127). */
  spawnError?: NodeJS.ErrnoException;
}

const GROUP_KILL = process.platform !== "win32";

/**
 * One run of the MCP server child. POSIX: it leads its own process group (detached), and every
 * signal goes to the whole group, so helpers it started (npx → node, sh → server) go with it.
 */
export class ServerProcess {
  readonly child: ChildProcessByStdio<Writable, Readable, Readable>;
  /** Resolves once the child has exited and its stdout and stderr are fully read. */
  readonly exited: Promise<ServerExit>;
  private exit: ServerExit | undefined;

  constructor(spec: ServerSpec, graceMs: number) {
    this.child = spawn(spec.command, spec.args, {
      env: spec.env,
      cwd: spec.cwd,
      stdio: ["pipe", "pipe", "pipe"],
      detached: GROUP_KILL,
      windowsHide: true,
    });
    // EPIPE when the server exits or closes stdin early: the exit path reports what matters.
    this.child.stdin.on("error", () => {});
    this.exited = new Promise((resolve) => {
      let spawnError: NodeJS.ErrnoException | undefined;
      const settle = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exit !== undefined) return;
        this.exit =
          spawnError !== undefined
            ? { exitCode: 127, signal: null, spawnError }
            : { exitCode: exitCodeOf(code, signal), signal };
        resolve(this.exit);
      };
      this.child.on("error", (error: NodeJS.ErrnoException) => {
        if (this.child.pid === undefined) spawnError = error;
      });
      this.child.on("close", settle);
      this.child.on("exit", (code, signal) => {
        // Helpers left in the group could hold stdout open and keep "close" from ever firing.
        this.signal("SIGTERM");
        setTimeout(() => {
          if (this.exit !== undefined) return;
          this.signal("SIGKILL");
          this.child.stdout.destroy();
          this.child.stderr.destroy();
          settle(code, signal);
        }, graceMs).unref();
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get hasExited(): boolean {
    return this.exit !== undefined;
  }

  /** Sends a signal to the server's process group; a group that is already gone is fine. */
  signal(signal: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      if (GROUP_KILL) process.kill(-pid, signal);
      else this.child.kill(signal);
    } catch {
      // ESRCH: nothing left to signal.
    }
  }

  /**
   * The shutdown the MCP spec asks of clients: close stdin, wait, SIGTERM, wait, SIGKILL.
   * `firstSignal` skips the stdin step (the proxy itself was signalled).
   */
  async stop(graceMs: number, firstSignal?: NodeJS.Signals): Promise<ServerExit> {
    if (this.exit !== undefined) return this.exit;
    if (firstSignal === undefined) {
      this.child.stdin.end();
      if (await this.exitsWithin(graceMs)) return this.exited;
    }
    this.signal(firstSignal ?? "SIGTERM");
    if (await this.exitsWithin(graceMs)) return this.exited;
    this.signal("SIGKILL");
    return this.exited;
  }

  private exitsWithin(ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      void this.exited.then(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }
}

export function exitCodeOf(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  if (signal !== null) return 128 + (constants.signals[signal] ?? 0);
  return 1;
}
