import type { Readable, Writable } from "node:stream";
import type { ProfileConfig } from "../config/schema.js";
import { KeywardError } from "../core/errors.js";
import { McpBridge } from "../mcp/bridge.js";
import { type Finding, forwardSignals, McpProxy } from "../mcp/proxy.js";
import { PatternScrubber } from "../redact/patterns.js";
import { Redactor } from "../redact/redactor.js";
import type { Session } from "../secrets/session.js";
import { ProxyControl } from "./control.js";
import { DynamicSecrets } from "./dynamic.js";
import { buildChildEnv } from "./env.js";
import { type SecretChange, StoreFollower } from "./follow.js";
import { checkScopesAtLaunch, LAUNCH_PROVIDER_TIMEOUT_MS, LAUNCH_RETRY } from "./launch-check.js";
import {
  fillRemoteEndpoint,
  type InjectedSecret,
  type LaunchPlan,
  planLaunch,
  profileConfig,
  readProfileSecrets,
  withUrlOverride,
} from "./plan.js";
import { SessionToken } from "./session-token.js";

export interface RunOptions {
  profile: string;
  /** The host environment the allowlist and passEnv read from. */
  host: NodeJS.ProcessEnv;
  /** A command after `--` replaces the profile's. */
  commandOverride?: string[];
  /** `--url`: bridge to this endpoint (same origin as the profile's url) instead of a command. */
  urlOverride?: string;
  /**
   * How often the store is checked for rotations and revocations, when neither the store's feed
   * nor `keyward daemon` pushes changes (src/run/follow.ts).
   */
  pollMs: number;
  clientIn: Readable;
  clientOut: Writable;
  errOut: Writable;
  /** keyward's own messages (warnings, restarts), already scrubbed by the caller's output layer. */
  notice: (text: string) => void;
  /** `--no-scope-check` sets false: skip the launch scope check (src/run/launch-check.ts). */
  scopeCheck?: boolean;
  /** `--strict-scope`: a `deny` key whose scope could not be checked refuses the launch too. */
  strictScope?: boolean;
}

/** Provider calls at launch (scope check, minting): short, so a struggling upstream delays little. */
function providerDeps() {
  return {
    fetch: globalThis.fetch,
    timeoutMs: LAUNCH_PROVIDER_TIMEOUT_MS,
    now: () => new Date(),
    retry: LAUNCH_RETRY,
  };
}

/** The launch scope check, unless `--no-scope-check`; throws when a `deny` key fails it. */
async function checkAtLaunch(
  session: Session,
  opts: RunOptions,
  config: ProfileConfig,
  secrets: readonly InjectedSecret[],
  notice: (text: string) => void,
): Promise<void> {
  if (opts.scopeCheck === false) return;
  await checkScopesAtLaunch(session, {
    profile: opts.profile,
    config,
    secrets,
    strict: opts.strictScope ?? false,
    deps: providerDeps(),
    notice,
  });
}

/**
 * `keyward run`: reads the profile's secrets, starts the server with only them, proxies stdio
 * while scrubbing every injected value (and its encodings) and every known token format, and
 * follows the store: a new current version restarts the server, a revoked one stops it.
 * A remote profile (url, or `--url`) is bridged instead: see runRemote.
 * Returns the server's exit code.
 */
export async function runProfile(session: Session, opts: RunOptions): Promise<number> {
  const config = profileConfig(session, opts.profile);
  if (opts.urlOverride !== undefined) {
    if (opts.commandOverride?.length) {
      throw new KeywardError(
        "usage",
        "give either --url or a command after --, not both",
        `keyward run ${opts.profile} --url <endpoint>, or keyward run ${opts.profile} -- <command>`,
      );
    }
    return runRemote(session, opts, withUrlOverride(opts.profile, config, opts.urlOverride));
  }
  if (config.url !== undefined && !opts.commandOverride?.length) {
    return runRemote(session, opts, config);
  }
  const plan = await planLaunch(session, opts.profile, opts.host, opts.commandOverride);
  const { scrubber, notice, onFinding } = scrubbing(session, opts, plan.secrets);
  await checkAtLaunch(
    session,
    opts,
    { ...config, command: plan.command, args: plan.args },
    plan.secrets,
    notice,
  );
  const token = config.mint
    ? await SessionToken.mint(session, opts.profile, config.mint, providerDeps())
    : undefined;
  let dynamic: DynamicSecrets | undefined;
  try {
    dynamic = await DynamicSecrets.open(session, opts.profile, config);
    const scrubbed = { scrubber, notice, onFinding };
    return await runLocal(session, opts, config, plan, scrubbed, token, dynamic);
  } finally {
    const ended = await token?.end();
    if (ended && !ended.revoked) notice(`keyward: could not revoke ${ended.detail}`);
    for (const failure of (await dynamic?.end()) ?? []) {
      notice(`keyward: could not revoke ${failure}`);
    }
  }
}

/**
 * Runs the local server until it ends: proxy, store follower and, with `mint:`, token renewal;
 * with Vault dynamic secrets, lease renewal.
 */
async function runLocal(
  session: Session,
  opts: RunOptions,
  config: ProfileConfig,
  plan: LaunchPlan,
  { scrubber, notice, onFinding }: ReturnType<typeof scrubbing>,
  token: SessionToken | undefined,
  dynamic: DynamicSecrets | undefined,
): Promise<number> {
  if (token) scrubber.add({ name: token.label, value: token.value });
  for (const s of dynamic?.secrets ?? []) scrubber.add({ name: s.name, value: s.value });
  // The minted token and the dynamic secrets sit in the environment beside the stored secrets.
  const childEnv = (secrets: readonly InjectedSecret[]) =>
    buildChildEnv({
      host: opts.host,
      passEnv: config.passEnv ?? [],
      setEnv: config.setEnv ?? {},
      secrets: [
        ...secrets,
        ...(dynamic?.secrets ?? []),
        ...(token ? [{ envVar: token.envVar, name: token.label, value: token.value }] : []),
      ],
    });
  let injected = plan.secrets;
  const proxy = new McpProxy({
    command: plan.command,
    args: plan.args,
    env: childEnv(injected),
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
    detail: `${plan.secrets.length + (dynamic?.secrets.length ?? 0)} secrets injected: ${[...plan.secrets, ...(dynamic?.secrets ?? [])].map((s) => `${s.envVar}=${s.name}@${s.version}`).join(", ")}`,
  });
  // Every cause of a restart (rotation, minted token, dynamic secret) takes this one path.
  const restart = async (why: string) => {
    notice(why);
    await proxy.restart(childEnv(injected));
  };
  const unhookSignals = forwardSignals(proxy);
  const follower = new StoreFollower(session, config, plan.secrets, {
    intervalMs: opts.pollMs,
    resumable: true,
  });
  const onChange = async (change: SecretChange) => {
    if (change.kind === "revoked") {
      notice(`keyward: stopping the server: ${change.reason}`);
      await proxy.stopForRevocation(change.reason);
      return;
    }
    for (const s of change.secrets) scrubber.add({ name: s.name, value: s.value });
    injected = change.secrets;
    await restart(
      change.resumed
        ? `keyward: ${change.changed.join(", ")} has a usable value again; starting the server with it`
        : `keyward: ${change.changed.join(", ")} rotated; restarting the server with the new value`,
    );
  };
  proxy.start();
  follower.start(onChange, (e) =>
    notice(`keyward: could not follow the store: ${e instanceof Error ? e.message : String(e)}`),
  );
  const control = await ProxyControl.open({
    home: session.home,
    profile: opts.profile,
    follower,
    notice,
  });
  token?.startRenewal(
    async (value) => {
      scrubber.add({ name: token.label, value });
      await restart(
        `keyward: the token minted for ${token.envVar} expires soon; restarting the server with a fresh one`,
      );
    },
    (e) =>
      notice(
        `keyward: could not renew the token minted for ${token.envVar}: ${e instanceof Error ? e.message : String(e)}`,
      ),
  );
  dynamic?.start(
    async (path, secrets) => {
      for (const s of secrets) scrubber.add({ name: s.name, value: s.value });
      await restart(
        `keyward: the Vault lease of ${path} cannot be renewed any more; restarting the server with a new credential`,
      );
    },
    (text) => notice(`keyward: ${text}`),
  );
  try {
    const result = await proxy.wait();
    return result.exitCode;
  } finally {
    follower.stop();
    await control.close();
    unhookSignals();
  }
}

/**
 * A remote profile: the client speaks stdio to keyward, keyward speaks Streamable HTTP to the
 * profile's url with its headers filled from the store (each read logged as the profile). A
 * rotation swaps the headers for later requests; a revocation answers every request with an
 * error. Returns 0 when the client closes its end.
 */
async function runRemote(
  session: Session,
  opts: RunOptions,
  config: ProfileConfig,
): Promise<number> {
  const secrets = await readProfileSecrets(session, config);
  const { scrubber, notice, onFinding } = scrubbing(session, opts, secrets);
  await checkAtLaunch(session, opts, config, secrets, notice);
  const endpoint = fillRemoteEndpoint(opts.profile, config, secrets);
  const bridge = new McpBridge({
    endpoint,
    credential: { profile: opts.profile, secrets: secrets.map((s) => s.name) },
    scrubber,
    argumentPolicy: config.argumentPolicy ?? "redact",
    onFinding,
    clientIn: opts.clientIn,
    clientOut: opts.clientOut,
    errOut: opts.errOut,
  });
  // Scrubbed: the access log is not, and a template could sit in the host name.
  const origin = scrubber.redactText(new URL(endpoint.url).origin).text;
  if (secrets.length === 0) {
    notice(
      `keyward: profile ${opts.profile} sends no credential to ${origin} (no {{secret:<name>}} in its url or headers)`,
    );
  }
  session.log.append({
    actor: session.actor,
    action: "launch",
    outcome: "ok",
    detail: `bridge to ${origin}; ${secrets.length} secrets sent: ${secrets.map((s) => `${s.name}@${s.version}`).join(", ")}`,
  });
  const unhookSignals = forwardSignals(bridge);
  // A revoked bridge stays refused: it never sends a credential again in this session.
  const follower = new StoreFollower(session, config, secrets, {
    intervalMs: opts.pollMs,
    resumable: false,
  });
  const onChange = async (change: SecretChange) => {
    if (change.kind === "revoked") {
      notice(`keyward: refusing further requests: ${change.reason}`);
      bridge.revoke(change.reason);
      return;
    }
    for (const s of change.secrets) scrubber.add({ name: s.name, value: s.value });
    bridge.setEndpoint(fillRemoteEndpoint(opts.profile, config, change.secrets));
    notice(`keyward: ${change.changed.join(", ")} rotated; later requests use the new value`);
  };
  bridge.start();
  follower.start(onChange, (e) =>
    notice(`keyward: could not follow the store: ${e instanceof Error ? e.message : String(e)}`),
  );
  const control = await ProxyControl.open({
    home: session.home,
    profile: opts.profile,
    follower,
    notice,
  });
  try {
    return (await bridge.wait()).exitCode;
  } finally {
    follower.stop();
    await control.close();
    unhookSignals();
  }
}

/**
 * The scrubber for a run (the values read and every known token format), keyward's notices
 * through it, and the access-log entry and notice for each redaction.
 */
function scrubbing(session: Session, opts: RunOptions, secrets: readonly InjectedSecret[]) {
  const redactor = new Redactor(secrets.map((s) => ({ name: s.name, value: s.value })));
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
  return { scrubber, notice, onFinding };
}
