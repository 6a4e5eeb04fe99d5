// biome-ignore-all lint/suspicious/noTemplateCurlyInString: client reference syntax is part of the configs under test
/** adopt's safety rules: no half-writes, no stale plans, no values in output, careful undo. */
import assert from "node:assert/strict";
import { readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { withClassicChecksum } from "../detect/checksum.js";
import { exampleChars } from "../detect/rules/examples.js";
import { applyAdopt } from "./apply.js";
import { listBackups } from "./files.js";
import { adoptTable, planAdopt } from "./plan.js";
import { type Sandbox, sandbox } from "./testing.js";
import { deleteBackups, findBackups, undoAdopt } from "./undo.js";

const TOKEN = withClassicChecksum(`${"gh"}p_`, exampleChars("adopt-safety", 30));
const KEY = exampleChars("adopt-safety/key", 32);
const FILE = "home:.cursor/mcp.json";

function cursorConfig(token = TOKEN): string {
  return `${JSON.stringify(
    {
      mcpServers: {
        github: {
          command: "npx",
          args: ["-y", "@modelcontextprotocol/server-github"],
          env: { GITHUB_PERSONAL_ACCESS_TOKEN: token, GITHUB_TOOLSETS: "repos" },
        },
      },
    },
    null,
    2,
  )}\n`;
}

describe("adopt safety", () => {
  let box: Sandbox;
  beforeEach(() => {
    box = sandbox();
  });
  afterEach(() => box.cleanup());

  it("leaves the client file untouched when storing a secret fails", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options();
    const plan = await planAdopt(opts);
    box.store.failOn.add("cursor/github/GITHUB_PERSONAL_ACCESS_TOKEN");
    await assert.rejects(applyAdopt(plan, opts), /store refused/);
    assert.equal(readFileSync(path, "utf8"), cursorConfig());
    assert.deepEqual(listBackups(path), []);
    assert.equal(box.profiles.saves, 0);
  });

  it("refuses a plan when the file changed since, before storing anything", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options();
    const plan = await planAdopt(opts);
    writeFileSync(path, cursorConfig(`${TOKEN.slice(0, -1)}X`));
    await assert.rejects(applyAdopt(plan, opts), (e: unknown) => {
      assert.ok(isKeywardError(e) && e.code === "conflict");
      assert.match(e.message, /changed after the adopt plan was made/);
      assert.ok(!e.message.includes(TOKEN.slice(4, 20)));
      return true;
    });
    assert.equal(box.store.values.size, 0);
    assert.deepEqual(listBackups(path), []);
  });

  it("does nothing on a dry run", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options({ dryRun: true });
    const result = await applyAdopt(await planAdopt(opts), opts);
    assert.equal(result.files.length, 0);
    assert.equal(readFileSync(path, "utf8"), cursorConfig());
    assert.equal(box.store.values.size, 0);
  });

  it("reports a file that is not JSON without quoting it, and adopts the others", async () => {
    box.place(FILE, `{"mcpServers": {"x": {"env": {"TOKEN": "${TOKEN}"}}`);
    const other = box.place("home:.codeium/windsurf/mcp_config.json", cursorConfig());
    const plan = await planAdopt(box.options());
    const broken = plan.files.find((f) => f.client === "cursor");
    assert.equal(broken?.status, "invalid");
    assert.match(broken?.error?.message ?? "", /not valid JSON/);
    assert.ok(!JSON.stringify(plan).includes(TOKEN));
    assert.equal(plan.files.find((f) => f.path === other)?.status, "adopt");
  });

  it("writes through a symlink and keeps it", async () => {
    const target = box.place("home:dotfiles/cursor-mcp.json", cursorConfig());
    const link = join(box.home, ".cursor", "mcp.json");
    box.place("home:.cursor/.keep", "");
    symlinkSync(target, link);
    const opts = box.options();
    await applyAdopt(await planAdopt(opts), opts);
    assert.ok(statSync(link).isFile());
    assert.ok(!readFileSync(target, "utf8").includes(TOKEN));
    assert.equal(readFileSync(link, "utf8"), readFileSync(target, "utf8"));
    assert.equal(readFileSync(listBackups(link)[0]!, "utf8"), cursorConfig());
  });

  it("adds a new version when the secret name already exists (adopt again after undo)", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options();
    await applyAdopt(await planAdopt(opts), opts);
    await undoAdopt(opts);
    const plan = await planAdopt(opts);
    assert.equal(plan.files[0]?.servers[0]?.items[0]?.secretExists, true);
    const result = await applyAdopt(plan, opts);
    assert.deepEqual(result.secrets, [
      { name: "cursor/github/GITHUB_PERSONAL_ACCESS_TOKEN", created: false },
    ]);
    assert.equal(box.store.values.get("cursor/github/GITHUB_PERSONAL_ACCESS_TOKEN")?.length, 2);
    assert.equal(listBackups(path).length, 1);
  });

  it("undo restores the newest backup first, then the one before", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options();
    await applyAdopt(await planAdopt(opts), opts);
    const firstAdopted = readFileSync(path, "utf8");
    // A second server with a token appears and is adopted too.
    const config = JSON.parse(firstAdopted) as { mcpServers: Record<string, unknown> };
    config.mcpServers.slack = { command: "npx", env: { SLACK_BOT_TOKEN: exampleChars("s", 40) } };
    writeFileSync(path, JSON.stringify(config, null, 2));
    const between = readFileSync(path, "utf8");
    await applyAdopt(await planAdopt(opts), opts);
    assert.equal(listBackups(path).length, 2);

    await undoAdopt(opts);
    assert.equal(readFileSync(path, "utf8"), between);
    await undoAdopt(opts);
    assert.equal(readFileSync(path, "utf8"), cursorConfig());
    assert.deepEqual(listBackups(path), []);
  });

  it("undo refuses a file that no longer runs keyward, unless forced", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options();
    await applyAdopt(await planAdopt(opts), opts);
    const edited = cursorConfig("${env:GITHUB_TOKEN}");
    writeFileSync(path, edited);
    const refused = await undoAdopt(opts);
    assert.equal(refused.restored.length, 0);
    assert.match(refused.skipped[0]?.reason ?? "", /edited or restored since/);
    assert.equal(readFileSync(path, "utf8"), edited);
    const forced = await undoAdopt({ ...opts, force: true });
    assert.equal(forced.restored.length, 1);
    assert.equal(readFileSync(path, "utf8"), cursorConfig());
  });

  it("deleteBackups removes every backup and nothing else", async () => {
    const path = box.place(FILE, cursorConfig());
    const opts = box.options();
    await applyAdopt(await planAdopt(opts), opts);
    const backups = findBackups(opts);
    assert.deepEqual(backups, listBackups(path));
    assert.equal(backups.length, 1);
    assert.deepEqual(deleteBackups(opts), backups);
    assert.deepEqual(findBackups(opts), []);
    assert.ok(readFileSync(path, "utf8").includes("run"));
  });

  it("skips entries it cannot rewrite safely, and says why", async () => {
    box.place(
      FILE,
      JSON.stringify({
        mcpServers: {
          argv: { command: "npx", args: ["--token", TOKEN], env: { API_KEY: KEY } },
          templated: {
            command: "node",
            args: ["${workspaceFolder}/server.js"],
            env: { API_KEY: KEY },
          },
          mixed: {
            url: "https://mcp.example.net/mcp",
            headers: { Authorization: `Bearer ${TOKEN}`, "X-Team": "${env:TEAM}" },
          },
          userinfo: { url: `https://user:${TOKEN}@mcp.example.net/mcp` },
          plain: { url: "http://mcp.example.net/mcp", headers: { "X-Api-Key": KEY } },
        },
      }),
    );
    const plan = await planAdopt(box.options());
    const reasons = Object.fromEntries(
      plan.files[0]!.servers.map((s) => [s.name, `${s.action}: ${s.reason ?? ""}`]),
    );
    assert.match(reasons.argv ?? "", /^skip: an argument looks like a github-pat token/);
    assert.match(reasons.templated ?? "", /^skip: its command or args use/);
    assert.match(reasons.mixed ?? "", /^skip: it mixes literal tokens/);
    assert.match(reasons.userinfo ?? "", /^skip: its url carries user:password/);
    assert.match(reasons.plain ?? "", /^skip: its url is not https/);
    assert.equal(plan.empty, true);
    assert.equal(adoptTable(plan).length, 0);
    assert.ok(plan.files[0]!.warnings.some((w) => w.includes("left as it is")));
    assert.ok(!JSON.stringify(plan).includes(TOKEN));
  });
});
