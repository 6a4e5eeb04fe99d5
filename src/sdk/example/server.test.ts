import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { type FakeGitHub, startFakeGitHub } from "../../providers/github/testing/fake-github.js";
import { KEYWARD_BIN } from "../../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../../testing/cli.js";

/**
 * The example server end to end, against the fake GitHub (providers.md §1.3 for the scope check
 * on GET /rate_limit): standalone, reading the store itself, and under `keyward run`.
 */
const ext = extname(fileURLToPath(import.meta.url));
const server = fileURLToPath(new URL(`./server${ext}`, import.meta.url));
const bin = KEYWARD_BIN;

let github: FakeGitHub;
let t: TestHome;
let token: string;
before(async () => {
  github = await startFakeGitHub();
  github.resources.push({
    path: "/repos/acme/api/issues",
    repository: "api",
    private: true,
    acceptedPermissions: "issues=read",
    acceptedScopes: ["repo"],
  });
  token = github.addToken({ kind: "classic-pat", scopes: ["repo"] });
  t = testHome();
  assert.equal((await t.run(["init"])).code, 0);
  assert.equal((await t.run(["secret", "set", "github/issues-reader"], { stdin: token })).code, 0);
});
after(async () => {
  t.cleanup();
  await github.close();
});

async function callListIssues(
  command: string[],
  env: Record<string, string>,
): Promise<{ text: string; stderr: string }> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...process.execArgv, ...command],
    env,
    // Where this test runs: under tsx, `--import tsx` resolves from here.
    cwd: process.cwd(),
    stderr: "pipe",
  });
  let stderr = "";
  transport.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  // stderr and the result travel on different pipes (through keyward run, stderr also passes its
  // scrubber): only the end of stderr, after the process exits, says every line has arrived.
  const stderrEnded = new Promise<void>((resolve) => transport.stderr?.once("end", resolve));
  const client = new Client({ name: "sdk-example-test", version: "1.0.0" });
  let text: string;
  try {
    await client.connect(transport);
    const result = await client.callTool({ name: "list_issues", arguments: { repo: "api" } });
    const content = result.content as Array<{ type: string; text?: string }>;
    text = content.map((c) => c.text ?? "").join("\n");
  } catch (e) {
    throw new Error(`the example server failed: ${e}\n${stderr}`);
  } finally {
    await client.close();
  }
  await stderrEnded;
  return { text, stderr };
}

const settings = () => ({
  GITHUB_OWNER: "acme",
  GITHUB_API_URL: github.baseUrl,
  LOG_LEVEL: "debug",
});

describe("the example server", () => {
  it("runs standalone from the store, and its debug log of the request headers is redacted", async () => {
    const env = {
      PATH: String(process.env.PATH),
      HOME: t.home,
      KEYWARD_HOME: String(t.env.KEYWARD_HOME),
      KEYWARD_MASTER_KEY: String(t.env.KEYWARD_MASTER_KEY),
      ...settings(),
    };
    const { text, stderr } = await callListIssues([server], env);
    assert.equal(text, "no open issues in acme/api");
    assert.match(stderr, /"source":"store"/);
    assert.match(stderr, /"authorization":"Bearer \[REDACTED:github\/issues-reader\]"/);
    for (const form of encodedForms(token)) assert.ok(!stderr.includes(form), stderr);
    // The request really carried the key.
    assert.ok(github.requests.some((r) => r.headers.authorization === `Bearer ${token}`));
  });

  it("runs under keyward run, finding its key through KEYWARD_SECRET_MAP", async () => {
    const config = join(t.home, "keyward.yaml");
    writeFileSync(
      config,
      [
        "version: 1",
        "profiles:",
        "  issues:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify([...process.execArgv, server])}`,
        "    env: { GITHUB_TOKEN: github/issues-reader }",
        `    setEnv: ${JSON.stringify(settings())}`,
        "",
      ].join("\n"),
    );
    const env = { ...(t.env as Record<string, string>), KEYWARD_CONFIG: config };
    const { text, stderr } = await callListIssues([bin, "run", "issues"], env);
    assert.equal(text, "no open issues in acme/api");
    assert.match(stderr, /"source":"env"/);
    assert.match(stderr, /Bearer \[REDACTED:github\/issues-reader\]/);
    for (const form of encodedForms(token)) assert.ok(!stderr.includes(form), stderr);
  });
});
