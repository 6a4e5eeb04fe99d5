import assert from "node:assert/strict";
import { extname } from "node:path";
import { PassThrough } from "node:stream";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Scrubber } from "./framing.js";
import { type ArgumentPolicy, type Finding, McpProxy } from "./proxy.js";
import { becomesGone, LinePeer, TextPeer } from "./testing/peers.js";
import { TestScrubber } from "./testing/scrubber.js";

const FAKE_SERVER = fileURLToPath(
  new URL(`./testing/fake-server${extname(fileURLToPath(import.meta.url))}`, import.meta.url),
);
const CANARY = { name: "CANARY_TOKEN", value: "kw_canary_7f3a9c1e5b2d4f60" };
const ROTATED = { name: "CANARY_TOKEN", value: "kw_rotated_0a1b2c3d4e5f6789" };
const HANG_GUARD = { timeout: 30_000 };

// A failed assertion leaves its proxy running: stop them all so the test process can end.
const proxies: McpProxy[] = [];
after(async () => {
  await Promise.all(proxies.map((proxy) => proxy.shutdown("SIGKILL")));
});

interface Setup {
  flags?: string[];
  command?: string;
  env?: Record<string, string>;
  policy?: ArgumentPolicy;
  scrubber?: Scrubber;
  maxLineBytes?: number;
  graceMs?: number;
}

function startProxy(setup: Setup = {}) {
  const clientIn = new PassThrough();
  const clientOut = new PassThrough();
  const errOut = new PassThrough();
  const findings: Finding[] = [];
  const proxy = new McpProxy({
    command: setup.command ?? process.execPath,
    args: [...process.execArgv, FAKE_SERVER, ...(setup.flags ?? [])],
    env: { PATH: process.env.PATH ?? "", CANARY_TOKEN: CANARY.value, ...setup.env },
    scrubber: setup.scrubber ?? new TestScrubber([CANARY]),
    argumentPolicy: setup.policy ?? "redact",
    onFinding: (finding) => findings.push(finding),
    clientIn,
    clientOut,
    errOut,
    graceMs: setup.graceMs ?? 1000,
    maxLineBytes: setup.maxLineBytes,
  });
  proxies.push(proxy);
  const client = new LinePeer(clientOut);
  const stderr = new TextPeer(errOut);
  proxy.start();
  let nextId = 1;
  const send = (message: unknown): void => {
    clientIn.write(typeof message === "string" ? `${message}\n` : `${JSON.stringify(message)}\n`);
  };
  const request = (method: string, params: Record<string, unknown> = {}) => {
    const id = nextId++;
    send({ jsonrpc: "2.0", id, method, params });
    return client.waitFor((m) => m.id === id);
  };
  return { proxy, clientIn, client, stderr, findings, send, request };
}

const text = (lines: Buffer[]): string => Buffer.concat(lines).toString("utf8");

describe("McpProxy: messages", () => {
  it("forwards messages without secrets byte for byte, both ways", HANG_GUARD, async () => {
    const { send, client, request, clientIn, proxy } = startProxy();
    const odd = [
      '{ "jsonrpc" : "2.0", "id" : 7, "method" : "x/unknown", "params" : { "n" : 1.50, "s" : "\\u00e9" } }',
      '[{"jsonrpc":"2.0","id":8,"method":"a"},{"jsonrpc":"2.0","method":"notifications/b"}]',
      '{"jsonrpc":"2.0","method":"server/discover","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}\r',
    ];
    for (const line of odd) send(line);
    const received = (await request("fake/received")).result as { lines: string[] };
    // The fake server echoes lines it does not understand, so the client sees them come back.
    assert.deepEqual(received.lines.slice(0, 3), odd);
    assert.deepEqual(
      client.lines.slice(0, 3).map((line) => line.toString("utf8")),
      odd,
    );
    clientIn.end();
    await proxy.wait();
  });

  it("scrubs every secret the server sends, in any message", HANG_GUARD, async () => {
    const { request, client, findings, clientIn, proxy } = startProxy();
    const b64 = Buffer.from(CANARY.value).toString("base64");
    const lines = [
      JSON.stringify({
        jsonrpc: "2.0",
        method: "notifications/message",
        params: { data: `token ${CANARY.value}` },
      }),
      JSON.stringify({
        jsonrpc: "2.0",
        id: 99,
        result: { content: [{ type: "image", data: b64 }] },
      }),
    ];
    await request("fake/emit", { lines });
    const env = await request("fake/env", { name: "CANARY_TOKEN" });
    assert.deepEqual(env.result, { value: "[REDACTED:CANARY_TOKEN]" });
    assert.ok(!text(client.lines).includes(CANARY.value));
    assert.ok(!text(client.lines).includes(b64));
    const log = client.messages().find((m) => m.method === "notifications/message");
    assert.deepEqual(log?.params, { data: "token [REDACTED:CANARY_TOKEN]" });
    assert.deepEqual(
      findings.map((f) => [f.direction, f.secret, f.form, f.method]),
      [
        ["server->client", "CANARY_TOKEN", "raw", "notifications/message"],
        ["server->client", "CANARY_TOKEN", "base64", undefined],
        ["server->client", "CANARY_TOKEN", "raw", "fake/env"],
      ],
    );
    clientIn.end();
    await proxy.wait();
  });

  it(
    "sends non-JSON server output to stderr, scrubbed, never to the client",
    HANG_GUARD,
    async () => {
      const { request, client, stderr, clientIn, proxy } = startProxy();
      await request("fake/emit", { lines: [`Listening with key ${CANARY.value}`] });
      await stderr.waitFor(/non-JSON line/);
      assert.match(stderr.text, /non-JSON line .*: Listening with key \[REDACTED:CANARY_TOKEN\]/);
      assert.ok(!stderr.text.includes(CANARY.value));
      assert.ok(client.lines.every((line) => !line.toString().includes("Listening")));
      clientIn.end();
      await proxy.wait();
    },
  );

  it("drops a line over the limit with a message, and keeps working", HANG_GUARD, async () => {
    const { send, request, client, stderr, clientIn, proxy } = startProxy({
      maxLineBytes: 1024 * 1024,
    });
    send({ jsonrpc: "2.0", id: "big", method: "fake/big", params: { size: 3 * 1024 * 1024 } });
    await stderr.waitFor(/dropped a \d+-byte line from the server's stdout/);
    await request("fake/env", { name: "PATH" });
    assert.ok(client.messages().every((m) => m.id !== "big"));
    clientIn.end();
    await proxy.wait();
  });

  it("scrubs a secret split across two stderr writes", HANG_GUARD, async () => {
    const { request, stderr, findings, clientIn, proxy } = startProxy();
    const cut = 9;
    await request("fake/stderr", {
      chunks: [`auth with ${CANARY.value.slice(0, cut)}`, `${CANARY.value.slice(cut)} done\n`],
    });
    await stderr.waitFor(/auth with .* done/);
    assert.match(stderr.text, /auth with \[REDACTED:CANARY_TOKEN\] done/);
    assert.ok(!stderr.text.includes(CANARY.value));
    assert.ok(findings.some((f) => f.direction === "stderr" && f.secret === "CANARY_TOKEN"));
    clientIn.end();
    await proxy.wait();
  });

  it("withholds a response it cannot scrub and answers with an error", HANG_GUARD, async () => {
    const { request, clientIn, proxy } = startProxy({
      scrubber: new TestScrubber([CANARY], "report-only"),
    });
    const answer = await request("fake/env", { name: "CANARY_TOKEN" });
    const error = answer.error as { code: number; message: string };
    assert.equal(error.code, -32603);
    assert.match(error.message, /withheld .* secret CANARY_TOKEN/);
    assert.ok(!JSON.stringify(answer).includes(CANARY.value));
    clientIn.end();
    await proxy.wait();
  });
});

describe("McpProxy: tools/call argument policy", () => {
  const call = { name: "search", arguments: { query: `find ${CANARY.value}`, n: 1 } };
  const reversed = (s: string) => [...s].reverse().join("");

  it("redact: the server receives the arguments with the secret replaced", HANG_GUARD, async () => {
    const { request, findings, clientIn, proxy } = startProxy({ policy: "redact" });
    const answer = await request("tools/call", call);
    const got = JSON.parse(
      reversed((answer.result as { reversedArguments: string }).reversedArguments),
    );
    assert.deepEqual(got, { query: "find [REDACTED:CANARY_TOKEN]", n: 1 });
    assert.deepEqual(findings[0], {
      direction: "client->server",
      secret: "CANARY_TOKEN",
      form: "raw",
      method: "tools/call",
    });
    clientIn.end();
    await proxy.wait();
  });

  it(
    "block: the client gets an error naming the secret; nothing reaches the server",
    HANG_GUARD,
    async () => {
      const { request, clientIn, proxy } = startProxy({ policy: "block" });
      const answer = await request("tools/call", call);
      const error = answer.error as { code: number; message: string; data: unknown };
      assert.equal(error.code, -32602);
      assert.match(
        error.message,
        /tool "search" contain the secret CANARY_TOKEN \(argument policy: block\)/,
      );
      assert.ok(!JSON.stringify(answer).includes(CANARY.value));
      const received = (await request("fake/received")).result as { lines: string[] };
      assert.ok(received.lines.every((line) => !line.includes("tools/call")));
      clientIn.end();
      await proxy.wait();
    },
  );

  it(
    "redact: checks the arguments as the server will read them, however they are spelled",
    HANG_GUARD,
    async () => {
      const PIN = { name: "PIN", value: "123456789012" };
      const QUOTED = { name: "QUOTED", value: 'kw_x":"y_secret' };
      const { send, client, clientIn, proxy } = startProxy({
        scrubber: new TestScrubber([CANARY, PIN, QUOTED]),
      });
      const callLine = (id: number, args: string) =>
        `{"jsonrpc":"2.0","id":${id},"method":"tools/call","params":{"name":"search","arguments":${args}}}`;
      const argumentsSeen = async (id: number) => {
        const answer = await client.waitFor((m) => m.id === id);
        const reversed = (answer.result as { reversedArguments: string }).reversedArguments;
        return JSON.parse([...reversed].reverse().join(""));
      };
      // An escape hides the value from a byte check; JSON.stringify of the arguments does not.
      const escaped = `\\u${CANARY.value.charCodeAt(0).toString(16).padStart(4, "0")}${CANARY.value.slice(1)}`;
      send(callLine(1, `{"q":"${escaped}"}`));
      assert.deepEqual(await argumentsSeen(1), { q: "[REDACTED:CANARY_TOKEN]" });
      // A number the server reads as the secret's digits.
      send(callLine(2, '{"n":1.23456789012e11}'));
      assert.deepEqual(await argumentsSeen(2), { n: "[REDACTED:PIN]" });
      // Whitespace between tokens: only the re-serialised arguments spell the value, and they
      // cannot be scrubbed, so the call is refused.
      send(callLine(3, '{"kw_x": "y_secret"}'));
      const refused = await client.waitFor((m) => m.id === 3);
      assert.match((refused.error as { message: string }).message, /contain the secret QUOTED/);
      clientIn.end();
      await proxy.wait();
    },
  );

  it("allow: the arguments are forwarded untouched", HANG_GUARD, async () => {
    const { request, findings, clientIn, proxy } = startProxy({ policy: "allow" });
    const answer = await request("tools/call", call);
    const got = JSON.parse(
      reversed((answer.result as { reversedArguments: string }).reversedArguments),
    );
    assert.deepEqual(got, call.arguments);
    assert.deepEqual(findings, []);
    clientIn.end();
    await proxy.wait();
  });
});

describe("McpProxy: lifecycle", () => {
  it(
    "on client EOF closes the server's stdin and exits with the server's code",
    HANG_GUARD,
    async () => {
      const { request, clientIn, proxy } = startProxy({ flags: ["--eof-exit=5"] });
      await request("fake/env", { name: "PATH" });
      const pid = proxy.serverPid!;
      clientIn.end();
      assert.deepEqual(await proxy.wait(), { exitCode: 5, end: "client-eof" });
      assert.ok(await becomesGone(pid));
    },
  );

  it("SIGKILLs a server that ignores stdin EOF and SIGTERM", HANG_GUARD, async () => {
    const { request, clientIn, proxy } = startProxy({
      flags: ["--ignore-eof", "--ignore-sigterm"],
      graceMs: 200,
    });
    await request("fake/env", { name: "PATH" });
    const pid = proxy.serverPid!;
    clientIn.end();
    assert.deepEqual(await proxy.wait(), { exitCode: 137, end: "client-eof" });
    assert.ok(await becomesGone(pid));
  });

  it("leaves no orphans: helpers in the server's process group go too", HANG_GUARD, async () => {
    const { request, stderr, clientIn, proxy } = startProxy({ flags: ["--grandchild"] });
    const grandchild = Number((await stderr.waitFor(/grandchild=(\d+)/))[1]);
    await request("fake/env", { name: "PATH" });
    clientIn.end();
    await proxy.wait();
    assert.ok(await becomesGone(grandchild));
  });

  it(
    "exits with the code of a server that crashes at start, with a message",
    HANG_GUARD,
    async () => {
      const { stderr, proxy } = startProxy({ flags: ["--exit=3"] });
      assert.deepEqual(await proxy.wait(), { exitCode: 3, end: "server-exit" });
      assert.match(stderr.text, /fake-server: crashing at start/);
      assert.match(
        stderr.text,
        /keyward: the MCP server exited with code 3 before sending any message/,
      );
    },
  );

  it("exits with 127 and a message when the command does not exist", HANG_GUARD, async () => {
    const { stderr, proxy } = startProxy({ command: "/nonexistent/mcp-server" });
    assert.deepEqual(await proxy.wait(), { exitCode: 127, end: "server-exit" });
    assert.match(
      stderr.text,
      /could not start the MCP server command "\/nonexistent\/mcp-server": ENOENT/,
    );
  });

  it(
    "stops reading the client when the server never reads (no unbounded buffering)",
    HANG_GUARD,
    async () => {
      const { proxy, clientIn, send } = startProxy({ flags: ["--no-read"], graceMs: 200 });
      const line = JSON.stringify({
        jsonrpc: "2.0",
        method: "notifications/x",
        params: { pad: "p".repeat(64 * 1024) },
      });
      for (let i = 0; i < 256; i++) send(line); // 16 MiB
      while (!clientIn.isPaused()) await new Promise((resolve) => setTimeout(resolve, 20));
      // Most of it is still waiting in the client's stream: the proxy holds at most a few chunks.
      assert.ok(clientIn.writableLength + clientIn.readableLength > 8 * 1024 * 1024);
      const result = await proxy.shutdown("SIGTERM");
      assert.deepEqual(result, { exitCode: 143, end: "signal" });
    },
  );
});

describe("McpProxy: restart and revocation", () => {
  const initialize = {
    protocolVersion: "2025-11-25",
    capabilities: {},
    clientInfo: { name: "test", version: "1" },
  };

  it(
    "restart replays initialize, fails in-flight requests and keeps the session",
    HANG_GUARD,
    async () => {
      const { proxy, send, request, client, clientIn } = startProxy();
      await request("initialize", initialize);
      send({ jsonrpc: "2.0", method: "notifications/initialized" });
      // Overlapping requests, the oldest one cancelled while the others wait.
      send({ jsonrpc: "2.0", id: "cancelled", method: "fake/hang" });
      send({ jsonrpc: "2.0", id: 1000, method: "fake/hang" });
      send({
        jsonrpc: "2.0",
        method: "notifications/cancelled",
        params: { requestId: "cancelled" },
      });
      send({ jsonrpc: "2.0", id: "pending", method: "fake/hang" });
      send({ jsonrpc: "2.0", id: "1000", method: "fake/hang" });
      await request("fake/env", { name: "PATH" }); // the hang requests have reached the server
      const oldPid = proxy.serverPid!;

      await proxy.restart({ PATH: process.env.PATH ?? "", CANARY_TOKEN: ROTATED.value });
      proxy.setScrubber(new TestScrubber([CANARY, ROTATED]));

      // Every request still in flight is answered, each once, and the cancelled one is not.
      for (const id of [1000, "pending", "1000"]) {
        const failed = await client.waitFor((m) => m.id === id);
        const error = failed.error as { code: number; message: string };
        assert.equal(error.code, -32603);
        assert.match(error.message, /restarted the MCP server for a credential rotation/);
      }
      const answered = client.messages().filter((m) => m.error !== undefined);
      assert.deepEqual(
        answered.map((m) => m.id),
        [1000, "pending", "1000"],
      );
      await client.waitFor((m) => m.method === "notifications/tools/list_changed");

      assert.notEqual(proxy.serverPid, oldPid);
      assert.ok(await becomesGone(oldPid));
      const received = (await request("fake/received")).result as { lines: string[] };
      const replayed = received.lines.slice(0, 2).map((line) => JSON.parse(line));
      assert.deepEqual(replayed[0], {
        jsonrpc: "2.0",
        id: "keyward-replay-1",
        method: "initialize",
        params: initialize,
      });
      assert.deepEqual(replayed[1], { jsonrpc: "2.0", method: "notifications/initialized" });
      // The replayed initialize's answer was swallowed: the client saw exactly one.
      assert.equal(
        client.messages().filter((m) => (m.result as { serverInfo?: unknown })?.serverInfo).length,
        1,
      );
      // The new server has the new value; the client sees neither.
      const env = await request("fake/env", { name: "CANARY_TOKEN" });
      assert.deepEqual(env.result, { value: "[REDACTED:CANARY_TOKEN]" });
      assert.ok(!text(client.lines).includes(ROTATED.value));
      clientIn.end();
      await proxy.wait();
    },
  );

  it(
    "stopForRevocation fails in-flight and later requests until the client leaves",
    HANG_GUARD,
    async () => {
      const { proxy, send, request, client, clientIn } = startProxy();
      send({ jsonrpc: "2.0", id: "pending", method: "fake/hang" });
      await request("fake/env", { name: "PATH" });
      const pid = proxy.serverPid!;

      await proxy.stopForRevocation("CANARY_TOKEN was revoked");
      assert.ok(await becomesGone(pid));
      const failed = await client.waitFor((m) => m.id === "pending");
      assert.match(
        (failed.error as { message: string }).message,
        /stopped this MCP server: CANARY_TOKEN was revoked/,
      );
      const later = await request("tools/list");
      assert.deepEqual(later.error, {
        code: -32603,
        message: "keyward stopped this MCP server: CANARY_TOKEN was revoked",
        data: { keyward: "revoked" },
      });
      clientIn.end();
      const result = await proxy.wait();
      assert.equal(result.end, "revoked");
    },
  );
});
