/**
 * The four-step rotation (create → set → test → finish, as AWS Secrets Manager does it), then
 * revoking the previous value upstream after a grace period. Every step is idempotent and the
 * rotation record in the store says which one is next, so a run killed at any point is resumed
 * by the next one. One rotation per secret at a time: a store lock with expiry. README.md has
 * the state diagram and the crash analysis.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { type Actor, type AppendInput, currentActor, type Outcome } from "../accesslog/log.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import {
  currentVersion,
  defaultMetadata,
  type SecretMetadata,
  type SecretRecord,
} from "../core/types.js";
import type { Provider, ProviderContext, ProviderCredential } from "../providers/types.js";
import type {
  RotationRecord,
  RotationRecordInput,
  RotationStep,
  SecretStore,
  VersionWrite,
} from "../store/types.js";
import { companionName, companionParent, readCompanions } from "./companions.js";
import {
  type DueEvaluation,
  evaluateDue,
  graceSeconds,
  isDue,
  type ManualReminder,
  manualReminder,
  type RotationKind,
  rotationKind,
  supports,
} from "./policy.js";

/** How long a run holds a secret's rotation lock; renewed at every step. */
export const DEFAULT_LOCK_TTL_SECONDS = 300;
/** Tries of `set`, `test` or `finish` before the rotation is abandoned (rolled back). */
export const MAX_STEP_ATTEMPTS = 5;
/** Times a store write is retried when another writer bumped a secret's revision meanwhile. */
const CONFLICT_RETRIES = 3;

const UNFINISHED: ReadonlySet<RotationStep> = new Set(["create", "set", "test", "finish"]);

export function rotationLockName(secret: string): string {
  return `rotation/${secret}`;
}

/** A random 256-bit value, base64url: a `generate` for secrets keyward itself owns. */
export function randomSecretValue(): string {
  return randomBytes(32).toString("base64url");
}

/** The access log, or anything that records like it (AccessLog.append). */
export interface RotationLog {
  append(input: AppendInput): unknown;
}

/** How one secret gets its next value. */
export interface RotationMethod {
  provider: Provider | undefined;
  /** Mints a new value locally, for secrets whose provider cannot rotate (or that have none). */
  generate?: () => string;
  /** This secret's provider context (its provider's settings), when it differs from the services' one. */
  ctx?: ProviderContext;
}

export interface RotationServices {
  store: SecretStore;
  log?: RotationLog;
  /** Who the log says rotated; default currentActor("rotate"). */
  actor?: Actor;
  ctx: ProviderContext;
  now(): Date;
  /** Lock owner id: unique per run (e.g. host:pid:random). */
  owner: string;
  lockTtlSeconds?: number;
  /** Called after each step's record is committed (tests kill the process here). */
  onStep?(step: RotationStep, record: RotationRecord): void | Promise<void>;
}

export type RotateDeps = RotationServices & RotationMethod;

export interface RotateDueDeps extends RotationServices {
  /** The provider (and generator, if keyward mints its values) for each secret. */
  methodFor(record: SecretRecord): RotationMethod;
}

export interface RotateOptions {
  /** Revoke a previous value still in its grace period now, so a new rotation can start. */
  force?: boolean;
  /** Overrides the secret's grace period for this rotation. */
  graceSeconds?: number;
  /**
   * The value of the current version when the store no longer serves it: an emergency
   * revocation (src/revocation) disables the leaked version first, then rotates. Used as the
   * credential the provider rotates from; never stored.
   */
  replacing?: { version: number; value: string };
}

/** A failure as recorded and reported: a code, a message naming the secret, never a value. */
export interface RotationError {
  code: string;
  message: string;
  fix?: string;
}

export type PreviousState =
  /** Waiting for the grace period to end (revokePreviousDue will revoke it). */
  | "scheduled"
  | "revoked"
  /** Nothing keyward can do upstream: no provider, no revoke capability, or the version is disabled. */
  | "not-revocable"
  | "failed";

export interface PreviousOutcome {
  secret: string;
  rotationId: string;
  version?: number;
  state: PreviousState;
  revokeAfter?: string;
  detail?: string;
  error?: RotationError;
}

export type RotationOutcome =
  | {
      status: "rotated";
      secret: string;
      rotationId: string;
      /** The new current version. */
      version: number;
      previousVersion?: number;
      /** True when this run finished a rotation an earlier run started. */
      resumed: boolean;
      previous: PreviousOutcome;
    }
  | { status: "manual"; secret: string; reminder: ManualReminder }
  | { status: "locked"; secret: string }
  | {
      status: "failed";
      secret: string;
      rotationId?: string;
      /** The step that failed (the record's step now: `failed` once abandoned). */
      step: RotationStep;
      error: RotationError;
      /** The pending version was removed; current was never touched. */
      rolledBack: boolean;
      /** The record kept its step: the next run resumes there. */
      willResume: boolean;
    };

export interface RotationSummaryItem {
  secret: string;
  due: DueEvaluation;
  outcome?: RotationOutcome;
  previous?: PreviousOutcome;
}

export interface RotationSummary {
  /** False when any rotation or revocation failed: `keyward rotate --due` exits non-zero. */
  ok: boolean;
  counts: {
    rotated: number;
    resumed: number;
    revoked: number;
    dueManual: number;
    failed: number;
    locked: number;
    notDue: number;
  };
  /** One per secret (companions are rotated with their parent and not listed), sorted by name. */
  items: RotationSummaryItem[];
}

/**
 * Rotates one secret, or resumes its unfinished rotation. Never throws for a rotation problem:
 * the outcome says what happened. `locked` means another run holds the secret's lock.
 */
export async function rotateSecret(
  deps: RotateDeps,
  name: string,
  opts: RotateOptions = {},
): Promise<RotationOutcome> {
  try {
    parseSecretName(name);
  } catch (e) {
    return { status: "failed", secret: name, step: "create", ...stopped(toRotationError(e, [])) };
  }
  const run = new RotationRun(deps, name, opts);
  try {
    return await run.locked(() => run.rotate(), { status: "locked", secret: name });
  } catch (e) {
    // Taking or releasing the lock failed: the store itself is in trouble.
    return { status: "failed", secret: name, step: "create", ...stopped(toRotationError(e, [])) };
  }
}

/**
 * Revokes upstream every previous value whose grace period has ended, after checking that the
 * new value is current. Secrets whose lock is held are left for the next run.
 */
export async function revokePreviousDue(deps: RotateDueDeps): Promise<PreviousOutcome[]> {
  const out: PreviousOutcome[] = [];
  const now = deps.now().getTime();
  for (const record of await deps.store.list()) {
    const rotation = await deps.store.getRotation(record.name);
    if (rotation?.step !== "revoke-previous" || !graceOver(rotation, now)) continue;
    const run = new RotationRun({ ...deps, ...deps.methodFor(record) }, record.name, {});
    const result = await run.locked(() => run.revokeDuePrevious(), undefined);
    if (result !== undefined) out.push(result);
  }
  return out;
}

/**
 * For cron and CI: revokes previous values past their grace period, resumes unfinished
 * rotations, and rotates every secret that is due. Keys only a person can rotate are reported as
 * `manual` reminders (counted as dueManual, not failures).
 */
export async function rotateDue(
  deps: RotateDueDeps,
  opts: { graceSeconds?: number } = {},
): Promise<RotationSummary> {
  const summary: RotationSummary = {
    ok: true,
    counts: { rotated: 0, resumed: 0, revoked: 0, dueManual: 0, failed: 0, locked: 0, notDue: 0 },
    items: [],
  };
  const previous = new Map((await revokePreviousDue(deps)).map((p) => [p.secret, p]));
  const records = await deps.store.list();
  const names = new Set(records.map((r) => r.name));
  for (const record of records) {
    if (companionParent(record.name, names) !== undefined) continue;
    const item: RotationSummaryItem = {
      secret: record.name,
      due: evaluateDue(record, deps.now()),
    };
    const revoked = previous.get(record.name);
    if (revoked !== undefined) {
      item.previous = revoked;
      countPrevious(summary, revoked);
    }
    const rotation = await deps.store.getRotation(record.name);
    const unfinished = rotation !== undefined && UNFINISHED.has(rotation.step);
    if (!unfinished && !isDue(item.due)) {
      summary.counts.notDue++;
      summary.items.push(item);
      continue;
    }
    const outcome = await rotateSecret(
      { ...deps, ...deps.methodFor(record) },
      record.name,
      opts.graceSeconds === undefined ? {} : { graceSeconds: opts.graceSeconds },
    );
    item.outcome = outcome;
    switch (outcome.status) {
      case "rotated":
        summary.counts.rotated++;
        if (outcome.resumed) summary.counts.resumed++;
        if (outcome.previous.state !== "scheduled") countPrevious(summary, outcome.previous);
        break;
      case "manual":
        summary.counts.dueManual++;
        break;
      case "locked":
        summary.counts.locked++;
        break;
      case "failed":
        summary.counts.failed++;
        break;
    }
    summary.items.push(item);
  }
  summary.ok = summary.counts.failed === 0;
  return summary;
}

function countPrevious(summary: RotationSummary, previous: PreviousOutcome): void {
  if (previous.state === "revoked") summary.counts.revoked++;
  if (previous.state === "failed") summary.counts.failed++;
}

function graceOver(rotation: RotationRecord, nowMs: number): boolean {
  return rotation.revokeAfter === undefined || Date.parse(rotation.revokeAfter) <= nowMs;
}

type Failed = Extract<RotationOutcome, { status: "failed" }>;
type StepResult = { next: RotationRecord } | { outcome: RotationOutcome };

/** One run over one secret, holding its lock. */
class RotationRun {
  private readonly store: SecretStore;
  private readonly lock: string;
  private readonly lockTtl: number;
  /** Values this run has seen: scrubbed from every error message it records. */
  private readonly seen = new Set<string>();
  /** The record as last read or written, for reporting where an unexpected failure stopped. */
  private position: RotationRecord | undefined;

  constructor(
    private readonly deps: RotateDeps,
    private readonly name: string,
    private readonly opts: RotateOptions,
  ) {
    this.store = deps.store;
    this.lock = rotationLockName(name);
    this.lockTtl = deps.lockTtlSeconds ?? DEFAULT_LOCK_TTL_SECONDS;
  }

  /** Runs `fn` holding the secret's lock; `busy` when another owner holds it. */
  async locked<T, B>(fn: () => Promise<T>, busy: B): Promise<T | B> {
    if (!(await this.store.acquireLock(this.lock, this.deps.owner, this.lockTtl))) {
      this.log("denied", "another run holds this secret's rotation lock");
      return busy;
    }
    try {
      return await fn();
    } finally {
      await this.store.releaseLock(this.lock, this.deps.owner);
    }
  }

  async rotate(): Promise<RotationOutcome> {
    try {
      const secret = await this.store.get(this.name);
      if (secret === undefined) {
        throw new KeywardError(
          "not_found",
          `no secret named ${this.name}`,
          "`keyward secret list` shows the names",
        );
      }
      let record = await this.store.getRotation(this.name);
      this.position = record;
      if (record?.step === "revoke-previous") {
        if (!graceOver(record, this.nowMs()) && !this.opts.force) {
          return this.failedOutcome(
            record,
            {
              code: "refused",
              message: `the previous version v${record.previousVersion} of ${this.name} is in its grace period until ${record.revokeAfter}; rotating again now would leave it live upstream untracked`,
              fix: `wait until then, or rotate with --force to revoke it upstream now`,
            },
            { rolledBack: false, willResume: false },
          );
        }
        const previous = await this.revokePrevious(record);
        if (previous.state === "failed") {
          return this.failedOutcome(record, previous.error as RotationError, {
            rolledBack: false,
            willResume: true,
            step: "revoke-previous",
          });
        }
        record = await this.store.getRotation(this.name);
      }
      const resumed = record !== undefined && UNFINISHED.has(record.step);
      if (!resumed) {
        const start = await this.start(secret, record);
        if ("outcome" in start) return start.outcome;
        record = start.next;
      }
      return await this.drive(record as RotationRecord, resumed);
    } catch (e) {
      // Errors thrown rather than recorded land here: a failed precondition (no such secret, a
      // stray pending version) or the store itself failing. The record, if any, is where the
      // last committed step left it, so the next run resumes from there.
      const error = this.error(e);
      this.log("error", `rotation stopped: ${error.code}`);
      const at = this.position;
      const failed: Failed = {
        status: "failed",
        secret: this.name,
        step: at?.step ?? "create",
        error,
        rolledBack: false,
        willResume: at !== undefined && UNFINISHED.has(at.step),
      };
      if (at !== undefined) failed.rotationId = at.rotationId;
      return failed;
    }
  }

  /** revokePreviousDue's work for one secret, re-checked under the lock. */
  async revokeDuePrevious(): Promise<PreviousOutcome | undefined> {
    let record: RotationRecord | undefined;
    try {
      record = await this.store.getRotation(this.name);
      if (record?.step !== "revoke-previous" || !graceOver(record, this.nowMs())) return undefined;
      return await this.revokePrevious(record);
    } catch (e) {
      // The store failed while recording the outcome; the record still says revoke-previous.
      const outcome: PreviousOutcome = {
        secret: this.name,
        rotationId: record?.rotationId ?? "",
        state: "failed",
        error: this.error(e),
      };
      if (record?.previousVersion !== undefined) outcome.version = record.previousVersion;
      return outcome;
    }
  }

  // ---- the steps ------------------------------------------------------------------------

  private async start(secret: SecretRecord, last: RotationRecord | undefined): Promise<StepResult> {
    const current = currentVersion(secret);
    // Undefined too when the current version was disabled (an emergency revoke): providers that
    // rotate from companions (refresh token, App key) can still replace it.
    const currentValue = await this.readVersionValue(current?.version);
    const kind = this.kind(currentValue);
    if (kind === "manual") {
      const reminder = manualReminder(
        secret,
        this.deps.provider,
        evaluateDue(secret, this.deps.now()),
      );
      return { outcome: { status: "manual", secret: this.name, reminder } };
    }
    if (current === undefined) {
      throw new KeywardError(
        "not_found",
        `secret ${this.name} has no current value to rotate`,
        `store one first: keyward secret set ${this.name}`,
      );
    }
    const stray = secret.versions.find((v) => v.stages.includes("pending"));
    if (stray !== undefined) {
      throw new KeywardError(
        "refused",
        `secret ${this.name} has a pending version v${stray.version} that no rotation owns`,
        "promote it to current or remove its pending stage, then rotate again",
      );
    }
    const now = this.deps.now().toISOString();
    const record = await this.store.putRotation(
      {
        rotationId: randomUUID(),
        secret: this.name,
        step: "create",
        previousVersion: current.version,
        attempts: 0,
        startedAt: now,
        updatedAt: now,
      },
      last?.revision,
    );
    this.position = record;
    this.log("ok", `rotation ${record.rotationId} started from v${current.version}`);
    await this.deps.onStep?.("create", record);
    return { next: record };
  }

  private async drive(first: RotationRecord, resumed: boolean): Promise<RotationOutcome> {
    let record = first;
    for (;;) {
      this.position = record;
      if (!(await this.store.acquireLock(this.lock, this.deps.owner, this.lockTtl))) {
        return this.failedOutcome(
          record,
          {
            code: "conflict",
            message: `the rotation lock of ${this.name} expired while this run was working and another run took it`,
            fix: "let that run finish; raise the lock TTL if provider calls are slow",
          },
          { rolledBack: false, willResume: true },
        );
      }
      let result: StepResult;
      switch (record.step) {
        case "create":
          result = await this.create(record);
          break;
        case "set":
          result = await this.set(record);
          break;
        case "test":
          result = await this.test(record);
          break;
        case "finish":
          result = await this.finish(record);
          break;
        case "revoke-previous": {
          const previous = graceOver(record, this.nowMs())
            ? await this.revokePrevious(record)
            : this.previousOutcome(record, "scheduled");
          return {
            status: "rotated",
            secret: this.name,
            rotationId: record.rotationId,
            version: record.pendingVersion as number,
            ...(record.previousVersion === undefined
              ? {}
              : { previousVersion: record.previousVersion }),
            resumed,
            previous,
          };
        }
        default:
          throw new Error(`a rotation at step ${record.step} has nothing left to drive`);
      }
      if ("outcome" in result) return result.outcome;
      record = result.next;
    }
  }

  /** create: a locally generated value is made and stored as pending here. */
  private async create(record: RotationRecord): Promise<StepResult> {
    if (record.pendingVersion !== undefined) return this.advance(record, { step: "set" });
    const currentValue = await this.readVersionValue(record.previousVersion);
    const kind = this.kind(currentValue);
    if (kind === "api") return this.advance(record, { step: "set" });
    if (kind === "manual" || this.deps.generate === undefined) {
      return this.abandon(record, {
        code: "refused",
        message: `secret ${this.name} can no longer be rotated automatically (its provider changed)`,
        fix: `store a new value by hand: keyward secret set ${this.name}`,
      });
    }
    const value = this.deps.generate();
    if (typeof value !== "string" || value.length === 0) {
      throw new KeywardError("invalid_value", `the generator made no value for ${this.name}`);
    }
    this.seen.add(value);
    return this.storePending(record, value, {}, undefined, "set");
  }

  /** set: the provider replaces the key upstream and returns it (with new companions). */
  private async set(record: RotationRecord): Promise<StepResult> {
    if (record.pendingVersion !== undefined) return this.advance(record, { step: "test" });
    const provider = this.deps.provider;
    if (provider?.rotate === undefined) {
      return this.abandon(record, {
        code: "refused",
        message: `the provider of ${this.name} can no longer rotate it`,
        fix: `store a new value by hand: keyward secret set ${this.name}`,
      });
    }
    const moved = await this.currentMoved(record);
    if (moved !== undefined) return this.abandon(record, moved);
    const value = await this.readVersionValue(record.previousVersion);
    const companions = await this.companions();
    let rotated: Awaited<ReturnType<NonNullable<Provider["rotate"]>>>;
    try {
      rotated = await provider.rotate(
        // Empty when the current version is disabled: the provider rotates from its companions.
        this.credential(value ?? "", companions.values),
        this.deps.ctx,
      );
    } catch (e) {
      // A refusal is permanent (the key's kind cannot be rotated); anything else may pass.
      const permanent = isKeywardError(e) && e.code === "refused";
      return this.retryOrAbandon(record, this.error(e), permanent);
    }
    this.seen.add(rotated.value);
    for (const v of Object.values(rotated.companions ?? {})) this.seen.add(v);
    try {
      return await this.storePending(
        record,
        rotated.value,
        rotated.companions ?? {},
        rotated.expiresAt,
        "test",
      );
    } catch (e) {
      // The upstream already made the new key and (for refresh tokens) spent the old companion.
      const error = this.error(e);
      error.message = `secret ${this.name} was rotated upstream but storing the new value failed (${error.message}); the new value is lost and the old one may no longer work`;
      error.fix =
        "fix the store problem, then rotate again; if the old value stopped working, re-issue the key upstream and store it with keyward secret set";
      return this.retryOrAbandon(record, error, false);
    }
  }

  /** test: the provider checks the pending value works; without verify, it must read back. */
  private async test(record: RotationRecord): Promise<StepResult> {
    const pending = await this.readPending(record);
    if ("outcome" in pending) return pending;
    const provider = this.deps.provider;
    // A value keyward minted itself is known to nobody upstream: reading it back is the test.
    if (
      !this.mintsLocally() &&
      provider?.verify !== undefined &&
      supports(provider, pending.value, "verify")
    ) {
      const companions = await this.companions();
      let verdict: { ok: boolean; detail?: string };
      try {
        verdict = await provider.verify(
          this.credential(pending.value, companions.values),
          this.deps.ctx,
        );
      } catch (e) {
        // Could not tell (upstream down, rate limited): keep the pending value and retry later.
        return this.retryOrAbandon(record, this.error(e), false);
      }
      if (!verdict.ok) {
        return this.abandon(record, {
          code: "test_failed",
          message: `the provider rejected the new value of ${this.name}${
            verdict.detail === undefined ? "" : `: ${this.scrub(verdict.detail)}`
          }`,
          fix: "check the provider's settings and the key's permissions, then rotate again",
        });
      }
    }
    return this.advance(record, { step: "finish" });
  }

  /** finish: pending becomes current (the old current becomes previous); pending is cleared. */
  private async finish(record: RotationRecord): Promise<StepResult> {
    const pendingVersion = record.pendingVersion as number;
    const moved = await this.currentMoved(record);
    if (moved !== undefined) return this.abandon(record, moved);
    await this.withRetries(async () => {
      let secret = await this.mustGet();
      if (currentVersion(secret)?.version !== pendingVersion) {
        secret = await this.store.moveStage(this.name, "current", pendingVersion, secret.revision);
      }
      if (holder(secret, "pending") === pendingVersion) {
        secret = await this.store.moveStage(this.name, "pending", null, secret.revision);
      }
      // The expiry on record was the old value's; the new one's is what the provider said.
      if (secret.metadata.expiresAt !== record.pendingExpiresAt) {
        const metadata: SecretMetadata = { ...secret.metadata };
        if (record.pendingExpiresAt === undefined) delete metadata.expiresAt;
        else metadata.expiresAt = record.pendingExpiresAt;
        await this.store.updateMetadata(this.name, metadata, secret.revision);
      }
    });
    const secret = await this.mustGet();
    const grace = graceSeconds(secret, this.opts.graceSeconds);
    const revokeAfter = new Date(this.nowMs() + grace * 1000).toISOString();
    this.log(
      "ok",
      `rotated: v${pendingVersion} is current, v${record.previousVersion} is previous until ${revokeAfter} (rotation ${record.rotationId})`,
      pendingVersion,
    );
    return this.advance(record, { step: "revoke-previous", revokeAfter });
  }

  /**
   * revoke-previous: revokes the value that was current when the rotation started, only once
   * another version is current. Records `done`, or keeps the step with the error to retry.
   */
  private async revokePrevious(record: RotationRecord): Promise<PreviousOutcome> {
    const version = record.previousVersion;
    let notRevocable: string | undefined;
    let confirmed: string | undefined;
    try {
      const found = await this.previousToRevoke(record);
      if ("notRevocable" in found) notRevocable = found.notRevocable;
      else {
        const companions = await this.companions();
        const answer = await found.revoke(
          this.credential(found.value, companions.values),
          this.deps.ctx,
        );
        if (!answer.revoked) {
          throw new KeywardError(
            "upstream_rejected",
            `the provider did not confirm revoking v${version} of ${this.name}${
              answer.detail === undefined ? "" : `: ${this.scrub(answer.detail)}`
            }`,
            "the next run retries; revoke it by hand if it keeps failing",
          );
        }
        if (answer.detail !== undefined) confirmed = this.scrub(answer.detail);
      }
    } catch (e) {
      const error = this.error(e);
      this.log("error", `revoking previous v${version ?? "-"} failed: ${error.code}`);
      await this.store.putRotation(
        {
          ...record,
          attempts: record.attempts + 1,
          lastError: { code: error.code, message: error.message },
          updatedAt: this.deps.now().toISOString(),
        },
        record.revision,
      );
      return this.previousOutcome(record, "failed", { error });
    }
    await this.advance(record, { step: "done" });
    if (notRevocable !== undefined) {
      this.log("ok", `previous v${version ?? "-"} not revoked upstream: ${notRevocable}`);
      return this.previousOutcome(record, "not-revocable", { detail: notRevocable });
    }
    this.log("ok", `previous v${version} revoked upstream`, version);
    return this.previousOutcome(
      record,
      "revoked",
      confirmed === undefined ? {} : { detail: confirmed },
    );
  }

  /**
   * The previous value and the provider's revoke, or why there is nothing to revoke. Refuses
   * outright when the previous version is still (or again) current: revoking it would cut off
   * every consumer.
   */
  private async previousToRevoke(
    record: RotationRecord,
  ): Promise<
    { value: string; revoke: NonNullable<Provider["revoke"]> } | { notRevocable: string }
  > {
    const version = record.previousVersion;
    if (version === undefined) return { notRevocable: "there was no previous value" };
    const secret = await this.mustGet();
    const current = currentVersion(secret);
    if (current === undefined || current.version === version) {
      throw new KeywardError(
        "refused",
        `will not revoke v${version} of ${this.name} upstream: ${
          current === undefined ? "no version is current" : "it is the current version"
        }`,
        `make another version current first, or revoke by hand with keyward revoke ${this.name}`,
      );
    }
    const provider = this.deps.provider;
    if (provider === undefined || this.mintsLocally()) {
      return {
        notRevocable:
          provider === undefined
            ? "the secret has no provider: nothing upstream to revoke"
            : "keyward minted this value: nothing upstream to revoke",
      };
    }
    const revoke = provider.revoke?.bind(provider);
    if (revoke === undefined) {
      return {
        notRevocable: `${provider.info.title} cannot revoke keys by API: revoke the old one where it was issued`,
      };
    }
    const info = secret.versions.find((v) => v.version === version);
    if (info?.state !== "enabled") {
      return {
        notRevocable: `v${version} is ${info?.state ?? "gone"} in the store; if it is still live upstream, revoke it with keyward revoke`,
      };
    }
    const { value } = await this.store.read(this.name, { version });
    this.seen.add(value);
    if (!supports(provider, value, "revoke")) {
      return {
        notRevocable: `${provider.info.title} cannot revoke this kind of key by API: revoke it where it was issued`,
      };
    }
    return { value, revoke };
  }

  // ---- helpers --------------------------------------------------------------------------

  /** Stores the new value as pending (companions as current) and the record's next step, in one write. */
  private async storePending(
    record: RotationRecord,
    value: string,
    companions: Record<string, string>,
    expiresAt: string | undefined,
    next: RotationStep,
  ): Promise<StepResult> {
    for (let attempt = 0; ; attempt++) {
      const secret = await this.mustGet();
      const known = await this.companions();
      const writes: VersionWrite[] = [
        { name: this.name, value, stages: ["pending"], expectedRevision: secret.revision },
      ];
      for (const [key, companion] of Object.entries(companions)) {
        const write: VersionWrite = {
          name: companionName(this.name, key),
          value: companion,
          expectedRevision:
            known.revisions[key] ?? (await this.revisionOf(companionName(this.name, key))),
        };
        if (write.expectedRevision === 0) write.metadata = companionMetadata(secret, key);
        writes.push(write);
      }
      const update: RotationRecordInput = {
        ...record,
        step: next,
        attempts: 0,
        updatedAt: this.deps.now().toISOString(),
      };
      delete update.lastError;
      if (expiresAt !== undefined) update.pendingExpiresAt = expiresAt;
      try {
        const { rotation } = await this.store.putVersions(writes, {
          record: update,
          expectedRevision: record.revision,
        });
        const stored = rotation as RotationRecord;
        this.position = stored;
        await this.deps.onStep?.(next, stored);
        return { next: stored };
      } catch (e) {
        // Another writer touched the secret or a companion: the values are only in memory, so
        // re-read the revisions and write again rather than lose them. A changed rotation record
        // means a rival run took over: stop.
        if (!isConflict(e) || attempt >= CONFLICT_RETRIES) throw e;
        if ((await this.store.getRotation(this.name))?.revision !== record.revision) throw e;
      }
    }
  }

  private async advance(
    record: RotationRecord,
    patch: Partial<RotationRecordInput> & { step: RotationStep },
  ): Promise<StepResult> {
    const update: RotationRecordInput = {
      ...record,
      ...patch,
      attempts: 0,
      updatedAt: this.deps.now().toISOString(),
    };
    delete update.lastError;
    const stored = await this.store.putRotation(update, record.revision);
    this.position = stored;
    await this.deps.onStep?.(stored.step, stored);
    return { next: stored };
  }

  /** A failed try: keep the step for the next run, or abandon after MAX_STEP_ATTEMPTS. */
  private async retryOrAbandon(
    record: RotationRecord,
    error: RotationError,
    permanent: boolean,
  ): Promise<StepResult> {
    const attempts = record.attempts + 1;
    if (permanent || attempts >= MAX_STEP_ATTEMPTS) return this.abandon(record, error, attempts);
    const stored = await this.store.putRotation(
      {
        ...record,
        attempts,
        lastError: { code: error.code, message: error.message },
        updatedAt: this.deps.now().toISOString(),
      },
      record.revision,
    );
    this.log(
      "error",
      `rotation ${record.rotationId} ${record.step} failed (try ${attempts}): ${error.code}`,
    );
    return { outcome: this.failedOutcome(stored, error, { rolledBack: false, willResume: true }) };
  }

  /** Rolls back: removes the pending stage, records `failed`; current is never touched. */
  private async abandon(
    record: RotationRecord,
    error: RotationError,
    attempts = record.attempts,
  ): Promise<StepResult> {
    let rolledBack = false;
    if (record.pendingVersion !== undefined) {
      await this.withRetries(async () => {
        const secret = await this.mustGet();
        if (holder(secret, "pending") === record.pendingVersion) {
          await this.store.moveStage(this.name, "pending", null, secret.revision);
        }
      });
      rolledBack = true;
    }
    const stored = await this.store.putRotation(
      {
        ...record,
        step: "failed",
        attempts,
        lastError: { code: error.code, message: error.message },
        updatedAt: this.deps.now().toISOString(),
      },
      record.revision,
    );
    this.log(
      "error",
      `rotation ${record.rotationId} abandoned at ${record.step}${rolledBack ? `, pending v${record.pendingVersion} removed` : ""}: ${error.code}`,
    );
    await this.deps.onStep?.("failed", stored);
    return {
      outcome: this.failedOutcome(stored, error, {
        rolledBack,
        willResume: false,
        step: record.step,
      }),
    };
  }

  private failedOutcome(
    record: RotationRecord,
    error: RotationError,
    how: { rolledBack: boolean; willResume: boolean; step?: RotationStep },
  ): Failed {
    return {
      status: "failed",
      secret: this.name,
      rotationId: record.rotationId,
      step: how.step ?? record.step,
      error,
      rolledBack: how.rolledBack,
      willResume: how.willResume,
    };
  }

  private previousOutcome(
    record: RotationRecord,
    state: PreviousState,
    extra: { detail?: string; error?: RotationError } = {},
  ): PreviousOutcome {
    const outcome: PreviousOutcome = { secret: this.name, rotationId: record.rotationId, state };
    if (record.previousVersion !== undefined) outcome.version = record.previousVersion;
    if (state === "scheduled" && record.revokeAfter !== undefined) {
      outcome.revokeAfter = record.revokeAfter;
    }
    if (extra.detail !== undefined) outcome.detail = extra.detail;
    if (extra.error !== undefined) outcome.error = extra.error;
    return outcome;
  }

  /** Why the rotation must stop, when someone else made another version current meanwhile. */
  private async currentMoved(record: RotationRecord): Promise<RotationError | undefined> {
    const current = currentVersion(await this.mustGet())?.version;
    if (current === record.previousVersion || current === record.pendingVersion) return undefined;
    return {
      code: "conflict",
      message: `the current version of ${this.name} changed during the rotation (v${record.previousVersion} → v${current ?? "none"}): the rotation was abandoned`,
      fix: `rotate again if the new current value should be rotated too`,
    };
  }

  private async readPending(
    record: RotationRecord,
  ): Promise<{ value: string } | { outcome: RotationOutcome }> {
    try {
      const read = await this.store.read(this.name, { version: record.pendingVersion as number });
      this.seen.add(read.value);
      return { value: read.value };
    } catch (e) {
      if (!isKeywardError(e) || !["disabled", "destroyed", "not_found"].includes(e.code)) throw e;
      const result = await this.abandon(record, this.error(e));
      return { outcome: (result as { outcome: RotationOutcome }).outcome };
    }
  }

  private async readVersionValue(version: number | undefined): Promise<string | undefined> {
    if (version === undefined) return undefined;
    try {
      const { value } = await this.store.read(this.name, { version });
      this.seen.add(value);
      return value;
    } catch (e) {
      const replacing = this.opts.replacing;
      if (isKeywardError(e) && e.code === "disabled" && replacing?.version === version) {
        this.seen.add(replacing.value);
        return replacing.value;
      }
      if (isKeywardError(e) && ["disabled", "destroyed", "not_found"].includes(e.code)) {
        return undefined;
      }
      throw e;
    }
  }

  private async companions() {
    const companions = await readCompanions(this.store, this.name);
    for (const v of Object.values(companions.values)) this.seen.add(v);
    return companions;
  }

  private credential(value: string, companions: Record<string, string>): ProviderCredential {
    return Object.keys(companions).length === 0
      ? { name: this.name, value }
      : { name: this.name, value, companions };
  }

  private kind(currentValue: string | undefined): RotationKind {
    return rotationKind(this.deps.provider, this.deps.generate, currentValue);
  }

  private mintsLocally(): boolean {
    return this.deps.provider?.rotate === undefined && this.deps.generate !== undefined;
  }

  private async mustGet(): Promise<SecretRecord> {
    const record = await this.store.get(this.name);
    if (record === undefined) {
      throw new KeywardError("not_found", `secret ${this.name} was deleted during its rotation`);
    }
    return record;
  }

  private async revisionOf(name: string): Promise<number> {
    return (await this.store.get(name))?.revision ?? 0;
  }

  /** Re-runs an idempotent multi-write when another writer bumped the revision meanwhile. */
  private async withRetries(fn: () => Promise<void>): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        if (!isConflict(e) || attempt >= CONFLICT_RETRIES) throw e;
      }
    }
  }

  private nowMs(): number {
    return this.deps.now().getTime();
  }

  private error(e: unknown): RotationError {
    return toRotationError(e, [...this.seen]);
  }

  private scrub(text: string): string {
    return scrubValues(text, [...this.seen]);
  }

  private log(outcome: Outcome, detail: string, version?: number): void {
    const entry: AppendInput = {
      actor: this.deps.actor ?? currentActor("rotate"),
      action: "rotate",
      secret: this.name,
      outcome,
      detail,
    };
    if (version !== undefined) entry.version = version;
    this.deps.log?.append(entry);
  }
}

function holder(secret: SecretRecord, stage: "pending" | "current"): number | undefined {
  return secret.versions.find((v) => v.stages.includes(stage))?.version;
}

function isConflict(e: unknown): boolean {
  return isKeywardError(e) && e.code === "conflict";
}

/** A companion created by a rotation: tagged with its parent so listings can tell. */
function companionMetadata(parent: SecretRecord, key: string): SecretMetadata {
  const metadata = defaultMetadata(parent.metadata.sensitivity);
  metadata.description = `${key} of ${parent.name}, kept by its rotation`;
  metadata.tags = { "companion-of": parent.name };
  if (parent.metadata.provider !== undefined) metadata.provider = parent.metadata.provider;
  return metadata;
}

function stopped(error: RotationError): {
  error: RotationError;
  rolledBack: false;
  willResume: false;
} {
  return { error, rolledBack: false, willResume: false };
}

/**
 * An error as recorded: KeywardErrors keep their code, message and fix; anything else is named
 * by its class only, since its message was not written with secrets in mind. Known values are
 * scrubbed either way.
 */
function toRotationError(e: unknown, values: string[]): RotationError {
  if (isKeywardError(e)) {
    const error: RotationError = { code: e.code, message: scrubValues(e.message, values) };
    if (e.fix !== undefined) error.fix = scrubValues(e.fix, values);
    return error;
  }
  const kind = e instanceof Error ? e.name : typeof e;
  return { code: "internal", message: `unexpected ${kind} during rotation` };
}

function scrubValues(text: string, values: string[]): string {
  let out = text;
  // Longest first, so a value containing another is replaced whole.
  for (const v of [...values].sort((a, b) => b.length - a.length)) {
    if (v.length >= 4) out = out.replaceAll(v, "[redacted]");
  }
  return out;
}
