import { Command, CommanderError } from "commander";
import { EXIT } from "../core/errors.js";
import { registerAdopt } from "./commands/adopt.js";
import { registerAudit } from "./commands/audit.js";
import { registerDaemon } from "./commands/daemon.js";
import { registerDemo } from "./commands/demo.js";
import { registerInit } from "./commands/init.js";
import { registerLog } from "./commands/log.js";
import { registerProviders } from "./commands/providers.js";
import { registerRekey } from "./commands/rekey.js";
import { registerRevoke } from "./commands/revoke.js";
import { registerRotate } from "./commands/rotate.js";
import { registerRun } from "./commands/run.js";
import { registerScope } from "./commands/scope.js";
import { registerSecret } from "./commands/secret.js";
import { registerStatus } from "./commands/status.js";
import { registerStore } from "./commands/store.js";
import { CliContext, type CliIO } from "./context.js";

export function buildProgram(ctx: CliContext): Command {
  const program = new Command("keyward")
    .description("Credential broker and auditor for MCP servers")
    .version(ctx.version)
    .option("--home <dir>", "keyward folder (default: $KEYWARD_HOME or ~/.keyward)")
    .option(
      "--config <file>",
      "config file (default: $KEYWARD_CONFIG, ./keyward.yaml, <home>/config.yaml)",
    )
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.stdout.write(s),
      writeErr: (s) => ctx.io.stderr.write(s),
    })
    .hook("preAction", (cmd) => ctx.setGlobals(cmd.optsWithGlobals()));
  registerInit(program, ctx);
  registerSecret(program, ctx);
  registerStatus(program, ctx);
  registerStore(program, ctx);
  registerLog(program, ctx);
  registerRekey(program, ctx);
  registerRun(program, ctx);
  registerRotate(program, ctx);
  registerRevoke(program, ctx);
  registerDaemon(program, ctx);
  registerAudit(program, ctx);
  registerAdopt(program, ctx);
  registerProviders(program, ctx);
  registerScope(program, ctx);
  registerDemo(program, ctx);
  for (const cmd of allCommands(program)) cmd.exitOverride();
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/** Runs the CLI and returns the exit code (documented in docs/cli.md). */
export async function runCli(argv: string[], io: CliIO): Promise<number> {
  const ctx = new CliContext(io);
  const program = buildProgram(ctx);
  try {
    await program.parseAsync(argv, { from: "user" });
    return ctx.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    return ctx.out.error(e, argv.includes("--json"));
  }
}
