import assert from "node:assert/strict";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { KEYWARD_BIN } from "../testing/bin.js";
import { type TestHome, testHome } from "../testing/cli.js";
import { LEGACY_VERSION } from "./testing/everything-session.js";
import { RawClient } from "./testing/raw-client.js";

const require = createRequire(import.meta.url);
const everything = join(
  dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist/index.js",
);
const bin = KEYWARD_BIN;

/**
 * Secrets whose JSON escaping changes only their middle: a PEM private key (newlines between
 * its BEGIN and END lines), and a value with a quote in the middle. server-everything's get-env
 * returns them inside JSON text inside a JSON-RPC line, so the wire carries them escaped twice.
 */
describe("keyward run redacts values whose escaped characters are in the middle", () => {
  let t: TestHome;
  const pem = generateKeyPairSync("ec", { namedCurve: "P-256" })
    .privateKey.export({ type: "pkcs8", format: "pem" })
    .toString()
    .trim();
  const quoted = `abcdefghijklmn"MIDDLE-PART-${randomBytes(6).toString("hex")}-of-the-key"opqrstuvwxyz`;
  let received = "";

  before(async () => {
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "app/private-key"], { stdin: pem })).code, 0);
    assert.equal((await t.run(["secret", "set", "app/quoted"], { stdin: quoted })).code, 0);
    writeFileSync(
      join(t.home, "keyward.yaml"),
      [
        "version: 1",
        "secrets:",
        "  app/private-key: { sensitivity: standard }",
        "  app/quoted: { sensitivity: standard }",
        "profiles:",
        "  everything:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify([everything, "stdio"])}`,
        "    env: { APP_PRIVATE_KEY: app/private-key, APP_QUOTED: app/quoted }",
        "",
      ].join("\n"),
    );
    const client = RawClient.spawn({
      command: process.execPath,
      args: [
        ...process.execArgv,
        bin,
        "--config",
        join(t.home, "keyward.yaml"),
        "run",
        "everything",
      ],
      env: t.env as Record<string, string>,
    });
    try {
      await client.request(
        "initialize",
        {
          protocolVersion: LEGACY_VERSION,
          capabilities: {},
          clientInfo: { name: "keyward-escapes", version: "1.0.0" },
        },
        { timeoutMs: 30_000 },
      );
      client.notify("notifications/initialized");
      await client.request("tools/call", { name: "get-env", arguments: {} });
    } finally {
      await client.close(8000);
    }
    received = client.transcript
      .filter((l) => l.dir === "recv")
      .map((l) => l.line)
      .join("\n");
  });
  after(() => t?.cleanup());

  it("redacts the whole of each value, middle included", () => {
    const bodyLines = pem.split("\n").slice(1, -1);
    const leaked = bodyLines.filter((line) => received.includes(line));
    assert.equal(leaked.length, 0, `${leaked.length} of ${bodyLines.length} PEM body lines leaked`);
    assert.ok(!received.includes("MIDDLE-PART-"), "the middle of the quoted value leaked");
    // One marker for the whole key, as the env JSON text carries it inside the JSON-RPC line.
    const entry = JSON.stringify('"APP_PRIVATE_KEY": "[REDACTED:app/private-key]"').slice(1, -1);
    assert.ok(received.includes(entry), "the key is replaced by one marker");
  });
});
