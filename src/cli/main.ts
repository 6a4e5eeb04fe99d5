import { Command, CommanderError } from "commander";
import { EXIT } from "../core/errors.js";
import { CliContext, type CliIO } from "./context.js";

type Register = (program: Command, ctx: CliContext) => void;

/**
 * Every top-level command's registration, in the order help lists them. A command's module (and
 * what it imports) is loaded only when that command runs, or for the help that lists them all.
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  init: async () => (await import("./commands/init.js")).registerInit,
  secret: async () => (await import("./commands/secret.js")).registerSecret,
  status: async () => (await import("./commands/status.js")).registerStatus,
  store: async () => (await import("./commands/store.js")).registerStore,
  log: async () => (await import("./commands/log.js")).registerLog,
  rekey: async () => (await import("./commands/rekey.js")).registerRekey,
  run: async () => (await import("./commands/run.js")).registerRun,
  rotate: async () => (await import("./commands/rotate.js")).registerRotate,
  revoke: async () => (await import("./commands/revoke.js")).registerRevoke,
  daemon: async () => (await import("./commands/daemon.js")).registerDaemon,
  audit: async () => (await import("./commands/audit.js")).registerAudit,
  adopt: async () => (await import("./commands/adopt.js")).registerAdopt,
  providers: async () => (await import("./commands/providers.js")).registerProviders,
  scope: async () => (await import("./commands/scope.js")).registerScope,
  demo: async () => (await import("./commands/demo.js")).registerDemo,
};

/** Every top-level command, in help order. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/** Global options that take a value, so the word after them is not the command. */
const GLOBAL_WITH_VALUE = ["--home", "--config"];

/**
 * The commands to register for `argv`: only the one it runs, when that is plain before parsing
 * (the first word, after only global options with their values); none for --version. Otherwise
 * (help, another option first, an unknown or no command) all of them, so what commander prints
 * from the whole program (the command list, "did you mean …?") is as before. A command's own
 * parsing, help and errors never depend on its siblings, so registering it alone changes nothing
 * else (main.test.ts runs both ways and compares).
 */
export function commandsFor(argv: readonly string[]): readonly string[] {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (GLOBAL_WITH_VALUE.includes(arg)) i++;
    // Commander prints the version as it reads this option and stops: no command is needed.
    else if (arg === "-V" || arg === "--version") return [];
    else if (!GLOBAL_WITH_VALUE.some((option) => arg.startsWith(`${option}=`)))
      return Object.hasOwn(COMMANDS, arg) ? [arg] : COMMAND_NAMES;
  }
  return COMMAND_NAMES;
}

async function buildProgram(ctx: CliContext, commands: readonly string[]): Promise<Command> {
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
  const registers = await Promise.all(
    commands.map((name) => (COMMANDS[name] as () => Promise<Register>)()),
  );
  for (const register of registers) register(program, ctx);
  for (const cmd of allCommands(program)) cmd.exitOverride();
  return program;
}

function allCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((c) => [c, ...allCommands(c)]);
}

/**
 * Runs the CLI and returns the exit code (documented in docs/cli.md). `commands` are the ones
 * registered: by default the one argv runs, or all when that is not plain (tests pass them all
 * to show that this changes nothing).
 */
export async function runCli(
  argv: string[],
  io: CliIO,
  commands: readonly string[] = commandsFor(argv),
): Promise<number> {
  const ctx = new CliContext(io);
  const program = await buildProgram(ctx, commands);
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
