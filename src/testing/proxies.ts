import { extname } from "node:path";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { listProxySockets } from "../control/paths.js";
import { KEYWARD_BIN } from "./bin.js";

/**
 * Test support: real `keyward run` processes wrapping src/revocation/testing/digest-server (an
 * SDK McpServer whose one tool answers the SHA-256 of the key it was given), driven by the SDK's
 * Client, so a test can tell which value a running server holds without the value crossing.
 */
const ext = extname(fileURLToPath(import.meta.url));
export const DIGEST_SERVER = fileURLToPath(
  new URL(`../revocation/testing/digest-server${ext}`, import.meta.url),
);

export interface RunningProxy {
  profile: string;
  client: Client;
  transport: StdioClientTransport;
  pid: number;
  stderr: string[];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The profile lines for a digest-server profile that gets `secret` as SERVICE_KEY. */
export function digestProfile(profile: string, secret: string): string[] {
  return [
    `  ${profile}:`,
    `    command: ${JSON.stringify(process.execPath)}`,
    `    args: [${JSON.stringify(DIGEST_SERVER)}]`,
    `    env: { SERVICE_KEY: ${secret} }`,
  ];
}

/** Starts `keyward run <profile>` and waits until its control socket is registered. */
export async function startProxy(
  env: NodeJS.ProcessEnv,
  config: string,
  profile: string,
  pollMs = 60_000,
): Promise<RunningProxy> {
  const stderr: string[] = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [
      ...process.execArgv,
      KEYWARD_BIN,
      "--config",
      config,
      "run",
      profile,
      "--poll",
      String(pollMs),
    ],
    env: env as Record<string, string>,
    stderr: "pipe",
  });
  transport.stderr?.on("data", (c: Buffer) => stderr.push(c.toString()));
  const client = new Client({ name: "keyward-test", version: "1.0.0" });
  await client.connect(transport);
  const proxy = { profile, client, transport, pid: transport.pid as number, stderr };
  for (let i = 0; i < 200; i++) {
    if (listProxySockets(env.KEYWARD_HOME as string).some((s) => s.pid === proxy.pid)) break;
    await sleep(25);
  }
  return proxy;
}

/** The digest of the key the proxy's server holds now; throws the tool's error text. */
export async function keyDigest(p: RunningProxy): Promise<{ sha256: string; pid: number }> {
  const result = (await p.client.callTool({ name: "key-digest", arguments: {} })) as {
    content: Array<{ text?: string }>;
    isError?: boolean;
  };
  if (result.isError) throw new Error(result.content.map((c) => c.text).join(""));
  return JSON.parse(result.content[0]?.text ?? "{}");
}
