import type { Command } from "commander";
import { rotationDueAt } from "../../core/types.js";
import type { SourceStatus } from "../../crypto/masterkey.js";
import type { CliContext } from "../context.js";

export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("show the store, how its master key is found, the access log and rotations due")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      const { keySources } = await import("../../secrets/session.js");
      const home = ctx.home;
      const { header, sources } = await keySources(ctx.sessionOptions("status"));
      if (!header) {
        if (opts.json) ctx.out.json({ home, initialized: false, keySources: sources });
        else {
          ctx.out.line(`home:        ${home} (not initialised: run \`keyward init\`)`);
          printSources(ctx, sources);
        }
        return;
      }
      await ctx.withSession("status", async (session) => {
        const records = await session.store.list();
        const now = Date.now();
        const overdue = records.filter((r) => {
          const dueAt = rotationDueAt(r);
          return dueAt !== undefined && Date.parse(dueAt) < now;
        });
        const verify = session.log.verify();
        const store = session.store.describe();
        const facts = session.backend.facts;
        const status = {
          home,
          initialized: true,
          store: { ...store, ...facts },
          keyKind: header.kind,
          keySource: session.keySource,
          keySources: sources,
          config: session.config?.path ?? null,
          secrets: records.length,
          rotationOverdue: overdue.map((r) => r.name),
          accessLog: verify,
        };
        if (!verify.ok) ctx.exitCode = 6;
        if (opts.json) {
          ctx.out.json(status);
          return;
        }
        ctx.out.line(`home:        ${home}`);
        ctx.out.line(`store:       ${store.backend} at ${store.location}`);
        for (const [key, value] of Object.entries(store.details ?? {})) {
          ctx.out.line(`  ${`${key}:`.padEnd(11)}${value}`);
        }
        ctx.out.line(`encryption:  ${store.encryption}`);
        ctx.out.line(`auth:        ${facts.auth}`);
        ctx.out.line(`audit trail: ${facts.audit}`);
        ctx.out.line(`grade:       ${facts.grade}${facts.why ? ` (${facts.why})` : ""}`);
        ctx.out.line(
          `master key:  ${header.kind === "passphrase" ? "passphrase (scrypt)" : header.wrapped ? `32-byte key kept encrypted by ${header.wrapped.source}` : "32-byte key"}, opened with ${session.keySource.label}`,
        );
        printSources(ctx, sources);
        ctx.out.line(
          `config:      ${session.config?.path ?? "none (keyward.yaml or <home>/config.yaml)"}`,
        );
        ctx.out.line(
          `secrets:     ${records.length}${overdue.length ? `, rotation overdue: ${overdue.map((r) => r.name).join(", ")}` : ""}`,
        );
        ctx.out.line(
          verify.ok
            ? `access log:  ${verify.entries} entries, chain intact (head ${verify.head.slice(0, 16)})`
            : `access log:  TAMPERED at entry ${verify.firstBad}: ${verify.reason}`,
        );
      });
    });
}

function printSources(ctx: CliContext, sources: SourceStatus[]): void {
  ctx.out.line("key sources (tried in this order):");
  sources.forEach((s, i) => {
    ctx.out.line(
      `  ${i + 1}. ${s.source.padEnd(13)} ${s.available ? "available  " : "unavailable"}  ${s.detail}`,
    );
  });
}
