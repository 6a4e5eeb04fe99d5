import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { NOTIFICATION_EVENT_NAMES } from "../config/constants.js";
import type { NotificationConfig } from "../config/schema.js";
import { parseDuration } from "../core/duration.js";
import { SecretService } from "../secrets/service.js";
import type { Session } from "../secrets/session.js";
import { type NotificationTarget, Notifier } from "./notifier.js";

export const DEFAULT_NOTIFICATION_TIMEOUT_MS = 5000;
export const DEFAULT_NOTIFICATION_RETRIES = 2;

/** The config's `notifications:` as targets; relative command paths resolve against the config's folder. */
export function notificationTargets(
  notifications: readonly NotificationConfig[],
  configPath: string | undefined,
): NotificationTarget[] {
  const base = configPath === undefined ? process.cwd() : dirname(configPath);
  return notifications.map((n, i) => {
    const target: NotificationTarget = {
      name: n.name ?? `notifications[${i}]`,
      events: n.events ?? NOTIFICATION_EVENT_NAMES,
      timeoutMs:
        n.timeout === undefined ? DEFAULT_NOTIFICATION_TIMEOUT_MS : parseDuration(n.timeout) * 1000,
      attempts: (n.retries ?? DEFAULT_NOTIFICATION_RETRIES) + 1,
    };
    if (n.command !== undefined) {
      const [program, ...args] = n.command;
      target.command = [resolveProgram(program as string, base), ...args];
      target.cwd = base;
    }
    if (n.url !== undefined) target.url = n.url;
    if (n.headers !== undefined) target.headers = n.headers;
    return target;
  });
}

/** A path with a slash resolves against the config's folder (or ~); a bare name is looked up on PATH. */
function resolveProgram(program: string, base: string): string {
  if (program.startsWith("~/")) return join(homedir(), program.slice(2));
  if (isAbsolute(program) || !program.includes("/")) return program;
  return resolve(base, program);
}

/** The notifier of an open session: its config's targets; secrets for templates read as the session's actor. */
export function sessionNotifier(session: Session): Notifier {
  const config = session.config;
  const targets = notificationTargets(config?.config.notifications ?? [], config?.path);
  const service = new SecretService(session);
  return new Notifier(targets, { readSecret: async (name) => (await service.get(name)).value });
}
