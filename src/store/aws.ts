/**
 * The AWS Secrets Manager backend: keyward secrets kept in Secrets Manager through the official
 * SDK, credentials from the SDK's default chain, never from keyward's config.
 *
 * Layout per keyward secret `name` (prefix `keyward/` by default; docs/backends/aws.md):
 * - `<prefix><name>`: the value secret. One AWS version per keyward version, VersionId
 *   `keyward-version-<n>`; AWSCURRENT / AWSPENDING / AWSPREVIOUS mirror keyward's stages, so
 *   anything that reads the secret natively (Lambda, ECS, the CLI) sees the current value.
 * - `<prefix>.keyward/<name>`: the control secret, a JSON record (never a value) holding the
 *   revision, metadata, version states, stages, the highest version number ever used and the
 *   rotation record. Its versions are generations `keyward-control-<g>`: writing generation g+1
 *   is PutSecretValue with that ClientRequestToken, so two writers that read the same generation
 *   collide with ResourceExistsException — AWS's own compare-and-set, and the commit point of
 *   every keyward write. It outlives a delete (as a tombstone) so version numbers never repeat.
 * - `<prefix>.keyward-locks/<lock>`: one small secret per lock, written the same way.
 *
 * A write puts the value first (labelled only KEYWARD_LAST_WRITE, invisible to AWSCURRENT
 * readers), then commits the control record, then moves the AWS labels to match it. A crash
 * before the commit leaves an unreferenced version; a crash after it leaves labels that the next
 * write of the secret moves. putVersions over several secrets is a small two-phase commit whose
 * decision is one control-record write of its first secret (see `putVersions`).
 */
import {
  BatchGetSecretValueCommand,
  CreateSecretCommand,
  DeleteSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  ListSecretVersionIdsCommand,
  PutSecretValueCommand,
  SecretsManagerClient,
  UpdateSecretVersionStageCommand,
} from "@aws-sdk/client-secrets-manager";
import * as z from "zod";
import { KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import {
  type SecretMetadata,
  type SecretRecord,
  STAGES,
  type Stage,
  type VersionInfo,
} from "../core/types.js";
import {
  AUTH_ERRORS,
  type CredentialSource,
  credentialSource,
  errorName,
} from "./aws-credentials.js";
import type { BackendFacts, StoreBackend } from "./backend.js";
import {
  assignStage,
  byName,
  checkExpectedRevision,
  checkLock,
  checkLockHolder,
  checkPutVersion,
  checkReadable,
  checkRotationRevision,
  checkSelector,
  checkStageMove,
  checkStageTarget,
  checkStateChange,
  checkValue,
  checkVersionNumber,
  checkVersionWrites,
  clearStage,
  createConflict,
  nextVersionState,
  noSuchVersion,
  nothingSelected,
  revisionConflict,
  rotationInput,
  secretExists,
  secretNotFound,
  secretRecord,
  versionOf,
} from "./checks.js";
import type {
  PutVersionOptions,
  ReadResult,
  RotationRecord,
  RotationRecordInput,
  SecretStore,
  StoreDescription,
  VersionSelector,
  VersionWrite,
} from "./types.js";

/** Secrets Manager stores at most 65,536 bytes per version (and per control record). */
export const AWS_MAX_VALUE_BYTES = 65_536;
const VALUE_LIMIT = { bytes: AWS_MAX_VALUE_BYTES, engine: "AWS Secrets Manager" };

const AWS_LABEL: Record<Stage, string> = {
  current: "AWSCURRENT",
  pending: "AWSPENDING",
  previous: "AWSPREVIOUS",
};
/** Marks the newest version keyward wrote; PutSecretValue needs at least one label. */
export const LAST_WRITE_LABEL = "KEYWARD_LAST_WRITE";

/** How often a write re-reads and retries when another writer committed first. */
const MAX_CAS_ROUNDS = 8;
/** Multi-secret writes keep only this many decided transaction ids on their first secret. */
const KEPT_TXNS = 32;
/**
 * A write older than this since its read is refused and retried: AWS removes unlabelled
 * versions only once they are 24 h old, so a generation token read less than an hour ago is
 * still there to collide with.
 */
const MAX_READ_AGE_MS = 3600_000;

// ---- options and facts --------------------------------------------------------------------

export const awsOptions = z
  .strictObject({
    region: z
      .string()
      .regex(/^[a-z]{2}(-[a-z]+)+-\d+$/, { error: "must be an AWS region such as us-east-1" })
      .describe("The AWS region whose Secrets Manager holds the secrets, e.g. eu-west-1."),
    profile: z
      .string()
      .regex(/^[A-Za-z0-9._@+=-]{1,128}$/)
      .optional()
      .describe(
        "A profile of the shared AWS config (~/.aws/config) to take credentials from, as AWS_PROFILE would; the file holds the credentials, never this config.",
      ),
    prefix: z
      .string()
      .regex(/^[A-Za-z0-9/_+=.@-]{0,128}$/, {
        error: "may hold only letters, digits and /_+=.@- (at most 128)",
      })
      .default("keyward/")
      .describe(
        "Put before every Secrets Manager name keyward creates (IAM policies can match it).",
      ),
    kmsKeyId: z
      .string()
      .min(1)
      .max(2048)
      .optional()
      .describe(
        "The KMS key (id, ARN or alias) new secrets are encrypted with; default aws/secretsmanager. A key id, never key material.",
      ),
    recoveryWindowDays: z
      .union([z.literal(0), z.number().int().min(7).max(30)])
      .default(0)
      .describe(
        "Days AWS keeps a deleted secret restorable (7–30); 0 deletes at once without recovery, which is what keyward's delete promises.",
      ),
    endpoint: z
      .url({ protocol: /^https?$/ })
      .optional()
      .describe("Another Secrets Manager endpoint: a VPC endpoint, FIPS, or a local emulator."),
    maxAttempts: z
      .number()
      .int()
      .min(1)
      .max(10)
      .default(3)
      .describe("Attempts per AWS call on throttling, 5xx and time-outs (the SDK's retries)."),
    timeoutSeconds: z
      .number()
      .positive()
      .max(300)
      .default(10)
      .describe("How long one AWS call may take before it is abandoned (and retried)."),
  })
  .describe("AWS Secrets Manager. Credentials come from the AWS SDK's default chain.");

export type AwsOptions = z.output<typeof awsOptions>;

export const AWS_AUDIT = "CloudTrail (GetSecretValue logged without the value)";

export const awsBackend: StoreBackend<AwsOptions> = {
  name: "aws",
  options: awsOptions,
  async open(options, ctx) {
    return new AwsSecretsManagerStore(awsOptions.parse(options), { env: ctx.env });
  },
  facts(options, ctx): BackendFacts {
    return {
      auth: `SDK default chain: ${credentialSource(options, ctx.env).label}`,
      audit: AWS_AUDIT,
      grade: "A",
    };
  },
};

// ---- the stored records -------------------------------------------------------------------

/** A secret's state in its control record: its record, named by the secret that holds it. */
type SecretState = Omit<SecretRecord, "name">;

/** What a putVersions whose decision lies with another secret (`primary`) will make of this one. */
interface PreparedTxn {
  id: string;
  primary: string;
  /** The primary's generation when the transaction read it: its commit is generation + 1. */
  primaryGen: number;
  at: string;
  next: ControlBody;
}

interface ControlBody {
  /** null: no such secret (never created, or deleted: a tombstone). */
  secret: SecretState | null;
  /** The highest version number this name ever used, kept across delete. */
  lastVersion: number;
  rotation: RotationRecord | null;
  /** Multi-secret transactions this secret decided (committed), newest last. */
  txns: string[];
  txn?: PreparedTxn;
}

interface LockBody {
  owner: string | null;
  /** Unix ms. */
  expiresAt: number;
}

/** A record as read: its generation (0 when its AWS secret does not exist yet). */
interface Loaded<B> {
  gen: number;
  nonce: string;
  body: B;
  readAt: number;
}

const EMPTY_CONTROL: ControlBody = { secret: null, lastVersion: 0, rotation: null, txns: [] };
const FREE_LOCK: LockBody = { owner: null, expiresAt: 0 };

function pad(n: number): string {
  return String(n).padStart(16, "0");
}

/** keyward version n ↔ its AWS VersionId (32 characters, as ClientRequestToken requires). */
export function versionId(version: number): string {
  return `keyward-version-${pad(version)}`;
}

function versionOfId(id: string): number | undefined {
  const m = /^keyward-version-(\d{16})$/.exec(id);
  return m === null ? undefined : Number(m[1]);
}

function generationToken(kind: "control" | "lock", gen: number): string {
  return `keyward-${kind}-${pad(gen)}`.padEnd(32, "0");
}

function now(): string {
  return new Date().toISOString();
}

function nonce(): string {
  return Math.random().toString(36).slice(2) + Date.now().toString(36);
}

function isAws(e: unknown, ...names: string[]): boolean {
  return names.includes(errorName(e));
}

function holderOf(state: SecretState, stage: Stage): VersionInfo | undefined {
  return state.versions.find((v) => v.stages.includes(stage));
}

function findVersion(state: SecretState, name: string, version: number): VersionInfo {
  const found = state.versions.find((v) => v.version === version);
  if (found === undefined) throw noSuchVersion(name, version);
  return found;
}

function recordOf(name: string, state: SecretState): SecretRecord {
  const copy = structuredClone(state);
  return secretRecord(name, copy, copy.versions);
}

/** Escapes a lock name into Secrets Manager's name alphabet, one-to-one (`=XX` per other byte). */
function lockSegment(lock: string): string {
  let out = "";
  for (const byte of Buffer.from(lock, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9/_+.@-]/.test(c) ? c : `=${byte.toString(16).toUpperCase().padStart(2, "0")}`;
  }
  return out;
}

// ---- the store ----------------------------------------------------------------------------

/** Outcome of one compare-and-set write of a record. */
type Written<B> = { kind: "written"; loaded: Loaded<B> } | { kind: "lost" };

interface StoreInternals {
  env?: NodeJS.ProcessEnv;
  /** After this long a prepared multi-secret write whose decider shows nothing is aborted. */
  staleTxnMs?: number;
  /** How long a writer waits for a young prepared multi-secret write before `conflict`. */
  txnWaitMs?: number;
}

export class AwsSecretsManagerStore implements SecretStore {
  private readonly client: SecretsManagerClient;
  private readonly source: CredentialSource;
  private readonly prefix: string;
  private readonly staleTxnMs: number;
  private readonly txnWaitMs: number;
  private credentialsChecked: Promise<void> | undefined;
  private closed = false;

  constructor(
    private readonly options: AwsOptions,
    internals: StoreInternals = {},
  ) {
    this.prefix = options.prefix;
    this.source = credentialSource(options, internals.env ?? process.env);
    this.staleTxnMs = internals.staleTxnMs ?? 30_000;
    this.txnWaitMs = internals.txnWaitMs ?? 5_000;
    const timeout = Math.round(options.timeoutSeconds * 1000);
    this.client = new SecretsManagerClient({
      region: options.region,
      maxAttempts: options.maxAttempts,
      retryMode: "standard",
      requestHandler: {
        connectionTimeout: timeout,
        requestTimeout: timeout,
        throwOnRequestTimeout: true,
      },
      ...(options.profile === undefined ? {} : { profile: options.profile }),
      ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
    });
  }

  /** The value secret's name in Secrets Manager. */
  valueSecretName(name: string): string {
    return `${this.prefix}${name}`;
  }

  /** The control secret's name: keyward names never start with ".", so it cannot clash. */
  controlSecretName(name: string): string {
    return `${this.prefix}.keyward/${name}`;
  }

  lockSecretName(lock: string): string {
    return `${this.prefix}.keyward-locks/${lockSegment(lock)}`;
  }

  describe(): StoreDescription {
    const details: Record<string, string> = {
      region: this.options.region,
      prefix: this.prefix,
      kmsKeyId: this.options.kmsKeyId ?? "aws/secretsmanager",
      credentials: `SDK default chain: ${this.source.label}`,
      recoveryWindowDays: String(this.options.recoveryWindowDays),
    };
    if (this.options.profile !== undefined) details.profile = this.options.profile;
    if (this.options.endpoint !== undefined) details.endpoint = this.options.endpoint;
    return {
      backend: "aws",
      location: `AWS Secrets Manager ${this.options.region}, names under "${this.prefix}"`,
      encryption: `server-side (AWS KMS key ${this.options.kmsKeyId ?? "aws/secretsmanager"})`,
      details,
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.client.destroy();
  }

  // ---- reads ------------------------------------------------------------------------------

  async get(name: string): Promise<SecretRecord | undefined> {
    parseSecretName(name);
    return this.guard(name, async () => {
      const state = (await this.loadControl(name, "read")).body.secret;
      return state === null ? undefined : recordOf(name, state);
    });
  }

  async list(prefix = ""): Promise<SecretRecord[]> {
    return this.guard(undefined, async () => {
      const base = this.controlSecretName("");
      const out: SecretRecord[] = [];
      let nextToken: string | undefined;
      do {
        const page = await this.call("BatchGetSecretValue", (c) =>
          c.send(
            new BatchGetSecretValueCommand({
              Filters: [{ Key: "name", Values: [`${base}${prefix}`] }],
              MaxResults: 20,
              ...(nextToken === undefined ? {} : { NextToken: nextToken }),
            }),
          ),
        );
        const failed = page.Errors?.[0];
        if (failed !== undefined) {
          throw new KeywardError(
            "upstream_rejected",
            `AWS Secrets Manager could not read ${failed.SecretId ?? "a control secret"} while listing: ${failed.ErrorCode ?? "error"}`,
            "check the IAM policy allows secretsmanager:GetSecretValue on the control secrets",
          );
        }
        for (const entry of page.SecretValues ?? []) {
          const awsName = entry.Name ?? "";
          if (!awsName.startsWith(base)) continue;
          const name = awsName.slice(base.length);
          if (!name.startsWith(prefix)) continue;
          let loaded = this.parseControl(awsName, entry.VersionId, entry.SecretString);
          if (loaded.body.txn !== undefined) loaded = await this.resolve(name, loaded, "read");
          const state = loaded.body.secret;
          if (state !== null) out.push(recordOf(name, state));
        }
        nextToken = page.NextToken;
      } while (nextToken !== undefined);
      return out.sort((a, b) => byName(a.name, b.name));
    });
  }

  async read(name: string, selector: VersionSelector = { stage: "current" }): Promise<ReadResult> {
    parseSecretName(name);
    checkSelector(selector);
    return this.guard(name, async () => {
      const state = this.existing(name, (await this.loadControl(name, "read")).body.secret);
      let version: VersionInfo | undefined;
      if ("stage" in selector) {
        version = holderOf(state, selector.stage);
        if (version === undefined) throw nothingSelected(name, selector);
      } else {
        version = findVersion(state, name, selector.version);
      }
      checkReadable(name, version.version, version.state);
      const value = await this.fetchValue(name, version.version);
      const record = recordOf(name, state);
      return { value, version: versionOf(record, version.version), record };
    });
  }

  // ---- single-secret writes ---------------------------------------------------------------

  async create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord> {
    parseSecretName(name);
    if (value !== undefined) checkValue(name, value, VALUE_LIMIT);
    return this.guard(name, async () => {
      const written = await this.mutate(name, async (loaded) => {
        if (loaded.body.secret !== null) throw secretExists(name);
        await this.prepareValueSecret(name, loaded.body.lastVersion);
        const at = now();
        const state: SecretState = {
          revision: 1,
          metadata: structuredClone(metadata),
          versions: [],
          createdAt: at,
          updatedAt: at,
        };
        let lastVersion = loaded.body.lastVersion;
        if (value !== undefined) {
          lastVersion = await this.putValue(name, lastVersion + 1, value, 0);
          const v: VersionInfo = {
            version: lastVersion,
            stages: [],
            state: "enabled",
            createdAt: at,
          };
          state.versions.push(v);
          assignStage(state, "current", v, at);
        }
        return { ...loaded.body, secret: state, lastVersion, rotation: null };
      });
      return recordOf(name, written.secret as SecretState);
    });
  }

  async putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult> {
    const stages = checkPutVersion(name, value, options.stages, (name, value) =>
      checkValue(name, value, VALUE_LIMIT),
    );
    checkExpectedRevision(name, options.expectedRevision);
    return this.guard(name, async () => {
      let version = 0;
      const written = await this.mutate(name, async (loaded) => {
        const state = this.casState(name, loaded.body.secret, options.expectedRevision);
        version = await this.putValue(
          name,
          loaded.body.lastVersion + 1,
          value,
          options.expectedRevision,
        );
        const at = now();
        const v: VersionInfo = { version, stages: [], state: "enabled", createdAt: at };
        state.versions.push(v);
        for (const stage of stages) assignStage(state, stage, v, at);
        bump(state, at);
        return { ...loaded.body, secret: state, lastVersion: version };
      });
      const record = recordOf(name, written.secret as SecretState);
      return { value, version: versionOf(record, version), record };
    });
  }

  async moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    checkStageMove(name, stage, version);
    checkExpectedRevision(name, expectedRevision);
    return this.change(name, expectedRevision, (state, at) => {
      if (version === null) {
        clearStage(state.versions, stage);
        return;
      }
      const target = findVersion(state, name, version);
      checkStageTarget(name, stage, version, target.state);
      assignStage(state, stage, target, at);
    });
  }

  async setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord> {
    checkStateChange(name, version, state, options.compromised);
    checkExpectedRevision(name, options.expectedRevision);
    return this.change(name, options.expectedRevision, (secret) => {
      const v = findVersion(secret, name, version);
      const current = { state: v.state, compromised: v.compromised === true };
      const next = nextVersionState(name, version, current, state, options.compromised);
      v.state = next.state;
      if (next.compromised) v.compromised = true;
    });
  }

  /**
   * Marks the version destroyed and takes every label off its AWS version. Secrets Manager has
   * no call that erases one version's value: AWS keeps it, unlabelled, until it removes
   * deprecated versions (beyond about 100 versions) or the whole secret is deleted.
   */
  async destroyVersion(
    name: string,
    version: number,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    checkVersionNumber(version);
    checkExpectedRevision(name, expectedRevision);
    return this.change(name, expectedRevision, (state) => {
      const v = findVersion(state, name, version);
      v.state = "destroyed";
      v.stages = [];
    });
  }

  async updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    checkExpectedRevision(name, expectedRevision);
    return this.change(name, expectedRevision, (state) => {
      state.metadata = structuredClone(metadata);
    });
  }

  /**
   * Commits a tombstone (the control secret keeps the highest version number), then deletes the
   * value secret — at once, or after `recoveryWindowDays` during which AWS can restore it.
   */
  async delete(name: string, expectedRevision: number): Promise<void> {
    parseSecretName(name);
    checkExpectedRevision(name, expectedRevision);
    await this.guard(name, async () => {
      let arn: string | undefined;
      await this.mutate(name, async (loaded) => {
        this.casState(name, loaded.body.secret, expectedRevision);
        arn = await this.valueSecretArn(name);
        return { ...loaded.body, secret: null, rotation: null };
      });
      if (arn !== undefined) await this.deleteValueSecret(name, arn);
    });
  }

  // ---- putVersions ------------------------------------------------------------------------

  /**
   * All or nothing across secrets, without a multi-key transaction in AWS:
   * 1. read every control record and check every revision (and the rotation's), then put the
   *    values (unreferenced until committed);
   * 2. prepare: write each secret but the first with a `txn` note holding its next state;
   * 3. commit: write the first secret's next state with the transaction id in its `txns` — the
   *    one compare-and-set that decides;
   * 4. roll the others forward. Anyone who meets a prepared note asks the first secret: id
   *    listed → committed; its generation moved past the note's → aborted; otherwise still
   *    running (readers see the old state; writers wait, and after `staleTxnMs` abort it by
   *    writing the first secret, which makes the commit's token collide).
   */
  async putVersions(
    writes: VersionWrite[],
    rotation?: { record: RotationRecordInput; expectedRevision?: number },
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }> {
    checkVersionWrites(writes, (name, value) => checkValue(name, value, VALUE_LIMIT));
    const names = new Set(writes.map((w) => w.name));
    const record = rotation === undefined ? undefined : rotationInput(rotation.record);
    const participants = [...names];
    if (record !== undefined && !names.has(record.secret)) participants.push(record.secret);
    return this.guard(participants[0], async () => {
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const loaded = new Map<string, Loaded<ControlBody>>();
        for (const name of participants) loaded.set(name, await this.loadControl(name, "write"));
        const next = new Map<string, ControlBody>();
        const versions = new Map<string, number>();
        // Every check first, so a refused write leaves AWS untouched.
        for (const w of writes) {
          const body = (loaded.get(w.name) as Loaded<ControlBody>).body;
          if (w.expectedRevision === 0) {
            if (body.secret !== null) throw createConflict(w.name);
          } else {
            this.casState(w.name, body.secret, w.expectedRevision);
          }
        }
        let storedRotation: RotationRecord | undefined;
        if (record !== undefined) {
          const body = (loaded.get(record.secret) as Loaded<ControlBody>).body;
          this.existing(record.secret, body.secret);
          storedRotation = this.casRotation(record, body.rotation, rotation?.expectedRevision);
        }
        const at = now();
        for (const w of writes) {
          const body = (loaded.get(w.name) as Loaded<ControlBody>).body;
          let state: SecretState;
          if (w.expectedRevision === 0) {
            await this.prepareValueSecret(w.name, body.lastVersion);
            state = {
              revision: 1,
              metadata: structuredClone(w.metadata as SecretMetadata),
              versions: [],
              createdAt: at,
              updatedAt: at,
            };
          } else {
            state = structuredClone(body.secret as SecretState);
            bump(state, at);
          }
          const version = await this.putValue(
            w.name,
            body.lastVersion + 1,
            w.value,
            w.expectedRevision,
          );
          versions.set(w.name, version);
          const v: VersionInfo = { version, stages: [], state: "enabled", createdAt: at };
          state.versions.push(v);
          for (const stage of w.stages ?? ["current"]) assignStage(state, stage, v, at);
          next.set(w.name, { ...body, secret: state, lastVersion: version });
        }
        if (record !== undefined && storedRotation !== undefined) {
          const pending = versions.get(record.secret);
          if (pending !== undefined) storedRotation.pendingVersion = pending;
          const base =
            next.get(record.secret) ?? (loaded.get(record.secret) as Loaded<ControlBody>).body;
          next.set(record.secret, { ...base, rotation: storedRotation });
        }
        const committed = await this.commitAll(participants, loaded, next);
        if (!committed) continue;
        const results = writes.map((w) => {
          const state = (next.get(w.name) as ControlBody).secret as SecretState;
          const r = recordOf(w.name, state);
          return { value: w.value, version: versionOf(r, versions.get(w.name) ?? 0), record: r };
        });
        return storedRotation === undefined
          ? { results }
          : { results, rotation: structuredClone(storedRotation) };
      }
      throw this.busy(participants.join(", "));
    });
  }

  /** Steps 2–4 of putVersions; false when another writer got in first (nothing committed). */
  private async commitAll(
    participants: string[],
    loaded: Map<string, Loaded<ControlBody>>,
    next: Map<string, ControlBody>,
  ): Promise<boolean> {
    const [primary, ...secondaries] = participants as [string, ...string[]];
    const primaryLoaded = loaded.get(primary) as Loaded<ControlBody>;
    const primaryNext = next.get(primary) as ControlBody;
    if (secondaries.length === 0) {
      const w = await this.writeControl(primary, primaryLoaded, primaryNext);
      if (w.kind === "lost") return false;
      await this.mirror(primary, primaryNext);
      return true;
    }
    const id = `txn-${nonce()}`;
    const prepared: Array<[string, Loaded<ControlBody>]> = [];
    let ok = true;
    for (const name of secondaries) {
      const current = loaded.get(name) as Loaded<ControlBody>;
      const txn: PreparedTxn = {
        id,
        primary,
        primaryGen: primaryLoaded.gen,
        at: now(),
        next: next.get(name) as ControlBody,
      };
      const w = await this.writeControl(name, current, { ...current.body, txn });
      if (w.kind === "lost") {
        ok = false;
        break;
      }
      prepared.push([name, w.loaded]);
    }
    if (ok) {
      const txns = [...primaryNext.txns, id].slice(-KEPT_TXNS);
      const w = await this.writeControl(primary, primaryLoaded, { ...primaryNext, txns });
      ok = w.kind === "written";
    }
    for (const [name, preparedLoaded] of prepared) {
      const body = ok ? (next.get(name) as ControlBody) : stripTxn(preparedLoaded.body);
      // Lost means someone resolved the note already, the same way (the decision is made).
      await this.writeControl(name, preparedLoaded, stripTxn(body));
    }
    if (!ok) return false;
    for (const name of participants) await this.mirror(name, next.get(name) as ControlBody);
    return true;
  }

  // ---- locks ------------------------------------------------------------------------------

  async acquireLock(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const ttlMs = checkLock(name, owner, ttlSeconds);
    const awsName = this.lockSecretName(name);
    return this.guard(undefined, async () => {
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const loaded = await this.loadRecord(awsName, FREE_LOCK, parseLock);
        const t = Date.now();
        const { owner: holder, expiresAt } = loaded.body;
        if (holder !== null && holder !== owner && expiresAt > t) return false;
        const body: LockBody = { owner, expiresAt: t + ttlMs };
        const w = await this.writeRecord(awsName, "lock", loaded, body, "keyward lock");
        if (w.kind === "written") return true;
      }
      return false;
    });
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    checkLockHolder(name, owner);
    const awsName = this.lockSecretName(name);
    await this.guard(undefined, async () => {
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const loaded = await this.loadRecord(awsName, FREE_LOCK, parseLock);
        if (loaded.body.owner !== owner) return;
        const w = await this.writeRecord(awsName, "lock", loaded, FREE_LOCK, "keyward lock");
        if (w.kind === "written") return;
      }
    });
  }

  // ---- rotation records -------------------------------------------------------------------

  async getRotation(name: string): Promise<RotationRecord | undefined> {
    parseSecretName(name);
    return this.guard(name, async () => {
      const body = (await this.loadControl(name, "read")).body;
      this.existing(name, body.secret);
      return body.rotation === null ? undefined : structuredClone(body.rotation);
    });
  }

  async putRotation(
    record: RotationRecordInput,
    expectedRevision?: number,
  ): Promise<RotationRecord> {
    const input = rotationInput(record);
    return this.guard(input.secret, async () => {
      let stored: RotationRecord | undefined;
      await this.mutate(
        input.secret,
        async (loaded) => {
          this.existing(input.secret, loaded.body.secret);
          stored = this.casRotation(input, loaded.body.rotation, expectedRevision);
          return { ...loaded.body, rotation: stored };
        },
        { mirror: false },
      );
      return structuredClone(stored as RotationRecord);
    });
  }

  async clearRotation(name: string, rotationId: string): Promise<boolean> {
    parseSecretName(name);
    return this.guard(name, async () => {
      let cleared = false;
      await this.mutate(
        name,
        async (loaded) => {
          cleared = loaded.body.secret !== null && loaded.body.rotation?.rotationId === rotationId;
          return cleared ? { ...loaded.body, rotation: null } : undefined;
        },
        { mirror: false },
      );
      return cleared;
    });
  }

  // ---- control records --------------------------------------------------------------------

  private existing(name: string, state: SecretState | null): SecretState {
    if (state === null) throw secretNotFound(name);
    return state;
  }

  /** A copy of the secret's state for writing, after checking the caller's revision. */
  private casState(name: string, state: SecretState | null, expected: number): SecretState {
    const found = this.existing(name, state);
    if (found.revision !== expected) throw revisionConflict(name, expected, found.revision);
    return structuredClone(found);
  }

  private casRotation(
    record: RotationRecordInput,
    stored: RotationRecord | null,
    expected: number | undefined,
  ): RotationRecord {
    checkRotationRevision(record.secret, expected, stored?.revision);
    return { ...structuredClone(record), revision: (stored?.revision ?? 0) + 1 };
  }

  /** One compare-and-set change of an existing secret's state, bumping its revision. */
  private async change(
    name: string,
    expectedRevision: number,
    apply: (state: SecretState, at: string) => void,
  ): Promise<SecretRecord> {
    return this.guard(name, async () => {
      const written = await this.mutate(name, async (loaded) => {
        const state = this.casState(name, loaded.body.secret, expectedRevision);
        const at = now();
        apply(state, at);
        bump(state, at);
        return { ...loaded.body, secret: state };
      });
      return recordOf(name, written.secret as SecretState);
    });
  }

  /**
   * Read, plan, compare-and-set write; re-run when another writer committed a generation in
   * between (the plan re-checks the caller's revision, so a real conflict surfaces then). A plan
   * returning undefined writes nothing.
   */
  private async mutate(
    name: string,
    plan: (loaded: Loaded<ControlBody>) => Promise<ControlBody | undefined>,
    options: { mirror: boolean } = { mirror: true },
  ): Promise<ControlBody> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const loaded = await this.loadControl(name, "write");
      const next = await plan(loaded);
      if (next === undefined) return loaded.body;
      const w = await this.writeControl(name, loaded, next);
      if (w.kind === "lost") continue;
      if (options.mirror) await this.mirror(name, next);
      return next;
    }
    throw this.busy(name);
  }

  private busy(names: string): KeywardError {
    return new KeywardError(
      "conflict",
      `secret ${names} kept changing under this write (other keyward processes are writing it)`,
      "re-read and retry",
    );
  }

  /**
   * The control record, with any prepared multi-secret write settled: readers see the decided
   * (or, while undecided, the old) state; writers first write the decision down.
   */
  private async loadControl(name: string, mode: "read" | "write"): Promise<Loaded<ControlBody>> {
    const loaded = await this.loadControlRecord(name);
    return loaded.body.txn === undefined ? loaded : this.resolve(name, loaded, mode);
  }

  private parseControl(
    awsName: string,
    id: string | undefined,
    text: string | undefined,
  ): Loaded<ControlBody> {
    const parsed = parseControl(awsName, text ?? "");
    return { gen: generationOf(id), nonce: parsed.nonce, body: parsed.body, readAt: Date.now() };
  }

  private async resolve(
    name: string,
    first: Loaded<ControlBody>,
    mode: "read" | "write",
  ): Promise<Loaded<ControlBody>> {
    let loaded = first;
    const waitUntil = Date.now() + this.txnWaitMs;
    for (let pause = 50; ; pause = Math.min(pause * 2, 500)) {
      const txn = loaded.body.txn;
      if (txn === undefined) return loaded;
      const primary = await this.loadControlRecord(txn.primary);
      const committed = primary.body.txns.includes(txn.id);
      const decided = committed || primary.gen > txn.primaryGen;
      const settled = committed ? stripTxn(txn.next) : stripTxn(loaded.body);
      // Readers never write: they see the decided state, or the old one while undecided.
      if (mode === "read") return { ...loaded, body: settled };
      if (decided) {
        const w = await this.writeControl(name, loaded, settled);
        if (w.kind === "written") return w.loaded;
      } else if (Date.now() - Date.parse(txn.at) >= this.staleTxnMs) {
        // Abandoned before its decision: a write of the deciding record makes its commit collide.
        await this.writeControl(txn.primary, primary, primary.body);
      } else if (Date.now() >= waitUntil) {
        throw new KeywardError(
          "conflict",
          `secret ${name} is being written together with ${txn.primary} by another keyward process`,
          "retry in a few seconds",
        );
      } else {
        await new Promise((r) => setTimeout(r, pause));
      }
      loaded = await this.loadControlRecord(name);
    }
  }

  private loadControlRecord(name: string): Promise<Loaded<ControlBody>> {
    return this.loadRecord(this.controlSecretName(name), EMPTY_CONTROL, (text, awsName) =>
      parseControl(awsName, text),
    );
  }

  private writeControl(
    name: string,
    loaded: Loaded<ControlBody>,
    body: ControlBody,
  ): Promise<Written<ControlBody>> {
    return this.writeRecord(
      this.controlSecretName(name),
      "control",
      loaded,
      body,
      `keyward control record of ${this.valueSecretName(name)} (metadata, never a value)`,
    );
  }

  /** Reads a record's AWSCURRENT generation; a missing secret is generation 0 with `empty`. */
  private async loadRecord<B>(
    awsName: string,
    empty: B,
    parse: (text: string, awsName: string) => { nonce: string; body: B },
  ): Promise<Loaded<B>> {
    const readAt = Date.now();
    try {
      const out = await this.call("GetSecretValue", (c) =>
        c.send(new GetSecretValueCommand({ SecretId: awsName })),
      );
      const parsed = parse(out.SecretString ?? "", awsName);
      return { gen: generationOf(out.VersionId), nonce: parsed.nonce, body: parsed.body, readAt };
    } catch (e) {
      if (isAws(e, "ResourceNotFoundException")) {
        return { gen: 0, nonce: "", body: structuredClone(empty), readAt };
      }
      throw e;
    }
  }

  /**
   * Writes generation `loaded.gen + 1` of a record with that generation's ClientRequestToken:
   * if another writer already wrote it, AWS answers ResourceExistsException (the contents
   * differ by the nonce) and this write is lost. A retried request whose first try was applied
   * finds its own nonce and counts as written.
   */
  private async writeRecord<B>(
    awsName: string,
    kind: "control" | "lock",
    loaded: Loaded<B>,
    body: B,
    description: string,
  ): Promise<Written<B>> {
    if (Date.now() - loaded.readAt > MAX_READ_AGE_MS) return { kind: "lost" };
    const gen = loaded.gen + 1;
    const mine = nonce();
    const text = JSON.stringify({ v: 1, w: mine, ...body });
    if (Buffer.byteLength(text, "utf8") > AWS_MAX_VALUE_BYTES) {
      throw new KeywardError(
        "refused",
        `the record ${awsName} would exceed Secrets Manager's ${AWS_MAX_VALUE_BYTES}-byte limit`,
        "delete old versions' history by deleting and re-creating the secret, or shorten its metadata",
      );
    }
    const token = generationToken(kind, gen);
    try {
      if (loaded.gen === 0) {
        await this.call("CreateSecret", (c) =>
          c.send(
            new CreateSecretCommand({
              Name: awsName,
              SecretString: text,
              ClientRequestToken: token,
              Description: description,
              Tags: [{ Key: "keyward:role", Value: kind }],
              ...(this.options.kmsKeyId === undefined ? {} : { KmsKeyId: this.options.kmsKeyId }),
            }),
          ),
        );
      } else {
        await this.call("PutSecretValue", (c) =>
          c.send(
            new PutSecretValueCommand({
              SecretId: awsName,
              SecretString: text,
              ClientRequestToken: token,
            }),
          ),
        );
      }
    } catch (e) {
      if (!isAws(e, "ResourceExistsException")) throw e;
      const seen = await this.loadRecord(awsName, body, (t) => ({ nonce: nonceOf(t), body }));
      if (seen.gen !== gen || seen.nonce !== mine) return { kind: "lost" };
    }
    return { kind: "written", loaded: { gen, nonce: mine, body, readAt: Date.now() } };
  }

  // ---- value secrets ----------------------------------------------------------------------

  /**
   * Makes sure the value secret exists and holds nothing from an earlier life of the name (a
   * delete whose AWS deletion never happened): such a secret is deleted by ARN, so a concurrent
   * creator's fresh secret is never hit.
   */
  private async prepareValueSecret(name: string, lastVersion: number): Promise<void> {
    const awsName = this.valueSecretName(name);
    for (let round = 0; round < 3; round++) {
      try {
        await this.call("CreateSecret", (c) =>
          c.send(
            new CreateSecretCommand({
              Name: awsName,
              Description: `keyward secret ${name}: stages and metadata in ${this.controlSecretName(name)}`,
              Tags: [{ Key: "keyward:role", Value: "value" }],
              ...(this.options.kmsKeyId === undefined ? {} : { KmsKeyId: this.options.kmsKeyId }),
            }),
          ),
        );
        return;
      } catch (e) {
        if (isAws(e, "InvalidRequestException")) throw this.scheduledForDeletion(name);
        if (!isAws(e, "ResourceExistsException")) throw e;
      }
      let arn: string | undefined;
      let stale = false;
      let nextToken: string | undefined;
      do {
        const page = await this.call("ListSecretVersionIds", (c) =>
          c.send(
            new ListSecretVersionIdsCommand({
              SecretId: awsName,
              IncludeDeprecated: true,
              ...(nextToken === undefined ? {} : { NextToken: nextToken }),
            }),
          ),
        ).catch((e: unknown) => {
          if (isAws(e, "ResourceNotFoundException")) return undefined;
          throw e;
        });
        if (page === undefined) break;
        arn = page.ARN;
        stale ||= (page.Versions ?? []).some((v) => {
          const n = versionOfId(v.VersionId ?? "");
          return n === undefined || n <= lastVersion;
        });
        nextToken = page.NextToken;
      } while (nextToken !== undefined);
      if (!stale) {
        if (arn !== undefined) return;
        continue;
      }
      if (arn !== undefined) await this.deleteValueSecret(name, arn, true);
    }
    throw this.busy(name);
  }

  private scheduledForDeletion(name: string): KeywardError {
    return new KeywardError(
      "refused",
      `the AWS secret ${this.valueSecretName(name)} was deleted with a recovery window and AWS keeps its name until the window ends`,
      `restore it (aws secretsmanager restore-secret) and delete it with recoveryWindowDays: 0, or wait for the window to end; until then choose another name than ${name}`,
    );
  }

  private async valueSecretArn(name: string): Promise<string | undefined> {
    try {
      return (
        await this.call("DescribeSecret", (c) =>
          c.send(new DescribeSecretCommand({ SecretId: this.valueSecretName(name) })),
        )
      ).ARN;
    } catch (e) {
      if (isAws(e, "ResourceNotFoundException")) return undefined;
      throw e;
    }
  }

  private async deleteValueSecret(name: string, arn: string, force = false): Promise<void> {
    const window = force ? 0 : this.options.recoveryWindowDays;
    try {
      await this.call("DeleteSecret", (c) =>
        c.send(
          new DeleteSecretCommand(
            window === 0
              ? { SecretId: arn, ForceDeleteWithoutRecovery: true }
              : { SecretId: arn, RecoveryWindowInDays: window },
          ),
        ),
      );
    } catch (e) {
      if (isAws(e, "ResourceNotFoundException")) return;
      if (isAws(e, "InvalidRequestException") && !force) return; // already scheduled
      const cause = this.translate(e, name);
      if (!(cause instanceof KeywardError)) throw cause;
      throw new KeywardError(
        cause.code,
        `secret ${name} is deleted in keyward, but AWS did not delete ${this.valueSecretName(name)}: ${cause.message}`,
        "its versions stay in AWS until it is deleted: delete it with the AWS CLI, or create the name again in keyward, which deletes it first",
      );
    }
  }

  /**
   * Puts a value as `version` (its VersionId), labelled only KEYWARD_LAST_WRITE. If that id is
   * taken with another value, either a writer committed first (the revision moved: `conflict`)
   * or it is an unreferenced leftover of a crashed or racing write: the next number is tried.
   * The same value under the same id is AWS's no-op, so a retried write is never stored twice.
   */
  private async putValue(
    name: string,
    version: number,
    value: string,
    expectedRevision: number,
  ): Promise<number> {
    const payload =
      value === ""
        ? { SecretBinary: new Uint8Array([0]) } // AWS stores no empty SecretString
        : { SecretString: value };
    let recreated = false;
    for (let n = version; n < version + MAX_CAS_ROUNDS; n++) {
      try {
        await this.call("PutSecretValue", (c) =>
          c.send(
            new PutSecretValueCommand({
              SecretId: this.valueSecretName(name),
              ClientRequestToken: versionId(n),
              VersionStages: [LAST_WRITE_LABEL],
              ...payload,
            }),
          ),
        );
        return n;
      } catch (e) {
        if (isAws(e, "ResourceNotFoundException") && !recreated) {
          // The value secret was deleted outside keyward: make it again and retry this number.
          recreated = true;
          await this.prepareValueSecret(name, version - 1);
          n--;
          continue;
        }
        if (!isAws(e, "ResourceExistsException")) throw e;
      }
      const state = (await this.loadControl(name, "read")).body.secret;
      const revision = state?.revision ?? 0;
      if (revision !== expectedRevision) throw revisionConflict(name, expectedRevision, revision);
    }
    throw this.busy(name);
  }

  private async fetchValue(name: string, version: number): Promise<string> {
    try {
      const out = await this.call("GetSecretValue", (c) =>
        c.send(
          new GetSecretValueCommand({
            SecretId: this.valueSecretName(name),
            VersionId: versionId(version),
          }),
        ),
      );
      if (out.SecretString !== undefined) return out.SecretString;
      return "";
    } catch (e) {
      if (!isAws(e, "ResourceNotFoundException", "InvalidRequestException")) throw e;
      throw new KeywardError(
        "not_found",
        `version ${version} of secret ${name} is no longer in AWS Secrets Manager (${this.valueSecretName(name)}): AWS removes unlabelled versions beyond about 100, or the secret was deleted outside keyward`,
        "read another version, or put the value again",
      );
    }
  }

  /**
   * Moves AWSCURRENT / AWSPENDING / AWSPREVIOUS to where the committed record puts keyward's
   * stages and strips every label from destroyed versions. Best effort after the commit: a
   * failure leaves labels behind that the next write of the secret moves.
   */
  private async mirror(name: string, body: ControlBody): Promise<void> {
    const state = body.secret;
    if (state === null) return;
    const awsName = this.valueSecretName(name);
    const wanted = new Map<string, string | undefined>();
    for (const stage of STAGES) {
      const holder = holderOf(state, stage);
      wanted.set(AWS_LABEL[stage], holder === undefined ? undefined : versionId(holder.version));
    }
    const destroyed = new Set(
      state.versions.filter((v) => v.state === "destroyed").map((v) => versionId(v.version)),
    );
    const refused = new Set<string>();
    for (let step = 0; step < 10; step++) {
      let labels: Record<string, string[]>;
      try {
        labels =
          (
            await this.call("DescribeSecret", (c) =>
              c.send(new DescribeSecretCommand({ SecretId: awsName })),
            )
          ).VersionIdsToStages ?? {};
      } catch {
        return;
      }
      const holderOfLabel = (label: string) =>
        Object.keys(labels).find((id) => labels[id]?.includes(label));
      let fix: { label: string; to?: string; from?: string } | undefined;
      for (const [label, to] of wanted) {
        const from = holderOfLabel(label);
        if (from !== to && !refused.has(label)) {
          fix = {
            label,
            ...(to === undefined ? {} : { to }),
            ...(from === undefined ? {} : { from }),
          };
          break;
        }
      }
      if (fix === undefined) {
        const id = Object.keys(labels).find((i) => destroyed.has(i));
        const label = id === undefined ? undefined : labels[id]?.find((l) => !refused.has(l));
        if (id !== undefined && label !== undefined) fix = { label, from: id };
      }
      if (fix === undefined) return;
      try {
        await this.call("UpdateSecretVersionStage", (c) =>
          c.send(
            new UpdateSecretVersionStageCommand({
              SecretId: awsName,
              VersionStage: fix.label,
              ...(fix.to === undefined ? {} : { MoveToVersionId: fix.to }),
              ...(fix.from === undefined ? {} : { RemoveFromVersionId: fix.from }),
            }),
          ),
        );
      } catch (e) {
        // AWS may refuse to strip AWSCURRENT without moving it: it then stays where it is.
        if (
          fix.to === undefined &&
          isAws(e, "InvalidParameterException", "InvalidRequestException")
        ) {
          refused.add(fix.label);
        } else if (!isAws(e, "InvalidParameterException", "ResourceNotFoundException")) {
          return;
        }
      }
    }
  }

  // ---- AWS calls and their errors ---------------------------------------------------------

  /** One AWS call (`op` names it in errors); the SDK retries throttling, 5xx and time-outs. */
  private async call<T>(op: string, fn: (client: SecretsManagerClient) => Promise<T>): Promise<T> {
    if (this.closed) {
      throw new KeywardError(
        "refused",
        "the AWS Secrets Manager store handle is closed",
        "open the store again",
      );
    }
    this.credentialsChecked ??= this.checkCredentials();
    await this.credentialsChecked;
    try {
      return await fn(this.client);
    } catch (e) {
      if (typeof e === "object" && e !== null) failedOp.set(e, op);
      throw e;
    }
  }

  /** Resolves credentials once, so a chain failure is reported as such, naming its source. */
  private async checkCredentials(): Promise<void> {
    try {
      const provider = this.client.config.credentials as unknown as () => Promise<unknown>;
      await provider();
    } catch (e) {
      this.credentialsChecked = undefined;
      const detail = errorName(e) === "CredentialsProviderError" ? "" : ` (${errorName(e)})`;
      throw new KeywardError(
        "upstream_unauthorized",
        `no usable AWS credentials for Secrets Manager: the SDK default chain tried ${this.source.label}${detail}`,
        this.source.fix,
      );
    }
  }

  private async guard<T>(name: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.translate(e, name);
    }
  }

  private translate(e: unknown, name: string | undefined): unknown {
    if (e instanceof KeywardError) return e;
    const type = errorName(e);
    const op = (typeof e === "object" && e !== null && failedOp.get(e)) || "a call";
    const what = name === undefined ? "" : ` for secret ${name}`;
    const meta = (e as { $metadata?: { httpStatusCode?: number; attempts?: number } }).$metadata;
    const status = meta?.httpStatusCode;
    const attempts = meta?.attempts ?? 1;
    if (AUTH_ERRORS.has(type)) {
      return new KeywardError(
        "upstream_unauthorized",
        `AWS Secrets Manager refused the credentials from ${this.source.label} (${type}) on ${op}${what}`,
        this.source.fix,
      );
    }
    if (type === "AccessDeniedException") {
      return new KeywardError(
        "upstream_forbidden",
        `the AWS identity from ${this.source.label} may not call secretsmanager:${op}${what}`,
        `allow secretsmanager:${op} on arn:aws:secretsmanager:${this.options.region}:*:secret:${this.prefix}* in its IAM policy (docs/backends/aws.md lists every action keyward uses)`,
      );
    }
    if (type === "ThrottlingException" || type === "LimitExceededException" || status === 429) {
      return new KeywardError(
        "upstream_rate_limited",
        `AWS Secrets Manager throttled ${op}${what} (${type}) after ${attempts} attempt(s)`,
        "retry later; keyward writes are rare, so look for another client hammering the account",
      );
    }
    if (type === "TimeoutError" || /ETIMEDOUT|timed? ?out/i.test(String((e as Error)?.message))) {
      return new KeywardError(
        "upstream_timeout",
        `AWS Secrets Manager did not answer ${op}${what} within ${this.options.timeoutSeconds} s (${attempts} attempt(s))`,
        "check the network path to Secrets Manager, or raise timeoutSeconds",
      );
    }
    if ((status !== undefined && status >= 500) || type === "InternalServiceError") {
      return new KeywardError(
        "upstream_unavailable",
        `AWS Secrets Manager failed ${op}${what} (${type}, HTTP ${status ?? "?"}) after ${attempts} attempt(s)`,
        "retry later; nothing was written twice (every write carries its own idempotency token)",
      );
    }
    if (status === undefined) {
      return new KeywardError(
        "upstream_unavailable",
        `could not reach AWS Secrets Manager${this.options.endpoint === undefined ? ` in ${this.options.region}` : ` at ${this.options.endpoint}`} for ${op}${what} (${(e as { code?: string }).code ?? (type || "network error")})`,
        "check the network and the region or endpoint setting",
      );
    }
    const message = String((e as Error).message ?? "").slice(0, 200);
    return new KeywardError(
      "upstream_rejected",
      `AWS Secrets Manager refused ${op}${what}: ${type}: ${message}`,
      "see docs/backends/aws.md for what keyward expects of the account",
    );
  }
}

/** The AWS operation a failed SDK error came from (errors do not carry it themselves). */
const failedOp = new WeakMap<object, string>();

function bump(state: SecretState, at: string): void {
  state.revision += 1;
  state.updatedAt = at;
}

function stripTxn(body: ControlBody): ControlBody {
  const { txn: _, ...rest } = body;
  return rest;
}

function generationOf(id: string | undefined): number {
  const m = /^keyward-(?:control|lock)-(\d{16})/.exec(id ?? "");
  return m === null ? 0 : Number(m[1]);
}

function nonceOf(text: string): string {
  try {
    const w = (JSON.parse(text) as { w?: unknown }).w;
    return typeof w === "string" ? w : "";
  } catch {
    return "";
  }
}

function corrupt(awsName: string, why: string): KeywardError {
  return new KeywardError(
    "corrupt_store",
    `the keyward record ${awsName} in AWS Secrets Manager is not usable: ${why}`,
    "restore an earlier version of it (aws secretsmanager update-secret-version-stage) or delete it if the secret is gone",
  );
}

function parseControl(awsName: string, text: string): { nonce: string; body: ControlBody } {
  let raw: Partial<ControlBody> & { v?: unknown; w?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch {
    throw corrupt(awsName, "it is not JSON");
  }
  if (
    raw.v !== 1 ||
    typeof raw.lastVersion !== "number" ||
    !Array.isArray(raw.txns) ||
    (raw.secret !== null &&
      (typeof raw.secret !== "object" || !Array.isArray(raw.secret?.versions)))
  ) {
    throw corrupt(awsName, "it lacks keyward's fields (v 1, secret, lastVersion, txns)");
  }
  const body: ControlBody = {
    secret: raw.secret ?? null,
    lastVersion: raw.lastVersion,
    rotation: raw.rotation ?? null,
    txns: raw.txns,
  };
  if (raw.txn !== undefined) body.txn = raw.txn;
  return { nonce: typeof raw.w === "string" ? raw.w : "", body };
}

function parseLock(text: string, awsName: string): { nonce: string; body: LockBody } {
  let raw: { w?: unknown; owner?: unknown; expiresAt?: unknown };
  try {
    raw = JSON.parse(text) as typeof raw;
  } catch {
    throw corrupt(awsName, "it is not JSON");
  }
  if (!(raw.owner === null || typeof raw.owner === "string") || typeof raw.expiresAt !== "number") {
    throw corrupt(awsName, "it lacks a lock's owner and expiresAt");
  }
  return {
    nonce: typeof raw.w === "string" ? raw.w : "",
    body: { owner: raw.owner, expiresAt: raw.expiresAt },
  };
}
