import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { withClassicChecksum } from "../detect/index.js";
import { encodedForms, testHome } from "../testing/cli.js";
import { git } from "../testing/git.js";

const BASE62 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
/** A GitHub classic PAT with a valid CRC-32, made at run time so none is committed. */
function githubToken(): string {
  const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
  return withClassicChecksum("gh" + "p_", body);
}

describe("keyward audit from the CLI", () => {
  it("grades a real git repository, in every format, without printing the secret", async () => {
    const t = testHome();
    try {
      const repo = join(t.home, "server");
      mkdirSync(join(repo, "src"), { recursive: true });
      const token = githubToken();
      git(repo, "init", "-q");
      writeFileSync(join(repo, "src", "config.ts"), `export const token = "${token}";\n`);
      git(repo, "add", ".");
      git(repo, "commit", "-qm", "add config");
      writeFileSync(
        join(repo, "src", "config.ts"),
        "export const token = process.env.GITHUB_TOKEN;\n",
      );
      writeFileSync(
        join(repo, "src", "server.ts"),
        'const token = process.env.GITHUB_TOKEN;\nconsole.error("auth with", token);\n',
      );
      git(repo, "add", ".");
      git(repo, "commit", "-qm", "read from env");

      const json = await t.run(["audit", repo, "--format", "json"]);
      assert.equal(json.code, 0, json.stderr);
      const report = JSON.parse(json.stdout);
      assert.ok(report.findings.some((f: { ruleId: string }) => f.ruleId === "flow/log"));
      assert.equal(report.grades.exposure, "D", "a key logged on error lands at D");

      const history = await t.run(["audit", repo, "--history", "--format", "json"]);
      const inHistory = JSON.parse(history.stdout).findings.filter(
        (f: { kind: string }) => f.kind === "secret",
      );
      assert.equal(inHistory.length, 1);
      assert.equal(inHistory[0].location.presentInTree, false, "deleted since: only in history");
      assert.ok(inHistory[0].location.commit);

      const sarif = await t.run(["audit", repo, "--history", "--format", "sarif"]);
      const log = JSON.parse(sarif.stdout);
      assert.equal(log.version, "2.1.0");
      assert.ok(log.runs[0].results.length >= 2);

      const failing = await t.run([
        "audit",
        repo,
        "--history",
        "--fail-on",
        "D",
        "--format",
        "markdown",
      ]);
      assert.equal(failing.code, 1, "--fail-on D fails on a D grade");
      assert.match(failing.stdout, /Credential Exposure/);
      const badSpec = await t.run(["audit", repo, "--fail-on", "purple"]);
      assert.equal(badSpec.code, 2);

      for (const out of [json, history, sarif, failing]) {
        for (const form of encodedForms(token)) {
          assert.ok(
            !out.stdout.includes(form) && !out.stderr.includes(form),
            "a report carries the token",
          );
        }
      }
      const notGit = await t.run(["audit", t.home, "--history"]);
      assert.equal(notGit.code, 2);
      assert.match(notGit.stderr, /git/);
    } finally {
      t.cleanup();
    }
  });
});

describe("keyward audit --since", () => {
  it("scans only the commits after a revision, and names a revision it cannot find", async () => {
    const t = testHome();
    try {
      const repo = join(t.home, "server");
      mkdirSync(repo);
      const old = githubToken();
      const fresh = githubToken();
      git(repo, "init", "-q", "-b", "main");
      writeFileSync(join(repo, "a.ts"), `export const t = "${old}";\n`);
      git(repo, "add", ".");
      git(repo, "commit", "-qm", "old");
      writeFileSync(join(repo, "a.ts"), "export const t = process.env.T;\n");
      git(repo, "commit", "-qam", "fixed");
      git(repo, "checkout", "-q", "-b", "pr");
      writeFileSync(join(repo, "b.ts"), `export const t = "${fresh}";\n`);
      git(repo, "add", ".");
      git(repo, "commit", "-qm", "new");
      writeFileSync(join(repo, "b.ts"), "export const t = process.env.T;\n");
      git(repo, "commit", "-qam", "fixed too");

      const secrets = (stdout: string) =>
        JSON.parse(stdout).findings.filter((f: { kind: string }) => f.kind === "secret");
      const all = await t.run(["audit", repo, "--history", "--format", "json"]);
      assert.equal(secrets(all.stdout).length, 2, all.stderr);
      const pr = await t.run(["audit", repo, "--since", "main", "--format", "json"]);
      assert.equal(pr.code, 0, pr.stderr);
      assert.deepEqual(
        secrets(pr.stdout).map((f: { location: { path: string } }) => f.location.path),
        ["b.ts"],
      );
      const missing = await t.run(["audit", repo, "--since", "origin/main"]);
      assert.equal(missing.code, 2);
      assert.match(missing.stderr, /"origin\/main" is not a commit/);
      assert.match(missing.stderr, /fetch-depth 0/);
      assert.doesNotMatch(missing.stderr, /\n\s+at /, "no stack trace for a usage error");
      for (const out of [all, pr, missing])
        for (const form of [...encodedForms(old), ...encodedForms(fresh)])
          assert.ok(!out.stdout.includes(form) && !out.stderr.includes(form));
    } finally {
      t.cleanup();
    }
  });
});

describe("keyward audit --threads", () => {
  it("gives the report one thread gives, and refuses a count that is not one", async () => {
    const t = testHome();
    try {
      const root = join(t.home, "server");
      mkdirSync(root);
      writeFileSync(join(root, "config.ts"), `export const token = "${githubToken()}";\n`);
      writeFileSync(
        join(root, "server.ts"),
        'const token = process.env.GITHUB_TOKEN;\nconsole.error("auth with", token);\n',
      );
      for (let i = 0; i < 40; i++)
        writeFileSync(join(root, `m${i}.ts`), `export const v = ${i};\n`);
      const reports = [];
      for (const threads of ["1", "3"]) {
        const out = await t.run(["audit", root, "--threads", threads, "--format", "json"]);
        assert.equal(out.code, 0, out.stderr);
        const report = JSON.parse(out.stdout);
        report.stats.durationMs = 0;
        reports.push(report);
      }
      assert.ok(reports[0].findings.length >= 2);
      assert.deepEqual(reports[1], reports[0]);
      const excluding = await t.run(["audit", root, "--exclude", "config.ts", "--exclude", "m1*"]);
      assert.equal(excluding.code, 0, excluding.stderr);
      assert.doesNotMatch(excluding.stdout, /config\.ts/);
      assert.match(excluding.stdout, / 12 excluded by \.keywardignore or --exclude;/);
      for (const bad of ["0", "1.5", "many", "65"]) {
        const out = await t.run(["audit", root, "--threads", bad]);
        assert.equal(out.code, 2, bad);
        assert.match(out.stderr, /--threads must be a whole number from 1 to 64/);
        assert.doesNotMatch(out.stderr, /\n\s+at /, "no stack trace for a usage error");
      }
    } finally {
      t.cleanup();
    }
  });
});

describe("keyward adopt from the CLI", () => {
  it("moves a literal key from a Cursor config into the store, rewrites the entry, and undoes it", async () => {
    // A key-file store: a client launching keyward run could not supply KEYWARD_MASTER_KEY.
    const t = testHome({ KEYWARD_MASTER_KEY: "" });
    try {
      assert.equal((await t.run(["init", "--key-source", "key-file"])).code, 0);
      const token = githubToken();
      const cursor = join(t.home, ".cursor", "mcp.json");
      mkdirSync(join(t.home, ".cursor"));
      const original = `${JSON.stringify(
        {
          mcpServers: {
            github: {
              command: "npx",
              args: ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
              env: { GITHUB_PERSONAL_ACCESS_TOKEN: token, GITHUB_TOOLSETS: "repos" },
            },
          },
        },
        null,
        2,
      )}\n`;
      writeFileSync(cursor, original);

      const dry = await t.run(["adopt", "--client", "cursor", "--dry-run", "--json"]);
      assert.equal(dry.code, 0, dry.stderr);
      assert.deepEqual(
        JSON.parse(dry.stdout).moves.map((m: { secret: string }) => m.secret),
        ["cursor/github/GITHUB_PERSONAL_ACCESS_TOKEN"],
      );
      assert.equal(readFileSync(cursor, "utf8"), original, "a dry run changes nothing");

      const adopt = await t.run(["adopt", "--client", "cursor"]);
      assert.equal(adopt.code, 0, adopt.stderr);
      const rewritten = readFileSync(cursor, "utf8");
      assert.ok(!rewritten.includes(token), "the client config no longer holds the key");
      const entry = JSON.parse(rewritten).mcpServers.github;
      assert.deepEqual(entry.args.slice(-2), ["run", "cursor-github"]);
      assert.equal(entry.env.GITHUB_TOOLSETS, "repos", "settings stay");
      const stored = await t.run(["secret", "get", "cursor/github/GITHUB_PERSONAL_ACCESS_TOKEN"]);
      assert.equal(stored.stdout, token);
      for (const out of [dry, adopt]) {
        for (const form of encodedForms(token))
          assert.ok(!out.stdout.includes(form) && !out.stderr.includes(form));
      }

      const undo = await t.run(["adopt", "--client", "cursor", "--undo"]);
      assert.equal(undo.code, 0, undo.stderr);
      assert.equal(readFileSync(cursor, "utf8"), original, "undo restores the file byte for byte");
    } finally {
      t.cleanup();
    }
  });

  it("refuses to adopt into a store opened with KEYWARD_MASTER_KEY", async () => {
    const t = testHome();
    try {
      await t.run(["init"]);
      mkdirSync(join(t.home, ".cursor"));
      writeFileSync(
        join(t.home, ".cursor", "mcp.json"),
        JSON.stringify({
          mcpServers: {
            s: { command: "x", env: { API_TOKEN: `tok_${randomBytes(16).toString("hex")}` } },
          },
        }),
      );
      const r = await t.run(["adopt", "--client", "cursor"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /rekey --key-source key-file/);
    } finally {
      t.cleanup();
    }
  });
});
