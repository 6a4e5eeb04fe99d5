/**
 * A complete small MCP server on keyward/sdk (examples/sdk-server/README.md): one tool,
 * `list_issues`, reading a repository's open issues from GitHub.
 *
 * - config: zod, with the GitHub key referenced by secret name (zSecret), never inlined;
 * - startup: assertScope stops the server when the key can do more than read issues;
 * - logs: a redacting pino logger on stderr (stdout is the MCP transport);
 * - the key is read per request through the handle, so a standalone rotation takes effect.
 *
 * Settings (environment): GITHUB_OWNER (required), GITHUB_TOKEN_SECRET (default
 * github/issues-reader), GITHUB_API_URL (default https://api.github.com), LOG_LEVEL.
 */
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import pino from "pino";
import { z } from "zod";
// In your own server: from "keyward/sdk".
import { assertScope, isKeywardError, redact, redactingPino, zSecret } from "../index.js";

const Config = z.object({
  // Needs: read issues (classic `repo`, or fine-grained `issues=read`). Never write or admin.
  githubToken: zSecret({ env: "GITHUB_TOKEN" }),
  owner: z.string().regex(/^[A-Za-z0-9-]+$/, "GITHUB_OWNER must be a GitHub user or organisation"),
  apiBaseUrl: z.url().default("https://api.github.com"),
});

const log = redactingPino(
  pino({ name: "issues-server", level: process.env.LOG_LEVEL ?? "info" }, pino.destination(2)),
);

async function main(): Promise<void> {
  const config = await Config.parseAsync({
    githubToken: process.env.GITHUB_TOKEN_SECRET ?? "github/issues-reader",
    owner: process.env.GITHUB_OWNER,
    apiBaseUrl: process.env.GITHUB_API_URL,
  });
  const github = config.githubToken;
  const scope = await assertScope(github, {
    provider: "github",
    needs: ["repo", "issues=read"],
    deny: ["delete_repo", "admin:*", "*=write", "*=admin"],
    settings: { apiBaseUrl: config.apiBaseUrl },
  });
  log.info({ secret: github, source: github.source, granted: scope.granted }, "GitHub key checked");
  github.on("rotated", ({ version }) => log.info({ version }, "GitHub key rotated"));
  github.on("revoked", ({ reason }) => log.error({ reason }, "GitHub key revoked"));

  const server = new McpServer({ name: "issues", version: "1.0.0" });
  server.registerTool(
    "list_issues",
    {
      description: `Lists the open issues of a repository owned by ${config.owner}`,
      inputSchema: { repo: z.string().regex(/^[A-Za-z0-9._-]+$/) },
    },
    async ({ repo }) => {
      const url = `${config.apiBaseUrl}/repos/${config.owner}/${repo}/issues?state=open`;
      const headers = {
        authorization: `Bearer ${github.value()}`,
        accept: "application/vnd.github+json",
        "user-agent": "keyward-sdk-example",
        "x-github-api-version": "2022-11-28",
      };
      // Logging a request's headers is the classic leak: this line logs
      // "authorization": "Bearer [REDACTED:github/issues-reader]".
      log.debug({ url, headers }, "calling GitHub");
      const res = await fetch(url, { headers, redirect: "error" });
      const body = await res.text();
      if (!res.ok) {
        log.warn({ repo, status: res.status }, "GitHub refused");
        // An upstream's message may echo what it was sent: scrub it before the model sees it.
        return {
          isError: true,
          content: [{ type: "text", text: redact(`GitHub ${res.status}: ${body}`) }],
        };
      }
      const issues = JSON.parse(body) as unknown;
      const lines = Array.isArray(issues)
        ? issues.map((i: { number: number; title: string }) => `#${i.number} ${i.title}`)
        : [];
      const text =
        lines.length > 0 ? lines.join("\n") : `no open issues in ${config.owner}/${repo}`;
      return { content: [{ type: "text", text: redact(text) }] };
    },
  );
  await server.connect(new StdioServerTransport());
  log.info("ready");
}

main().catch((e: unknown) => {
  // KeywardErrors name secrets and settings, never values; other errors go through the logger.
  if (isKeywardError(e)) log.fatal({ code: e.code, fix: e.fix }, e.message);
  else log.fatal({ err: e }, "startup failed");
  process.exitCode = 1;
});
