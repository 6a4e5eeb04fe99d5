import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, afterEach, before, describe, it } from "node:test";
import { PatternScrubber } from "../redact/patterns.js";
import { Redactor } from "../redact/redactor.js";
import { BRIDGE_ERROR_CODE } from "./bridge.js";
import { type BridgedClient, bridgeClient } from "./testing/http-client.js";
import { type HttpMcpServer, startHttpMcpServer } from "./testing/http-server.js";

const SECRET = "demo/api-key";

function token(): string {
  return `kwtok_${randomBytes(24).toString("base64url")}`;
}

/** The forms a leaked value takes in text: raw, base64 (std, url, unpadded), hex, URL-encoded. */
function encodedForms(value: string): string[] {
  const b = Buffer.from(value, "utf8");
  return [
    value,
    b.toString("base64"),
    b.toString("base64").replace(/=+$/, ""),
    b.toString("base64url"),
    b.toString("hex"),
    encodeURIComponent(value),
  ];
}

function assertNoLeak(text: string, ...values: string[]): void {
  for (const value of values) {
    for (const form of encodedForms(value)) {
      assert.ok(!text.includes(form), "a form of the credential reached the client");
    }
  }
}

function textOf(result: unknown): string {
  const content = (result as { content: Array<{ text?: string }> }).content;
  return content.map((c) => c.text ?? "").join("\n");
}

describe("McpBridge: stdio ↔ Streamable HTTP", () => {
  let server: HttpMcpServer;
  const good = token();
  const tokens = new Set([good]);
  const open: BridgedClient[] = [];

  before(async () => {
    server = await startHttpMcpServer({ tokens });
  });
  after(() => server.close());
  afterEach(async () => {
    for (const b of open.splice(0)) {
      await b.client.close();
      await b.bridge.wait();
    }
  });

  const bridged = (value: string, opts: { url?: string; policy?: "redact" | "block" } = {}) => {
    const redactor = new Redactor([{ name: SECRET, value }]);
    const scrubber = new PatternScrubber(redactor);
    const b = bridgeClient({
      endpoint: { url: opts.url ?? server.url, headers: { Authorization: `Bearer ${value}` } },
      credential: { profile: "remote", secrets: [SECRET] },
      scrubber,
      argumentPolicy: opts.policy ?? "redact",
    });
    open.push(b);
    return { ...b, scrubber };
  };

  /** Waits until the handshake is done server-side: the GET stream opens after `initialized`. */
  const settled = async (b: BridgedClient) => {
    const session = b.bridge.session;
    while (!server.received.some((r) => r.method === "GET" && r.session === session)) {
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  it("sends the bearer token on every request, keeps the session and scrubs what comes back", async () => {
    const from = server.received.length;
    const b = bridged(good);
    await b.connect();
    const result = await b.client.callTool({ name: "echo-headers", arguments: {} });
    const text = textOf(result);
    assert.match(text, /\[REDACTED:demo\/api-key\]/);
    assertNoLeak(b.clientSaw.text, good);
    assertNoLeak(b.notes.text, good);
    assert.ok(b.findings.some((f) => f.secret === SECRET && f.direction === "server->client"));

    const posts = server.received.slice(from).filter((r) => r.method === "POST");
    assert.ok(posts.length >= 3, "initialize, initialized and tools/call were posted");
    for (const post of posts) assert.equal(post.authorization, `Bearer ${good}`);
    assert.equal(posts[0]?.session, undefined, "initialize goes without a session");
    const session = b.bridge.session;
    assert.ok(session !== undefined);
    for (const post of posts.slice(1)) {
      assert.equal(post.session, session, "later requests carry the session id");
      assert.equal(post.protocolVersion, "2025-11-25", "and the negotiated version");
    }
  });

  it("streams a large SSE result with its notifications, scrubbed", async () => {
    const b = bridged(good);
    const logs: string[] = [];
    await b.connect();
    b.client.setNotificationHandler(
      (await import("@modelcontextprotocol/sdk/types.js")).LoggingMessageNotificationSchema,
      (n) => {
        logs.push(String(n.params.data));
      },
    );
    const result = await b.client.callTool({ name: "big", arguments: { kib: 512 } });
    const text = textOf(result);
    assert.ok(text.length > 512 * 1024, "the whole result arrived, over many reads");
    assert.match(text, /\[REDACTED:demo\/api-key\]/);
    assert.equal(logs.length, 1, "the notification on the same stream arrived first");
    assert.match(logs[0] ?? "", /working with Bearer \[REDACTED:demo\/api-key\]/);
    assertNoLeak(b.clientSaw.text, good);
  });

  it("opens the GET stream for server-initiated messages and scrubs them", async () => {
    const b = bridged(good);
    await b.connect();
    const seen: string[] = [];
    b.client.setNotificationHandler(
      (await import("@modelcontextprotocol/sdk/types.js")).LoggingMessageNotificationSchema,
      (n) => {
        seen.push(String(n.params.data));
      },
    );
    await settled(b);
    await new Promise((r) => setTimeout(r, 50)); // the stream is registered after its headers
    await server.broadcast(`pushed ${good}`);
    await b.clientSaw.waitFor(/pushed/);
    assert.match(b.clientSaw.text, /pushed \[REDACTED:demo\/api-key\]/);
    assertNoLeak(b.clientSaw.text, good);
  });

  it("passes a message without secrets byte for byte", async () => {
    const b = bridged(good);
    await b.connect();
    const line = '{"jsonrpc":"2.0",  "id":"raw-1","method":"ping","params":{"odd":  "spacing"}}';
    b.toBridge.write(`${line}\n`);
    await b.clientSaw.waitFor(/"raw-1"/);
    const sent = server.received.find((r) => r.body.toString("utf8").includes('"raw-1"'));
    assert.equal(sent?.body.toString("utf8"), line);
  });

  it("forwards the server's parse error for a line that is not JSON", async () => {
    const b = bridged(good);
    await b.connect();
    b.toBridge.write("this is not json\n");
    await b.clientSaw.waitFor(/"code":-32700/);
    assert.ok(server.received.some((r) => r.body.toString("utf8") === "this is not json"));
  });

  it("answers 401 with an error naming the profile and the key, never the token", async () => {
    const wrong = token();
    const b = bridged(wrong);
    await assert.rejects(b.connect(), (error: Error) => {
      assert.match(error.message, /profile remote/);
      assert.match(error.message, /demo\/api-key/);
      assert.match(error.message, /HTTP 401/);
      return true;
    });
    const answer = b.clientSaw.text;
    assert.match(answer, new RegExp(`"code":${BRIDGE_ERROR_CODE}`));
    assert.match(answer, /"keyward":"unauthorized"/);
    assert.match(
      answer,
      /not a valid token: Bearer \[REDACTED:demo\/api-key\]/,
      "the body is scrubbed",
    );
    assertNoLeak(answer, wrong);
    assertNoLeak(b.notes.text, wrong);
  });

  it("starts a new session when the server forgets it (404), replaying initialize", async () => {
    const b = bridged(good);
    await b.connect();
    const first = b.bridge.session;
    await server.expireSessions();
    const from = server.received.length;
    const result = await b.client.callTool({ name: "echo-headers", arguments: {} });
    assert.match(textOf(result), /REDACTED/);
    const second = b.bridge.session;
    assert.ok(second !== undefined && second !== first, "a new session id");
    const bodies = server.received.slice(from).map((r) => r.body.toString("utf8"));
    assert.ok(bodies.some((body) => body.includes('"keyward-replay-1"')));
    assert.ok(bodies.some((body) => body.includes("notifications/initialized")));
    assert.doesNotMatch(b.clientSaw.text, /keyward-replay/, "the replayed answer is swallowed");
    await b.notes.waitFor(/started a new one/);
  });

  it("sends a rotated token on later requests without reconnecting", async () => {
    const next = token();
    tokens.add(next);
    const b = bridged(good);
    await b.connect();
    b.scrubber.add({ name: SECRET, value: next });
    b.bridge.setEndpoint({ url: server.url, headers: { Authorization: `Bearer ${next}` } });
    const from = server.received.length;
    const result = await b.client.callTool({ name: "echo-headers", arguments: {} });
    assert.match(textOf(result), /\[REDACTED:demo\/api-key\]/);
    const call = server.received
      .slice(from)
      .find((r) => r.body.toString("utf8").includes('"tools/call"'));
    assert.equal(call?.authorization, `Bearer ${next}`);
    assertNoLeak(b.clientSaw.text, good, next);
  });

  it("answers every request with an error once the credential is revoked", async () => {
    const b = bridged(good);
    await b.connect();
    await settled(b);
    b.bridge.revoke(`${SECRET} version 1 disabled`);
    const from = server.received.length;
    await assert.rejects(
      b.client.callTool({ name: "echo-headers", arguments: {} }),
      (error: Error) => {
        assert.match(error.message, /demo\/api-key version 1 disabled/);
        return true;
      },
    );
    assert.equal(server.received.length, from, "nothing more reaches the server");
    await b.client.close();
    const result = await b.bridge.wait();
    assert.deepEqual(result, { exitCode: 0, end: "revoked" });
    assert.ok(!server.deleted.includes(b.bridge.session ?? ""), "no DELETE with a revoked key");
  });

  it("ends the session with DELETE on client EOF and exits 0", async () => {
    const b = bridged(good);
    await b.connect();
    const session = b.bridge.session;
    await b.client.close();
    assert.deepEqual(await b.bridge.wait(), { exitCode: 0, end: "client-eof" });
    assert.ok(session !== undefined && server.deleted.includes(session));
  });

  it("blocks a tools/call whose arguments hold the key (argument policy block)", async () => {
    const b = bridged(good, { policy: "block" });
    await b.connect();
    await settled(b);
    const from = server.received.length;
    await assert.rejects(
      b.client.callTool({ name: "echo-headers", arguments: { note: good } }),
      /keyward blocked this tools\/call/,
    );
    assert.equal(server.received.length, from);
  });

  it("follows a redirect within the endpoint's origin", async () => {
    const b = bridged(good, { url: server.url.replace(/\/mcp$/, "/moved") });
    await b.connect();
    assert.match(
      textOf(await b.client.callTool({ name: "echo-headers", arguments: {} })),
      /REDACTED/,
    );
  });

  it("never follows a redirect to another origin with the credential", async () => {
    const elsewhere = await startHttpMcpServer({ tokens });
    const redirector = createServer((_req, res) => {
      res.writeHead(307, { location: elsewhere.url });
      res.end();
    });
    await new Promise<void>((resolve) => redirector.listen(0, "127.0.0.1", resolve));
    try {
      const { port } = redirector.address() as AddressInfo;
      const b = bridged(good, { url: `http://127.0.0.1:${port}/mcp` });
      await assert.rejects(b.connect(), /redirected to http:\/\/127\.0\.0\.1:\d+ \(HTTP 307\)/);
      assert.equal(elsewhere.received.length, 0, "the other origin got nothing");
    } finally {
      redirector.closeAllConnections();
      await new Promise((resolve) => redirector.close(resolve));
      await elsewhere.close();
    }
  });

  it("answers with an error when the server cannot be reached, and keeps running", async () => {
    const down = await startHttpMcpServer({ tokens });
    const url = down.url;
    const b = bridged(good, { url });
    await b.connect();
    await down.close();
    for (let i = 0; i < 2; i++) {
      await assert.rejects(
        b.client.callTool({ name: "echo-headers", arguments: {} }),
        /could not reach the remote MCP server at http:\/\/127\.0\.0\.1:\d+/,
      );
    }
    assertNoLeak(b.notes.text, good);
  });
});

describe("McpBridge with JSON answers", () => {
  it("forwards application/json answers", async () => {
    const value = token();
    const server = await startHttpMcpServer({ tokens: new Set([value]), jsonResponse: true });
    const b = bridgeClient({
      endpoint: { url: server.url, headers: { Authorization: `Bearer ${value}` } },
      credential: { profile: "remote", secrets: [SECRET] },
      scrubber: new PatternScrubber(new Redactor([{ name: SECRET, value }])),
      argumentPolicy: "redact",
    });
    try {
      await b.connect();
      const result = await b.client.callTool({ name: "big", arguments: { kib: 64 } });
      assert.match(textOf(result), /\[REDACTED:demo\/api-key\]/);
      assertNoLeak(b.clientSaw.text, value);
    } finally {
      await b.client.close();
      await b.bridge.wait();
      await server.close();
    }
  });
});
