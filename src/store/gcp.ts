/**
 * The GCP Secret Manager backend, through the official client (@google-cloud/secret-manager) in
 * its REST mode. Values live in GCP (encrypted by Google, never by keyward); keyward's own state
 * lives on each Secret: stages as version aliases, everything else as annotations, every change
 * committed by one etag-conditioned update of the Secret. The mapping, the crash and retry rules
 * and the limits are in docs/backends/gcp.md; the shape of one write is:
 *
 *   read Secret (etag E, revision R) → check R → [addVersion] → PATCH Secret with etag E
 *   (revision R+1, aliases, annotations) → bring version states in GCP in line with the record.
 *
 * The PATCH is the commit point: a version added but never committed is invisible to keyward and
 * is destroyed by a later commit; a state change committed but not yet applied in GCP is applied
 * by the next write. Writes to several secrets (putVersions, create) mark every secret first, then
 * commit on one coordinator secret, then apply the rest; anyone meeting a mark rolls it forward or
 * back from the coordinator, so a killed process never leaves half a write visible.
 */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/secret-manager";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import * as z from "zod";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import {
  type SecretMetadata,
  type SecretRecord,
  STAGES,
  type Stage,
  type VersionInfo,
  type VersionState,
} from "../core/types.js";
import type { BackendFacts, StoreBackend } from "./backend.js";
import {
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
  createConflict,
  nextVersionState,
  noSuchVersion,
  nothingSelected,
  revisionConflict,
  rotationInput,
  secretExists,
  secretNotFound,
  secretRecord,
  versionInfo,
  versionOf,
} from "./checks.js";
import { crc32c } from "./crc32c.js";
import {
  ADC_FIX,
  type AdcSource,
  adcSource,
  classify,
  ENDPOINT_RULE,
  type GcpFailure,
  isAllowedEndpoint,
  restClient,
} from "./gcp-api.js";
import { backoffDelay, mapLimit } from "./remote.js";
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

type ISecret = protos.google.cloud.secretmanager.v1.ISecret;
type ISecretVersion = protos.google.cloud.secretmanager.v1.ISecretVersion;

/** GCP's payload limit (resources.proto SecretPayload: "Must be no larger than 64KiB"). */
export const GCP_MAX_VALUE_BYTES = 64 * 1024;
const VALUE_LIMIT = { bytes: GCP_MAX_VALUE_BYTES, engine: "GCP Secret Manager" };

// ---- configuration --------------------------------------------------------------------------

const gcpOptions = z.strictObject({
  project: z
    .string()
    .regex(/^([a-z][a-z0-9-]{4,28}[a-z0-9]|\d{1,20})$/, "a GCP project id or project number")
    .describe("The GCP project (id or number) that holds keyward's secrets."),
  location: z
    .string()
    .regex(/^[a-z]+(-[a-z]+)*\d+$/, "a GCP region such as europe-west1")
    .optional()
    .describe(
      "A region for regional secrets (data stays in it, regional endpoint). Omit for global secrets.",
    ),
  replicas: z
    .array(z.string().regex(/^[a-z]+(-[a-z]+)*\d+$/, "a GCP region such as europe-west1"))
    .min(1)
    .optional()
    .describe(
      "Global secrets only: the regions to replicate to (user-managed replication). Omit for automatic replication.",
    ),
  prefix: z
    .string()
    .regex(/^[A-Za-z0-9-]{0,40}$/, "letters, digits and - (at most 40)")
    .default("keyward-")
    .describe(
      "Prefix of the GCP secret ids keyward creates, so several stores (or other tools) can share a project.",
    ),
  endpoint: z
    .string()
    .url()
    .refine(isAllowedEndpoint, ENDPOINT_RULE)
    .optional()
    .describe(
      "API endpoint override, e.g. a Private Service Connect address. Default: secretmanager.googleapis.com, or the regional endpoint for `location`.",
    ),
  timeoutSeconds: z
    .number()
    .positive()
    .max(300)
    .default(30)
    .describe(
      "How long one API request may take before it counts as failed (and is retried if safe).",
    ),
});

export type GcpOptions = z.output<typeof gcpOptions>;

/** Knobs tests turn; not part of the config file. */
export interface GcpTuning {
  /** Tries per request for failures that are safe to retry (5xx, 429, timeouts, dropped connections). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** How long a multi-secret write may hold its marks before another process may abort it. */
  transactionTimeoutMs: number;
}

const DEFAULT_TUNING: GcpTuning = {
  attempts: 4,
  baseDelayMs: 250,
  maxDelayMs: 4_000,
  transactionTimeoutMs: 120_000,
};

/** Compare-and-set rounds before a write gives up on a secret that keeps changing under it. */
const MAX_CAS_ROUNDS = 8;

// ---- names and ids ---------------------------------------------------------------------------

/**
 * GCP secret ids allow only [A-Za-z0-9_-], up to 255. Keyward names keep letters, digits and `-`;
 * every other character becomes `_` and two lowercase hex digits, so ids stay readable in the
 * console. Too long an id falls back to a hash (`_H_`/`_L_` can never come out of the escaping,
 * since H and L are not lowercase hex digits). The true name is always in an annotation.
 */
function encodeId(text: string): string {
  let out = "";
  for (const byte of Buffer.from(text, "utf8")) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}

function idFor(prefix: string, kind: "secret" | "lock", text: string): string {
  const readable = prefix + (kind === "lock" ? "_l_" : "") + encodeId(text);
  if (readable.length <= 255) return readable;
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 48);
  return `${prefix}${kind === "lock" ? "_L_" : "_H_"}${hash}`;
}

// ---- the record as stored on a Secret ----------------------------------------------------------

const LABEL_KIND = "keyward-kind";
const LABEL_STATE = "keyward-state";
const ANN = {
  name: "keyward.name",
  revision: "keyward.revision",
  metadata: "keyward.metadata",
  created: "keyward.created",
  updated: "keyward.updated",
  rotated: "keyward.rotated",
  versions: "keyward.versions",
  disabled: "keyward.disabled",
  destroyed: "keyward.destroyed",
  compromised: "keyward.compromised",
  floor: "keyward.floor",
  rotation: "keyward.rotation",
  write: "keyward.write",
  txn: "keyward.txn",
  txnDone: "keyward.txn-done",
  lockOwner: "keyward.lock-owner",
  lockExpires: "keyward.lock-expires",
} as const;
const OWN_ANNOTATIONS = new Set<string>(Object.values(ANN));

/** One secret's part of a write: applied on commit (or when someone rolls the write forward). */
interface Change {
  name: string;
  /** Set when the write creates the secret (revision 1 with these metadata). */
  create?: SecretMetadata;
  /** The revision the writer saw; absent for a participant that only gets a rotation record. */
  expectedRevision?: number;
  /** The GCP version number this write added. */
  version?: number;
  stages?: Stage[];
  rotation?: { record: RotationRecordInput; expectedRevision?: number };
}

/** Put on every secret of a multi-secret write before anything else happens to it. */
interface TxnMark {
  id: string;
  /** The keyward name of the secret whose commit decides the write. */
  coordinator: string;
  /** Unix ms after which another process may abort the write if it has not committed. */
  deadline: number;
}

/** Left on the coordinator by the commit until every other secret has its change applied. */
interface TxnDone {
  id: string;
  changes: Change[];
}

type DocState = "live" | "pending" | "deleted";

/** A Secret as keyward reads it: the keyward record plus what must be carried over untouched. */
interface Doc {
  id: string;
  etag: string;
  kind: string;
  state: DocState;
  name: string;
  revision: number;
  metadata: SecretMetadata;
  createdAt: string;
  updatedAt: string;
  rotatedAt?: string;
  versions: Set<number>;
  disabled: Set<number>;
  destroyed: Set<number>;
  compromised: Set<number>;
  /** GCP versions up to this number belong to an earlier life of the name (before a delete). */
  floor: number;
  stages: Partial<Record<Stage, number>>;
  rotation?: RotationRecord;
  write?: string;
  txn?: TxnMark;
  txnDone?: TxnDone;
  lockOwner?: string;
  lockExpires?: number;
  otherLabels: Record<string, string>;
  otherAnnotations: Record<string, string>;
  otherAliases: Record<string, number>;
}

/** "1-3,5" ⇄ {1,2,3,5}: version sets stay small in annotations (16 KiB in total per secret). */
function encodeSet(set: Set<number>): string {
  const sorted = [...set].sort((a, b) => a - b);
  const parts: string[] = [];
  for (let i = 0; i < sorted.length; ) {
    const start = sorted[i] as number;
    let end = start;
    while (sorted[i + 1] === end + 1) {
      end++;
      i++;
    }
    parts.push(start === end ? String(start) : `${start}-${end}`);
    i++;
  }
  return parts.join(",");
}

function decodeSet(text: string | undefined, where: string): Set<number> {
  const set = new Set<number>();
  if (text === undefined || text === "") return set;
  for (const part of text.split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    const start = Number(m?.[1]);
    const end = m?.[2] === undefined ? start : Number(m[2]);
    if (m === null || end < start || end - start > 1_000_000) throw corrupt(where, "a version set");
    for (let v = start; v <= end; v++) set.add(v);
  }
  return set;
}

function corrupt(where: string, what: string): KeywardError {
  return new KeywardError(
    "corrupt_store",
    `the GCP secret ${where} has a malformed keyward annotation (${what})`,
    "someone edited keyward's annotations by hand; restore them from the Admin Activity audit log, or delete the secret and set it again",
  );
}

function parseJsonAnnotation<T>(
  text: string | undefined,
  where: string,
  what: string,
): T | undefined {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    throw corrupt(where, what);
  }
}

function parseDoc(secret: ISecret, id: string): Doc {
  const labels = { ...(secret.labels ?? {}) };
  const annotations = { ...(secret.annotations ?? {}) };
  const aliases: Record<string, number> = {};
  for (const [alias, n] of Object.entries(secret.versionAliases ?? {})) aliases[alias] = Number(n);
  const where = id;
  const stages: Partial<Record<Stage, number>> = {};
  const otherAliases: Record<string, number> = {};
  for (const [alias, n] of Object.entries(aliases)) {
    if ((STAGES as readonly string[]).includes(alias)) stages[alias as Stage] = n;
    else otherAliases[alias] = n;
  }
  const otherLabels: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) {
    if (k !== LABEL_KIND && k !== LABEL_STATE) otherLabels[k] = v;
  }
  const otherAnnotations: Record<string, string> = {};
  for (const [k, v] of Object.entries(annotations)) {
    if (!OWN_ANNOTATIONS.has(k)) otherAnnotations[k] = v;
  }
  const state = labels[LABEL_STATE];
  const doc: Doc = {
    id,
    etag: secret.etag ?? "",
    kind: labels[LABEL_KIND] ?? "",
    state: state === "pending" || state === "deleted" ? state : "live",
    name: annotations[ANN.name] ?? "",
    revision: Number(annotations[ANN.revision] ?? "0"),
    metadata: parseJsonAnnotation<SecretMetadata>(annotations[ANN.metadata], where, "metadata") ?? {
      scope: [],
      sensitivity: "standard",
      rotation: { ttlSeconds: 0 },
      tags: {},
    },
    createdAt: annotations[ANN.created] ?? "",
    updatedAt: annotations[ANN.updated] ?? "",
    versions: decodeSet(annotations[ANN.versions], where),
    disabled: decodeSet(annotations[ANN.disabled], where),
    destroyed: decodeSet(annotations[ANN.destroyed], where),
    compromised: decodeSet(annotations[ANN.compromised], where),
    floor: Number(annotations[ANN.floor] ?? "0"),
    stages,
    otherLabels,
    otherAnnotations,
    otherAliases,
  };
  if (!Number.isSafeInteger(doc.revision) || !Number.isSafeInteger(doc.floor)) {
    throw corrupt(where, "revision");
  }
  const rotated = annotations[ANN.rotated];
  if (rotated !== undefined) doc.rotatedAt = rotated;
  const rotation = parseJsonAnnotation<RotationRecord>(
    annotations[ANN.rotation],
    where,
    "rotation",
  );
  if (rotation !== undefined) doc.rotation = rotation;
  if (annotations[ANN.write] !== undefined) doc.write = annotations[ANN.write];
  const txn = parseJsonAnnotation<TxnMark>(annotations[ANN.txn], where, "txn");
  if (txn !== undefined) doc.txn = txn;
  const done = parseJsonAnnotation<TxnDone>(annotations[ANN.txnDone], where, "txn-done");
  if (done !== undefined) doc.txnDone = done;
  if (annotations[ANN.lockOwner] !== undefined) doc.lockOwner = annotations[ANN.lockOwner];
  if (annotations[ANN.lockExpires] !== undefined) {
    doc.lockExpires = Number(annotations[ANN.lockExpires]);
  }
  return doc;
}

function cloneDoc(doc: Doc): Doc {
  return structuredClone(doc);
}

function serialize(doc: Doc): Pick<ISecret, "labels" | "annotations" | "versionAliases"> {
  const labels: Record<string, string> = { ...doc.otherLabels, [LABEL_KIND]: doc.kind };
  if (doc.kind === "secret") labels[LABEL_STATE] = doc.state;
  const a: Record<string, string> = { ...doc.otherAnnotations };
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== "") a[key] = value;
  };
  set(ANN.name, doc.name);
  if (doc.kind === "secret" && doc.state !== "deleted") {
    set(ANN.revision, String(doc.revision));
    set(ANN.metadata, JSON.stringify(doc.metadata));
    set(ANN.created, doc.createdAt);
    set(ANN.updated, doc.updatedAt);
    set(ANN.rotated, doc.rotatedAt);
    set(ANN.versions, encodeSet(doc.versions));
    set(ANN.disabled, encodeSet(doc.disabled));
    set(ANN.destroyed, encodeSet(doc.destroyed));
    set(ANN.compromised, encodeSet(doc.compromised));
    if (doc.rotation !== undefined) set(ANN.rotation, JSON.stringify(doc.rotation));
  }
  if (doc.floor > 0) set(ANN.floor, String(doc.floor));
  set(ANN.write, doc.write);
  if (doc.txn !== undefined) set(ANN.txn, JSON.stringify(doc.txn));
  if (doc.txnDone !== undefined) set(ANN.txnDone, JSON.stringify(doc.txnDone));
  set(ANN.lockOwner, doc.lockOwner);
  if (doc.lockExpires !== undefined) set(ANN.lockExpires, String(doc.lockExpires));
  const versionAliases: Record<string, number> = { ...doc.otherAliases };
  for (const [stage, n] of Object.entries(doc.stages)) {
    if (n !== undefined) versionAliases[stage] = n;
  }
  return { labels, annotations: a, versionAliases };
}

/** GCP refuses annotations of 16 KiB or more in total (resources.proto); say so in keyward's terms. */
function checkAnnotationSize(annotations: Record<string, string>, name: string): void {
  let bytes = 0;
  for (const [k, v] of Object.entries(annotations))
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  if (bytes >= 16 * 1024) {
    throw new KeywardError(
      "invalid_value",
      `the metadata of secret ${name} needs ${bytes} bytes of GCP annotations; GCP allows less than 16384 per secret`,
      "shorten the description, tags or scope list of the secret",
    );
  }
}

function highest(set: Set<number>): number {
  let max = 0;
  for (const n of set) if (n > max) max = n;
  return max;
}

/** Gives a stage to a version; when `current` moves, its old holder becomes `previous` (as AWS does). */
function assignStage(doc: Doc, stage: Stage, version: number, now: string): void {
  const holder = doc.stages[stage];
  if (holder === version) return;
  doc.stages[stage] = version;
  if (stage === "current") {
    doc.rotatedAt = now;
    if (holder !== undefined) doc.stages.previous = holder;
  }
}

/** What committing `change` does to the secret's record. */
function applyChange(doc: Doc, change: Change, now: string): void {
  if (change.create !== undefined) {
    doc.state = "live";
    doc.revision = 1;
    doc.metadata = change.create;
    doc.createdAt = now;
    doc.updatedAt = now;
    delete doc.rotatedAt;
    doc.versions = new Set();
    doc.disabled = new Set();
    doc.destroyed = new Set();
    doc.compromised = new Set();
    doc.stages = {};
    delete doc.rotation;
  } else if (change.expectedRevision !== undefined) {
    doc.revision++;
    doc.updatedAt = now;
  }
  if (change.version !== undefined) {
    doc.versions.add(change.version);
    for (const stage of change.stages ?? ["current"]) assignStage(doc, stage, change.version, now);
  }
  if (change.rotation !== undefined) {
    doc.rotation = { ...change.rotation.record, revision: (doc.rotation?.revision ?? 0) + 1 };
  }
  delete doc.txn;
}

function timestamp(): string {
  return new Date().toISOString();
}

function newId(): string {
  return randomBytes(12).toString("base64url");
}

function isoOf(t: ISecretVersion["createTime"]): string {
  const seconds = Number(t?.seconds ?? 0);
  const nanos = Number(t?.nanos ?? 0);
  return new Date(seconds * 1000 + Math.floor(nanos / 1e6)).toISOString();
}

function versionNumber(v: ISecretVersion): number {
  return Number(/\/versions\/(\d+)$/.exec(v.name ?? "")?.[1] ?? Number.NaN);
}

// ---- GCP failures ----------------------------------------------------------------------------

/** An etag that no longer matches (FAILED_PRECONDITION per the etags page; ABORTED per AIP-154). */
function isStale(f: GcpFailure): boolean {
  return f.kind === "api" && (f.status === "FAILED_PRECONDITION" || f.status === "ABORTED");
}

// ---- the store -------------------------------------------------------------------------------

interface Access {
  client: SecretManagerServiceClient;
  options: GcpOptions;
  adc: AdcSource;
  apiOrigin: string;
}

export class GcpSecretManagerStore implements SecretStore {
  private readonly client: SecretManagerServiceClient;
  private readonly options: GcpOptions;
  private readonly adc: AdcSource;
  private readonly apiOrigin: string;
  private readonly parent: string;
  private readonly tuning: GcpTuning;
  private credentials: Promise<void> | undefined;

  private constructor(access: Access, tuning: GcpTuning) {
    this.client = access.client;
    this.options = access.options;
    this.adc = access.adc;
    this.apiOrigin = access.apiOrigin;
    this.tuning = tuning;
    const { project, location } = this.options;
    this.parent =
      location === undefined ? `projects/${project}` : `projects/${project}/locations/${location}`;
  }

  /**
   * Connects with Application Default Credentials found from `env`. Nothing is sent until the
   * first call; opening never fails for a store that has no secrets yet (GCP has nothing to create).
   */
  static open(
    rawOptions: z.input<typeof gcpOptions>,
    env: NodeJS.ProcessEnv,
    tuning: Partial<GcpTuning> = {},
  ): GcpSecretManagerStore {
    const options = gcpOptions.parse(rawOptions);
    const adc = adcSource(env);
    const endpoint = new URL(
      options.endpoint ??
        (options.location === undefined
          ? "https://secretmanager.googleapis.com"
          : `https://secretmanager.${options.location}.rep.googleapis.com`),
    );
    const rest = restClient(endpoint, options.timeoutSeconds, adc);
    const client = new SecretManagerServiceClient({ ...rest.options, projectId: options.project });
    return new GcpSecretManagerStore(
      { client, options, adc, apiOrigin: rest.origin },
      { ...DEFAULT_TUNING, ...tuning },
    );
  }

  describe(): StoreDescription {
    const { project, location, replicas, prefix, endpoint } = this.options;
    const details: Record<string, string> = {
      project,
      location:
        location ??
        (replicas === undefined
          ? "global (automatic replication)"
          : `global (replicas: ${replicas.join(", ")})`),
      prefix,
    };
    if (endpoint !== undefined) details.endpoint = endpoint;
    return {
      backend: "gcp",
      location: `${this.parent} (GCP Secret Manager)`,
      encryption:
        "server-side by GCP Secret Manager (Google-managed keys unless CMEK is set on the project)",
      details,
    };
  }

  // ---- reads ---------------------------------------------------------------------------------

  async create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord> {
    return this.run(`create secret ${name}`, name, async () => {
      parseSecretName(name);
      if (value !== undefined) this.checkGcpValue(name, value);
      const change: Change = { name, create: metadata };
      if (value !== undefined) change.stages = ["current"];
      const [doc] = await this.transact([{ change, value }], undefined, "create");
      return this.recordOf(doc as Doc, await this.nativeVersions(doc as Doc));
    });
  }

  async get(name: string): Promise<SecretRecord | undefined> {
    return this.run(`read secret ${name}`, name, async () => {
      parseSecretName(name);
      const doc = await this.view(name);
      if (doc === undefined) return undefined;
      return this.recordOf(doc, await this.nativeVersions(doc));
    });
  }

  async list(prefix = ""): Promise<SecretRecord[]> {
    return this.run("list secrets", undefined, async () => {
      const raws: Doc[] = [];
      let pageToken: string | undefined;
      do {
        const request: protos.google.cloud.secretmanager.v1.IListSecretsRequest = {
          parent: this.parent,
          pageSize: 1000,
          filter: `labels.${LABEL_KIND}=secret`,
        };
        if (pageToken !== undefined) request.pageToken = pageToken;
        const [secrets, , response] = await this.call(true, () =>
          this.client.listSecrets(request, { autoPaginate: false }),
        );
        for (const s of secrets) {
          const id = /\/secrets\/([^/]+)$/.exec(s.name ?? "")?.[1];
          if (id === undefined || !id.startsWith(this.options.prefix)) continue;
          const doc = parseDoc(s, id);
          // Only secrets this store named: the id must be the one the name maps to.
          if (doc.name === "" || idFor(this.options.prefix, "secret", doc.name) !== id) continue;
          if (doc.name.startsWith(prefix)) raws.push(doc);
        }
        pageToken = response?.nextPageToken || undefined;
      } while (pageToken !== undefined);
      raws.sort((a, b) => byName(a.name, b.name));
      const records = await mapLimit(raws, 8, async (raw) => {
        const doc = await this.viewOf(raw);
        return doc === undefined ? undefined : this.recordOf(doc, await this.nativeVersions(doc));
      });
      return records.filter((r): r is SecretRecord => r !== undefined);
    });
  }

  async read(name: string, selector: VersionSelector = { stage: "current" }): Promise<ReadResult> {
    return this.run(`read secret ${name}`, name, async () => {
      parseSecretName(name);
      checkSelector(selector);
      const doc = await this.view(name);
      if (doc === undefined) throw secretNotFound(name);
      const version = "stage" in selector ? doc.stages[selector.stage] : selector.version;
      if (version === undefined || !doc.versions.has(version)) {
        throw nothingSelected(name, selector);
      }
      checkReadable(name, version, stateOf(doc, version));
      const [value, natives] = await Promise.all([
        this.accessValue(doc, version),
        this.nativeVersions(doc),
      ]);
      const record = this.recordOf(doc, natives);
      return { value, version: versionOf(record, version), record };
    });
  }

  // ---- single-secret writes ------------------------------------------------------------------

  async putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult> {
    return this.run(`add a version to secret ${name}`, name, async () => {
      const stages = checkPutVersion(name, value, options.stages, (name, value) =>
        this.checkGcpValue(name, value),
      );
      checkExpectedRevision(name, options.expectedRevision);
      // Checked before adding anything, so a stale write costs GCP nothing.
      const before = await this.loadForWrite(name);
      if (before.revision !== options.expectedRevision) {
        throw revisionConflict(name, options.expectedRevision, before.revision);
      }
      const version = await this.addVersion(
        before,
        value,
        (d) => d.txn === undefined && d.revision === options.expectedRevision,
      );
      let doc: Doc;
      try {
        doc = await this.commit(name, options.expectedRevision, (d, now) => {
          d.versions.add(version);
          for (const stage of stages) assignStage(d, stage, version, now);
        });
      } catch (e) {
        await this.dropIfUncommitted(name, version);
        throw e;
      }
      const natives = await this.settleNative(doc, new Set());
      const record = this.recordOf(doc, natives);
      return {
        value,
        version: versionOf(record, version),
        record,
      };
    });
  }

  async moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    return this.run(`move a stage of secret ${name}`, name, async () => {
      checkStageMove(name, stage, version);
      checkExpectedRevision(name, expectedRevision);
      const doc = await this.commit(name, expectedRevision, (d, now) => {
        if (version === null) {
          delete d.stages[stage];
          return;
        }
        this.mustHaveVersion(d, name, version);
        checkStageTarget(name, stage, version, stateOf(d, version));
        assignStage(d, stage, version, now);
      });
      return this.recordOf(doc, await this.nativeVersions(doc));
    });
  }

  async setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord> {
    return this.run(`change a version of secret ${name}`, name, async () => {
      checkStateChange(name, version, state, options.compromised);
      checkExpectedRevision(name, options.expectedRevision);
      const doc = await this.commit(name, options.expectedRevision, (d) => {
        this.mustHaveVersion(d, name, version);
        const current = { state: stateOf(d, version), compromised: d.compromised.has(version) };
        const next = nextVersionState(name, version, current, state, options.compromised);
        if (next.state === "disabled") d.disabled.add(version);
        else d.disabled.delete(version);
        if (next.compromised) d.compromised.add(version);
      });
      return this.recordOf(doc, await this.settleNative(doc, new Set([version])));
    });
  }

  async destroyVersion(
    name: string,
    version: number,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    return this.run(`destroy a version of secret ${name}`, name, async () => {
      parseSecretName(name);
      checkVersionNumber(version);
      checkExpectedRevision(name, expectedRevision);
      const doc = await this.commit(name, expectedRevision, (d) => {
        this.mustHaveVersion(d, name, version);
        d.destroyed.add(version);
        for (const stage of STAGES) if (d.stages[stage] === version) delete d.stages[stage];
      });
      return this.recordOf(doc, await this.settleNative(doc, new Set([version])));
    });
  }

  async updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    return this.run(`update secret ${name}`, name, async () => {
      parseSecretName(name);
      checkExpectedRevision(name, expectedRevision);
      const doc = await this.commit(name, expectedRevision, (d) => {
        d.metadata = structuredClone(metadata);
      });
      return this.recordOf(doc, await this.nativeVersions(doc));
    });
  }

  /**
   * Keeps the GCP secret as an empty tombstone (every version destroyed, keyward's annotations
   * gone) instead of deleting it, so GCP's version counter goes on and a re-created secret never
   * reuses a version number. The commit comes first; the versions are destroyed right after.
   */
  async delete(name: string, expectedRevision: number): Promise<void> {
    return this.run(`delete secret ${name}`, name, async () => {
      parseSecretName(name);
      checkExpectedRevision(name, expectedRevision);
      const doc = await this.commit(name, expectedRevision, (d) => {
        d.state = "deleted";
        d.stages = {};
        delete d.rotation;
      });
      await this.settleNative(doc, "all");
    });
  }

  // ---- multi-secret writes -------------------------------------------------------------------

  async putVersions(
    writes: VersionWrite[],
    rotation?: { record: RotationRecordInput; expectedRevision?: number },
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }> {
    return this.run("write several secrets", undefined, async () => {
      checkVersionWrites(writes, (name, value) => this.checkGcpValue(name, value));
      const record = rotation === undefined ? undefined : rotationInput(rotation.record);
      const parts: Array<{ change: Change; value?: string }> = writes.map((w) => {
        const change: Change = { name: w.name, stages: w.stages ?? ["current"] };
        if (w.expectedRevision === 0) change.create = w.metadata as SecretMetadata;
        else change.expectedRevision = w.expectedRevision;
        return { change, value: w.value };
      });
      if (record !== undefined && rotation !== undefined) {
        const rot = {
          record,
          ...(rotation.expectedRevision === undefined
            ? {}
            : { expectedRevision: rotation.expectedRevision }),
        };
        const own = parts.find((p) => p.change.name === record.secret);
        if (own !== undefined) own.change.rotation = rot;
        else parts.push({ change: { name: record.secret, rotation: rot } });
      }
      const docs = await this.transact(parts, record?.secret, "putVersions");
      const results = await Promise.all(
        writes.map(async (w, i) => {
          const doc = docs[i] as Doc;
          const natives = await this.nativeVersions(doc);
          const rec = this.recordOf(doc, natives);
          const version = parts[i]?.change.version as number;
          return {
            value: w.value,
            version: versionOf(rec, version),
            record: rec,
          };
        }),
      );
      if (record === undefined) return { results };
      const holder = docs[parts.findIndex((p) => p.change.name === record.secret)];
      return { results, rotation: holder?.rotation as RotationRecord };
    });
  }

  // ---- locks ---------------------------------------------------------------------------------

  /**
   * A lock is its own GCP secret (no versions): created if free, taken over with an
   * etag-conditioned update when expired, renewed by its owner. Expiry uses this host's clock.
   */
  async acquireLock(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    return this.run(`take lock ${name}`, undefined, async () => {
      const ttlMs = checkLock(name, owner, ttlSeconds);
      const id = idFor(this.options.prefix, "lock", name);
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const now = Date.now();
        const expires = now + ttlMs;
        const lock = await this.loadRaw(id, `lock ${name}`);
        if (lock === undefined) {
          const created = await this.createSecretResource(id, `lock ${name}`, {
            labels: { [LABEL_KIND]: "lock" },
            annotations: {
              [ANN.name]: name,
              [ANN.lockOwner]: owner,
              [ANN.lockExpires]: String(expires),
            },
          });
          // "exists" or a lost answer: re-read; our own lock is then renewed below.
          if (typeof created === "object") return true;
          continue;
        }
        const free = lock.lockOwner === undefined || (lock.lockExpires ?? 0) <= now;
        if (lock.lockOwner !== owner && !free) return false;
        const next = cloneDoc(lock);
        next.lockOwner = owner;
        next.lockExpires = expires;
        next.write = newId();
        if ((await this.patch(lock, next, `lock ${name}`)) !== "stale") return true;
      }
      return false;
    });
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    return this.run(`release lock ${name}`, undefined, async () => {
      checkLockHolder(name, owner);
      const id = idFor(this.options.prefix, "lock", name);
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const lock = await this.loadRaw(id, `lock ${name}`);
        if (lock === undefined || lock.lockOwner !== owner) return;
        try {
          await this.call(false, () =>
            this.client.deleteSecret({ name: this.path(id), etag: lock.etag }),
          );
          return;
        } catch (e) {
          const f = classify(e, this.apiOrigin);
          if (f.kind === "api" && f.status === "NOT_FOUND") return;
          if (isStale(f) || f.maybeApplied) continue;
          throw this.error(f, `release lock ${name}`);
        }
      }
    });
  }

  // ---- rotation records ----------------------------------------------------------------------

  async getRotation(name: string): Promise<RotationRecord | undefined> {
    return this.run(`read the rotation record of ${name}`, name, async () => {
      parseSecretName(name);
      const doc = await this.view(name);
      if (doc === undefined) throw secretNotFound(name);
      return doc.rotation === undefined ? undefined : { ...doc.rotation };
    });
  }

  async putRotation(
    record: RotationRecordInput,
    expectedRevision?: number,
  ): Promise<RotationRecord> {
    return this.run(`write the rotation record of ${record.secret}`, record.secret, async () => {
      const input = rotationInput(record);
      const doc = await this.commit(
        input.secret,
        undefined,
        (d) => {
          const stored = d.rotation?.revision;
          checkRotationRevision(input.secret, expectedRevision, stored);
          d.rotation = { ...input, revision: (stored ?? 0) + 1 };
        },
        { bump: false },
      );
      return { ...(doc.rotation as RotationRecord) };
    });
  }

  async clearRotation(name: string, rotationId: string): Promise<boolean> {
    return this.run(`clear the rotation record of ${name}`, name, async () => {
      parseSecretName(name);
      let cleared = false;
      try {
        await this.commit(
          name,
          undefined,
          (d) => {
            cleared = d.rotation?.rotationId === rotationId;
            if (!cleared) return false;
            delete d.rotation;
          },
          { bump: false },
        );
      } catch (e) {
        if (isKeywardError(e) && e.code === "not_found") return false;
        throw e;
      }
      return cleared;
    });
  }

  async close(): Promise<void> {
    // Closing a client whose credentials never loaded rejects with the same error: nothing to close.
    await this.client.close().catch(() => undefined);
  }

  // ---- commit machinery ----------------------------------------------------------------------

  /**
   * One compare-and-set write: read the Secret, check keyward's revision, apply `mutate`, write it
   * back conditioned on the etag read. A changed etag with an unchanged revision (a rotation record
   * or a lock written meanwhile) is re-read and re-applied; a changed revision is a conflict.
   * `mutate` returning false means nothing to write.
   */
  private async commit(
    name: string,
    expectedRevision: number | undefined,
    mutate: (doc: Doc, now: string) => unknown,
    options: { bump: boolean } = { bump: true },
  ): Promise<Doc> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const doc = await this.loadForWrite(name);
      if (expectedRevision !== undefined && doc.revision !== expectedRevision) {
        throw revisionConflict(name, expectedRevision, doc.revision);
      }
      const next = cloneDoc(doc);
      const now = timestamp();
      if (mutate(next, now) === false) return doc;
      // A multi-secret write whose writer died after its commit leaves its list here; once no
      // other secret carries its mark any more, it goes with this write.
      if (next.txnDone !== undefined && (await this.finished(next.txnDone))) delete next.txnDone;
      if (options.bump) {
        next.revision++;
        next.updatedAt = now;
      }
      next.write = newId();
      const result = await this.patch(doc, next, `update secret ${name}`, name);
      if (result !== "stale") return result;
    }
    throw new KeywardError(
      "conflict",
      `secret ${name} kept changing while keyward tried to write it`,
      "another keyward process is busy with it; retry in a moment",
    );
  }

  /**
   * Writes `next` over `doc` if the Secret's etag is still `doc.etag`. Returns the stored doc,
   * or "stale" if the etag moved. A lost answer is settled by re-reading: our write id on the
   * Secret means it was applied; the old etag still there means it was not (and is retried).
   */
  private async patch(doc: Doc, next: Doc, what: string, secret?: string): Promise<Doc | "stale"> {
    const body = serialize(next);
    checkAnnotationSize(body.annotations ?? {}, next.name);
    for (let attempt = 1; ; attempt++) {
      try {
        const [stored] = await this.call(false, () =>
          this.client.updateSecret({
            secret: { name: this.path(doc.id), etag: doc.etag, ...body },
            updateMask: { paths: ["labels", "annotations", "version_aliases"] },
          }),
        );
        return parseDoc(stored, doc.id);
      } catch (e) {
        const f = classify(e, this.apiOrigin);
        if (f.kind === "api" && f.status === "NOT_FOUND") throw this.notFound(doc, secret);
        if (isStale(f)) {
          // FAILED_PRECONDITION also means "not allowed now": only a moved etag is a race.
          const now = await this.loadRaw(doc.id, what, secret);
          if (now === undefined) throw this.notFound(doc, secret);
          if (now.etag !== doc.etag) return "stale";
          throw this.error(f, what, secret);
        }
        if (!f.retryable || f.kind === "credentials" || attempt >= this.tuning.attempts) {
          throw this.error(f, what, secret);
        }
        await this.backoff(attempt);
        if (!f.maybeApplied) continue; // refused (429): not applied, send it again
        const now = await this.loadRaw(doc.id, what, secret);
        if (now === undefined) throw this.notFound(doc, secret);
        if (next.write !== undefined && now.write === next.write) return now;
        if (now.etag !== doc.etag) return "stale";
      }
    }
  }

  private notFound(doc: Doc, secret: string | undefined): KeywardError {
    return secret === undefined ? secretNotFound(doc.name) : secretNotFound(secret);
  }

  /**
   * Adds a version and returns its GCP number. addVersion is not idempotent, so a lost answer is
   * never simply retried: keyward first looks for a version it cannot account for (not committed,
   * above everything committed, enabled) whose bytes are the ones it sent, and adopts it. It only
   * looks while `stillOurs` holds for the re-read Secret (the writer's revision or mark is intact).
   */
  private async addVersion(
    doc: Doc,
    value: string,
    stillOurs: (d: Doc) => boolean,
  ): Promise<number> {
    const data = Buffer.from(value, "utf8");
    try {
      const dataCrc32c = crc32c(data);
      const what = `add a version to secret ${doc.name}`;
      for (let attempt = 1; ; attempt++) {
        try {
          const [added] = await this.call(false, () =>
            this.client.addSecretVersion({
              parent: this.path(doc.id),
              payload: { data, dataCrc32c },
            }),
          );
          return versionNumber(added);
        } catch (e) {
          const f = classify(e, this.apiOrigin);
          if (f.kind === "api" && f.status === "NOT_FOUND") throw secretNotFound(doc.name);
          if (!f.retryable || f.kind === "credentials" || attempt >= this.tuning.attempts) {
            throw this.error(f, what, doc.name, true);
          }
          await this.backoff(attempt);
          if (!f.maybeApplied) continue; // refused (429): not applied, send it again
          const now = await this.loadRaw(doc.id, what, doc.name);
          if (now === undefined) throw secretNotFound(doc.name);
          if (!stillOurs(now)) throw revisionConflict(doc.name, doc.revision, now.revision);
          const adopted = await this.findAdded(now, data);
          if (adopted !== undefined) return adopted;
        }
      }
    } finally {
      data.fill(0);
    }
  }

  private async findAdded(doc: Doc, data: Buffer): Promise<number | undefined> {
    const floor = Math.max(doc.floor, highest(doc.versions));
    const candidates = (await this.nativeVersions(doc))
      .filter(
        (v) =>
          versionNumber(v) > floor && !doc.versions.has(versionNumber(v)) && v.state === "ENABLED",
      )
      .map(versionNumber)
      .sort((a, b) => b - a);
    for (const n of candidates) {
      const payload = await this.accessPayload(doc, n);
      const same = payload.length === data.length && timingSafeEqual(payload, data);
      payload.fill(0);
      if (same) return n;
    }
    return undefined;
  }

  /** After a failed commit: destroy the version we added if no commit took it (best effort). */
  private async dropIfUncommitted(name: string, version: number): Promise<void> {
    try {
      const doc = await this.loadRaw(idFor(this.options.prefix, "secret", name), "clean up", name);
      if (doc !== undefined && !doc.versions.has(version)) {
        await this.destroyNative(doc, version);
      }
    } catch {
      // A later commit destroys it (settleNative): nothing keyward shows depends on it.
    }
  }

  /**
   * Creates (or marks) every secret of a multi-secret write, adds its versions, commits on the
   * coordinator and applies the rest. `create` answers an existing secret with already_exists;
   * putVersions treats it as a conflict. Returns the committed docs in the order of `parts`.
   */
  private async transact(
    parts: Array<{ change: Change; value?: string | undefined }>,
    coordinatorName: string | undefined,
    mode: "create" | "putVersions",
  ): Promise<Doc[]> {
    const txn: TxnMark = {
      id: newId(),
      coordinator: coordinatorName ?? (parts[0] as { change: Change }).change.name,
      deadline: Date.now() + this.tuning.transactionTimeoutMs,
    };
    // Coordinator first: a mark on any other secret then proves the coordinator was marked too.
    const order = [...parts.keys()].sort(
      (a, b) =>
        Number(parts[b]?.change.name === txn.coordinator) -
        Number(parts[a]?.change.name === txn.coordinator),
    );
    for (const i of order) await this.precheck((parts[i] as { change: Change }).change, mode);

    const prepared: Array<{ change: Change; doc: Doc; added?: number }> = [];
    const docs = new Map<string, Doc>();
    try {
      for (const i of order) {
        const part = parts[i] as { change: Change; value?: string };
        const doc = await this.prepare(part.change, txn, mode);
        prepared.push({ change: part.change, doc });
        docs.set(part.change.name, doc);
      }
      for (const i of order) {
        const part = parts[i] as { change: Change; value?: string };
        if (part.value === undefined) continue;
        const entry = prepared.find(
          (p) => p.change.name === part.change.name,
        ) as (typeof prepared)[number];
        const version = await this.addVersion(entry.doc, part.value, (d) => d.txn?.id === txn.id);
        entry.added = version;
        part.change.version = version;
      }
      const rotationChange = parts.find((p) => p.change.rotation !== undefined)?.change;
      if (rotationChange?.rotation !== undefined && rotationChange.version !== undefined) {
        rotationChange.rotation.record.pendingVersion = rotationChange.version;
      }
    } catch (e) {
      await this.cancel(prepared, txn);
      throw e;
    }

    const changes = parts.map((p) => p.change);
    const coordinator = changes.find((c) => c.name === txn.coordinator) as Change;
    const others = changes.filter((c) => c !== coordinator);
    let committed: Doc;
    try {
      committed = await this.commitCoordinator(coordinator, others, txn);
    } catch (e) {
      if ((await this.cancel(prepared, txn)) === "cancelled") throw e;
      committed = await this.loadForWrite(coordinator.name);
    }
    docs.set(coordinator.name, committed);
    for (const change of others) docs.set(change.name, await this.rollForward(change, txn));
    if (others.length > 0) await this.clearDone(coordinator.name, txn);
    const out = parts.map((p) => docs.get(p.change.name) as Doc);
    for (const doc of out) await this.settleNative(doc, new Set()).catch(() => undefined);
    return out;
  }

  /** Cheap reads before any write: a stale or impossible write fails without touching GCP. */
  private async precheck(change: Change, mode: "create" | "putVersions"): Promise<void> {
    if (change.create !== undefined) {
      checkAnnotationSize({ [ANN.metadata]: JSON.stringify(change.create) }, change.name);
    }
    const doc = await this.view(change.name);
    this.checkParticipant(change, doc, mode);
  }

  private checkParticipant(
    change: Change,
    doc: Doc | undefined,
    mode: "create" | "putVersions",
  ): void {
    const name = change.name;
    if (change.create !== undefined) {
      if (doc === undefined) return;
      throw mode === "create" ? secretExists(name) : createConflict(name);
    }
    if (doc === undefined) throw secretNotFound(name);
    if (change.expectedRevision !== undefined && doc.revision !== change.expectedRevision) {
      throw revisionConflict(name, change.expectedRevision, doc.revision);
    }
    if (change.rotation !== undefined) {
      checkRotationRevision(name, change.rotation.expectedRevision, doc.rotation?.revision);
    }
  }

  /** Marks one secret for the write (creating a pending GCP secret if there is none). */
  private async prepare(
    change: Change,
    txn: TxnMark,
    mode: "create" | "putVersions",
  ): Promise<Doc> {
    const name = change.name;
    const id = idFor(this.options.prefix, "secret", name);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const raw = await this.loadRaw(id, `prepare secret ${name}`, name);
      if (raw !== undefined && raw.kind !== "secret") throw this.foreign(id, name);
      if (raw !== undefined && raw.name !== "" && raw.name !== name) throw this.foreign(id, name);
      if (raw?.txn !== undefined && raw.txn.id === txn.id) return raw;
      if (raw?.txn !== undefined) {
        await this.settle(raw);
        continue;
      }
      const live = raw !== undefined && raw.state === "live" ? raw : undefined;
      this.checkParticipant(change, live, mode);
      if (raw === undefined) {
        const created = await this.createSecretResource(id, `create secret ${name}`, {
          labels: { [LABEL_KIND]: "secret", [LABEL_STATE]: "pending" },
          annotations: { [ANN.name]: name, [ANN.txn]: JSON.stringify(txn) },
        });
        if (created === "exists") continue;
        if (created === "unknown") continue; // re-read: our mark is there if it was created
        return created;
      }
      const next = cloneDoc(raw);
      next.txn = txn;
      next.name = name;
      next.kind = "secret";
      if (raw.state !== "live") {
        // A tombstone (or an abandoned pending create): versions so far belong to earlier lives.
        next.state = "pending";
        next.floor = Math.max(raw.floor, ...(await this.nativeVersions(raw)).map(versionNumber));
      }
      next.write = newId();
      const stored = await this.patch(raw, next, `prepare secret ${name}`, name);
      if (stored !== "stale") return stored;
    }
    throw new KeywardError(
      "conflict",
      `secret ${name} kept changing while keyward tried to write it`,
      "retry in a moment",
    );
  }

  /** The commit point of a write: the coordinator's own change plus the list of the others'. */
  private async commitCoordinator(change: Change, others: Change[], txn: TxnMark): Promise<Doc> {
    const id = idFor(this.options.prefix, "secret", change.name);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const raw = await this.loadRaw(id, `commit secret ${change.name}`, change.name);
      if (raw?.txn?.id !== txn.id) {
        if (
          raw?.txnDone?.id === txn.id ||
          (raw?.write !== undefined && raw.write === `commit-${txn.id}`)
        )
          return raw as Doc;
        throw new KeywardError(
          "conflict",
          `the write to ${[change.name, ...others.map((o) => o.name)].join(", ")} took longer than ${Math.round(this.tuning.transactionTimeoutMs / 1000)} s and another keyward process cancelled it`,
          "retry; nothing of it was applied",
        );
      }
      const next = cloneDoc(raw);
      applyChange(next, change, timestamp());
      if (others.length > 0) next.txnDone = { id: txn.id, changes: others };
      next.write = `commit-${txn.id}`;
      const stored = await this.patch(raw, next, `commit secret ${change.name}`, change.name);
      if (stored !== "stale") return stored;
    }
    throw new KeywardError(
      "conflict",
      `secret ${change.name} kept changing while keyward committed`,
      "retry in a moment",
    );
  }

  /** Applies a committed change to a marked secret; someone else may have done it already. */
  private async rollForward(change: Change, txn: TxnMark): Promise<Doc> {
    const id = idFor(this.options.prefix, "secret", change.name);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const raw = await this.loadRaw(id, `apply the write to secret ${change.name}`, change.name);
      if (raw === undefined) throw secretNotFound(change.name);
      if (raw.txn?.id !== txn.id) return raw;
      const next = cloneDoc(raw);
      applyChange(next, change, timestamp());
      next.write = newId();
      const stored = await this.patch(
        raw,
        next,
        `apply the write to secret ${change.name}`,
        change.name,
      );
      if (stored !== "stale") return stored;
    }
    throw new KeywardError(
      "conflict",
      `secret ${change.name} kept changing while keyward applied a committed write`,
      "retry; the next write to it completes the change",
    );
  }

  /** Whether every secret of a committed multi-secret write has had its change applied. */
  private async finished(done: TxnDone): Promise<boolean> {
    for (const change of done.changes) {
      const id = idFor(this.options.prefix, "secret", change.name);
      const raw = await this.loadRaw(id, `check the write to ${change.name}`, change.name);
      if (raw?.txn?.id === done.id) return false;
    }
    return true;
  }

  private async clearDone(name: string, txn: TxnMark): Promise<void> {
    const id = idFor(this.options.prefix, "secret", name);
    try {
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const raw = await this.loadRaw(id, `finish the write to ${name}`, name);
        if (raw?.txnDone?.id !== txn.id) return;
        const next = cloneDoc(raw);
        delete next.txnDone;
        next.write = newId();
        if ((await this.patch(raw, next, `finish the write to ${name}`, name)) !== "stale") return;
      }
    } catch {
      // Harmless: a stale txn-done is ignored once no secret carries its mark.
    }
  }

  /**
   * Cancels a write that failed before or during its commit. The coordinator goes first: once its
   * mark is gone (an etag-conditioned update), a commit still on its way can no longer land, and
   * every other process reads the write as aborted. If the coordinator shows the commit after all
   * (its answer was lost), the write is committed and the caller rolls it forward instead.
   * Best effort: marks left behind expire and the next writer settles them the same way.
   */
  private async cancel(
    prepared: Array<{ change: Change; doc: Doc; added?: number }>,
    txn: TxnMark,
  ): Promise<"committed" | "cancelled"> {
    try {
      const coordinatorId = idFor(this.options.prefix, "secret", txn.coordinator);
      for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
        const raw = await this.loadRaw(coordinatorId, `cancel a write to ${txn.coordinator}`);
        if (raw?.txnDone?.id === txn.id || raw?.write === `commit-${txn.id}`) return "committed";
        if (raw?.txn?.id !== txn.id) break;
        if ((await this.unmark(raw)) !== "stale") break;
      }
      for (const p of prepared) {
        if (p.change.name === txn.coordinator) continue; // its version waits for the reaper
        // The version goes before the mark, while the mark keeps every other writer away from it.
        if (p.added !== undefined) await this.destroyNative(p.doc, p.added);
        await this.rollBack(p.doc.id, txn.id, p.change.name);
      }
    } catch {
      // The marks expire at txn.deadline and the next writer rolls them back.
    }
    return "cancelled";
  }

  /** Removes a write's mark from a secret; a secret the write was creating becomes a tombstone. */
  private async rollBack(id: string, txnId: string, name: string): Promise<void> {
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const raw = await this.loadRaw(id, `roll back a write to ${name}`, name);
      if (raw?.txn?.id !== txnId) return;
      if ((await this.unmark(raw)) !== "stale") return;
    }
  }

  private async unmark(raw: Doc): Promise<Doc | "stale"> {
    const next = cloneDoc(raw);
    delete next.txn;
    if (next.state === "pending") next.state = "deleted";
    next.write = newId();
    const stored = await this.patch(raw, next, `roll back a write to ${raw.name}`, raw.name);
    if (stored !== "stale" && stored.state === "deleted") {
      await this.settleNative(stored, "all").catch(() => undefined);
    }
    return stored;
  }

  /**
   * Resolves a foreign mark on `raw` so a writer can go on: roll forward if its write committed,
   * back if it was aborted or expired; a write still in progress is a conflict.
   */
  private async settle(raw: Doc): Promise<void> {
    const mark = raw.txn as TxnMark;
    const inProgress = () =>
      new KeywardError(
        "conflict",
        `secret ${raw.name} is part of a multi-secret write still in progress`,
        "retry in a moment",
      );
    if (mark.coordinator === raw.name) {
      if (Date.now() < mark.deadline) throw inProgress();
      await this.rollBack(raw.id, mark.id, raw.name);
      return;
    }
    const coordinatorId = idFor(this.options.prefix, "secret", mark.coordinator);
    const coordinator = await this.loadRaw(
      coordinatorId,
      `check the write to ${raw.name}`,
      raw.name,
    );
    const change =
      coordinator?.txnDone?.id === mark.id
        ? coordinator.txnDone.changes.find((c) => c.name === raw.name)
        : undefined;
    if (change !== undefined) {
      await this.rollForward(change, mark);
      return;
    }
    if (coordinator?.txn?.id === mark.id) {
      if (Date.now() < mark.deadline) throw inProgress();
      // Cancel at the coordinator first: once its mark is gone the write can never commit.
      await this.rollBack(coordinatorId, mark.id, mark.coordinator);
      return;
    }
    await this.rollBack(raw.id, mark.id, raw.name);
  }

  // ---- loading -------------------------------------------------------------------------------

  private path(id: string): string {
    return `${this.parent}/secrets/${id}`;
  }

  private foreign(id: string, name: string): KeywardError {
    return new KeywardError(
      "already_exists",
      `the GCP secret ${this.path(id)} exists but is not keyward's secret ${name}`,
      "pick another name, or another `prefix` in the store configuration",
    );
  }

  /** The Secret as stored, or undefined if GCP has none with that id. */
  private async loadRaw(id: string, what: string, secret?: string): Promise<Doc | undefined> {
    try {
      const [s] = await this.call(true, () => this.client.getSecret({ name: this.path(id) }));
      return parseDoc(s, id);
    } catch (e) {
      const f = classify(e, this.apiOrigin);
      if (f.kind === "api" && f.status === "NOT_FOUND") return undefined;
      throw this.error(f, what, secret);
    }
  }

  /** The committed view of a secret for readers (no writes): undefined if it does not exist. */
  private async view(name: string): Promise<Doc | undefined> {
    const id = idFor(this.options.prefix, "secret", name);
    const raw = await this.loadRaw(id, `read secret ${name}`, name);
    if (raw === undefined || raw.kind !== "secret" || raw.name !== name) return undefined;
    return this.viewOf(raw);
  }

  private async viewOf(raw: Doc): Promise<Doc | undefined> {
    let doc = raw;
    const mark = raw.txn;
    if (mark !== undefined && mark.coordinator !== raw.name) {
      const coordinator = await this.loadRaw(
        idFor(this.options.prefix, "secret", mark.coordinator),
        `read secret ${raw.name}`,
        raw.name,
      );
      const change =
        coordinator?.txnDone?.id === mark.id
          ? coordinator.txnDone.changes.find((c) => c.name === raw.name)
          : undefined;
      if (change !== undefined) {
        doc = cloneDoc(raw);
        applyChange(doc, change, coordinator?.updatedAt || timestamp());
      }
    }
    return doc.state === "live" ? doc : undefined;
  }

  /** A live secret ready for a single-secret write: foreign marks resolved first. */
  private async loadForWrite(name: string): Promise<Doc> {
    const id = idFor(this.options.prefix, "secret", name);
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const raw = await this.loadRaw(id, `read secret ${name}`, name);
      if (raw === undefined || raw.kind !== "secret" || raw.name !== name)
        throw secretNotFound(name);
      if (raw.txn !== undefined) {
        await this.settle(raw);
        continue;
      }
      if (raw.state !== "live") throw secretNotFound(name);
      return raw;
    }
    throw new KeywardError(
      "conflict",
      `secret ${name} kept changing while keyward read it`,
      "retry in a moment",
    );
  }

  private mustHaveVersion(doc: Doc, name: string, version: number): void {
    if (!doc.versions.has(version)) throw noSuchVersion(name, version);
  }

  /** Every GCP version of the secret (all states), newest first as GCP lists them. */
  private async nativeVersions(doc: Doc): Promise<ISecretVersion[]> {
    const out: ISecretVersion[] = [];
    let pageToken: string | undefined;
    do {
      const request: protos.google.cloud.secretmanager.v1.IListSecretVersionsRequest = {
        parent: this.path(doc.id),
        pageSize: 1000,
      };
      if (pageToken !== undefined) request.pageToken = pageToken;
      let page: ISecretVersion[];
      let next: string | undefined;
      try {
        const [versions, , response] = await this.call(true, () =>
          this.client.listSecretVersions(request, { autoPaginate: false }),
        );
        page = versions;
        next = response?.nextPageToken || undefined;
      } catch (e) {
        const f = classify(e, this.apiOrigin);
        if (f.kind === "api" && f.status === "NOT_FOUND") throw secretNotFound(doc.name);
        throw this.error(f, `list versions of secret ${doc.name}`, doc.name);
      }
      out.push(...page);
      pageToken = next;
    } while (pageToken !== undefined);
    return out;
  }

  private recordOf(doc: Doc, natives: ISecretVersion[]): SecretRecord {
    const created = new Map<number, string>();
    for (const v of natives) created.set(versionNumber(v), isoOf(v.createTime));
    const versions: VersionInfo[] = [...doc.versions]
      .sort((a, b) => a - b)
      .map((n) => {
        const createdAt = created.get(n);
        if (createdAt === undefined) {
          throw new KeywardError(
            "corrupt_store",
            `secret ${doc.name} lists version ${n}, which GCP does not have`,
            "the secret was changed outside keyward; check the Admin Activity audit log",
          );
        }
        return versionInfo({
          version: n,
          stages: STAGES.filter((s) => doc.stages[s] === n),
          state: stateOf(doc, n),
          createdAt,
          compromised: doc.compromised.has(n),
        });
      });
    return secretRecord(doc.name, { ...doc, metadata: structuredClone(doc.metadata) }, versions);
  }

  // ---- values and GCP version states ---------------------------------------------------------

  private checkGcpValue(name: string, value: string): void {
    checkValue(name, value, VALUE_LIMIT);
    if (value === "") {
      throw new KeywardError(
        "invalid_value",
        `the value for secret ${name} is empty; GCP Secret Manager cannot store an empty payload`,
        "store a non-empty value",
      );
    }
  }

  private async accessPayload(doc: Doc, version: number): Promise<Buffer> {
    const [response] = await this.call(true, () =>
      this.client.accessSecretVersion({ name: `${this.path(doc.id)}/versions/${version}` }),
    );
    const data = Buffer.from(response.payload?.data ?? new Uint8Array());
    const expected = response.payload?.dataCrc32c;
    if (expected !== undefined && expected !== null && Number(expected) !== crc32c(data)) {
      data.fill(0);
      throw new KeywardError(
        "tampered",
        `version ${version} of secret ${doc.name} failed its CRC32C check on the way from GCP`,
        "retry; if it keeps failing, the payload is corrupt: put a new version",
      );
    }
    return data;
  }

  private async accessValue(doc: Doc, version: number): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      try {
        const data = await this.accessPayload(doc, version);
        const value = data.toString("utf8");
        data.fill(0);
        return value;
      } catch (e) {
        const f = isKeywardError(e) ? undefined : classify(e, this.apiOrigin);
        if (f === undefined) throw e;
        if (f.kind === "api" && f.status === "NOT_FOUND") throw secretNotFound(doc.name);
        if (f.kind === "api" && f.status === "FAILED_PRECONDITION" && attempt === 0) {
          // keyward enabled it but GCP has not yet (a write stopped between commit and apply).
          await this.settleNative(doc, new Set([version]));
          continue;
        }
        throw this.error(f, `read version ${version} of secret ${doc.name}`, doc.name, true);
      }
    }
  }

  /**
   * Brings GCP's version states in line with the committed record: disabled, enabled and
   * destroyed as keyward says; versions of a deleted secret or of an earlier life destroyed;
   * versions nobody committed destroyed once a higher one is committed (their writers lost the
   * compare-and-set, so nothing can commit them any more). Failures on `required` versions are
   * thrown (the caller asked for exactly that change); the rest wait for the next write.
   */
  private async settleNative(doc: Doc, required: Set<number> | "all"): Promise<ISecretVersion[]> {
    const natives = await this.nativeVersions(doc);
    for (const v of natives) {
      const n = versionNumber(v);
      const want = wantedState(doc, n);
      if (want === undefined || v.state === want || v.state === "DESTROYED") continue;
      try {
        Object.assign(v, await this.applyState(doc, v, want));
      } catch (e) {
        if (required !== "all" && !required.has(n)) continue;
        const verb = want === "DESTROYED" ? "destroy" : want === "DISABLED" ? "disable" : "enable";
        throw this.error(
          e,
          `${verb} version ${n} of secret ${doc.name} in GCP (keyward already records the change and refuses the version; the next write to the secret retries)`,
          doc.name,
        );
      }
    }
    return natives;
  }

  /**
   * Changes one version's state in GCP, conditioned on the version's etag. A moved etag or a lost
   * answer is settled by re-reading the Secret and the version and working out again what the
   * committed record wants (another process may have committed a newer state meanwhile).
   */
  private async applyState(
    doc: Doc,
    version: ISecretVersion,
    want: "ENABLED" | "DISABLED" | "DESTROYED",
  ): Promise<ISecretVersion> {
    const name = `${this.path(doc.id)}/versions/${versionNumber(version)}`;
    let etag = version.etag ?? undefined;
    let wanted = want;
    for (let round = 0; ; round++) {
      const request = { name, ...(etag === undefined ? {} : { etag }) };
      try {
        const [updated] = await this.call(false, () =>
          wanted === "DESTROYED"
            ? this.client.destroySecretVersion(request)
            : wanted === "DISABLED"
              ? this.client.disableSecretVersion(request)
              : this.client.enableSecretVersion(request),
        );
        return updated;
      } catch (e) {
        const f = classify(e, this.apiOrigin);
        if ((!isStale(f) && !f.maybeApplied) || round >= this.tuning.attempts) throw f;
        if (f.maybeApplied) await this.backoff(round + 1);
        const fresh = await this.loadRaw(doc.id, `read secret ${doc.name}`, doc.name);
        if (fresh === undefined) throw secretNotFound(doc.name);
        const [current] = await this.call(true, () => this.client.getSecretVersion({ name }));
        // A version being destroyed for an aborted write is wanted destroyed whatever the record says.
        const again = want === "DESTROYED" ? want : wantedState(fresh, versionNumber(version));
        if (again === undefined || current.state === again || current.state === "DESTROYED") {
          return current;
        }
        wanted = again;
        etag = current.etag ?? undefined;
      }
    }
  }

  /** Destroys a version no commit took (no etag: nothing else may want it). */
  private async destroyNative(doc: Doc, version: number): Promise<void> {
    await this.applyState(doc, { name: `${this.path(doc.id)}/versions/${version}` }, "DESTROYED");
  }

  private async createSecretResource(
    id: string,
    what: string,
    fields: { labels: Record<string, string>; annotations: Record<string, string> },
  ): Promise<Doc | "exists" | "unknown"> {
    const secret: ISecret = { ...fields };
    if (this.options.location === undefined) {
      secret.replication =
        this.options.replicas === undefined
          ? { automatic: {} }
          : { userManaged: { replicas: this.options.replicas.map((location) => ({ location })) } };
    }
    try {
      const [created] = await this.call(false, () =>
        this.client.createSecret({ parent: this.parent, secretId: id, secret }),
      );
      return parseDoc(created, id);
    } catch (e) {
      const f = classify(e, this.apiOrigin);
      if (f.kind === "api" && f.status === "ALREADY_EXISTS") return "exists";
      if (f.maybeApplied) return "unknown";
      throw this.error(f, what);
    }
  }

  // ---- calls, retries and errors -------------------------------------------------------------

  /**
   * One API call. Idempotent calls (reads, and state changes whose repeat is harmless) are
   * retried with capped exponential back-off and jitter on 5xx, 429, timeouts and dropped
   * connections; other calls are tried once and their callers settle a lost answer by reading.
   */
  private async call<T>(idempotent: boolean, fn: () => Promise<T>): Promise<T> {
    await this.ensureCredentials();
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (e) {
        const f = classify(e, this.apiOrigin);
        if (
          !idempotent ||
          !f.retryable ||
          f.kind === "credentials" ||
          attempt >= this.tuning.attempts
        ) {
          throw f;
        }
        await this.backoff(attempt);
      }
    }
  }

  /**
   * Loads the ADC client before the first call. The client library, left to do it, rejects a
   * promise nobody handles when the credentials cannot be loaded (a missing or malformed file),
   * which would take the whole process down; loaded here, the failure is an ordinary error.
   */
  private ensureCredentials(): Promise<void> {
    this.credentials ??= this.client.auth.getClient().then(
      () => undefined,
      (e: unknown) => {
        this.credentials = undefined;
        throw classify(e, this.apiOrigin).asCredentials();
      },
    );
    return this.credentials;
  }

  /** Runs a public operation: whatever escapes it leaves as a KeywardError. */
  private async run<T>(what: string, secret: string | undefined, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw this.error(e, what, secret);
    }
  }

  private async backoff(attempt: number): Promise<void> {
    await sleep(backoffDelay(attempt - 1, this.tuning));
  }

  /**
   * A KeywardError for a failed call: what keyward was doing, which secret, GCP's status, and for
   * credential problems the ADC source that was tried. GCP's message text is kept except for calls
   * that carry a value (`withValue`), and no raw error (it holds the bearer token) is attached.
   */
  private error(e: unknown, what: string, secret?: string, withValue = false): KeywardError {
    if (isKeywardError(e)) return e;
    const f = classify(e, this.apiOrigin);
    const detail = withValue ? f.status : `${f.status}: ${f.detail}`;
    const gcp = "GCP Secret Manager";
    const where = `project ${this.options.project}`;
    if (f.kind === "credentials") {
      return new KeywardError(
        "upstream_unauthorized",
        `could not get Google credentials to ${what}: ${f.detail}; ADC source tried: ${this.adc.label}`,
        ADC_FIX,
      );
    }
    if (f.kind === "timeout") {
      return new KeywardError(
        "upstream_timeout",
        `${gcp} did not answer within ${this.options.timeoutSeconds} s while keyward tried to ${what}`,
        "retry later; raise `timeoutSeconds` in the store configuration if the network is slow",
      );
    }
    if (f.kind === "network") {
      return new KeywardError(
        "upstream_unavailable",
        `${gcp} could not be reached while keyward tried to ${what} (${f.detail})`,
        "check the network path to the endpoint and retry",
      );
    }
    switch (f.status) {
      case "UNAUTHENTICATED":
        return new KeywardError(
          "upstream_unauthorized",
          `${gcp} rejected the credentials (401 UNAUTHENTICATED) when keyward tried to ${what}; ADC source tried: ${this.adc.label}`,
          "refresh or fix those credentials (for workload identity, check the pool provider and the token file)",
        );
      case "PERMISSION_DENIED": {
        const permission = /Permission '([a-zA-Z.]+)'/.exec(f.detail)?.[1];
        return new KeywardError(
          "upstream_forbidden",
          `${gcp} denied ${permission ?? "the request"} on ${where} when keyward tried to ${what}; ADC source tried: ${this.adc.label}`,
          `grant that identity roles/secretmanager.admin on ${where} (or at least ${permission ?? "the missing permission"})`,
        );
      }
      case "RESOURCE_EXHAUSTED":
        return new KeywardError(
          "upstream_rate_limited",
          `${gcp} rate-limited keyward while it tried to ${what} (${where})`,
          "retry in a minute; GCP allows 600 writes per minute per project and 2 new versions per second per secret",
        );
      case "UNAVAILABLE":
      case "INTERNAL":
      case "DEADLINE_EXCEEDED":
        return new KeywardError(
          "upstream_unavailable",
          `${gcp} kept failing (${detail}) while keyward tried to ${what}, after ${this.tuning.attempts} attempts`,
          "retry later; check status.cloud.google.com",
        );
      case "NOT_FOUND":
        return secret === undefined
          ? new KeywardError(
              "not_found",
              `${gcp} found nothing to ${what} (${detail})`,
              "check the project and location in the store configuration",
            )
          : secretNotFound(secret);
      default:
        return new KeywardError(
          "upstream_rejected",
          `${gcp} refused to ${what} (${detail})`,
          "check the store configuration (project, location, prefix) and the secret's state in GCP",
        );
    }
  }
}

/**
 * The GCP state the committed record wants for a version: as keyward says for its versions; for
 * a deleted secret or an earlier life of the name, destroyed; for a version nobody committed,
 * destroyed once a higher one is committed (its writer lost the compare-and-set, so nothing can
 * commit it any more); otherwise (maybe a write in flight) left alone.
 */
function wantedState(doc: Doc, n: number): "ENABLED" | "DISABLED" | "DESTROYED" | undefined {
  if (doc.state === "deleted" || n <= doc.floor || doc.destroyed.has(n)) return "DESTROYED";
  if (doc.versions.has(n)) return doc.disabled.has(n) ? "DISABLED" : "ENABLED";
  return n < highest(doc.versions) ? "DESTROYED" : undefined;
}

function stateOf(doc: Doc, version: number): VersionState {
  if (doc.destroyed.has(version)) return "destroyed";
  if (doc.disabled.has(version)) return "disabled";
  return "enabled";
}

// ---- the backend -----------------------------------------------------------------------------

export const gcpBackend: StoreBackend<GcpOptions> = {
  name: "gcp",
  options: gcpOptions,
  async open(options, ctx) {
    return GcpSecretManagerStore.open(options, ctx.env);
  },
  facts(_options, ctx): BackendFacts {
    return {
      auth: `Application Default Credentials: ${adcSource(ctx.env).label}`,
      audit: "Cloud Audit Logs (Admin Activity always; Data Access reads off by default)",
      grade: "A",
    };
  },
};
