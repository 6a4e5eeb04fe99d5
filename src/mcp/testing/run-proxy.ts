// Runs McpProxy over this process's stdio, the way `keyward run` will, for tests that drive it
// with a real MCP client. Configuration comes in the KEYWARD_TEST_PROXY environment variable
// (never argv): { command, args, env, secrets: [{name, value}], policy, graceMs?, maxLineBytes?,
// rotate?: { env, secrets } }. SIGUSR1 restarts the server with `rotate` (and learns its
// secrets), SIGUSR2 stops it for revocation.
import type { ArgumentPolicy } from "../proxy.js";
import { forwardSignals, McpProxy } from "../proxy.js";
import { TestScrubber } from "./scrubber.js";

interface Config {
  command: string;
  args: string[];
  env: Record<string, string>;
  secrets: Array<{ name: string; value: string }>;
  policy: ArgumentPolicy;
  graceMs?: number;
  maxLineBytes?: number;
  rotate?: { env: Record<string, string>; secrets: Array<{ name: string; value: string }> };
}

const config = JSON.parse(process.env.KEYWARD_TEST_PROXY ?? "null") as Config | null;
if (config === null) throw new Error("KEYWARD_TEST_PROXY is not set");

const scrubber = new TestScrubber(config.secrets);
const proxy = new McpProxy({
  command: config.command,
  args: config.args,
  env: config.env,
  scrubber,
  argumentPolicy: config.policy,
  graceMs: config.graceMs,
  maxLineBytes: config.maxLineBytes,
  clientIn: process.stdin,
  clientOut: process.stdout,
  errOut: process.stderr,
});
forwardSignals(proxy);
process.on("SIGUSR1", () => {
  const rotate = config.rotate;
  if (rotate === undefined) return;
  for (const secret of rotate.secrets) scrubber.add(secret);
  proxy.restart(rotate.env).then(
    () => process.stderr.write(`run-proxy: restarted, server pid=${proxy.serverPid}\n`),
    (error: Error) => process.stderr.write(`run-proxy: restart failed: ${error.message}\n`),
  );
});
process.on("SIGUSR2", () => {
  void proxy.stopForRevocation("the test revoked the credential");
});
proxy.start();
process.stderr.write(`run-proxy: server pid=${proxy.serverPid}\n`);
const result = await proxy.wait();
process.exit(result.exitCode);
