/**
 * The emergency revocation runbook (`keyward revoke`), each step timed:
 *   1. disable the version and mark it compromised: the store refuses it from that instant;
 *   2. revoke it at the source through its provider, or say why not and give the manual step;
 *   3. rotate to a fresh value where a rotator exists (src/rotation rotateSecret); with
 *      `rotateFirst`, before step 2, for providers whose rotation needs the old key to work;
 *   4. reload every running `keyward run` that uses it (restart with the new value, or stop),
 *      waiting for their acks on the control sockets (src/control), no daemon needed;
 *   5. search the git history of the configured repositories and the current one for the value
 *      in every encoding — started right after step 1, in parallel: steps 1–4 never wait on it;
 *   6. write the incident report (report.ts).
 * The value stays in this process's memory: nothing it returns, logs or writes holds it.
 */
import { randomUUID } from "node:crypto";
import type { Actor, AppendInput, LogEntry } from "../accesslog/log.js";
import type { FanOut } from "../control/notify.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { currentVersion, type SecretRecord } from "../core/types.js";
import { mask } from "../detect/mask.js";
import { type NotificationEvent, notificationEvent } from "../notify/events.js";
import type { Delivery, Notifier } from "../notify/notifier.js";
import type { Provider, ProviderContext } from "../providers/types.js";
import type { Redactor } from "../redact/redactor.js";
import type { RotateDeps } from "../rotation/rotate.js";
import type { SecretStore } from "../store/types.js";
import type { RepositoryScan } from "./history.js";
import { type RevocationReport, reportPaths, writeReport } from "./report.js";

/** The guide's budget for an emergency revocation (steps 1–4). */
export const BUDGET_SECONDS = 300;
/** How long step 4 waits for running proxies, unless told otherwise. */
export const DEFAULT_WAIT_MS = 15_000;
/** Tries of the disable when another writer bumps the secret's revision meanwhile. */
const CONFLICT_RETRIES = 5;
/** The reason is stored in the log and report; it is a sentence, not a document. */
const MAX_REASON_CHARS = 300;

export type StepId = "disable" | "revoke-upstream" | "rotate" | "reload" | "history" | "report";
/**
 * done: keyward did it. manual: keyward cannot, the report says what a person must do.
 * skipped: not needed or not asked for. partial: some of it (a proxy did not answer).
 * failed: it was tried and did not work.
 */
export type StepStatus = "done" | "manual" | "skipped" | "partial" | "failed";

export interface StepResult {
  step: number;
  id: StepId;
  title: string;
  status: StepStatus;
  startedAt: string;
  /** Milliseconds from the start of the revocation to the start of this step. */
  offsetMs: number;
  ms: number;
  summary: string;
  /** What a person must still do, when keyward could not. */
  manual?: string[];
}

export interface ProxyResult {
  pid: number;
  profile: string;
  outcome: string;
  running: boolean;
  /** The version the proxy's server holds now (absent once stopped). */
  version?: number;
  /** True when it no longer serves the compromised version (restarted with another, or stopped). */
  ok: boolean;
  ms: number;
}

export interface RevokeOptions {
  reason: string;
  /** The version to revoke; default the current one. */
  version?: number;
  /** False for `--no-rotate`: servers using the secret are stopped instead of restarted. */
  rotate: boolean;
  /**
   * Rotate (step 3) before revoking at the source (step 2): for providers whose rotation
   * authenticates with the old key, which step 2 would already have killed. The old key then
   * stays live upstream for the seconds the rotation takes.
   */
  rotateFirst?: boolean;
  /** How long step 4 waits for acks. */
  waitMs: number;
  /** Git work trees to search (step 5); a path that is not one is reported as such. */
  repositories: string[];
  /** Also searched when it is inside a git work tree (silently skipped otherwise). */
  currentDirectory?: string;
}

export interface RevocationDeps {
  store: SecretStore;
  log: {
    append(input: AppendInput): unknown;
    findValue(value: string): LogEntry[];
    query(filter: { secret?: string; action?: "read" }): LogEntry[];
    valueHmac(value: string): string;
  };
  actor: Actor;
  /** Where incident reports are written (`<home>/incidents`). */
  home: string;
  now(): Date;
  /**
   * The secret's provider, its context and (for step 3) rotateSecret's services with that
   * provider (and generator, if any). Called once step 1 is done, so loading the providers never
   * delays the moment the store refuses the value.
   */
  method(): Promise<RevocationMethod>;
  /** For step 4: tells every running proxy and collects acks (src/control/notify.ts). */
  reloadProxies(secrets: string[], timeoutMs: number): Promise<FanOut>;
  /** The notifier, asked for when the notifications go out (after step 4). */
  notifier?(): Promise<Notifier>;
  /** Called as each step ends (the CLI prints it at once). */
  onStep?(step: StepResult): void;
  /** Called with git's pid when step 5 starts it (the CLI lowers its priority). */
  onScanSpawn?(pid: number): void;
}

export interface RevocationMethod {
  provider: Provider | undefined;
  providerCtx: ProviderContext;
  rotation: RotateDeps;
}

export interface RevocationResult {
  report: RevocationReport;
  files: { json: string; markdown: string };
  /** False when a step failed or a proxy did not answer: the CLI exits 1. */
  ok: boolean;
}

/**
 * What the steps after step 1 use beyond the store, loaded once step 1's store write is done: the
 * redactor and the rotation code outweigh the rest of the runbook, and nothing that can wait
 * may delay the moment the store refuses the value.
 */
async function loadLaterSteps() {
  const [{ Redactor }, { readCompanions }, { supports }, { rotateSecret }] = await Promise.all([
    import("../redact/redactor.js"),
    import("../rotation/companions.js"),
    import("../rotation/policy.js"),
    import("../rotation/rotate.js"),
  ]);
  return { Redactor, readCompanions, supports, rotateSecret };
}

/** Runs the runbook on one secret. Throws (nothing done) only when step 1 cannot be done. */
export async function revokeSecret(
  deps: RevocationDeps,
  name: string,
  opts: RevokeOptions,
): Promise<RevocationResult> {
  return new Runbook(deps, name, opts).run();
}

class Runbook {
  private readonly t0 = performance.now();
  private readonly startedAt: Date;
  private readonly steps: StepResult[] = [];
  private value: string | undefined;
  private version = 0;
  private reason: string;
  private later!: Awaited<ReturnType<typeof loadLaterSteps>>;
  private scrubber!: Redactor;
  private readonly seen = new Set<string>();
  private method!: RevocationMethod;

  constructor(
    private readonly deps: RevocationDeps,
    private readonly name: string,
    private readonly opts: RevokeOptions,
  ) {
    this.startedAt = deps.now();
    this.reason = opts.reason;
  }

  async run(): Promise<RevocationResult> {
    await this.disable();
    const scan = this.startHistoryScan();
    // Loading the providers is part of whichever of steps 2 and 3 runs first.
    const next = this.begin();
    this.method = await this.deps.method();
    let rotatedTo: number | undefined;
    const rotate = async (start = this.begin()) => {
      rotatedTo = await this.safely("rotate", start, () => this.rotate(start), undefined);
    };
    const revokeUpstream = (start = this.begin()) =>
      this.safely("revoke-upstream", start, () => this.revokeUpstream(start), undefined);
    if (this.opts.rotateFirst) {
      await rotate(next);
      await revokeUpstream();
    } else {
      await revokeUpstream(next);
      await rotate();
    }
    const reloadStart = this.begin();
    const proxies = await this.safely(
      "reload",
      reloadStart,
      () => this.reload(rotatedTo, reloadStart),
      { results: [], silent: [], stale: [] },
    );
    const steps1to4Ms = Math.round(performance.now() - this.t0);
    const files = reportPaths(this.deps.home, this.name, this.version, this.startedAt);
    const notified = this.notify(steps1to4Ms, files.markdown);
    const git = await scan.promise;
    this.finishHistory(scan.started, git);
    const notifications = await notified;
    const reportStart = this.begin();
    const report = this.buildReport({
      steps1to4Ms,
      proxies,
      git,
      notifications,
      rotatedTo,
    });
    this.end(reportStart, "report", "done", "written as Markdown and JSON");
    report.steps = this.steps;
    report.finishedAt = this.deps.now().toISOString();
    writeReport(files, report);
    const ok = !this.steps.some((s) => s.status === "failed" || s.status === "partial");
    return { report, files, ok };
  }

  // ---- step 1 ---------------------------------------------------------------------------

  private async disable(): Promise<void> {
    const start = this.begin();
    let record = await this.mustGet();
    const target = this.opts.version ?? currentVersion(record)?.version;
    if (target === undefined) {
      throw new KeywardError(
        "not_found",
        `${this.name} has no current version to revoke`,
        "name the leaked one with --version (keyward secret history lists them)",
      );
    }
    this.version = target;
    let info = record.versions.find((v) => v.version === target);
    if (info === undefined) {
      throw new KeywardError(
        "not_found",
        `${this.name} has no version ${target}`,
        `keyward secret history ${this.name} lists its versions`,
      );
    }
    if (info.state === "destroyed") {
      throw new KeywardError(
        "destroyed",
        `version ${target} of ${this.name} was destroyed: its value is gone from the store, so keyward can neither disable nor revoke it`,
        "if it may still work upstream, revoke it where it was issued",
      );
    }
    if (info.state === "enabled") {
      this.value = (await this.deps.store.read(this.name, { version: target })).value;
    }
    for (let attempt = 0; !(info.state === "disabled" && info.compromised); attempt++) {
      try {
        record = await this.deps.store.setVersionState(this.name, target, "disabled", {
          expectedRevision: record.revision,
          compromised: true,
        });
      } catch (e) {
        if (!isKeywardError(e) || e.code !== "conflict" || attempt >= CONFLICT_RETRIES) throw e;
        record = await this.mustGet();
      }
      info = record.versions.find((v) => v.version === target) ?? info;
    }
    // The store refuses the value from here on; everything else in this step comes after.
    this.later = await loadLaterSteps();
    this.scrubber = new this.later.Redactor();
    if (this.value !== undefined) this.learn(this.value);
    this.reason = this.scrub(this.opts.reason).slice(0, MAX_REASON_CHARS);
    // With the value: the log's HMAC ties this entry to the leaked string (log find-value).
    const entry: AppendInput = {
      actor: this.deps.actor,
      action: "revoke",
      secret: this.name,
      version: target,
      outcome: "ok",
      detail: `marked compromised: ${this.reason}`,
    };
    if (this.value !== undefined) entry.value = this.value;
    this.deps.log.append(entry);
    this.end(
      start,
      "disable",
      "done",
      `v${target} is disabled and marked compromised: the store refuses it from now on`,
    );
  }

  // ---- step 2 ---------------------------------------------------------------------------

  private async revokeUpstream(start = this.begin()): Promise<void> {
    const { provider } = this.method;
    const title = provider?.info.title;
    const byHand = this.manualRevocation();
    if (this.value === undefined) {
      this.end(
        start,
        "revoke-upstream",
        "manual",
        `v${this.version} was already disabled, so keyward cannot read its value to send it to ${title ?? "its issuer"}`,
        byHand,
      );
      return;
    }
    if (provider === undefined) {
      this.end(
        start,
        "revoke-upstream",
        "manual",
        `${this.name} has no provider: keyward cannot revoke it at its source`,
        byHand,
      );
      return;
    }
    if (provider.revoke === undefined || !this.later.supports(provider, this.value, "revoke")) {
      this.end(
        start,
        "revoke-upstream",
        "manual",
        `${title} cannot revoke this kind of key by API`,
        byHand,
      );
      return;
    }
    try {
      const companions = await this.later.readCompanions(this.deps.store, this.name);
      for (const v of Object.values(companions.values)) this.learn(v);
      const cred =
        Object.keys(companions.values).length === 0
          ? { name: this.name, value: this.value }
          : { name: this.name, value: this.value, companions: companions.values };
      const answer = await provider.revoke(cred, this.method.providerCtx);
      const detail = answer.detail === undefined ? "" : `: ${this.scrub(answer.detail)}`;
      if (answer.revoked) {
        this.log("ok", `revoked upstream by ${provider.info.id}`);
        this.end(start, "revoke-upstream", "done", `${title} revoked it${detail}`);
      } else {
        this.log("error", `upstream did not confirm the revocation`);
        this.end(
          start,
          "revoke-upstream",
          "failed",
          `${title} did not confirm the revocation${detail}`,
          byHand,
        );
      }
    } catch (e) {
      const error = this.error(e);
      this.log("error", `upstream revocation failed: ${error.code}`);
      this.end(
        start,
        "revoke-upstream",
        "failed",
        `${title} revocation failed: ${error.message}`,
        error.fix === undefined ? byHand : [error.fix, ...byHand],
      );
    }
  }

  /** What a person does when keyward cannot revoke at the source: the provider's own note first. */
  private manualRevocation(): string[] {
    const provider = this.method.provider;
    const masked = this.value === undefined ? "" : ` (it starts ${mask(this.value)})`;
    if (provider === undefined) {
      return [
        `Revoke the value of ${this.name} v${this.version}${masked} where it was issued, then check that it no longer works.`,
      ];
    }
    const kind = this.value === undefined ? undefined : provider.identify(this.value)?.kind;
    const note = kind === undefined ? undefined : provider.info.capabilities[kind]?.revoke?.note;
    return [
      note !== undefined && provider.info.capabilities[kind as string]?.revoke?.level === "no"
        ? `${provider.info.title}: ${note}.`
        : `Revoke ${this.name} v${this.version}${masked} in ${provider.info.title}, then check that it no longer works.`,
      `keyward providers --notes lists what ${provider.info.title} allows.`,
    ];
  }

  // ---- step 3 ---------------------------------------------------------------------------

  /** The version now current after rotating, if a rotation happened. */
  private async rotate(start = this.begin()): Promise<number | undefined> {
    if (!this.opts.rotate) {
      this.end(
        start,
        "rotate",
        "skipped",
        "--no-rotate: servers using it are stopped until a new value is stored",
      );
      return undefined;
    }
    const record = await this.mustGet();
    const current = currentVersion(record);
    if (current !== undefined && current.version !== this.version) {
      this.end(
        start,
        "rotate",
        "skipped",
        `not needed: v${this.version} was not the current version (v${current.version} is)`,
      );
      return undefined;
    }
    const outcome = await this.later.rotateSecret(this.method.rotation, this.name, {
      // Revoke a previous value still in its grace period too: this is an emergency.
      force: true,
      graceSeconds: 0,
      ...(this.value === undefined
        ? {}
        : { replacing: { version: this.version, value: this.value } }),
    });
    switch (outcome.status) {
      case "rotated":
        this.end(
          start,
          "rotate",
          "done",
          `v${outcome.version} is current${outcome.resumed ? " (an interrupted rotation was finished)" : ""}`,
        );
        return outcome.version;
      case "manual":
        this.end(
          start,
          "rotate",
          "manual",
          `keyward cannot make a new value for ${this.name}: servers using it are stopped until one is stored`,
          outcome.reminder.steps,
        );
        return undefined;
      case "locked":
        this.end(
          start,
          "rotate",
          "failed",
          `another rotation of ${this.name} holds its lock; servers using it are stopped`,
          [`keyward rotate ${this.name} once it has finished`],
        );
        return undefined;
      case "failed":
        this.end(
          start,
          "rotate",
          "failed",
          `rotation failed at ${outcome.step}: ${this.scrub(outcome.error.message)}; servers using it are stopped`,
          [
            ...(outcome.error.fix === undefined ? [] : [this.scrub(outcome.error.fix)]),
            `Create a new value where ${this.name} was issued and store it: keyward secret set ${this.name}`,
            ...(this.opts.rotateFirst
              ? []
              : [
                  "If its provider rotates with the old key, step 2 has already killed it: revoke such keys with --rotate-first.",
                ]),
          ],
        );
        return undefined;
    }
  }

  // ---- step 4 ---------------------------------------------------------------------------

  private async reload(
    rotatedTo: number | undefined,
    start = this.begin(),
  ): Promise<{
    results: ProxyResult[];
    silent: FanOut["silent"];
    stale: FanOut["stale"];
  }> {
    const fan = await this.deps.reloadProxies([this.name], this.opts.waitMs);
    const results: ProxyResult[] = fan.acks
      .filter((a) => a.uses.includes(this.name))
      .map((a) => {
        const version = a.running ? a.versions[this.name] : undefined;
        const result: ProxyResult = {
          pid: a.pid,
          profile: a.profile,
          outcome: a.outcome,
          running: a.running,
          ok: !a.running || (version !== undefined && version !== this.version),
          ms: a.ms,
        };
        if (version !== undefined) result.version = version;
        return result;
      });
    const restarted = results.filter((r) => r.ok && r.running).length;
    const stopped = results.filter((r) => !r.running).length;
    const stuck = results.filter((r) => !r.ok);
    const parts: string[] = [];
    if (results.length === 0 && fan.silent.length === 0)
      parts.push("no running keyward run uses it");
    if (restarted > 0)
      parts.push(
        `${restarted} restarted with ${rotatedTo === undefined ? "another version" : `v${rotatedTo}`}`,
      );
    if (stopped > 0) parts.push(`${stopped} stopped`);
    if (stuck.length > 0)
      parts.push(
        `${stuck.length} still on v${this.version} (pid ${stuck.map((r) => r.pid).join(", ")})`,
      );
    if (fan.silent.length > 0)
      parts.push(
        `${fan.silent.length} did not answer within ${this.opts.waitMs} ms (pid ${fan.silent.map((s) => s.pid).join(", ")})`,
      );
    if (fan.stale.length > 0)
      parts.push(`${fan.stale.length} stale registration(s) of ended processes removed`);
    const failed = stuck.length > 0 || fan.silent.length > 0;
    this.end(
      start,
      "reload",
      failed ? "partial" : "done",
      parts.join("; "),
      failed
        ? [
            `Stop the keyward run processes that did not answer (kill ${[...stuck.map((r) => r.pid), ...fan.silent.map((s) => s.pid)].join(" ")}) and restart them.`,
          ]
        : undefined,
    );
    return { results, silent: fan.silent, stale: fan.stale };
  }

  // ---- step 5 ---------------------------------------------------------------------------

  /** Starts the history search in the background, right after step 1. */
  private startHistoryScan(): { started: number; promise: Promise<RepositoryScan[]> } {
    const started = performance.now();
    const value = this.value;
    if (value === undefined) return { started, promise: Promise.resolve([]) };
    const options = this.deps.onScanSpawn ? { onSpawn: this.deps.onScanSpawn } : {};
    const { repositories, currentDirectory } = this.opts;
    // Loaded here, after step 1: the detectors it brings are not needed to disable the value.
    const promise = import("./history.js").then(async ({ findValueInHistory, gitTopLevel }) => {
      const roots = new Set<string>();
      for (const path of repositories) roots.add(await gitTopLevel(path).catch(() => path));
      if (currentDirectory !== undefined) {
        const here = await gitTopLevel(currentDirectory).catch(() => undefined);
        if (here !== undefined) roots.add(here);
      }
      return Promise.all([...roots].map((root) => findValueInHistory(root, value, options)));
    });
    return { started, promise };
  }

  private finishHistory(startedMs: number, git: RepositoryScan[]): void {
    const searched = git.length > 0;
    const start = searched
      ? { at: new Date(this.startedAt.getTime() + (startedMs - this.t0)), t: startedMs }
      : this.begin();
    if (this.value === undefined) {
      this.end(
        start,
        "history",
        "manual",
        "the value could not be read (disabled before this revocation), so history was not searched",
        ["search your repositories with keyward audit --history, or gitleaks git"],
      );
      return;
    }
    if (git.length === 0) {
      this.end(
        start,
        "history",
        "skipped",
        "no git repository to search (--no-scan, or none configured or here)",
      );
      return;
    }
    const errors = git.filter((r) => r.error !== undefined);
    const sightings = git.flatMap((r) => r.sightings);
    const present = sightings.filter((s) => s.presentInTree).length;
    const readable = git.length - errors.length;
    const parts = [
      sightings.length === 0
        ? `not found in ${readable} repositor${readable === 1 ? "y" : "ies"} (${git.reduce((n, r) => n + r.commits, 0)} commits)`
        : `found at ${sightings.length} path(s)${present > 0 ? `, ${present} still in the checked-out files` : ", in history only"}`,
    ];
    for (const r of errors) parts.push(`${r.root}: ${r.error?.message}`);
    const manual: string[] = [];
    if (sightings.length > 0) {
      manual.push(
        "The value stays in every clone and fork: rewriting history (git filter-repo) does not make it secret again; revoking it does.",
      );
      if (present > 0) manual.push("Remove it from the checked-out files listed in the report.");
    }
    this.end(
      start,
      "history",
      errors.length === git.length ? "failed" : errors.length > 0 ? "partial" : "done",
      parts.join("; "),
      manual.length > 0 ? manual : undefined,
    );
  }

  // ---- notification and report ----------------------------------------------------------

  private async notify(steps1to4Ms: number, reportPath: string): Promise<Delivery[]> {
    if (this.deps.notifier === undefined) return [];
    try {
      const notifier = await this.deps.notifier();
      if (!notifier.wants("revocation")) return [];
      const event: NotificationEvent = notificationEvent(
        "revocation",
        this.name,
        {
          version: this.version,
          reason: this.reason,
          steps: this.steps.map((s) => ({
            step: s.step,
            id: s.id,
            status: s.status,
            ms: s.ms,
            summary: s.summary,
          })),
          steps1to4Ms,
          budgetSeconds: BUDGET_SECONDS,
          report: reportPath,
        },
        this.deps.now(),
      );
      return await notifier.send(event, [...this.seen]);
    } catch (e) {
      // The notifier reports failures as deliveries; anything else must not stop the runbook.
      return [
        {
          target: "notifications",
          event: "revocation",
          ok: false,
          attempts: 0,
          ms: 0,
          error: this.error(e).message,
        },
      ];
    }
  }

  private buildReport(parts: {
    steps1to4Ms: number;
    proxies: Awaited<ReturnType<Runbook["reload"]>>;
    git: RepositoryScan[];
    notifications: Delivery[];
    rotatedTo: number | undefined;
  }): RevocationReport {
    const value = this.value;
    const served = this.servedTo();
    const report: RevocationReport = {
      kind: "keyward.incident",
      format: 1,
      id: randomUUID(),
      secret: this.name,
      version: this.version,
      reason: this.reason,
      masked: value === undefined ? "(not readable)" : mask(value),
      startedAt: this.startedAt.toISOString(),
      finishedAt: "",
      actor: {
        user: this.deps.actor.user,
        pid: this.deps.actor.pid,
        process: this.deps.actor.process,
        ...(this.deps.actor.host === undefined ? {} : { host: this.deps.actor.host }),
      },
      budget: {
        limitSeconds: BUDGET_SECONDS,
        steps1to4Ms: parts.steps1to4Ms,
        within: parts.steps1to4Ms <= BUDGET_SECONDS * 1000,
      },
      steps: [],
      proxies: parts.proxies.results,
      silentProxies: parts.proxies.silent.map((s) => ({ pid: s.pid, reason: s.reason })),
      staleRegistrations: parts.proxies.stale.map((s) => s.pid),
      servedTo: served,
      git: parts.git,
      notifications: parts.notifications,
    };
    const hmac =
      value === undefined
        ? served.find((e) => e.valueHmac)?.valueHmac
        : this.deps.log.valueHmac(value);
    if (hmac !== undefined) report.valueHmac = hmac;
    if (this.method.provider !== undefined) report.provider = this.method.provider.info.id;
    if (parts.rotatedTo !== undefined) report.newVersion = parts.rotatedTo;
    return report;
  }

  /** Who was served the value: reads of it by HMAC (any secret holding it), else of this version. */
  private servedTo(): RevocationReport["servedTo"] {
    const entries =
      this.value === undefined
        ? this.deps.log
            .query({ secret: this.name, action: "read" })
            .filter((e) => e.version === this.version)
        : this.deps.log.findValue(this.value);
    return entries
      .filter((e) => e.action === "read" && e.outcome === "ok")
      .map((e) => {
        const out: RevocationReport["servedTo"][number] = {
          seq: e.seq,
          time: e.time,
          user: e.actor.user,
          process: e.actor.process,
          pid: e.actor.pid,
        };
        if (e.actor.profile !== undefined) out.profile = e.actor.profile;
        if (e.actor.host !== undefined) out.host = e.actor.host;
        if (e.secret !== undefined) out.secret = e.secret;
        if (e.version !== undefined) out.version = e.version;
        if (e.valueHmac !== undefined) out.valueHmac = e.valueHmac;
        return out;
      });
  }

  // ---- helpers --------------------------------------------------------------------------

  /**
   * Runs a step after step 1; an unexpected failure (the store failing, the secret deleted
   * meanwhile) ends that step as failed and the runbook goes on: the report must still be written.
   */
  private async safely<T>(
    id: StepId,
    start: { at: Date; t: number },
    fn: () => Promise<T>,
    fallback: T,
  ): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const error = this.error(e);
      this.end(
        start,
        id,
        "failed",
        error.message,
        error.fix === undefined ? undefined : [error.fix],
      );
      return fallback;
    }
  }

  private begin(): { at: Date; t: number } {
    return { at: this.deps.now(), t: performance.now() };
  }

  private end(
    start: { at: Date; t: number },
    id: StepId,
    status: StepStatus,
    summary: string,
    manual?: string[],
  ): void {
    const result: StepResult = {
      step: STEP_NUMBERS[id],
      id,
      title: STEP_TITLES[id],
      status,
      startedAt: start.at.toISOString(),
      offsetMs: Math.round(start.t - this.t0),
      ms: Math.round(performance.now() - start.t),
      summary: this.scrub(summary),
    };
    if (manual !== undefined && manual.length > 0) result.manual = manual.map((m) => this.scrub(m));
    this.steps.push(result);
    this.steps.sort((a, b) => a.step - b.step);
    this.deps.onStep?.(result);
  }

  private async mustGet(): Promise<SecretRecord> {
    const record = await this.deps.store.get(this.name);
    if (record === undefined) {
      throw new KeywardError(
        "not_found",
        `no secret named ${this.name}`,
        "`keyward secret ls` lists the secrets",
      );
    }
    return record;
  }

  /** A value this run has seen: scrubbed, in every encoding, from everything it says. */
  private learn(value: string): void {
    if (this.seen.has(value)) return;
    this.seen.add(value);
    this.scrubber = new this.later.Redactor(
      [...this.seen].map((v) => ({ name: this.name, value: v })),
    );
  }

  private scrub(text: string): string {
    let out = this.scrubber.redactText(text).text;
    // Values under the redactor's minimum length: plain replacement is all that can be done.
    for (const v of this.seen)
      if (v.length >= 4 && out.includes(v)) out = out.replaceAll(v, "[REDACTED]");
    return out;
  }

  private error(e: unknown): { code: string; message: string; fix?: string } {
    if (isKeywardError(e)) {
      const out: { code: string; message: string; fix?: string } = {
        code: e.code,
        message: this.scrub(e.message),
      };
      if (e.fix !== undefined) out.fix = this.scrub(e.fix);
      return out;
    }
    return { code: "internal", message: `unexpected ${e instanceof Error ? e.name : typeof e}` };
  }

  private log(outcome: "ok" | "error", detail: string): void {
    this.deps.log.append({
      actor: this.deps.actor,
      action: "revoke",
      secret: this.name,
      version: this.version,
      outcome,
      detail,
    });
  }
}

const STEP_NUMBERS: Record<StepId, number> = {
  disable: 1,
  "revoke-upstream": 2,
  rotate: 3,
  reload: 4,
  history: 5,
  report: 6,
};

const STEP_TITLES: Record<StepId, string> = {
  disable: "disable and mark compromised",
  "revoke-upstream": "revoke at the source",
  rotate: "rotate to a fresh value",
  reload: "reload running servers",
  history: "search git history",
  report: "write the incident report",
};
