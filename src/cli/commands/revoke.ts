import type { Command } from "commander";
import { parseDuration } from "../../core/duration.js";
import type { StepResult } from "../../revocation/runbook.js";
import type { CliContext } from "../context.js";
import { wholeNumber } from "../options.js";
import { printFailedDeliveries } from "./rotate.js";

export function registerRevoke(program: Command, ctx: CliContext): void {
  program
    .command("revoke <secret>")
    .description(
      "emergency revocation, each step timed: disable the version (the store refuses it at once), revoke it at the source, rotate, reload running servers, search git history, write an incident report",
    )
    .requiredOption(
      "--reason <text>",
      "why it is revoked (in the access log, report and notifications)",
    )
    .option("--no-rotate", "do not rotate: servers using the secret are stopped")
    .option(
      "--rotate-first",
      "rotate before revoking at the source, for providers whose rotation authenticates with the old key",
    )
    .option("--version <n>", "the leaked version (default: the current one)")
    .option(
      "--generate",
      "for secrets without a provider that can rotate: keyward makes the new value (32 random bytes)",
    )
    .option("--wait <duration>", "how long to wait for running servers to reload (default 15s)")
    .option(
      "--repo <path>",
      "also search this repository's history (repeatable)",
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option("--no-scan", "skip the git history search")
    .option("--json", "print the incident report as JSON")
    .action(async (secret: string, opts) => {
      const version =
        opts.version === undefined ? undefined : wholeNumber("--version", opts.version);
      const waitMs = opts.wait ? parseDuration(opts.wait) * 1000 : undefined;
      const { revokeWithSession } = await import("../../revocation/service.js");
      await ctx.withSession("revoke", async (session) => {
        // Not the reason: it may quote the value; the runbook scrubs it before it goes anywhere.
        if (!opts.json) ctx.out.info(`revoking ${secret}`);
        const result = await revokeWithSession(session, secret, {
          reason: opts.reason,
          rotate: opts.rotate !== false,
          rotateFirst: opts.rotateFirst === true,
          generate: opts.generate === true,
          repositories: opts.repo,
          scan: opts.scan !== false,
          cwd: ctx.io.cwd,
          ...(version === undefined ? {} : { version }),
          ...(waitMs === undefined ? {} : { waitMs }),
          ...(opts.json
            ? {}
            : {
                onStep: (step: StepResult) => {
                  printStep(ctx, step);
                  if (step.step === 4) {
                    // Steps 1–4 are done: say how long they took before the history search ends.
                    ctx.out.info(
                      `  steps 1–4: ${seconds(step.offsetMs + step.ms)} of the 5-minute budget`,
                    );
                  }
                },
              }),
        });
        if (opts.json) ctx.out.json({ ...result.report, files: result.files });
        else {
          printFailedDeliveries(ctx, result.report.notifications);
          ctx.out.line(`incident report: ${result.files.markdown}`);
          ctx.out.line(`                 ${result.files.json}`);
        }
        if (!result.ok) ctx.exitCode = 1;
      });
    });
}

const MARK: Record<StepResult["status"], string> = {
  done: "✓",
  manual: "!",
  skipped: "-",
  partial: "!",
  failed: "✗",
};

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

function printStep(ctx: CliContext, step: StepResult): void {
  ctx.out.info(
    `${MARK[step.status]} ${step.step} ${step.title.padEnd(28)} ${seconds(step.ms).padStart(9)}  ${step.status === "done" ? "" : `${step.status}: `}${step.summary}`,
  );
  for (const line of step.manual ?? []) ctx.out.info(`      → ${line}`);
}
