import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { runCli } from "../cli/main.js";
import { memoryWritable } from "../cli/output.js";

/** Test support: runs the CLI in this process with captured streams and a private home. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface TestHome {
  home: string;
  env: NodeJS.ProcessEnv;
  run(
    argv: string[],
    opts?: {
      stdin?: string;
      stdoutTTY?: boolean;
      stdinTTY?: boolean;
      env?: NodeJS.ProcessEnv;
      /** The commands registered (runCli's default: the one argv runs). */
      commands?: readonly string[];
    },
  ): Promise<CliRun>;
  cleanup(): void;
}

export function testHome(extraEnv: NodeJS.ProcessEnv = {}): TestHome {
  const home = mkdtempSync(join(tmpdir(), "keyward-test-"));
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: home,
    KEYWARD_HOME: join(home, "kw"),
    KEYWARD_MASTER_KEY: randomBytes(32).toString("hex"),
    NO_COLOR: "1",
    ...extraEnv,
  };
  return {
    home,
    env,
    async run(argv, opts = {}) {
      const out = memoryWritable(Boolean(opts.stdoutTTY));
      const err = memoryWritable(false);
      const stdin = Readable.from(opts.stdin === undefined ? [] : [Buffer.from(opts.stdin)]);
      Object.assign(stdin, { isTTY: Boolean(opts.stdinTTY) });
      const code = await runCli(
        argv,
        {
          stdin: stdin as unknown as NodeJS.ReadStream,
          stdout: out.stream,
          stderr: err.stream,
          env: { ...env, ...(opts.env ?? {}) },
          cwd: home,
        },
        ...(opts.commands ? [opts.commands] : []),
      );
      return { code, stdout: out.text(), stderr: err.text() };
    },
    cleanup() {
      rmSync(home, { recursive: true, force: true });
    },
  };
}

/** The forms a leaked value takes in text: raw, base64 (std, url, unpadded), hex, URL-encoded. */
export function encodedForms(value: string): string[] {
  const b = Buffer.from(value, "utf8");
  return [
    value,
    b.toString("base64"),
    b.toString("base64").replace(/=+$/, ""),
    b.toString("base64url"),
    b.toString("hex"),
    b.toString("hex").toUpperCase(),
    encodeURIComponent(value),
  ];
}
