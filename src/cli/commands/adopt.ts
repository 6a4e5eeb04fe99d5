import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import type { AdoptStore, adoptTable } from "../../adopt/index.js";
import { KeywardError } from "../../core/errors.js";
import { CLIENT_IDS, type ClientId } from "../../mcp/clients/types.js";
import { SecretService } from "../../secrets/service.js";
import type { CliContext } from "../context.js";
import { keywardBin } from "../entry.js";

export function registerAdopt(program: Command, ctx: CliContext): void {
  program
    .command("adopt")
    .description(
      "move literal keys out of MCP client configs into the store and launch those servers through keyward run",
    )
    .option(
      "--client <clients>",
      `which clients: ${CLIENT_IDS.join(", ")} or all (comma-separated)`,
      "all",
    )
    .option("--dry-run", "show what would move; change nothing")
    .option("--undo", "restore each client config from its newest keyward backup")
    .option("--force", "with --undo: restore even where no entry runs keyward any more")
    .option(
      "--delete-backups",
      "delete keyward's backups of client configs (they hold the old plaintext keys)",
    )
    .option(
      "--project <dir>",
      "the project folder for .mcp.json, .cursor/ and .vscode/ configs (default: current folder)",
    )
    .option("--json", "print the plan or result as JSON")
    .action(async (opts) => {
      const locate = {
        clients: parseClients(opts.client),
        home: ctx.io.env.HOME || homedir(),
        cwd: opts.project ?? ctx.io.cwd,
        env: ctx.io.env,
      };
      const { adoptTable, applyAdopt, deleteBackups, planAdopt, ProfilesFile, undoAdopt } =
        await import("../../adopt/index.js");
      if (opts.deleteBackups) {
        const deleted = deleteBackups(locate);
        if (opts.json) ctx.out.json({ deleted });
        else
          ctx.out.success(
            deleted.length
              ? `Deleted ${deleted.length} backups:\n${deleted.join("\n")}`
              : "No keyward backups found",
          );
        return;
      }
      await ctx.withSession("adopt", async (session) => {
        const configPath = session.config?.path ?? join(ctx.home, "config.yaml");
        const keywardCommand = {
          command: process.execPath,
          args: [keywardBin(), "--home", ctx.home, "--config", configPath],
        };
        if (opts.undo) {
          const result = await undoAdopt({ ...locate, keywardCommand, force: Boolean(opts.force) });
          if (opts.json) ctx.out.json(result);
          else {
            for (const r of result.restored) ctx.out.success(`Restored ${r.path} from ${r.backup}`);
            for (const s of result.skipped) ctx.out.warn(`left ${s.path} as it is: ${s.reason}`);
            if (!result.restored.length && !result.skipped.length)
              ctx.out.info("no keyward backups to restore");
          }
          return;
        }
        if (session.keySource.source === "env" && !opts.dryRun) {
          throw new KeywardError(
            "refused",
            "this store is opened with KEYWARD_MASTER_KEY, which an MCP client starting keyward run would need in its own config",
            "move the master key to a key file or the OS keyring first: keyward rekey --key-source key-file",
          );
        }
        const service = new SecretService(session);
        const store: AdoptStore = {
          exists: async (name) => (await session.store.get(name)) !== undefined,
          set: async (name, value, meta) => {
            ctx.out.remember(value);
            await service.set(name, value, {
              ...(meta.provider ? { provider: meta.provider } : {}),
              ...(meta.description ? { description: meta.description } : {}),
            });
          },
        };
        const profiles = ProfilesFile.open(configPath);
        const options = {
          ...locate,
          dryRun: Boolean(opts.dryRun),
          keywardCommand,
          store,
          profiles,
        };
        const plan = await planAdopt(options);
        const rows = adoptTable(plan);
        const warnings = plan.files.flatMap((f) => f.warnings);
        if (opts.dryRun || plan.empty) {
          if (opts.json) ctx.out.json({ dryRun: true, plan, moves: rows });
          else {
            printRows(ctx, rows, plan.empty ? "nothing to adopt" : "would move (dry run):");
            for (const w of warnings) ctx.out.warn(w);
          }
          return;
        }
        const result = await applyAdopt(plan, options);
        if (opts.json) ctx.out.json({ result, moves: rows });
        else {
          printRows(ctx, rows, "moved into the store:");
          for (const f of result.files) ctx.out.success(`rewrote ${f.path}`);
          ctx.out.line(`profiles written to ${configPath}: ${result.profiles.join(", ")}`);
          for (const w of [...warnings, ...result.warnings]) ctx.out.warn(w);
        }
      });
    });
}

function printRows(ctx: CliContext, rows: ReturnType<typeof adoptTable>, title: string): void {
  if (rows.length === 0) {
    ctx.out.info(
      title === "nothing to adopt"
        ? "nothing to adopt: no literal keys found in the client configs"
        : title,
    );
    return;
  }
  ctx.out.line(title);
  ctx.out.table(rows, [
    { header: "CLIENT", get: (r) => r.client },
    { header: "FILE", get: (r) => r.file },
    { header: "SERVER", get: (r) => r.server },
    { header: "WHAT", get: (r) => `${r.kind} ${r.key}` },
    { header: "SECRET", get: (r) => r.secret },
    { header: "PROFILE", get: (r) => r.profile },
  ]);
}

function parseClients(text: string): ClientId[] | "all" {
  if (text === "all") return "all";
  const ids = text.split(",").map((s) => s.trim());
  for (const id of ids) {
    if (!(CLIENT_IDS as readonly string[]).includes(id)) {
      throw new KeywardError(
        "usage",
        `unknown client "${id}"`,
        `use ${CLIENT_IDS.join(", ")} or all`,
      );
    }
  }
  return ids as ClientId[];
}
