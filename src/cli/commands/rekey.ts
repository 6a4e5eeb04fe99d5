import type { Command } from "commander";
import { KeywardError } from "../../core/errors.js";
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
      "where the new key lives: keyring, passphrase, key-file, env, vault-transit, aws-kms or gcp-kms (default: where the current one lives). env reads KEYWARD_NEW_MASTER_KEY, passphrase KEYWARD_NEW_PASSPHRASE or a prompt",
    )
    .option(
      "--rewrap",
      "keep the master key; only have Vault transit re-encrypt it under the transit key's newest version (after a key rotation)",
    )
    .option("--json", "print the result as JSON")
    .action(async (opts) => {
      // Loaded on demand: it brings the native keyring binding, which other commands never need.
      const { rekeySession, rewrapMasterKey } = await import("../../secrets/rekey.js");
      await ctx.withSession("rekey", async (session) => {
        if (opts.rewrap) {
          if (opts.keySource !== undefined) {
            throw new KeywardError(
              "usage",
              "--rewrap keeps the master key where it is, so it takes no --key-source",
              "drop one of the two options",
            );
          }
          const result = await rewrapMasterKey(session, ctx.sessionOptions("rekey"));
          if (opts.json) ctx.out.json(result);
          else ctx.out.success(`Rewrapped the master key with ${result.label} (${result.version})`);
          return;
        }
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
