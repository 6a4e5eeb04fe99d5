import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ScopeReport } from "../providers/types.js";
import { githubMcpServer } from "./catalogs/github-mcp-server.js";
import { mcpAtlassian } from "./catalogs/mcp-atlassian.js";
import { serverGithubNpm } from "./catalogs/server-github-npm.js";
import { slackReference } from "./catalogs/slack-reference.js";
import { checkScope, renderScopeCheck } from "./check.js";

const report = (granted: string[], partial = false): ScopeReport => ({ granted, partial });

describe("checkScope verdicts", () => {
  it("over-privileged: classic PAT with admin:org and delete_repo for the default toolsets", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["repo", "admin:org", "delete_repo"]),
      catalog: githubMcpServer,
    });
    assert.equal(check.verdict, "over-privileged");
    assert.equal(check.mode, "classic");
    assert.deepEqual(check.needed, ["read:org", "repo"]);
    assert.deepEqual(check.granted, ["admin:org", "delete_repo", "repo"]);
    assert.deepEqual(check.excess, ["admin:org", "delete_repo"]);
    assert.deepEqual(check.narrowings, [
      { scope: "admin:org", suggest: ["read:org"] },
      { scope: "delete_repo", suggest: [] },
    ]);
    assert.deepEqual(check.missing, []);
    assert.deepEqual(check.recipe.classic, ["read:org", "repo"]);
    assert.ok(check.notes.some((n) => n.startsWith("delete_repository needs delete_repo")));
  });

  it("least-privilege: exactly what the enabled tools need", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["repo", "read:org"]),
      catalog: githubMcpServer,
    });
    assert.equal(check.verdict, "least-privilege");
    assert.deepEqual(check.excess, []);
    assert.deepEqual(check.missing, []);
  });

  it("missing: a public_repo token for a server that needs repo and read:org", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["public_repo"]),
      catalog: githubMcpServer,
    });
    assert.equal(check.verdict, "missing");
    assert.deepEqual(check.missing, ["read:org", "repo"]);
  });

  it("unknown: no catalog and no declared scope", () => {
    const check = checkScope({ provider: "github", granted: report(["repo"]) });
    assert.equal(check.verdict, "unknown");
    assert.deepEqual(check.needed, []);
    assert.match(check.recipe.text, /declare the scope/);
  });

  it("unknown: the provider could not list the key's scopes", () => {
    const check = checkScope({
      provider: "github",
      granted: report([], true),
      catalog: githubMcpServer,
      tokenKind: "fine-grained-pat",
    });
    assert.equal(check.verdict, "unknown");
    assert.equal(check.mode, "fine-grained");
    assert.ok(check.notes.some((n) => /could not list/.test(n)));
  });

  it("partial reports: what was seen can be excess, absence is not missing", () => {
    const excess = checkScope({
      provider: "github",
      granted: report(["contents=write", "metadata=read"], true),
      catalog: githubMcpServer,
      restriction: { toolsets: ["repos"], readOnly: true },
    });
    assert.equal(excess.verdict, "over-privileged");
    assert.deepEqual(excess.narrowings, [{ scope: "contents=write", suggest: ["contents=read"] }]);

    const unseen = checkScope({
      provider: "github",
      granted: report(["metadata=read"], true),
      catalog: githubMcpServer,
      restriction: { toolsets: ["repos"], readOnly: true },
    });
    assert.equal(unseen.verdict, "unknown");
    assert.deepEqual(unseen.missing, []);
    assert.ok(unseen.notes.some((n) => n.includes("not seen") && n.includes("contents=read")));
  });
});

describe("restrictions shrink the needed set", () => {
  it("a toolset and read-only mode (fine-grained)", () => {
    const all = checkScope({
      provider: "github",
      granted: report(["contents=write", "issues=write", "metadata=read"]),
      catalog: githubMcpServer,
      restriction: { toolsets: ["repos", "issues"] },
    });
    assert.deepEqual(all.needed, [
      "administration=write",
      "contents=write",
      "issues=write",
      "metadata=read",
    ]);

    const readOnly = checkScope({
      provider: "github",
      granted: report(["contents=write", "issues=write", "metadata=read"]),
      catalog: githubMcpServer,
      restriction: { toolsets: ["repos", "issues"], readOnly: true },
    });
    assert.deepEqual(readOnly.needed, ["contents=read", "issues=read", "metadata=read"]);
    assert.equal(readOnly.verdict, "over-privileged");
    assert.deepEqual(readOnly.excess, ["contents=write", "issues=write"]);
  });

  it("a toolset (classic): gists alone need gist, read-only gists need nothing", () => {
    const gists = checkScope({
      provider: "github",
      granted: report(["repo", "gist"]),
      catalog: githubMcpServer,
      restriction: githubMcpServer.restrict({
        command: "github-mcp-server",
        setEnv: { GITHUB_TOOLSETS: "gists" },
      }),
    });
    assert.deepEqual(gists.needed, ["gist"]);
    assert.deepEqual(gists.excess, ["repo"]);

    const readOnly = checkScope({
      provider: "github",
      granted: report(["gist"]),
      catalog: githubMcpServer,
      restriction: { toolsets: ["gists"], readOnly: true },
    });
    assert.deepEqual(readOnly.needed, []);
    assert.deepEqual(readOnly.excess, ["gist"]);
  });

  it("mcp-atlassian read-only Jira: a classic API token is over-privileged", () => {
    const profile = {
      command: "uvx",
      args: ["mcp-atlassian"],
      env: { JIRA_API_TOKEN: "atlassian/jira" },
      setEnv: {
        JIRA_URL: "https://acme.atlassian.net",
        READ_ONLY_MODE: "true",
        TOOLSETS: "default",
      },
    };
    const check = checkScope({
      provider: "atlassian",
      granted: report(["*"]),
      catalog: mcpAtlassian,
      restriction: mcpAtlassian.restrict(profile),
    });
    assert.deepEqual(check.needed, ["read:jira-work"]);
    assert.equal(check.verdict, "over-privileged");
    assert.deepEqual(check.excess, ["*"]);
    assert.deepEqual(check.recipe.classic, ["read:jira-work"]);
    assert.match(
      check.recipe.text,
      /^create a scoped Atlassian API token .* with: read:jira-work\./,
    );
    assert.match(check.recipe.text, /api\.atlassian\.com\/ex\/jira\/\{cloudId\}/);
  });
});

describe("recipes", () => {
  it("github fine-grained recipe names permissions and repositories", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["contents=write", "metadata=read"]),
      catalog: githubMcpServer,
      restriction: { toolsets: ["repos", "issues"], readOnly: true },
    });
    assert.deepEqual(check.recipe.fineGrained, ["contents=read", "issues=read", "metadata=read"]);
    assert.equal(
      check.recipe.text,
      "create a fine-grained PAT with: contents=read, issues=read, metadata=read on the repositories it needs; or a classic PAT with: repo.",
    );
  });

  it("github classic-only tools make the recipe a classic PAT", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["notifications=read"]),
      catalog: githubMcpServer,
      restriction: { toolsets: ["notifications"], readOnly: true },
    });
    assert.match(
      check.recipe.text,
      /^create a classic PAT with: notifications \(fine-grained PATs cannot use/,
    );
    assert.ok(
      check.notes.some((n) =>
        n.startsWith("fine-grained tokens cannot use: get_notification_details"),
      ),
    );
  });

  it("slack: a browser session token is over-privileged; the recipe is a bot token", () => {
    const check = checkScope({
      provider: "slack",
      granted: report([]),
      tokenKind: "session",
      catalog: slackReference,
    });
    assert.equal(check.verdict, "over-privileged");
    assert.deepEqual(check.needed, [
      "channels:history",
      "channels:read",
      "chat:write",
      "reactions:write",
      "users.profile:read",
      "users:read",
    ]);
    assert.match(
      check.recipe.text,
      /^replace the browser session token \(xoxc-\/xoxd-\) with a Slack app bot token \(xoxb-\) with scopes: channels:history/,
    );
  });

  it("slack bot token with an extra scope", () => {
    const check = checkScope({
      provider: "slack",
      granted: report([
        "channels:history",
        "channels:read",
        "chat:write",
        "reactions:write",
        "users.profile:read",
        "users:read",
        "files:write",
      ]),
      catalog: slackReference,
    });
    assert.equal(check.verdict, "over-privileged");
    assert.deepEqual(check.excess, ["files:write"]);
  });

  it("the archived npm GitHub server needs repo", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["repo"]),
      catalog: serverGithubNpm,
    });
    assert.equal(check.verdict, "least-privilege");
    assert.match(check.recipe.text, /archived/);
  });
});

describe("declared scope", () => {
  it("without a catalog, the declared scope is the need", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["repo", "workflow"]),
      declared: ["public_repo"],
    });
    assert.deepEqual(check.needed, ["public_repo"]);
    assert.equal(check.verdict, "over-privileged");
    assert.deepEqual(check.narrowings, [
      { scope: "repo", suggest: ["public_repo"] },
      { scope: "workflow", suggest: [] },
    ]);
    assert.equal(check.recipe.text, "create a classic PAT with: public_repo.");
  });

  it("declared fine-grained scope against a fine-grained key", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["contents=read", "metadata=read"]),
      declared: ["contents:read"],
    });
    assert.equal(check.verdict, "least-privilege");
    assert.deepEqual(check.needed, ["contents=read", "metadata=read"]);
  });

  it("declared classic scope against a fine-grained key is unknown", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["contents=read"]),
      declared: ["repo"],
    });
    assert.equal(check.verdict, "unknown");
    assert.ok(check.notes.some((n) => n.includes("names no fine-grained scopes")));
  });

  it("with a catalog, disagreements and unknown names are noted", () => {
    const check = checkScope({
      provider: "github",
      granted: report(["repo", "read:org"]),
      catalog: githubMcpServer,
      declared: ["repo:read", "admin:org"],
    });
    assert.ok(check.notes.includes("declared scope names unknown to github: repo:read"));
    assert.ok(check.notes.includes("declared scope lacks what the enabled tools need: repo"));
    assert.ok(
      check.notes.some((n) => n.startsWith("declared scope is broader") && n.includes("admin:org")),
    );
  });

  it("for other providers the recipe lists the scopes", () => {
    const check = checkScope({
      provider: "internal-api",
      granted: report(["read", "write"]),
      declared: ["read"],
    });
    assert.equal(check.verdict, "over-privileged");
    assert.equal(check.recipe.text, "issue a key limited to: read.");
  });
});

describe("renderScopeCheck", () => {
  it("prints needed, granted, excess with narrowing, recipe and notes", () => {
    const text = renderScopeCheck(
      checkScope({
        provider: "github",
        granted: report(["repo", "admin:org", "delete_repo"]),
        catalog: githubMcpServer,
        restriction: { toolsets: ["context", "repos"], readOnly: true },
      }),
    );
    const lines = text.split("\n");
    assert.equal(lines[0], "verdict: over-privileged");
    assert.match(
      lines[1]!,
      /^server: GitHub MCP Server \(github\/github-mcp-server\) \(\d+ tools counted\)$/,
    );
    assert.equal(lines[2], "needed: read:org, repo");
    assert.equal(lines[3], "granted: admin:org, delete_repo, repo");
    assert.equal(lines[4], "over-privileged by: admin:org (narrow to read:org), delete_repo");
    assert.match(
      lines[5]!,
      /^least-privilege recipe: create a fine-grained PAT with: contents=read, members=read, metadata=read on the repositories it needs; or a classic PAT with: read:org, repo\.$/,
    );
  });

  it("prints missing scopes and full access in words", () => {
    const missing = renderScopeCheck(
      checkScope({
        provider: "github",
        granted: report(["public_repo"]),
        catalog: githubMcpServer,
      }),
    );
    assert.ok(missing.includes("\nmissing: read:org, repo\n"));
    assert.ok(!missing.includes("over-privileged by"));

    const full = renderScopeCheck(
      checkScope({ provider: "atlassian", granted: report(["*"]), declared: ["read:jira-work"] }),
    );
    assert.ok(
      full.includes(
        "granted: everything the user can do in Jira and Confluence (classic API token)",
      ),
    );
    assert.ok(
      full.includes(
        "over-privileged by: everything the user can do in Jira and Confluence (classic API token)\n",
      ),
    );
    assert.ok(full.includes("note: no catalog for this server"));
  });

  it("prints (none) for an empty set", () => {
    const text = renderScopeCheck(
      checkScope({
        provider: "github",
        granted: report([]),
        catalog: githubMcpServer,
        restriction: { toolsets: ["gists"], readOnly: true },
      }),
    );
    assert.ok(text.includes("needed: (none)"));
    assert.ok(text.includes("granted: (none)"));
    assert.ok(text.startsWith("verdict: least-privilege"));
  });
});
