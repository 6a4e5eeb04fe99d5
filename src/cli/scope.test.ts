import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startFakeGitHub } from "../providers/github/testing/fake-github.js";
import { encodedForms, testHome } from "../testing/cli.js";

/**
 * `keyward scope check` and `keyward providers` end to end. GitHub is the local fake in
 * src/providers/github/testing/fake-github.ts, which follows ../shared/reference/providers.md §1.3
 * (X-OAuth-Scopes and GitHub-Authentication-Token-Expiration on GET /rate_limit).
 */
describe("keyward scope check from the CLI", () => {
  it("reports a classic PAT with admin:org and delete_repo as over-privileged for a read-only GitHub server", async () => {
    const github = await startFakeGitHub();
    const t = testHome();
    try {
      const token = github.addToken({
        kind: "classic-pat",
        scopes: ["repo", "admin:org", "delete_repo"],
      });
      await t.run(["init"]);
      assert.equal(
        (await t.run(["secret", "set", "github/pat", "--provider", "github"], { stdin: token }))
          .code,
        0,
      );
      const config = join(t.home, "keyward.yaml");
      writeFileSync(
        config,
        [
          "version: 1",
          "secrets:",
          "  github/pat: { provider: github }",
          "providers:",
          `  github: { apiBaseUrl: ${JSON.stringify(github.settings.apiBaseUrl)} }`,
          "profiles:",
          "  github:",
          "    command: docker",
          "    args: [run, -i, --rm, -e, GITHUB_PERSONAL_ACCESS_TOKEN, -e, GITHUB_TOOLSETS, -e, GITHUB_READ_ONLY, ghcr.io/github/github-mcp-server]",
          "    env: { GITHUB_PERSONAL_ACCESS_TOKEN: github/pat }",
          '    setEnv: { GITHUB_TOOLSETS: "repos,issues", GITHUB_READ_ONLY: "1" }',
          "",
        ].join("\n"),
      );
      const json = await t.run(["--config", config, "scope", "check", "github", "--json"]);
      assert.equal(json.code, 1, `over-privileged exits 1: ${json.stderr}`);
      const [result] = JSON.parse(json.stdout);
      assert.equal(result.profile, "github");
      assert.equal(result.check.verdict, "over-privileged");
      assert.ok(result.check.excess.includes("delete_repo"));
      assert.ok(result.check.excess.includes("admin:org"));
      assert.deepEqual(result.check.missing, []);
      const text = await t.run(["--config", config, "scope", "check", "github/pat"]);
      assert.match(text.stdout, /over-privileged by: .*delete_repo/);
      assert.match(text.stdout, /least-privilege recipe:/);
      for (const out of [json, text]) {
        for (const form of encodedForms(token))
          assert.ok(!out.stdout.includes(form) && !out.stderr.includes(form));
      }
      const log = JSON.parse((await t.run(["log", "--action", "scope-check", "--json"])).stdout);
      assert.ok(log.length >= 2);
      assert.match(log[0].detail, /over-privileged/);

      // A 401 upstream is a clear error naming the secret, exit 1, no stack trace.
      github.failNext(401, 5);
      const refused = await t.run(["--config", config, "scope", "check", "github/pat", "--json"]);
      assert.equal(refused.code, 1);
      assert.ok(JSON.parse(refused.stdout)[0].error.message.includes("github/pat"));
    } finally {
      t.cleanup();
      await github.close();
    }
  });

  it("prints the capability matrix", async () => {
    const t = testHome();
    try {
      const r = await t.run(["providers", "--json"]);
      assert.equal(r.code, 0);
      const ids = JSON.parse(r.stdout).providers.map((p: { id: string }) => p.id);
      assert.deepEqual(ids, ["github", "slack", "atlassian", "http", "command"]);
      const text = await t.run(["providers"]);
      assert.match(text.stdout, /github\s+classic-pat\s+yes/);
    } finally {
      t.cleanup();
    }
  });
});
