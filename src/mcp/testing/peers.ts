// Test helpers: the client side of an in-process McpProxy, as line-oriented peers.
import { readFileSync } from "node:fs";
import type { PassThrough } from "node:stream";
import { LineSplitter } from "../framing.js";

/** Collects a stream's lines and lets a test wait for one that matches. */
export class LinePeer {
  readonly lines: Buffer[] = [];
  private waiters: Array<() => void> = [];

  constructor(stream: PassThrough) {
    const splitter = new LineSplitter(
      (line) => {
        this.lines.push(line);
        for (const wake of this.waiters.splice(0)) wake();
      },
      () => {},
    );
    stream.on("data", (chunk: Buffer) => splitter.push(chunk));
  }

  /** Parsed messages (non-JSON lines are skipped). */
  messages(): Array<Record<string, unknown>> {
    const out: Array<Record<string, unknown>> = [];
    for (const line of this.lines) {
      try {
        out.push(JSON.parse(line.toString("utf8")));
      } catch {
        // not JSON
      }
    }
    return out;
  }

  async waitFor(
    match: (message: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> {
    for (;;) {
      const found = this.messages().find(match);
      if (found !== undefined) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

/** Collects text written to a stream and lets a test wait for a substring. */
export class TextPeer {
  text = "";
  private waiters: Array<() => void> = [];

  constructor(stream: PassThrough) {
    stream.on("data", (chunk: Buffer) => {
      this.text += chunk.toString("utf8");
      for (const wake of this.waiters.splice(0)) wake();
    });
  }

  async waitFor(pattern: RegExp): Promise<RegExpMatchArray> {
    for (;;) {
      const match = this.text.match(pattern);
      if (match !== null) return match;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

/** True while `pid` names a live process (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return true; // no /proc: trust kill(0)
  }
}

/**
 * Whether `pid` is gone, allowing a few seconds for a signal to be delivered and acted on
 * (a bound so that an orphan fails the test instead of hanging it).
 */
export async function becomesGone(pid: number): Promise<boolean> {
  for (let i = 0; i < 250; i++) {
    if (!isAlive(pid)) return true;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return false;
}
