import type { Command } from "commander";
import type { CliContext } from "../context.js";

export function registerScope(program: Command, ctx: CliContext): void {
  const scope = program
    .command("scope")
    .description("check keys' real scope against what their MCP servers need");
  scope
    .command("check <secret-or-profile>")
    .description(
      "ask the provider what the key can do, compare it with what the server's enabled tools need, and print the least-privilege recipe (exit 1 when over-privileged or missing scope)",
    )
    .option("--timeout <ms>", "give up on the provider after this long", "10000")
    .option("--json", "print as JSON")
    .action(async (target: string, opts) => {
      const { renderScopeCheck } = await import("../../scope/check.js");
      const { scopeCheck } = await import("../../scope/service.js");
      await ctx.withSession("scope check", async (session) => {
        const results = await scopeCheck(session, target, {
          fetch: globalThis.fetch,
          timeoutMs: Number(opts.timeout) || 10000,
          now: () => new Date(),
        });
        if (opts.json) ctx.out.json(results);
        else {
          for (const r of results) {
            ctx.out.line(
              ctx.out.bold(
                `${r.secret}${r.profile ? ` (profile ${r.profile}${r.envVar ? `, ${r.envVar}` : ""})` : ""}`,
              ),
            );
            if (r.check) ctx.out.line(renderScopeCheck(r.check).trimEnd());
            if (r.error) {
              ctx.out.line(`could not check: ${r.error.message}`);
              if (r.error.fix) ctx.out.line(`  fix: ${r.error.fix}`);
            }
            ctx.out.line();
          }
        }
        const bad = results.some(
          (r) =>
            r.check && (r.check.verdict === "over-privileged" || r.check.verdict === "missing"),
        );
        const failed = results.some((r) => r.error);
        if (bad || failed) ctx.exitCode = 1;
      });
    });
}
