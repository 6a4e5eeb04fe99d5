import type { Command } from "commander";
import type { CliContext } from "../context.js";

export function registerStore(program: Command, ctx: CliContext): void {
  const store = program.command("store").description("the secret store itself: its backends");

  store
    .command("migrate")
    .description(
      "copy every secret with its versions, stages and metadata to another backend, verify each, safe to re-run",
    )
    .requiredOption(
      "--to <backend|config>",
      "the destination: a backend name (options from this config's store: section) or a config file whose store: describes it",
    )
    .option("--from <backend|config>", "the source, as --to (default: the configured store)")
    .option("--prefix <prefix>", "only secrets whose name starts with this")
    .option("--dry-run", "list what would be copied; write nothing")
    .option("--json", "print the result as JSON")
    .action(async (opts) => {
      const { migrateStores } = await import("../../secrets/migrate.js");
      const { openStoreSpec } = await import("../../secrets/session.js");
      await ctx.withSession("store migrate", async (session) => {
        const sessionOpts = ctx.sessionOptions("store migrate");
        const from = opts.from
          ? await openStoreSpec(session, opts.from, sessionOpts)
          : { store: session.store, backend: session.backend.name, created: false };
        const to = await openStoreSpec(session, opts.to, sessionOpts);
        try {
          const result = await migrateStores({
            from: from.store,
            to: to.store,
            log: session.log,
            actor: session.actor,
            ...(opts.prefix ? { prefix: opts.prefix } : {}),
            ...(opts.dryRun ? { dryRun: true } : {}),
          });
          if (opts.json) {
            ctx.out.json({ from: from.backend, to: to.backend, ...result });
            return;
          }
          const counts = (o: string) => result.secrets.filter((s) => s.outcome === o).length;
          ctx.out.table(result.secrets, [
            { header: "SECRET", get: (s) => s.name },
            { header: "OUTCOME", get: (s) => s.outcome },
            { header: "VERSIONS", get: (s) => String(s.versions) },
            { header: "NOT COPIED", get: (s) => s.notCopied.map((n) => `v${n.version}`).join(",") },
          ]);
          for (const s of result.secrets) {
            for (const n of s.notCopied) {
              ctx.out.warn(`${s.name} version ${n.version} not copied: ${n.why}`);
            }
          }
          const verb = opts.dryRun ? "Would copy" : "Copied";
          ctx.out.success(
            `${verb} ${opts.dryRun ? counts("planned") : counts("copied")} secrets from ${from.backend} to ${to.backend}; ${counts("verified")} already there and verified`,
          );
          if (!opts.dryRun) {
            ctx.out.info(
              `next: set store: { backend: ${to.backend}, … } in your config, check \`keyward status\`, then remove the old store`,
            );
          }
        } finally {
          if (from.store !== session.store) await from.store.close();
          await to.store.close();
        }
      });
    });
}
