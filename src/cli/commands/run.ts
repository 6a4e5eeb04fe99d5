import type { Command } from "commander";
import type { CliContext } from "../context.js";

export function registerRun(program: Command, ctx: CliContext): void {
  program
    .command("run <profile> [command...]")
    .description(
      "start a profile's MCP server with only its declared keys and scrub them from everything it says (keyward run github, or keyward run github -- npx -y server); a profile with a url is bridged from stdio to its Streamable HTTP endpoint",
    )
    .option(
      "--url <endpoint>",
      "bridge to this Streamable HTTP endpoint instead of starting a command (same origin as the profile's url, if it has one)",
    )
    .option("--poll <ms>", "how often to check the store for rotations and revocations", "250")
    .option(
      "--no-scope-check",
      "start without asking the providers what the keys may do (the launch scope check and its scopePolicy)",
    )
    .option(
      "--strict-scope",
      "refuse to start when a scopePolicy deny key's scope cannot be checked (provider unreachable, 401, …)",
    )
    .action(async (profile: string, command: string[], opts) => {
      const pollMs = Number(opts.poll);
      const { runProfile } = await import("../../run/run.js");
      const session = await ctx.openSession("run", profile);
      try {
        ctx.exitCode = await runProfile(session, {
          profile,
          host: ctx.io.env,
          ...(command.length ? { commandOverride: command } : {}),
          ...(typeof opts.url === "string" ? { urlOverride: opts.url } : {}),
          pollMs: Number.isFinite(pollMs) && pollMs >= 10 ? pollMs : 250,
          clientIn: ctx.io.stdin,
          clientOut: ctx.io.stdout,
          errOut: ctx.io.stderr,
          notice: (text) => ctx.out.info(text),
          scopeCheck: opts.scopeCheck !== false,
          strictScope: opts.strictScope === true,
        });
      } finally {
        await session.close();
      }
    });
}
