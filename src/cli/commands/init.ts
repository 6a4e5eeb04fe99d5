import type { Command } from "commander";
import { KeywardError } from "../../core/errors.js";
import type { MasterKeySourceKind } from "../../crypto/envelope.js";
import type { CliContext } from "../context.js";

export const KEY_SOURCES: MasterKeySourceKind[] = [
  "keyring",
  "passphrase",
  "key-file",
  "env",
  "vault-transit",
  "aws-kms",
  "gcp-kms",
];

export function parseKeySource(text: string | undefined): MasterKeySourceKind | undefined {
  if (text === undefined) return undefined;
  if ((KEY_SOURCES as string[]).includes(text)) return text as MasterKeySourceKind;
  throw new KeywardError(
    "usage",
    `unknown key source "${text}"`,
    `use one of ${KEY_SOURCES.join(", ")}`,
  );
}

export function registerInit(program: Command, ctx: CliContext): void {
  program
    .command("init")
    .description("create an encrypted store in the keyward folder")
    .option(
      "--key-source <source>",
      "where the master key lives: keyring, passphrase, key-file, env, vault-transit, aws-kms or gcp-kms (default: keyward.yaml's masterKey:, else env if KEYWARD_MASTER_KEY is set, else the OS keyring, else a key file)",
    )
    .option("--json", "print the result as JSON")
    .action(async (opts) => {
      const { Session } = await import("../../secrets/session.js");
      const session = await Session.init(
        ctx.sessionOptions("init"),
        parseKeySource(opts.keySource),
      );
      try {
        for (const w of session.warnings) ctx.out.warn(w);
        const description = session.store.describe();
        if (opts.json) {
          ctx.out.json({ home: session.home, store: description, keySource: session.keySource });
        } else {
          ctx.out.success(`Initialised keyward in ${session.home}`);
          ctx.out.line(`store:      ${description.backend} at ${description.location}`);
          ctx.out.line(`encryption: ${description.encryption}`);
          ctx.out.line(`master key: ${session.keySource.label}`);
        }
      } finally {
        await session.close();
      }
    });
}
