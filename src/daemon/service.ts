/** `keyward daemon` on an open session: the schedule's rotations and notifications, run until a signal. */
import { requestControl } from "../control/channel.js";
import { daemonSocketPath } from "../control/paths.js";
import type { DaemonStatus } from "../control/protocol.js";
import { KeywardError } from "../core/errors.js";
import { sessionNotifier } from "../notify/config.js";
import { rotationSummaryEvents } from "../notify/events.js";
import { rotateDue } from "../rotation/rotate.js";
import { rotationServices } from "../rotation/services.js";
import type { Session } from "../secrets/session.js";
import { Daemon } from "./daemon.js";

/** A pushed notice waits this long for a proxy's ack (a restart replays initialize: up to 10 s). */
const ACK_TIMEOUT_MS = 15_000;

export async function runDaemon(
  session: Session,
  options: { intervalMs: number; watchMs: number; generate: boolean; log(line: string): void },
): Promise<void> {
  const notifier = sessionNotifier(session);
  const daemon = await Daemon.start({
    home: session.home,
    store: session.store,
    intervalMs: options.intervalMs,
    watchMs: options.watchMs,
    ackTimeoutMs: ACK_TIMEOUT_MS,
    log: options.log,
    runDue: async () => {
      // Fresh services per run: a new lock owner id, so a crashed run's lock is never reused.
      const summary = await rotateDue(rotationServices(session, { generate: options.generate }));
      for (const event of rotationSummaryEvents(summary)) {
        for (const d of await notifier.send(event)) {
          if (!d.ok) options.log(`notification ${d.target} (${d.event}) failed: ${d.error}`);
        }
      }
      return summary;
    },
  });
  options.log(`listening on ${daemon.socketPath} (pid ${process.pid})`);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      options.log(`${signal}: stopping`);
      for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.off(s, stop);
      void daemon.stop().then(resolve);
    };
    for (const s of ["SIGTERM", "SIGINT", "SIGHUP"] as const) process.on(s, stop);
  });
}

/** The running daemon's status; `not_found` when none answers for this home. */
export async function daemonStatus(home: string): Promise<DaemonStatus> {
  try {
    return await requestControl<DaemonStatus>(daemonSocketPath(home), { type: "status" }, 3000);
  } catch {
    throw new KeywardError(
      "not_found",
      `no keyward daemon is running for ${home}`,
      "start one: keyward daemon (examples/systemd/keyward-daemon.service runs it as a service)",
    );
  }
}
