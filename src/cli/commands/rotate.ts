import type { Command } from "commander";
import { parseDuration } from "../../core/duration.js";
import { KeywardError } from "../../core/errors.js";
import type { NotificationEvent } from "../../notify/events.js";
import type { Delivery, Notifier } from "../../notify/notifier.js";
import type { RotationOutcome } from "../../rotation/rotate.js";
import type { CliContext } from "../context.js";

export function registerRotate(program: Command, ctx: CliContext): void {
  program
    .command("rotate [secret]")
    .description(
      "rotate a secret now (create pending → set upstream → test → finish), or with --due every secret whose rotation is due; resumes an interrupted rotation",
    )
    .option("--due", "rotate every secret that is due (for cron and CI: exit 1 on any failure)")
    .option(
      "--force",
      "start even while the previous value is in its grace period (it is revoked first)",
    )
    .option(
      "--grace <duration>",
      "how long the previous value stays valid upstream (default: the secret's policy, else 1h)",
    )
    .option(
      "--generate",
      "for secrets without a provider that can rotate: keyward makes the new value (32 random bytes)",
    )
    .option("--json", "print the outcome as JSON")
    .action(async (secret: string | undefined, opts) => {
      if (!secret && !opts.due)
        throw new KeywardError(
          "usage",
          "name a secret or use --due",
          "keyward rotate github/pat, or keyward rotate --due",
        );
      if (secret && opts.due) throw new KeywardError("usage", "give a secret or --due, not both");
      const graceSeconds = opts.grace ? parseDuration(opts.grace) : undefined;
      const { rotateDue, rotateSecret } = await import("../../rotation/rotate.js");
      const { rotationServices } = await import("../../rotation/services.js");
      const { rotationEvents, rotationSummaryEvents } = await import("../../notify/events.js");
      const { sessionNotifier } = await import("../../notify/config.js");
      await ctx.withSession("rotate", async (session) => {
        const services = rotationServices(session, { generate: opts.generate === true });
        const notifier = sessionNotifier(session);
        if (opts.due) {
          const summary = await rotateDue(
            services,
            graceSeconds === undefined ? {} : { graceSeconds },
          );
          const notifications = await sendAll(notifier, rotationSummaryEvents(summary));
          if (opts.json)
            ctx.out.json(notifications.length ? { ...summary, notifications } : summary);
          else {
            const c = summary.counts;
            ctx.out.line(
              `rotated ${c.rotated} (resumed ${c.resumed}), previous revoked ${c.revoked}, manual due ${c.dueManual}, failed ${c.failed}, locked ${c.locked}, not due ${c.notDue}`,
            );
            for (const item of summary.items) if (item.outcome) printOutcome(ctx, item.outcome);
            printFailedDeliveries(ctx, notifications);
          }
          if (!summary.ok) ctx.exitCode = 1;
          return;
        }
        const record = await session.store.get(secret!);
        if (!record)
          throw new KeywardError(
            "not_found",
            `no secret named ${secret}`,
            "`keyward secret ls` lists the secrets",
          );
        const outcome = await rotateSecret(
          { ...services, ...services.methodFor(record) },
          secret!,
          {
            ...(opts.force ? { force: true } : {}),
            ...(graceSeconds === undefined ? {} : { graceSeconds }),
          },
        );
        const notifications = await sendAll(notifier, rotationEvents(outcome));
        if (opts.json) ctx.out.json(notifications.length ? { ...outcome, notifications } : outcome);
        else {
          printOutcome(ctx, outcome);
          printFailedDeliveries(ctx, notifications);
        }
        if (
          outcome.status === "failed" ||
          (outcome.status === "rotated" && outcome.previous.state === "failed")
        )
          ctx.exitCode = 1;
        if (outcome.status === "locked") ctx.exitCode = 4;
      });
    });
}

/** Sends each event; a failed delivery is reported, never thrown. */
async function sendAll(notifier: Notifier, events: NotificationEvent[]): Promise<Delivery[]> {
  const out: Delivery[] = [];
  for (const event of events) out.push(...(await notifier.send(event)));
  return out;
}

export function printFailedDeliveries(ctx: CliContext, deliveries: readonly Delivery[]): void {
  for (const d of deliveries) {
    if (!d.ok)
      ctx.out.warn(
        `notification ${d.target} (${d.event}) failed after ${d.attempts} attempt(s): ${d.error ?? "unknown error"}`,
      );
  }
}

function printOutcome(ctx: CliContext, outcome: RotationOutcome): void {
  switch (outcome.status) {
    case "rotated": {
      const p = outcome.previous;
      const previous =
        p.state === "scheduled"
          ? `the previous value is revoked upstream after ${p.revokeAfter}`
          : p.state === "revoked"
            ? "the previous value was revoked upstream"
            : p.state === "not-revocable"
              ? `the previous value cannot be revoked by keyward${p.detail ? ` (${p.detail})` : ""}`
              : `revoking the previous value failed: ${p.error?.message ?? "unknown error"}`;
      ctx.out.success(
        `${outcome.secret}: version ${outcome.version} is current${outcome.resumed ? " (resumed)" : ""}; ${previous}`,
      );
      return;
    }
    case "manual":
      ctx.out.line(
        `${outcome.secret}: manual rotation ${outcome.reminder.status}${outcome.reminder.dueAt ? ` (due ${outcome.reminder.dueAt})` : ""}`,
      );
      for (const step of outcome.reminder.steps) ctx.out.line(`  - ${step}`);
      return;
    case "locked":
      ctx.out.warn(
        `${outcome.secret}: another rotation holds its lock; try again when it finishes`,
      );
      return;
    case "failed":
      ctx.out.line(
        `${outcome.secret}: rotation failed at step ${outcome.step}: ${outcome.error.message}`,
      );
      if (outcome.error.fix) ctx.out.line(`  fix: ${outcome.error.fix}`);
      ctx.out.line(
        outcome.rolledBack
          ? "  the pending value was removed; the current one is untouched"
          : outcome.willResume
            ? "  the next run resumes at this step"
            : "",
      );
      return;
  }
}
