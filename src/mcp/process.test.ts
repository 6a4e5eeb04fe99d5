// The proxy as its own process (testing/run-proxy.ts, what `keyward run` will do), driven by a
// real MCP client from @modelcontextprotocol/sdk and by raw pipes.
import assert from "node:assert/strict";
import { type ChildProcessByStdio, spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { LineSplitter } from "./framing.js";
import { becomesGone, TextPeer } from "./testing/peers.js";

const EXT = extname(fileURLToPath(import.meta.url));
const RUN_PROXY = fileURLToPath(new URL(`./testing/run-proxy${EXT}`, import.meta.url));
const FAKE_SERVER = fileURLToPath(new URL(`./testing/fake-server${EXT}`, import.meta.url));
const EVERYTHING = join(
  dirname(
    createRequire(import.meta.url).resolve("@modelcontextprotocol/server-everything/package.json"),
  ),
  "dist/index.js",
);
const CANARY = { name: "CANARY_TOKEN", value: "kw_canary_7f3a9c1e5b2d4f60" };
const ROTATED = { name: "CANARY_TOKEN", value: "kw_rotated_0a1b2c3d4e5f6789" };
const PATH = process.env.PATH ?? "";
const HANG_GUARD = { timeout: 60_000 };

interface ProxyConfig {
  command: string;
  args: string[];
  env: Record<string, string>;
  secrets: Array<{ name: string; value: string }>;
  policy: "redact" | "block" | "allow";
  graceMs?: number;
  rotate?: { env: Record<string, string>; secrets: Array<{ name: string; value: string }> };
}

const fakeServerConfig = (flags: string[] = []): ProxyConfig => ({
  command: process.execPath,
  args: [...process.execArgv, FAKE_SERVER, ...flags],
  env: { PATH, CANARY_TOKEN: CANARY.value },
  secrets: [CANARY],
  policy: "redact",
  graceMs: 1000,
});

const children: ChildProcessByStdio<Writable, Readable, Readable>[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
});

function spawnProxy(config: ProxyConfig) {
  const child = spawn(process.execPath, [...process.execArgv, RUN_PROXY], {
    env: { PATH, KEYWARD_TEST_PROXY: JSON.stringify(config) },
    stdio: ["pipe", "pipe", "pipe"],
  });
  children.push(child);
  const stderr = new TextPeer(child.stderr as never);
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return { child, stderr, exited };
}

function status(pid: number, field: "VmRSS" | "VmHWM"): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(
    new RegExp(`${field}:\\s+(\\d+) kB`),
  );
  assert.ok(match, `no ${field} in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

describe("keyward run proxy with a real MCP client and server", () => {
  it(
    "scrubs get-env, survives a restart and answers errors after revocation",
    HANG_GUARD,
    async () => {
      const config: ProxyConfig = {
        command: process.execPath,
        args: [EVERYTHING, "stdio"],
        env: { PATH, CANARY_TOKEN: CANARY.value },
        secrets: [CANARY],
        policy: "redact",
        graceMs: 1000,
        rotate: { env: { PATH, CANARY_TOKEN: ROTATED.value }, secrets: [ROTATED] },
      };
      const transport = new StdioClientTransport({
        command: process.execPath,
        args: [...process.execArgv, RUN_PROXY],
        env: { PATH, KEYWARD_TEST_PROXY: JSON.stringify(config) },
        stderr: "pipe",
      });
      const stderr = new TextPeer(transport.stderr as never);
      const client = new Client({ name: "keyward-test", version: "1.0.0" });
      await client.connect(transport);
      const proxyPid = transport.pid!;

      const getEnv = async (): Promise<string> => {
        const result = await client.callTool({ name: "get-env", arguments: {} });
        return (result.content as Array<{ text: string }>)[0]!.text;
      };
      const env = await getEnv();
      assert.ok(!env.includes(CANARY.value));
      assert.equal(JSON.parse(env).CANARY_TOKEN, "[REDACTED:CANARY_TOKEN]");

      const echo = await client.callTool({ name: "echo", arguments: { message: CANARY.value } });
      assert.deepEqual(echo.content, [{ type: "text", text: "Echo: [REDACTED:CANARY_TOKEN]" }]);

      const firstPid = Number((await stderr.waitFor(/server pid=(\d+)/))[1]);
      process.kill(proxyPid, "SIGUSR1");
      const secondPid = Number((await stderr.waitFor(/restarted, server pid=(\d+)/))[1]);
      assert.notEqual(secondPid, firstPid);
      assert.ok(await becomesGone(firstPid));
      // Same client, same session, new server: it was initialized by the replay.
      const rotatedEnv = await getEnv();
      assert.ok(!rotatedEnv.includes(ROTATED.value));
      assert.equal(JSON.parse(rotatedEnv).CANARY_TOKEN, "[REDACTED:CANARY_TOKEN]");
      assert.ok((await client.listTools()).tools.some((tool) => tool.name === "echo"));

      process.kill(proxyPid, "SIGUSR2");
      await stderr.waitFor(/stopped the MCP server/);
      await assert.rejects(getEnv(), /keyward stopped this MCP server: the test revoked/);
      assert.ok(await becomesGone(secondPid));

      await client.close();
      assert.ok(await becomesGone(proxyPid));
      assert.ok(!stderr.text.includes(CANARY.value) && !stderr.text.includes(ROTATED.value));
    },
  );
});

describe("keyward run proxy as a process", () => {
  it("passes a 64 MiB line with peak memory within 3x the line size", {
    ...HANG_GUARD,
    skip: !existsSync("/proc/self/status") && "needs /proc",
  }, async () => {
    const size = 64 * 1024 * 1024;
    const { child, stderr, exited } = spawnProxy(fakeServerConfig());
    const lines: Buffer[] = [];
    const splitter = new LineSplitter(
      (line) => lines.push(line),
      () => {},
    );
    const lineCount = (n: number): Promise<void> =>
      new Promise((resolve) => {
        const check = (chunk?: Buffer): void => {
          if (chunk !== undefined) splitter.push(chunk);
          if (lines.length < n) return;
          child.stdout.off("data", check);
          resolve();
        };
        child.stdout.on("data", check);
        check();
      });
    child.stdin.write('{"jsonrpc":"2.0","id":0,"method":"fake/env","params":{"name":"PATH"}}\n');
    await lineCount(1);
    await stderr.waitFor(/server pid=/);
    const baseline = status(child.pid!, "VmRSS");

    child.stdin.write(
      `${JSON.stringify({ jsonrpc: "2.0", id: 1, method: "fake/big", params: { size } })}\n`,
    );
    await lineCount(2);
    const peak = status(child.pid!, "VmHWM");
    const big = lines[1]!;
    assert.equal(big.length, `{"jsonrpc":"2.0","id":1,"result":{"data":""}}`.length + size);
    assert.equal(JSON.parse(big.toString("utf8")).result.data.length, size);
    assert.ok(
      peak - baseline <= 3 * size,
      `peak ${peak} bytes over a baseline of ${baseline} bytes`,
    );
    child.stdin.end();
    assert.equal(await exited, 0);
  });

  it("forwards SIGTERM to the server and exits with its status", HANG_GUARD, async () => {
    const { child, stderr, exited } = spawnProxy(fakeServerConfig());
    const serverPid = Number((await stderr.waitFor(/fake-server pid=(\d+)/))[1]);
    child.kill("SIGTERM");
    assert.equal(await exited, 143);
    assert.ok(await becomesGone(serverPid));
  });

  it("shuts down cleanly when the client goes away (EPIPE)", HANG_GUARD, async () => {
    const { child, stderr, exited } = spawnProxy(fakeServerConfig());
    const serverPid = Number((await stderr.waitFor(/fake-server pid=(\d+)/))[1]);
    child.stdout.destroy();
    child.stdin.write('{"jsonrpc":"2.0","id":1,"method":"fake/env","params":{"name":"PATH"}}\n');
    assert.equal(await exited, 0);
    assert.match(stderr.text, /the MCP client closed its end \(EPIPE\); shutting down the server/);
    assert.ok(await becomesGone(serverPid));
  });
});
