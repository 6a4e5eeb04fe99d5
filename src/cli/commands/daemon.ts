import type { Command } from "commander";
import { parseDuration } from "../../core/duration.js";
import { KeywardError } from "../../core/errors.js";
import type { CliContext } from "../context.js";

export function registerDaemon(program: Command, ctx: CliContext): void {
  const daemon = program
    .command("daemon")
    .description(
      "run the rotation schedule (rotate --due every --interval) and push store changes to running `keyward run` proxies over the control socket",
    )
    .option("--interval <duration>", "how often to run rotate --due", "5m")
    .option(
      "--watch-ms <ms>",
      "how often to check the store for changes, without a change feed",
      "250",
    )
    .option(
      "--generate",
      "for secrets without a provider that can rotate: keyward makes the new value (as rotate --generate)",
    )
    .action(async (opts) => {
      const intervalMs = parseDuration(opts.interval) * 1000;
      const watchMs = Number(opts.watchMs);
      if (intervalMs <= 0) throw new KeywardError("usage", "--interval must be longer than zero");
      if (!Number.isFinite(watchMs) || watchMs < 10)
        throw new KeywardError("usage", "--watch-ms must be a number of milliseconds, at least 10");
      const { runDaemon } = await import("../../daemon/service.js");
      const session = await ctx.openSession("daemon");
      try {
        await runDaemon(session, {
          intervalMs,
          watchMs,
          generate: opts.generate === true,
          log: (line) => ctx.out.info(`keyward daemon: ${line}`),
        });
      } finally {
        await session.close();
      }
    });
  daemon
    .command("status")
    .description("is a daemon running for this home: its schedule, last run and subscribed proxies")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      const { daemonStatus } = await import("../../daemon/service.js");
      const status = await daemonStatus(ctx.home);
      if (opts.json) {
        ctx.out.json(status);
        return;
      }
      ctx.out.line(`keyward daemon pid ${status.pid}, since ${status.startedAt}`);
      ctx.out.line(
        `rotate --due every ${status.intervalSeconds} s; next run ${status.nextRunAt ?? "now"}; last run ${status.lastRun ? `${status.lastRun.at} (${status.lastRun.ok ? "ok" : "with failures"})` : "none yet"}`,
      );
      ctx.out.line(`store watch: ${status.watch}; ${status.subscribers.length} subscribed proxies`);
      for (const s of status.subscribers)
        ctx.out.line(`  pid ${s.pid} (${s.profile}): ${s.secrets.join(", ")}`);
    });
}
