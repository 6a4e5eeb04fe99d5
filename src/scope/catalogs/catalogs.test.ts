import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { algebraFor, isPermissionLevel } from "../algebra.js";
import { enabledTools, type ProfileView } from "../catalog.js";
import { githubMcpServer } from "./github-mcp-server.js";
import { CATALOGS, detectCatalog, getCatalog } from "./index.js";
import { mcpAtlassian } from "./mcp-atlassian.js";
import { serverGithubNpm } from "./server-github-npm.js";
import { slackReference } from "./slack-reference.js";

describe("catalog data", () => {
  for (const catalog of CATALOGS) {
    it(`${catalog.id}: toolsets name only catalogued tools, every tool has a toolset`, () => {
      if (catalog.toolsets === undefined) return;
      const inToolsets = new Set(Object.values(catalog.toolsets).flat());
      for (const tool of inToolsets) assert.ok(tool in catalog.tools, `${tool} is not catalogued`);
      for (const tool of Object.keys(catalog.tools)) {
        assert.ok(inToolsets.has(tool), `${tool} has no toolset`);
      }
      for (const set of catalog.defaultToolsets ?? []) assert.ok(set in catalog.toolsets, set);
    });

    it(`${catalog.id}: fine-grained entries are perm=level, classic entries are not`, () => {
      for (const [name, tool] of Object.entries(catalog.tools)) {
        for (const s of tool.needs) assert.equal(isPermissionLevel(s), false, `${name}: ${s}`);
        for (const p of tool.needsFineGrained ?? []) {
          assert.ok(/^[a-z_]+=(read|write|admin)$/.test(p), `${name}: ${p}`);
        }
      }
    });
  }

  it("github catalogs use only classic scopes GitHub defines", () => {
    const known = algebraFor("github").hierarchy.known!;
    for (const catalog of [githubMcpServer, serverGithubNpm]) {
      for (const [name, tool] of Object.entries(catalog.tools)) {
        for (const s of tool.needs) assert.ok(known.has(s), `${catalog.id} ${name}: ${s}`);
      }
    }
  });

  it("ids are unique and found by getCatalog", () => {
    assert.equal(new Set(CATALOGS.map((c) => c.id)).size, CATALOGS.length);
    assert.equal(getCatalog("mcp-atlassian"), mcpAtlassian);
    assert.equal(getCatalog("nope"), undefined);
  });
});

describe("detect", () => {
  const cases: [string, ProfileView, string | undefined][] = [
    [
      "docker ghcr.io/github/github-mcp-server",
      {
        command: "docker",
        args: [
          "run",
          "-i",
          "--rm",
          "-e",
          "GITHUB_PERSONAL_ACCESS_TOKEN",
          "ghcr.io/github/github-mcp-server",
        ],
      },
      "github-mcp-server",
    ],
    [
      "docker with tag and stdio",
      {
        command: "/usr/local/bin/docker",
        args: ["run", "-i", "ghcr.io/github/github-mcp-server:v0.9.0", "stdio"],
      },
      "github-mcp-server",
    ],
    [
      "the built binary",
      { command: "/opt/github-mcp-server", args: ["stdio"] },
      "github-mcp-server",
    ],
    [
      "go run from a checkout",
      {
        command: "go",
        args: ["run", "github.com/github/github-mcp-server/cmd/github-mcp-server", "stdio"],
      },
      "github-mcp-server",
    ],
    ["remote endpoint", { url: "https://api.githubcopilot.com/mcp/" }, "github-mcp-server"],
    [
      "npx @modelcontextprotocol/server-github",
      { command: "npx", args: ["-y", "@modelcontextprotocol/server-github"] },
      "server-github-npm",
    ],
    [
      "npx.cmd on Windows with a version",
      {
        command: "C:\\Program Files\\nodejs\\npx.cmd",
        args: ["-y", "@modelcontextprotocol/server-github@2025.4.8"],
      },
      "server-github-npm",
    ],
    [
      "docker mcp/github",
      { command: "docker", args: ["run", "-i", "--rm", "mcp/github"] },
      "server-github-npm",
    ],
    [
      "npx @modelcontextprotocol/server-slack",
      { command: "npx", args: ["-y", "@modelcontextprotocol/server-slack"] },
      "server-slack",
    ],
    [
      "the maintained slack fork",
      { command: "npx", args: ["-y", "@zencoderai/slack-mcp-server"] },
      "server-slack",
    ],
    ["uvx mcp-atlassian", { command: "uvx", args: ["mcp-atlassian"] }, "mcp-atlassian"],
    [
      "uvx with a pinned version",
      { command: "uvx", args: ["mcp-atlassian==0.11.9", "--read-only"] },
      "mcp-atlassian",
    ],
    [
      "docker ghcr.io/sooperset/mcp-atlassian",
      {
        command: "docker",
        args: [
          "run",
          "--rm",
          "-i",
          "--env-file",
          "/x.env",
          "ghcr.io/sooperset/mcp-atlassian:latest",
        ],
      },
      "mcp-atlassian",
    ],
    [
      "python -m mcp_atlassian",
      { command: "python3", args: ["-m", "mcp_atlassian"] },
      "mcp-atlassian",
    ],
    [
      "an unrelated server",
      { command: "npx", args: ["-y", "@modelcontextprotocol/server-everything"] },
      undefined,
    ],
    [
      "a look-alike image",
      { command: "docker", args: ["run", "ghcr.io/github/github-mcp-server-fork"] },
      undefined,
    ],
    ["another remote", { url: "https://mcp.example.com/mcp" }, undefined],
  ];
  for (const [label, profile, expected] of cases) {
    it(label, () => assert.equal(detectCatalog(profile)?.id, expected));
  }
});

describe("github-mcp-server restrict", () => {
  it("reads GITHUB_TOOLSETS, GITHUB_TOOLS, GITHUB_EXCLUDE_TOOLS and GITHUB_READ_ONLY from setEnv", () => {
    const r = githubMcpServer.restrict({
      command: "docker",
      args: [
        "run",
        "-i",
        "-e",
        "GITHUB_TOOLSETS",
        "-e",
        "GITHUB_READ_ONLY",
        "ghcr.io/github/github-mcp-server",
      ],
      setEnv: {
        GITHUB_TOOLSETS: "repos, issues",
        GITHUB_TOOLS: "get_gist",
        GITHUB_EXCLUDE_TOOLS: "push_files",
        GITHUB_READ_ONLY: "1",
      },
    });
    assert.deepEqual(r, {
      toolsets: ["repos", "issues"],
      tools: ["get_gist"],
      excludeTools: ["push_files"],
      readOnly: true,
    });
  });

  it("reads docker -e NAME=value and flags; the env var wins over --toolsets", () => {
    const r = githubMcpServer.restrict({
      command: "docker",
      args: [
        "run",
        "-e",
        "GITHUB_TOOLSETS=actions",
        "ghcr.io/github/github-mcp-server",
        "stdio",
        "--toolsets=repos",
        "--read-only",
      ],
    });
    assert.deepEqual(r, { toolsets: ["actions"], readOnly: true });
    assert.deepEqual(
      githubMcpServer.restrict({
        command: "github-mcp-server",
        args: ["stdio", "--toolsets", "gists"],
      }),
      {
        toolsets: ["gists"],
      },
    );
  });

  it("reads the remote URL path and X-MCP-* headers", () => {
    assert.deepEqual(
      githubMcpServer.restrict({ url: "https://api.githubcopilot.com/mcp/x/issues/readonly" }),
      {
        toolsets: ["issues"],
        readOnly: true,
      },
    );
    assert.deepEqual(
      githubMcpServer.restrict({
        url: "https://api.githubcopilot.com/mcp/",
        headers: { "x-mcp-toolsets": "repos,pull_requests", "X-MCP-Readonly": "true" },
      }),
      { toolsets: ["repos", "pull_requests"], readOnly: true },
    );
  });

  it("dynamic toolsets count every toolset", () => {
    const r = githubMcpServer.restrict({
      command: "github-mcp-server",
      args: ["stdio", "--dynamic-toolsets"],
    });
    assert.deepEqual(r.toolsets, ["all"]);
    assert.match(r.notes?.[0] ?? "", /dynamic toolsets/);
  });

  it("follows the server's rules for toolsets, tools and read-only", () => {
    const defaults = enabledTools(githubMcpServer, {});
    assert.ok(defaults.tools.includes("get_me") && defaults.tools.includes("create_pull_request"));
    assert.ok(!defaults.tools.includes("list_gists"));
    assert.deepEqual(defaults.withheld, ["delete_repository"]);
    // A tool list alone enables just those tools.
    assert.deepEqual(enabledTools(githubMcpServer, { tools: ["get_me", "get_gist"] }).tools, [
      "get_gist",
      "get_me",
    ]);
    // Tools add to toolsets; read-only drops write tools even when named.
    const mixed = enabledTools(githubMcpServer, {
      toolsets: ["gists"],
      tools: ["issue_write", "issue_read"],
      readOnly: true,
    });
    assert.deepEqual(mixed.tools, ["get_gist", "issue_read", "list_gists"]);
    // `default` expands, unknown names are reported, excluded tools are dropped.
    const expanded = enabledTools(githubMcpServer, {
      toolsets: ["default", "stargazers", "nonsense"],
      excludeTools: ["get_me"],
    });
    assert.ok(expanded.tools.includes("star_repository"));
    assert.ok(!expanded.tools.includes("get_me"));
    assert.deepEqual(expanded.unknownToolsets, ["nonsense"]);
    // Naming a destructive tool counts it.
    assert.deepEqual(enabledTools(githubMcpServer, { tools: ["delete_repository"] }).tools, [
      "delete_repository",
    ]);
  });
});

describe("mcp-atlassian restrict", () => {
  it("reads TOOLSETS, ENABLED_TOOLS and READ_ONLY_MODE; both services configured", () => {
    const r = mcpAtlassian.restrict({
      command: "uvx",
      args: ["mcp-atlassian"],
      env: { JIRA_API_TOKEN: "atlassian/jira", CONFLUENCE_API_TOKEN: "atlassian/wiki" },
      setEnv: {
        JIRA_URL: "https://acme.atlassian.net",
        CONFLUENCE_URL: "https://acme.atlassian.net/wiki",
        TOOLSETS: "default,jira_agile",
        ENABLED_TOOLS: "jira_get_issue,jira_search,confluence_search",
        READ_ONLY_MODE: "true",
      },
    });
    assert.deepEqual(r, {
      toolsets: ["default", "jira_agile"],
      tools: ["jira_get_issue", "jira_search", "confluence_search"],
      readOnly: true,
    });
    // mcp-atlassian intersects TOOLSETS with ENABLED_TOOLS.
    assert.deepEqual(enabledTools(mcpAtlassian, r).tools, [
      "confluence_search",
      "jira_get_issue",
      "jira_search",
    ]);
  });

  it("counts only Jira toolsets when only Jira is configured", () => {
    const r = mcpAtlassian.restrict({
      command: "uvx",
      args: ["mcp-atlassian", "--read-only"],
      env: { JIRA_API_TOKEN: "atlassian/jira" },
      setEnv: { JIRA_URL: "https://acme.atlassian.net", JIRA_USERNAME: "me@acme.test" },
    });
    assert.equal(r.readOnly, true);
    assert.ok(r.toolsets?.every((t) => t.startsWith("jira_")));
    assert.ok(r.toolsets?.includes("jira_agile"), "TOOLSETS unset means all toolsets");
    const tools = enabledTools(mcpAtlassian, r).tools;
    assert.ok(
      tools.length > 0 &&
        tools.every((t) => t.startsWith("jira_") && mcpAtlassian.tools[t]?.readOnly),
    );
  });

  it("notes that an unset TOOLSETS enables everything", () => {
    const r = mcpAtlassian.restrict({ command: "uvx", args: ["mcp-atlassian"] });
    assert.equal(r.toolsets, undefined);
    assert.match(r.notes?.join("\n") ?? "", /TOOLSETS is not set/);
    assert.equal(
      enabledTools(mcpAtlassian, r).tools.length,
      Object.keys(mcpAtlassian.tools).length,
    );
  });

  it("a key's variable selects its product's tools", () => {
    const tools = enabledTools(mcpAtlassian, {}, "CONFLUENCE_API_TOKEN").tools;
    assert.ok(tools.length > 0 && tools.every((t) => t.startsWith("confluence_")));
  });
});

describe("servers without knobs", () => {
  it("the npm GitHub and Slack reference servers restrict nothing", () => {
    const profile = {
      command: "npx",
      args: ["-y", "@modelcontextprotocol/server-slack"],
      setEnv: { SLACK_TEAM_ID: "T1" },
    };
    assert.deepEqual(slackReference.restrict(profile), {});
    assert.deepEqual(
      serverGithubNpm.restrict({ command: "npx", args: ["@modelcontextprotocol/server-github"] }),
      {},
    );
    assert.equal(enabledTools(slackReference).tools.length, 8);
  });
});
