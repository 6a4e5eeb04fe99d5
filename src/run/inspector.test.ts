import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KEYWARD_BIN } from "../testing/bin.js";
import { type TestHome, testHome } from "../testing/cli.js";
import { type CanaryForms, leaks, secretForms } from "./testing/transcript.js";

const require = createRequire(import.meta.url);
const packageDir = (name: string) => dirname(require.resolve(`${name}/package.json`));
const everything = join(packageDir("@modelcontextprotocol/server-everything"), "dist/index.js");
// The `mcp-inspector` bin of @modelcontextprotocol/inspector (v2): `--cli` runs its CLI client.
const inspector = join(
  packageDir("@modelcontextprotocol/inspector"),
  "clients/launcher/build/index.js",
);
const ext = extname(fileURLToPath(import.meta.url));
const bin = KEYWARD_BIN;
const modernServer = fileURLToPath(new URL(`./testing/modern-server${ext}`, import.meta.url));

interface InspectorRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The MCP Inspector's CLI mode as the client, `keyward run <profile>` as its stdio server
 * command: the inspector spawns keyward with its default environment (HOME, PATH, SHELL, TERM),
 * so the store is opened through a key file and `--home`; no key is passed on any command line.
 */
describe("the MCP Inspector CLI drives keyward run", () => {
  let t: TestHome;
  const legacyKey = `kwinspect_${randomBytes(24).toString("base64url")}`;
  const modernKey = `kwinspect_${randomBytes(24).toString("base64url")}`;
  const canaries: CanaryForms[] = [
    { name: "demo/api-key", forms: secretForms(legacyKey) },
    { name: "modern/api-key", forms: secretForms(modernKey) },
  ];
  const runs = new Map<string, InspectorRun>();

  const inspect = (profile: string, era: "legacy" | "modern"): Promise<InspectorRun> =>
    new Promise((resolve) => {
      const args = [
        inspector,
        "--cli",
        "--format",
        "json",
        "--protocol-era",
        era,
        "--connect-timeout",
        "30000",
        "--method",
        "tools/call",
        "--tool-name",
        "get-env",
        "--",
        process.execPath,
        ...process.execArgv,
        bin,
        "--home",
        join(t.home, "kw"),
        "--config",
        join(t.home, "keyward.yaml"),
        "run",
        profile,
      ];
      execFile(
        process.execPath,
        args,
        { env: { PATH: t.env.PATH ?? "", HOME: t.home, NO_COLOR: "1" }, timeout: 45_000 },
        (error, stdout, stderr) => {
          const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
          resolve({ code, stdout, stderr });
        },
      );
    });

  before(async () => {
    t = testHome();
    // A key file instead of KEYWARD_MASTER_KEY: the inspector passes only its default env on.
    const noEnvKey = { env: { KEYWARD_MASTER_KEY: undefined } };
    assert.equal((await t.run(["init", "--key-source", "key-file"], noEnvKey)).code, 0);
    for (const [name, value] of [
      ["demo/api-key", legacyKey],
      ["modern/api-key", modernKey],
    ] as const) {
      const set = await t.run(["secret", "set", name], { ...noEnvKey, stdin: value });
      assert.equal(set.code, 0, set.stderr);
    }
    writeFileSync(
      join(t.home, "keyward.yaml"),
      [
        "version: 1",
        "secrets:",
        "  demo/api-key: { sensitivity: standard }",
        "  modern/api-key: { sensitivity: standard }",
        "profiles:",
        "  everything:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify([everything, "stdio"])}`,
        "    env: { DEMO_API_KEY: demo/api-key }",
        "  modern:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify([...process.execArgv, modernServer])}`,
        "    env: { MODERN_API_KEY: modern/api-key }",
        "",
      ].join("\n"),
    );
    // Both at once: each is an inspector, a keyward and a server starting up.
    const [legacy, modern] = await Promise.all([
      inspect("everything", "legacy"),
      inspect("modern", "modern"),
    ]);
    runs.set("everything", legacy);
    runs.set("modern", modern);
  });
  after(() => t?.cleanup());

  const envText = (run: InspectorRun | undefined): string => {
    assert.ok(run !== undefined);
    assert.equal(run.code, 0, `the inspector failed:\n${run.stderr}`);
    const out = JSON.parse(run.stdout) as { result: { content: Array<{ text?: string }> } };
    return out.result.content.map((c) => c.text ?? "").join("\n");
  };

  it("calls server-everything's get-env (legacy era, the CLI's default) and sees the key redacted", () => {
    const run = runs.get("everything");
    const text = envText(run);
    assert.match(text, /"DEMO_API_KEY": "\[REDACTED:demo\/api-key\]"/);
    assert.doesNotMatch(
      text,
      /KEYWARD_(?!SECRET_MAP")/,
      "keyward's own variables stay out of the server",
    );
    assert.match(
      text,
      /"KEYWARD_SECRET_MAP": "DEMO_API_KEY=demo\/api-key"/,
      "the secret map carries names only",
    );
    assert.deepEqual(leaks([run?.stdout ?? "", run?.stderr ?? ""], canaries), []);
  });

  it("calls the v2 server's get-env in the 2026-07-28 era and sees every encoding redacted", () => {
    const run = runs.get("modern");
    const text = envText(run);
    assert.match(text, /"MODERN_API_KEY": "\[REDACTED:modern\/api-key\]"/);
    assert.match(text, /hex=\S*REDACTED\S* HEX=\S*REDACTED\S* url=\S*REDACTED/);
    assert.deepEqual(leaks([run?.stdout ?? "", run?.stderr ?? ""], canaries), []);
  });
});
