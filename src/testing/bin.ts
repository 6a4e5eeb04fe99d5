import { spawn } from "node:child_process";
import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import type { TestHome } from "./cli.js";

/**
 * The keyward CLI as tests and benchmarks spawn it. Compiled (tests run from dist/), it is the
 * bundle `npm run build` makes, dist/bundle/bin.js, which package.json's bin runs: the tests run
 * what users run. Under tsx, the source.
 */
export const KEYWARD_BIN = fileURLToPath(
  extname(fileURLToPath(import.meta.url)) === ".ts"
    ? new URL("../cli/bin.ts", import.meta.url)
    : new URL("../../bundle/bin.js", import.meta.url),
);

/**
 * The real CLI in a child process: the AWS SDK reads its credential chain from process.env, so
 * each run gets exactly the environment the test gives it.
 */
export function runBin(
  t: TestHome,
  argv: string[],
  env: NodeJS.ProcessEnv,
  stdin = "",
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [...process.execArgv, KEYWARD_BIN, ...argv], {
    cwd: t.home,
    env: { ...t.env, ...env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  child.stdin.end(stdin);
  return new Promise((resolve) => {
    child.on("close", (code) =>
      resolve({
        code: code ?? -1,
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      }),
    );
  });
}
