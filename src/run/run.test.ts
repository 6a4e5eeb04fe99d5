import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";

const require = createRequire(import.meta.url);
const everything = join(
  dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist/index.js",
);
const bin = KEYWARD_BIN;

/**
 * keyward run end to end with real parts: the real keyward bin, a real encrypted store,
 * @modelcontextprotocol/server-everything as the wrapped server and the SDK's Client over stdio.
 */
describe("keyward run wraps a real MCP server", () => {
  let t: TestHome;
  const canary = `kwcanary_${randomBytes(24).toString("base64url")}`;
  const rotated = `kwcanary_${randomBytes(24).toString("base64url")}`;

  before(async () => {
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
        "  everything:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [${JSON.stringify(everything)}, stdio]`,
        "    env: { DEMO_API_KEY: demo/api-key }",
        "    setEnv: { DEMO_MODE: visible }",
        "",
      ].join("\n"),
    );
  });
  after(() => t.cleanup());

  const connect = async () => {
    const stderr: string[] = [];
    const transport = new StdioClientTransport({
      command: process.execPath,
      args: [
        ...process.execArgv,
        bin,
        "--config",
        join(t.home, "keyward.yaml"),
        "run",
        "everything",
        "--poll",
        "50",
      ],
      env: {
        ...(t.env as Record<string, string>),
        HOST_ONLY_SECRET: "host-secret-not-for-the-server",
      },
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

  const envOf = async (client: Client): Promise<string> => {
    const result = (await client.callTool({ name: "get-env", arguments: {} })) as {
      content: Array<{ text?: string }>;
    };
    return result.content.map((c) => c.text ?? "").join("\n");
  };

  it("injects only declared keys and the client receives them redacted in every form", async () => {
    const { client, stderr } = await connect();
    try {
      const text = await envOf(client);
      assert.match(text, /DEMO_API_KEY/);
      assert.match(text, /\[REDACTED:demo\/api-key\]/);
      assert.match(text, /DEMO_MODE/, "setEnv reaches the server");
      assert.doesNotMatch(text, /HOST_ONLY_SECRET/, "host variables outside the allowlist do not");
      assert.doesNotMatch(text, /KEYWARD_MASTER_KEY/, "keyward's own key never reaches the server");
      for (const form of encodedForms(canary))
        assert.ok(!text.includes(form), "a canary form reached the client");
      // A model echoing the key in tool arguments: redacted before the server sees it (policy redact).
      const echo = (await client.callTool({
        name: "echo",
        arguments: { message: `key=${canary}` },
      })) as {
        content: Array<{ text?: string }>;
      };
      const echoed = echo.content.map((c) => c.text ?? "").join("");
      assert.ok(!echoed.includes(canary));
      assert.match(echoed, /REDACTED/);
    } finally {
      await client.close();
    }
    for (const form of encodedForms(canary))
      assert.ok(!stderr.join("").includes(form), "a canary form reached stderr");
    const log = JSON.parse((await t.run(["log", "--secret", "demo/api-key", "--json"])).stdout);
    assert.ok(
      log.some(
        (e: { action: string; actor: { profile?: string } }) =>
          e.action === "read" && e.actor.profile === "everything",
      ),
      "the read is logged with the profile as actor",
    );
  });

  it("restarts the server with the new value on rotation and stops it on revocation", async () => {
    const { client } = await connect();
    try {
      await envOf(client);
      assert.equal((await t.run(["secret", "set", "demo/api-key"], { stdin: rotated })).code, 0);
      let text = "";
      for (let i = 0; i < 100; i++) {
        await new Promise((r) => setTimeout(r, 50));
        try {
          text = await envOf(client);
          if (text.includes("[REDACTED:demo/api-key]") && !text.includes("kwcanary")) break;
        } catch {
          // the request in flight during the restart is answered with an error; try again
        }
      }
      for (const form of [...encodedForms(canary), ...encodedForms(rotated)])
        assert.ok(!text.includes(form));
      assert.match(
        text,
        /\[REDACTED:demo\/api-key\]/,
        "the restarted server answers the same client session",
      );
      assert.equal((await t.run(["secret", "disable", "demo/api-key"])).code, 0);
      let refused: unknown;
      for (let i = 0; i < 100 && refused === undefined; i++) {
        await new Promise((r) => setTimeout(r, 50));
        try {
          await envOf(client);
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
});
