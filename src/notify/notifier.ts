/**
 * Sends notification events to the targets in keyward.yaml's `notifications:`: a command (the
 * JSON payload on its stdin, never in argv) or an HTTP POST (headers, and the url, may name
 * secrets as `{{secret:<name>}}`, filled from the store as remote profiles are). Each delivery
 * has a timeout per attempt and bounded retries; a failed delivery is reported, never thrown:
 * a notification must not fail the rotation or revocation it reports.
 */
import { spawn } from "node:child_process";
import { SECRET_TEMPLATE_PATTERN } from "../config/constants.js";
import { envWithoutKeyward } from "../core/child-env.js";
import { Redactor } from "../redact/redactor.js";
import type { NotificationEvent, NotificationEventName } from "./events.js";

export interface NotificationTarget {
  /** How results and errors name the target (the config's `name`, else `notifications[i]`). */
  name: string;
  /** The events it receives. */
  events: readonly NotificationEventName[];
  /** argv, run without a shell; relative paths resolve against `cwd`. */
  command?: readonly string[];
  cwd?: string;
  url?: string;
  headers?: Readonly<Record<string, string>>;
  /** Per attempt. */
  timeoutMs: number;
  /** Total attempts, the first included. */
  attempts: number;
}

export interface Delivery {
  target: string;
  event: NotificationEventName;
  ok: boolean;
  attempts: number;
  ms: number;
  /** The HTTP status of the last attempt, or the command's exit status. */
  status?: number;
  /** Why the last attempt failed; names the target's origin or command, never a value. */
  error?: string;
}

export interface NotifierDeps {
  /** A secret's value for `{{secret:<name>}}` (read through the store, so the read is logged). */
  readSecret(name: string): Promise<string>;
  fetch?: typeof fetch;
  /** The environment a command inherits (KEYWARD_* variables are removed). Default process.env. */
  env?: NodeJS.ProcessEnv;
  /** Waits between attempts; injectable so tests count attempts without waiting. */
  sleep?: (ms: number) => Promise<void>;
}

/** First wait between attempts, doubled each time. */
const BACKOFF_MS = 500;
/** Bytes of a command's stderr kept for the error message. */
const STDERR_TAIL = 2048;
/** After SIGTERM, a command that has not exited gets SIGKILL. */
const KILL_AFTER_MS = 1000;

type Attempt =
  | { ok: true; status?: number }
  | { ok: false; retry: boolean; error: string; status?: number };

export class Notifier {
  constructor(
    readonly targets: readonly NotificationTarget[],
    private readonly deps: NotifierDeps,
  ) {}

  /** Whether any target receives `event`. */
  wants(event: NotificationEventName): boolean {
    return this.targets.some((t) => t.events.includes(event));
  }

  /**
   * Delivers `event` to every target that receives it, in parallel. `sensitive` values (and the
   * secrets filled into templates) are scrubbed, in every encoding, from the payload and from
   * every error message.
   */
  async send(event: NotificationEvent, sensitive: readonly string[] = []): Promise<Delivery[]> {
    const targets = this.targets.filter((t) => t.events.includes(event.event));
    return Promise.all(targets.map((t) => this.deliver(t, event, sensitive)));
  }

  private async deliver(
    target: NotificationTarget,
    event: NotificationEvent,
    sensitive: readonly string[],
  ): Promise<Delivery> {
    const started = performance.now();
    const redactor = new Redactor(sensitive.map((value) => ({ name: "value", value })));
    const delivery = (ok: boolean, attempts: number, last?: Attempt): Delivery => {
      const out: Delivery = {
        target: target.name,
        event: event.event,
        ok,
        attempts,
        ms: Math.round(performance.now() - started),
      };
      if (last?.status !== undefined) out.status = last.status;
      if (last !== undefined && !last.ok) out.error = redactor.redactText(last.error).text;
      return out;
    };
    let fill: ((text: string, encode: (v: string) => string) => string) | undefined;
    try {
      fill = await this.templateFiller(target, redactor);
    } catch (e) {
      return delivery(false, 0, {
        ok: false,
        retry: false,
        error: `could not read a secret its url or headers name: ${e instanceof Error ? e.message : String(e)}`,
      });
    }
    const payload = redactor.redactText(JSON.stringify(event)).text;
    const sleep = this.deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    let last: Attempt | undefined;
    for (let attempt = 1; attempt <= target.attempts; attempt++) {
      last =
        target.command !== undefined
          ? await this.runCommand(target, event, payload)
          : await this.post(target, payload, fill);
      if (last.ok) return delivery(true, attempt, last);
      if (!last.retry || attempt === target.attempts) return delivery(false, attempt, last);
      await sleep(BACKOFF_MS * 2 ** (attempt - 1));
    }
    return delivery(false, target.attempts, last);
  }

  /** Reads the secrets the target's url and headers name, and teaches the redactor their values. */
  private async templateFiller(target: NotificationTarget, redactor: Redactor) {
    const texts = [target.url ?? "", ...Object.values(target.headers ?? {})];
    const names = new Set(
      texts.flatMap((t) => [...t.matchAll(SECRET_TEMPLATE_PATTERN)].map((m) => m[1] ?? "")),
    );
    const values = new Map<string, string>();
    for (const name of names) {
      const value = await this.deps.readSecret(name);
      redactor.add({ name, value });
      values.set(name, value);
    }
    return (text: string, encode: (v: string) => string) =>
      text.replace(SECRET_TEMPLATE_PATTERN, (_, name: string) => encode(values.get(name) ?? ""));
  }

  private async post(
    target: NotificationTarget,
    payload: string,
    fill: (text: string, encode: (v: string) => string) => string,
  ): Promise<Attempt> {
    const url = fill(target.url ?? "", encodeURIComponent);
    // The url may hold a secret (a Slack webhook): messages name its origin only.
    let origin: string;
    try {
      origin = new URL(url).origin;
    } catch {
      return { ok: false, retry: false, error: "the url is not a URL once filled" };
    }
    const headers: Record<string, string> = {
      "content-type": "application/json",
      "user-agent": "keyward",
    };
    for (const [name, template] of Object.entries(target.headers ?? {})) {
      headers[name] = fill(template, (v) => v);
    }
    let response: Response;
    try {
      response = await (this.deps.fetch ?? globalThis.fetch)(url, {
        method: "POST",
        headers,
        body: payload,
        // A redirect would carry the headers (a credential) elsewhere: never followed.
        redirect: "manual",
        signal: AbortSignal.timeout(target.timeoutMs),
      });
    } catch (e) {
      const timedOut = e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
      return {
        ok: false,
        retry: true,
        error: timedOut
          ? `POST ${origin}: no answer within ${target.timeoutMs} ms`
          : `POST ${origin}: ${networkCause(e)}`,
      };
    }
    await response.body?.cancel().catch(() => {});
    const status = response.status;
    if (status >= 200 && status < 300) return { ok: true, status };
    const retry = status === 429 || status >= 500;
    const why = status >= 300 && status < 400 ? " (a redirect: keyward does not follow them)" : "";
    return { ok: false, retry, status, error: `POST ${origin} answered ${status}${why}` };
  }

  private runCommand(
    target: NotificationTarget,
    event: NotificationEvent,
    payload: string,
  ): Promise<Attempt> {
    const [program, ...args] = target.command as readonly string[];
    const env = envWithoutKeyward(this.deps.env ?? process.env, {
      KEYWARD_EVENT: event.event,
      KEYWARD_SECRET_NAME: event.secret,
    });
    return new Promise((resolve) => {
      const child = spawn(program as string, args, {
        cwd: target.cwd,
        env,
        stdio: ["pipe", "ignore", "pipe"],
        detached: true,
      });
      let stderr = "";
      let timedOut = false;
      child.stderr.setEncoding("utf8");
      child.stderr.on("data", (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL);
      });
      child.stdin.on("error", () => {}); // a script that does not read its stdin
      const kill = (signal: NodeJS.Signals) => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, signal);
        } catch {
          // already gone
        }
      };
      const timer = setTimeout(() => {
        timedOut = true;
        kill("SIGTERM");
        setTimeout(() => kill("SIGKILL"), KILL_AFTER_MS).unref();
      }, target.timeoutMs);
      child.on("error", (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        resolve({
          ok: false,
          retry: false,
          error: `${program} could not be started: ${e.code ?? e.message}`,
        });
      });
      child.on("close", (code, signal) => {
        clearTimeout(timer);
        if (code === 0 && !timedOut) {
          resolve({ ok: true, status: 0 });
          return;
        }
        const tail = stderr.trim().split("\n").slice(-3).join(" | ");
        resolve({
          ok: false,
          retry: true,
          ...(code === null ? {} : { status: code }),
          error: timedOut
            ? `${program} did not finish within ${target.timeoutMs} ms`
            : `${program} exited with ${code === null ? `signal ${signal}` : `status ${code}`}${tail ? `: ${tail}` : ""}`,
        });
      });
      child.stdin.end(payload);
    });
  }
}

/** A network error's errno code (ECONNREFUSED, ENOTFOUND…), without the url fetch may quote. */
function networkCause(e: unknown): string {
  const cause = (e as { cause?: { code?: unknown } } | undefined)?.cause;
  return typeof cause?.code === "string" ? cause.code : "the request failed";
}
