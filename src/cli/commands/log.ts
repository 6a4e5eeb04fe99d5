import type { Command } from "commander";
import type { AccessAction, LogEntry, LogFilter } from "../../accesslog/log.js";
import { parseDuration } from "../../core/duration.js";
import { EXIT, KeywardError } from "../../core/errors.js";
import type { CliContext } from "../context.js";
import { wholeNumber } from "../options.js";
import { readStdin } from "../prompt.js";

export function registerLog(program: Command, ctx: CliContext): void {
  const log = program
    .command("log")
    .description("show the tamper-evident access log")
    .option("--secret <name>", "only entries for this secret")
    .option("--actor <who>", "only entries by this user, process or profile")
    .option("--action <action>", "only this action (read, write, disable, …)")
    .option("--since <when>", "a duration back from now (24h, 7d) or an ISO time")
    .option("--until <when>", "a duration back from now or an ISO time")
    .option("--limit <n>", "at most this many entries (newest)")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      const filter: LogFilter = {
        ...(opts.secret ? { secret: opts.secret } : {}),
        ...(opts.actor ? { actor: opts.actor } : {}),
        ...(opts.action ? { action: opts.action as AccessAction } : {}),
        ...(opts.since ? { since: parseWhen(opts.since) } : {}),
        ...(opts.until ? { until: parseWhen(opts.until) } : {}),
        ...(opts.limit ? { limit: wholeNumber("--limit", opts.limit) } : {}),
      };
      await ctx.withSession("log", async (session) => {
        const entries = session.log.query(filter);
        if (opts.json) ctx.out.json(entries);
        else printEntries(ctx, entries);
      });
    });

  log
    .command("verify")
    .description(
      "check the hash chain; names the first entry that was edited, removed, inserted or reordered",
    )
    .option(
      "--expect-head <hash>",
      "a head hash saved earlier: also detects entries cut off the end",
    )
    .option("--expect-entries <n>", "the entry count saved with that head")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      await ctx.withSession("log verify", async (session) => {
        const result = session.log.verify({
          ...(opts.expectHead ? { expectHead: opts.expectHead } : {}),
          ...(opts.expectEntries
            ? { expectEntries: wholeNumber("--expect-entries", opts.expectEntries) }
            : {}),
        });
        if (opts.json) ctx.out.json(result);
        else if (result.ok)
          ctx.out.success(`access log intact: ${result.entries} entries, head ${result.head}`);
        else ctx.out.line(`access log TAMPERED: entry ${result.firstBad}: ${result.reason}`);
        if (!result.ok) ctx.exitCode = EXIT.integrity;
      });
    });

  log
    .command("find-value")
    .description(
      "read a leaked string on stdin and tell which secret and version it is, and who was served it",
    )
    .option("--json", "print as JSON")
    .action(async (opts) => {
      if (ctx.io.stdin.isTTY) {
        throw new KeywardError(
          "usage",
          "find-value reads the leaked string from stdin",
          "pipe it: pbpaste | keyward log find-value",
        );
      }
      const leaked = (await readStdin(ctx.io.stdin)).replace(/\r?\n$/, "");
      ctx.out.remember(leaked);
      await ctx.withSession("log find-value", async (session) => {
        const matches = session.log.findValue(leaked);
        // Recorded without the value: looking a leak up is not a use of the leaked value.
        session.log.append({
          actor: session.actor,
          action: "find-value",
          outcome: "ok",
          detail: `${matches.length} matching entries`,
        });
        const versions = [
          ...new Set(matches.filter((e) => e.secret).map((e) => `${e.secret}@${e.version ?? "?"}`)),
        ];
        const served = matches.filter((e) => e.action === "read" && e.outcome === "ok");
        if (opts.json) {
          ctx.out.json({ found: matches.length > 0, versions, servedTo: served, entries: matches });
        } else if (matches.length === 0) {
          ctx.out.line("not found: no entry of the access log carries this value");
          ctx.exitCode = EXIT.notFound;
        } else {
          ctx.out.line(`this value is ${versions.join(", ")}`);
          ctx.out.line(
            served.length === 0
              ? "it was never served to anyone"
              : `it was served ${served.length} time(s):`,
          );
          printEntries(ctx, served);
        }
      });
    });
}

function printEntries(ctx: CliContext, entries: LogEntry[]): void {
  if (entries.length === 0) {
    ctx.out.info("no entries");
    return;
  }
  ctx.out.table(entries, [
    { header: "SEQ", get: (e) => String(e.seq) },
    { header: "TIME", get: (e) => e.time },
    {
      header: "ACTOR",
      get: (e) =>
        `${e.actor.user}${e.actor.profile ? `/${e.actor.profile}` : ""} (${e.actor.process} pid ${e.actor.pid})`,
    },
    { header: "ACTION", get: (e) => e.action },
    {
      header: "SECRET",
      get: (e) => (e.secret ? `${e.secret}${e.version ? `@${e.version}` : ""}` : "-"),
    },
    { header: "OUTCOME", get: (e) => (e.detail ? `${e.outcome} (${e.detail})` : e.outcome) },
  ]);
}

function parseWhen(text: string): Date {
  if (/^\d+[smhdw]$/.test(text)) return new Date(Date.now() - parseDuration(text) * 1000);
  const t = Date.parse(text);
  if (Number.isNaN(t))
    throw new KeywardError("usage", `"${text}" is neither a duration (24h, 7d) nor an ISO time`);
  return new Date(t);
}
