import type { Readable, Writable } from "node:stream";
import { KeywardError } from "../core/errors.js";
import { type Finding, forwardSignals, McpProxy } from "../mcp/proxy.js";
import { PatternScrubber } from "../redact/patterns.js";
import { Redactor } from "../redact/redactor.js";
import type { Session } from "../secrets/session.js";
import { buildChildEnv } from "./env.js";
import { type SecretChange, StoreFollower } from "./follow.js";
import { planLaunch, profileConfig } from "./plan.js";

export interface RunOptions {
  profile: string;
  /** The host environment the allowlist and passEnv read from. */
  host: NodeJS.ProcessEnv;
  /** A command after `--` replaces the profile's. */
  commandOverride?: string[];
  /** How often the store is checked for rotations and revocations. */
  pollMs: number;
  clientIn: Readable;
  clientOut: Writable;
  errOut: Writable;
  /** keyward's own messages (warnings, restarts), already scrubbed by the caller's output layer. */
  notice: (text: string) => void;
}

/**
 * `keyward run`: reads the profile's secrets, starts the server with only them, proxies stdio
 * while scrubbing every injected value (and its encodings) and every known token format, and
 * follows the store: a new current version restarts the server, a revoked one stops it.
 * Returns the server's exit code.
 */
export async function runProfile(session: Session, opts: RunOptions): Promise<number> {
  const config = profileConfig(session, opts.profile);
  if (config.url !== undefined && !opts.commandOverride?.length) {
    throw new KeywardError(
      "config_invalid",
      `profile ${opts.profile} is a remote server (url); the stdio↔HTTP bridge is not in this version`,
      "run a local server for now, or give a command after --",
    );
  }
  const plan = await planLaunch(session, opts.profile, opts.host, opts.commandOverride);
  const redactor = new Redactor(plan.secrets.map((s) => ({ name: s.name, value: s.value })));
  for (const name of redactor.unredactable) {
    opts.errOut.write(
      `keyward: warning: ${name} is too short to be scrubbed reliably from the server's output\n`,
    );
  }
  const scrubber = new PatternScrubber(redactor);
  // keyward's own notices pass through the same scrubber as the server's output.
  const notice = (text: string) => opts.notice(scrubber.redactText(text).text);
  const reported = new Set<string>();
  const onFinding = (f: Finding) => {
    const pattern = f.secret.startsWith("pattern/");
    session.log.append({
      actor: session.actor,
      action: "redact",
      ...(pattern ? {} : { secret: f.secret }),
      outcome: "ok",
      detail: `${f.direction} ${f.form}${pattern ? ` ${f.secret}` : ""}${f.method ? ` in ${f.method}` : ""}`,
    });
    const key = `${f.secret} ${f.direction}`;
    if (reported.has(key)) return;
    reported.add(key);
    notice(
      pattern
        ? `keyward: redacted a ${f.secret.slice("pattern/".length)} credential that keyward did not inject (${f.direction}${f.method ? `, ${f.method}` : ""})`
        : `keyward: redacted ${f.secret} (${f.form}) from ${f.direction}${f.method ? ` ${f.method}` : ""}`,
    );
  };
  const proxy = new McpProxy({
    command: plan.command,
    args: plan.args,
    env: plan.env,
    scrubber,
    argumentPolicy: plan.argumentPolicy,
    onFinding,
    clientIn: opts.clientIn,
    clientOut: opts.clientOut,
    errOut: opts.errOut,
  });
  session.log.append({
    actor: session.actor,
    action: "launch",
    outcome: "ok",
    detail: `${plan.secrets.length} secrets injected: ${plan.secrets.map((s) => `${s.envVar}=${s.name}@${s.version}`).join(", ")}`,
  });
  const unhookSignals = forwardSignals(proxy);
  const follower = new StoreFollower(session, config, plan.secrets, opts.pollMs);
  const onChange = async (change: SecretChange) => {
    if (change.kind === "revoked") {
      notice(`keyward: stopping the server: ${change.reason}`);
      await proxy.stopForRevocation(change.reason);
      return;
    }
    for (const s of change.secrets) scrubber.add({ name: s.name, value: s.value });
    notice(
      `keyward: ${change.changed.join(", ")} rotated; restarting the server with the new value`,
    );
    await proxy.restart(
      buildChildEnv({
        host: opts.host,
        passEnv: config.passEnv ?? [],
        setEnv: config.setEnv ?? {},
        secrets: change.secrets,
      }),
    );
  };
  proxy.start();
  follower.start(onChange, (e) =>
    notice(`keyward: could not follow the store: ${e instanceof Error ? e.message : String(e)}`),
  );
  try {
    const result = await proxy.wait();
    return result.exitCode;
  } finally {
    follower.stop();
    unhookSignals();
  }
}
