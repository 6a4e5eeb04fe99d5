import type { Command } from "commander";
import type { CliContext } from "../context.js";
import { parseKeySource } from "./init.js";

export function registerRekey(program: Command, ctx: CliContext): void {
  program
    .command("rekey")
    .description(
      "move the store to a new master key: data keys are rewrapped, values are not touched",
    )
    .option(
      "--key-source <source>",
      "where the new key lives: keyring, passphrase, key-file or env (default: where the current one lives). env reads KEYWARD_NEW_MASTER_KEY, passphrase KEYWARD_NEW_PASSPHRASE or a prompt",
    )
    .option("--json", "print the result as JSON")
    .action(async (opts) => {
      // Loaded on demand: it brings the native keyring binding, which other commands never need.
      const { rekeySession } = await import("../../secrets/rekey.js");
      await ctx.withSession("rekey", async (session) => {
        const result = await rekeySession(
          session,
          parseKeySource(opts.keySource),
          ctx.sessionOptions("rekey"),
        );
        for (const w of result.warnings) ctx.out.warn(w);
        if (opts.json) ctx.out.json(result);
        else {
          ctx.out.success(
            `Rewrapped ${result.rewrapped} data keys under the new master key from ${result.label}`,
          );
          for (const step of result.nextSteps) ctx.out.info(`next: ${step}`);
        }
      });
    });
}
