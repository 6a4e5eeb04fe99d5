import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type HttpMcpServer, startHttpMcpServer } from "../mcp/testing/http-server.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";

const bin = KEYWARD_BIN;

/**
 * keyward run for a remote profile, end to end: the real bin bridges the SDK's Client (stdio)
 * to a Streamable HTTP server built with the SDK, sending the key from a real encrypted store.
 */
describe("keyward run bridges a remote MCP server", () => {
  let t: TestHome;
  let server: HttpMcpServer;
  const canary = `kwcanary_${randomBytes(24).toString("base64url")}`;
  const rotated = `kwcanary_${randomBytes(24).toString("base64url")}`;
  const tokens = new Set([canary, rotated]);

  before(async () => {
    server = await startHttpMcpServer({ tokens });
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "demo/api-key"], { stdin: canary })).code, 0);
    writeFileSync(
      join(t.home, "keyward.yaml"),
      [
        "version: 1",
        "secrets:",
        "  demo/api-key: { sensitivity: standard }",
        "profiles:",
        "  remote:",
        `    url: ${server.url}`,
        '    headers: { Authorization: "Bearer {{secret:demo/api-key}}" }',
        "",
      ].join("\n"),
    );
  });
  after(async () => {
    await server.close();
    t.cleanup();
  });

  const connect = async (extra: string[] = []) => {
    const stderr: string[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        ...process.execArgv,
        bin,
        "--config",
        join(t.home, "keyward.yaml"),
        "run",
        "remote",
        "--poll",
        "50",
        ...extra,
      ],
      env: t.env as Record<string, string>,
      stderr: "pipe",
    });
    transport.stderr?.on("data", (c: Buffer) => stderr.push(c.toString()));
    const client = new Client({ name: "keyward-test", version: "1.0.0" });
    try {
      await client.connect(transport);
    } catch (e) {
      throw new Error(`keyward run did not start: ${(e as Error).message}\n${stderr.join("")}`);
    }
    return { client, stderr };
  };

  const headersSeen = async (client: Client): Promise<string> => {
    const result = (await client.callTool({ name: "echo-headers", arguments: {} })) as {
      content: Array<{ text?: string }>;
    };
    return result.content.map((c) => c.text ?? "").join("\n");
  };

  it("sends the key as a bearer token, scrubs it from answers and logs the read as the profile", async () => {
    const from = server.received.length;
    const { client, stderr } = await connect();
    try {
      const text = await headersSeen(client);
      assert.match(text, /\[REDACTED:demo\/api-key\]/);
      for (const form of encodedForms(canary)) assert.ok(!text.includes(form));
    } finally {
      await client.close();
    }
    const received = server.received.slice(from);
    assert.ok(received.some((r) => r.authorization === `Bearer ${canary}`));
    assert.ok(
      received.some((r) => r.method === "DELETE"),
      "the session is ended on EOF",
    );
    for (const form of encodedForms(canary)) assert.ok(!stderr.join("").includes(form));
    const log = JSON.parse((await t.run(["log", "--secret", "demo/api-key", "--json"])).stdout);
    assert.ok(
      log.some(
        (e: { action: string; actor: { profile?: string } }) =>
          e.action === "read" && e.actor.profile === "remote",
      ),
      "the read is logged with the profile as actor",
    );
  });

  it("sends the rotated key without reconnecting and refuses requests once it is revoked", async () => {
    const { client } = await connect([`--url=${server.url}`]);
    try {
      await headersSeen(client);
      assert.equal((await t.run(["secret", "set", "demo/api-key"], { stdin: rotated })).code, 0);
      let sent: string | undefined;
      for (let i = 0; i < 100 && sent !== `Bearer ${rotated}`; i++) {
        await new Promise((r) => setTimeout(r, 50));
        const from = server.received.length;
        const text = await headersSeen(client);
        for (const form of [...encodedForms(canary), ...encodedForms(rotated)])
          assert.ok(!text.includes(form));
        sent = server.received.slice(from).find((r) => r.method === "POST")?.authorization;
      }
      assert.equal(sent, `Bearer ${rotated}`, "later requests carry the new key");
      assert.equal((await t.run(["secret", "disable", "demo/api-key"])).code, 0);
      let refused: unknown;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        await new Promise((r) => setTimeout(r, 50));
        try {
          await headersSeen(client);
        } catch (e) {
          refused = e;
        }
      }
      assert.ok(refused instanceof Error, "calls fail once the key is revoked");
      assert.match((refused as Error).message, /demo\/api-key/);
    } finally {
      await client.close();
    }
  });

  it("refuses a --url that would send the key to another origin", async () => {
    const run = await t.run([
      "--config",
      join(t.home, "keyward.yaml"),
      "run",
      "remote",
      "--url",
      "https://elsewhere.example/mcp",
    ]);
    assert.notEqual(run.code, 0);
    assert.match(run.stderr, /sends its credentials only to http:\/\/127\.0\.0\.1/);
  });
});
