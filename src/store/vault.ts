/**
 * The HashiCorp Vault (and OpenBao) backend: keyward's secrets in a KV v2 mount, encrypted by
 * Vault, with every keyward write a real check-and-set. The layout under `<mount>/<prefix>`
 * (docs/backends/vault.md has the full mapping and why):
 *
 *   secrets/<name>             control entry: revision, metadata, versions, stages, states (cas)
 *   values/<name>/<instance>   the values: one KV version per keyward version, data {value}
 *   rotations/<name>           the rotation record (cas)
 *   locks/<base64url(name)>    a lock: owner and ttl; expiry by Vault's clock (cas)
 *   txns/<id>                  a write to several secrets in progress (two-phase commit)
 *
 * The control entry is the only commit point of a secret: a value is written first (cas on the
 * values entry), then the control entry that references it (cas on its KV version). Anything
 * written but never referenced is destroyed by the next commit of that secret, so a crash at any
 * point leaves the old or the new state and at worst an unreferenced value that the next write
 * erases. Disable, enable and destroy are applied to the values entry too (KV soft delete,
 * undelete, destroy) after the control commit, so Vault itself stops serving a disabled version.
 */
import { randomBytes } from "node:crypto";
import * as z from "zod";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import type { SecretMetadata, SecretRecord, Stage, VersionState } from "../core/types.js";
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
  versionInfo,
  versionOf,
} from "./checks.js";
import { mapLimit } from "./remote.js";
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
import {
  describeAuth,
  VaultClient,
  type VaultClientTesting,
  type VaultResponse,
} from "./vault-client.js";
import { VaultLeases } from "./vault-leases.js";
import {
  mountPath,
  VaultAuthOptions,
  vaultConnectionOptions,
  vaultTimeoutSeconds,
} from "./vault-options.js";

// ---- options --------------------------------------------------------------------------------

const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._@+=-]*$/;

export const VaultStoreOptionsSchema = z.strictObject({
  ...vaultConnectionOptions,
  mount: mountPath.default("secret").describe("The KV version 2 mount keyward uses."),
  prefix: z
    .string()
    .default("keyward/")
    .refine(
      (p) =>
        p === "" ||
        p
          .replace(/\/$/, "")
          .split("/")
          .every((s) => PATH_SEGMENT.test(s)),
      {
        error: "is not a path inside the mount",
      },
    )
    .describe("The folder inside the mount that holds keyward's entries."),
  auth: VaultAuthOptions.default({ method: "token" }),
  timeoutSeconds: vaultTimeoutSeconds.default(10),
  maxVersions: z
    .number()
    .int()
    .min(2)
    .max(10_000)
    .default(100)
    .describe("Versions Vault keeps per secret (KV max_versions); older ones are destroyed."),
  txnTimeoutSeconds: z
    .number()
    .int()
    .min(5)
    .max(3600)
    .default(60)
    .describe(
      "Seconds after which an unfinished write to several secrets (a crashed process) is rolled back.",
    ),
});

export type VaultStoreOptions = z.infer<typeof VaultStoreOptionsSchema>;

// ---- what is stored -------------------------------------------------------------------------

const FORMAT = "keyward-vault/1";

interface VersionEntry {
  version: number;
  /** The KV version of the values entry that holds this version's value. */
  kv: number;
  state: VersionState;
  compromised?: true;
  createdAt: string;
  stages: Stage[];
}

interface LiveState {
  kind: "live";
  /** Random id of this life of the name: values live under values/<name>/<instance>. */
  instance: string;
  revision: number;
  metadata: SecretMetadata;
  versions: VersionEntry[];
  createdAt: string;
  updatedAt: string;
  rotatedAt?: string;
  /** Highest keyward version number ever used by this name, across deletes. */
  lastVersion: number;
  /** Highest KV version of the values entry that a commit has accounted for. */
  valuesKv: number;
}

/** A deleted secret: keeps the version high-water mark so a re-created name never reuses one. */
interface Tombstone {
  kind: "deleted";
  lastVersion: number;
  deletedAt: string;
  /** The values entry of the life that ended; erased after the commit (again by the next create). */
  instance: string;
}

type ControlState = LiveState | Tombstone;

interface RotationState {
  instance: string;
  record: RotationRecord;
}

interface LockState {
  name: string;
  owner: string;
  ttlMs: number;
}

interface TxnState {
  status: "pending" | "committed" | "aborted";
  participants: string[];
  startedAt: string;
}

/** What a KV entry's data holds: the state, the nonce of the write, and a prepared transaction. */
interface Doc<T> {
  format: typeof FORMAT;
  write: string;
  state: T | null;
  txn?: { id: string; next: T | null };
}

interface Loaded<T> {
  /** The entry's current KV version (0 when it has none): the cas of the next write. */
  kv: number;
  doc: Doc<T> | undefined;
  /** Vault's created_time of that version and Vault's clock at the read (Unix ms). */
  created: number | undefined;
  date: number | undefined;
}

/** A cas write lost: someone else wrote the entry first. Callers re-read and decide. */
class CasMismatch extends Error {}

/** A multi-secret write met a concurrent change before its commit: start over. */
class StartOver extends Error {}

const MAX_ATTEMPTS = 8;

function timestamp(): string {
  return new Date().toISOString();
}

function newId(): string {
  return randomBytes(12).toString("hex");
}

function clone<T>(value: T): T {
  return structuredClone(value);
}

function busy(subject: string): KeywardError {
  return new KeywardError(
    "conflict",
    `${subject} kept changing while keyward tried to write it (${MAX_ATTEMPTS} attempts)`,
    "another process is writing it right now; re-read and retry",
  );
}

function encodePath(path: string): string {
  return path
    .split("/")
    .map((s) => encodeURIComponent(s))
    .join("/");
}

// ---- the store ------------------------------------------------------------------------------

export class VaultStore implements SecretStore {
  private readonly root: string;

  private constructor(
    private readonly client: VaultClient,
    private readonly options: VaultStoreOptions,
  ) {
    const prefix =
      options.prefix === "" || options.prefix.endsWith("/") ? options.prefix : `${options.prefix}/`;
    this.root = prefix;
  }

  /** Connects, logs in and checks that the mount is KV version 2. */
  static async open(
    options: VaultStoreOptions,
    env: NodeJS.ProcessEnv,
    testing: VaultClientTesting = {},
  ): Promise<VaultStore> {
    const client = new VaultClient(
      {
        auth: options.auth,
        timeoutMs: options.timeoutSeconds * 1000,
        ...(options.address === undefined ? {} : { address: options.address }),
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
        ...(options.caCert === undefined ? {} : { caCert: options.caCert }),
      },
      env,
      testing,
    );
    const store = new VaultStore(client, options);
    try {
      await client.authenticate();
      await store.checkMount();
    } catch (e) {
      client.close();
      throw e;
    }
    return store;
  }

  /** The same vault CLI preflight `vault kv` makes: is the mount there and is it KV version 2? */
  private async checkMount(): Promise<void> {
    const mount = this.options.mount;
    const response = await this.client.request("GET", {
      path: `sys/internal/ui/mounts/${encodePath(mount)}`,
      accept: [403, 404],
    });
    const data = response.body?.data as Record<string, unknown> | undefined;
    if (response.status !== 200 || data === undefined) {
      throw new KeywardError(
        "not_initialized",
        `there is no KV mount at ${mount}/ in Vault at ${this.client.address}, or the ${this.client.authDescription} cannot see it`,
        `enable one with \`vault secrets enable -path=${mount} kv-v2\`, or set store.mount to the KV version 2 mount keyward should use`,
      );
    }
    const version = String((data.options as Record<string, unknown> | null)?.version ?? "1");
    if (data.type !== "kv" || version !== "2") {
      throw new KeywardError(
        "config_invalid",
        `the mount ${mount}/ in Vault at ${this.client.address} is ${data.type === "kv" ? "KV version 1" : String(data.type)}, not KV version 2`,
        `upgrade it with \`vault kv enable-versioning ${mount}/\`, or set store.mount to a KV version 2 mount`,
      );
    }
  }

  /** Lease-aware reads of Vault dynamic secrets over this store's connection. */
  leases(): VaultLeases {
    return new VaultLeases(this.client);
  }

  describe(): StoreDescription {
    const details: Record<string, string> = {
      address: this.client.address,
      mount: this.options.mount,
      prefix: this.root,
      auth: this.client.authDescription,
    };
    if (this.client.namespace !== undefined) details.namespace = this.client.namespace;
    return {
      backend: "vault",
      location: `${this.client.address} ${this.options.mount}/${this.root}`,
      encryption: "server-side (Vault's barrier, AES-256-GCM)",
      details,
    };
  }

  async close(): Promise<void> {
    this.client.close();
  }

  // ---- paths and raw KV ---------------------------------------------------------------------

  private api(op: "data" | "metadata" | "delete" | "undelete" | "destroy", rel: string): string {
    return `${encodePath(this.options.mount)}/${op}/${encodePath(this.root + rel)}`;
  }

  private static control(name: string): string {
    return `secrets/${name}`;
  }

  private static values(name: string, instance: string): string {
    return `values/${name}/${instance}`;
  }

  private static rotation(name: string): string {
    return `rotations/${name}`;
  }

  private async readDoc<T>(rel: string, subject: string): Promise<Loaded<T>> {
    const response = await this.client.request("GET", {
      path: this.api("data", rel),
      accept: [404],
      subject,
    });
    const data = response.body?.data as Record<string, unknown> | null | undefined;
    const metadata = data?.metadata as Record<string, unknown> | undefined;
    const kv = Number(metadata?.version ?? 0);
    const created = Date.parse(String(metadata?.created_time ?? ""));
    const loaded: Loaded<T> = {
      kv: Number.isSafeInteger(kv) ? kv : 0,
      doc: undefined,
      created: Number.isNaN(created) ? undefined : created,
      date: response.date,
    };
    if (response.status === 404) return loaded;
    const doc = data?.data as Doc<T> | undefined;
    if (doc?.format !== FORMAT) {
      throw new KeywardError(
        "corrupt_store",
        `the Vault entry ${this.options.mount}/${this.root}${rel} (${subject}) was not written by keyward`,
        "move that entry aside in Vault, or point store.prefix at a folder only keyward writes",
      );
    }
    loaded.doc = doc;
    return loaded;
  }

  /** Writes a doc with cas; returns its new KV version. A retried write that already landed is recognised by its nonce. */
  private async writeDoc<T>(
    rel: string,
    cas: number,
    doc: Omit<Doc<T>, "format" | "write">,
    subject: string,
  ): Promise<number> {
    const write = newId();
    const body: Doc<T> = { format: FORMAT, write, ...doc };
    const response = await this.client.request("POST", {
      path: this.api("data", rel),
      body: { options: { cas }, data: body },
      accept: [400],
      subject,
    });
    if (response.status === 200)
      return Number((response.body?.data as { version?: unknown })?.version);
    this.assertCasMismatch(response, rel, subject);
    if (response.retried) {
      const again = await this.readDoc<T>(rel, subject);
      if (again.doc?.write === write) return again.kv;
    }
    throw new CasMismatch();
  }

  private assertCasMismatch(response: VaultResponse, rel: string, subject: string): void {
    const errors = JSON.stringify(response.body?.errors ?? []);
    if (!errors.includes("check-and-set")) {
      throw new KeywardError(
        "upstream_rejected",
        `Vault rejected a write to ${this.options.mount}/${this.root}${rel} (${subject}): ${errors.slice(0, 300)}`,
        "check the store settings (mount, prefix) and the mount's configuration",
      );
    }
  }

  /** Writes one value as the next KV version of the values entry and returns that version. */
  private async writeValue(
    name: string,
    instance: string,
    value: string,
    cas: number,
  ): Promise<number> {
    const rel = VaultStore.values(name, instance);
    const write = newId();
    let expected = cas;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const response = await this.client.request("POST", {
        path: this.api("data", rel),
        body: { options: { cas: expected }, data: { value, keyward_write: write } },
        accept: [400],
        subject: `secret "${name}"`,
      });
      if (response.status === 200)
        return Number((response.body?.data as { version?: unknown })?.version);
      this.assertCasMismatch(response, rel, `secret "${name}"`);
      if (response.retried && (await this.valueWriteOf(name, instance, expected + 1)) === write) {
        return expected + 1;
      }
      // Someone else (a concurrent writer, or one that crashed) wrote a value since the last
      // commit. Writing on top is safe: only one of us commits, the rest is destroyed.
      const meta = await this.client.request("GET", {
        path: this.api("metadata", rel),
        accept: [404],
        subject: `secret "${name}"`,
      });
      expected = Number((meta.body?.data as { current_version?: unknown })?.current_version ?? 0);
    }
    throw busy(`secret ${name}`);
  }

  private async valueWriteOf(
    name: string,
    instance: string,
    kv: number,
  ): Promise<string | undefined> {
    const response = await this.client.request("GET", {
      path: this.api("data", VaultStore.values(name, instance)),
      query: { version: String(kv) },
      accept: [404],
      subject: `secret "${name}"`,
    });
    const data = (response.body?.data as { data?: Record<string, unknown> } | undefined)?.data;
    return typeof data?.keyward_write === "string" ? data.keyward_write : undefined;
  }

  private async kvVersions(
    op: "delete" | "undelete" | "destroy",
    rel: string,
    versions: number[],
    subject: string,
  ): Promise<void> {
    if (versions.length === 0) return;
    await this.client.request("POST", { path: this.api(op, rel), body: { versions }, subject });
  }

  private async deleteEntry(rel: string, subject: string): Promise<void> {
    await this.client.request("DELETE", { path: this.api("metadata", rel), subject });
  }

  /** Runs a follow-up whose failure must not undo a committed write; the next commit repeats it. */
  private async bestEffort(work: () => Promise<unknown>): Promise<void> {
    try {
      await work();
    } catch (e) {
      if (!isKeywardError(e) || !e.code.startsWith("upstream_")) throw e;
    }
  }

  // ---- transactions over several entries ----------------------------------------------------

  private async txnStatus(
    id: string,
  ): Promise<{ status: TxnState["status"] | "absent"; kv: number; stale: boolean }> {
    const loaded = await this.readDoc<TxnState>(`txns/${id}`, `transaction ${id}`);
    const state = loaded.doc?.state;
    if (state === undefined || state === null)
      return { status: "absent", kv: loaded.kv, stale: false };
    const age =
      loaded.date !== undefined && loaded.created !== undefined ? loaded.date - loaded.created : 0;
    // Vault's Date header has second precision: count a transaction stale one second late.
    const stale = state.status === "pending" && age >= (this.options.txnTimeoutSeconds + 1) * 1000;
    return { status: state.status, kv: loaded.kv, stale };
  }

  /** The state readers see: a prepared transaction counts only once its record says committed. */
  private async effective<T>(rel: string, subject: string): Promise<T | null> {
    const loaded = await this.readDoc<T>(rel, subject);
    const doc = loaded.doc;
    if (doc === undefined) return null;
    if (doc.txn === undefined) return doc.state;
    const txn = await this.txnStatus(doc.txn.id);
    return txn.status === "committed" ? doc.txn.next : doc.state;
  }

  /**
   * Loads an entry for writing: a transaction left on it is finished first (rolled forward if
   * committed, back if aborted, gone, or stale); a live one makes the write a conflict.
   */
  private async forWrite<T>(
    rel: string,
    subject: string,
  ): Promise<{ kv: number; state: T | null }> {
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const loaded = await this.readDoc<T>(rel, subject);
      const doc = loaded.doc;
      if (doc?.txn === undefined) return { kv: loaded.kv, state: doc?.state ?? null };
      const txn = await this.txnStatus(doc.txn.id);
      try {
        if (txn.status === "committed") {
          await this.writeDoc<T>(rel, loaded.kv, { state: doc.txn.next }, subject);
        } else if (txn.status === "pending" && !txn.stale) {
          throw new KeywardError(
            "conflict",
            `${subject} is part of a write to several secrets that is still in progress`,
            `retry in a moment; a crashed writer's change is rolled back after ${this.options.txnTimeoutSeconds} s`,
          );
        } else {
          if (txn.status === "pending") {
            await this.writeDoc<TxnState>(
              `txns/${doc.txn.id}`,
              txn.kv,
              { state: { status: "aborted", participants: [], startedAt: timestamp() } },
              `transaction ${doc.txn.id}`,
            );
          }
          await this.writeDoc<T>(rel, loaded.kv, { state: doc.state }, subject);
        }
      } catch (e) {
        if (!(e instanceof CasMismatch)) throw e;
      }
    }
    throw busy(subject);
  }

  // ---- records ------------------------------------------------------------------------------

  private live(name: string, state: ControlState | null): LiveState {
    if (state === null || state.kind !== "live") throw secretNotFound(name);
    return state;
  }

  private static record(name: string, live: LiveState): SecretRecord {
    const versions = live.versions.map((v) =>
      versionInfo({ ...v, compromised: v.compromised === true }),
    );
    return secretRecord(name, { ...live, metadata: clone(live.metadata) }, versions);
  }

  /** Adds version `lastVersion + 1` held in KV version `kv`; versions Vault will prune are destroyed. */
  private addVersion(live: LiveState, kv: number, stages: Stage[], now: string): number {
    const version = live.lastVersion + 1;
    live.lastVersion = version;
    live.valuesKv = Math.max(live.valuesKv, kv);
    const entry: VersionEntry = { version, kv, state: "enabled", createdAt: now, stages: [] };
    live.versions.push(entry);
    for (const stage of stages) assignStage(live, stage, entry, now);
    const oldestKept = kv - this.options.maxVersions + 1;
    for (const v of live.versions) {
      if (v.kv < oldestKept && v.state !== "destroyed") {
        v.state = "destroyed";
        v.stages = [];
      }
    }
    return version;
  }

  /**
   * Brings the values entry in line with a committed control state: soft-delete disabled
   * versions, undelete enabled ones, destroy destroyed and unreferenced ones (orphans of lost
   * or crashed writes, all at or below valuesKv, which no later commit can reference).
   */
  private async reconcile(name: string, live: LiveState): Promise<void> {
    const rel = VaultStore.values(name, live.instance);
    const subject = `secret "${name}"`;
    await this.bestEffort(async () => {
      const response = await this.client.request("GET", {
        path: this.api("metadata", rel),
        accept: [404],
        subject,
      });
      if (response.status === 404) return;
      const versions = ((response.body?.data as Record<string, unknown>)?.versions ?? {}) as Record<
        string,
        { deletion_time?: string; destroyed?: boolean }
      >;
      const now = response.date ?? Date.now();
      const byKv = new Map(live.versions.map((v) => [v.kv, v]));
      const toDelete: number[] = [];
      const toUndelete: number[] = [];
      const toDestroy: number[] = [];
      for (const [key, meta] of Object.entries(versions)) {
        const kv = Number(key);
        if (meta.destroyed === true) continue;
        const deletion = Date.parse(meta.deletion_time ?? "");
        // The Date header is rounded down to the second: a deletion within it has happened.
        const deleted = !Number.isNaN(deletion) && deletion < now + 1000;
        const entry = byKv.get(kv);
        if (entry === undefined) {
          if (kv <= live.valuesKv) toDestroy.push(kv);
        } else if (entry.state === "destroyed") toDestroy.push(kv);
        else if (entry.state === "disabled" && !deleted) toDelete.push(kv);
        else if (entry.state === "enabled" && deleted) toUndelete.push(kv);
      }
      await this.kvVersions(
        "destroy",
        rel,
        toDestroy.sort((a, b) => a - b),
        subject,
      );
      await this.kvVersions(
        "delete",
        rel,
        toDelete.sort((a, b) => a - b),
        subject,
      );
      await this.kvVersions(
        "undelete",
        rel,
        toUndelete.sort((a, b) => a - b),
        subject,
      );
    });
  }

  // ---- SecretStore: reads -------------------------------------------------------------------

  async get(name: string): Promise<SecretRecord | undefined> {
    parseSecretName(name);
    const state = await this.effective<ControlState>(VaultStore.control(name), `secret "${name}"`);
    return state?.kind === "live" ? VaultStore.record(name, state) : undefined;
  }

  async list(prefix = ""): Promise<SecretRecord[]> {
    const names = await this.listNames(prefix);
    // A few requests in flight at once: a store of hundreds of secrets lists in seconds, not minutes.
    const records = await mapLimit(names, 8, (name) => this.get(name));
    return records
      .filter((r): r is SecretRecord => r !== undefined)
      .sort((a, b) => byName(a.name, b.name));
  }

  private async listNames(prefix: string): Promise<string[]> {
    const names: string[] = [];
    const walk = async (folder: string): Promise<void> => {
      // GET with list=true rather than the LIST verb: the same call (api-docs/index.mdx), and
      // proxies and HTTP parsers that know only standard methods pass it.
      const response = await this.client.request("GET", {
        path: this.api("metadata", `secrets/${folder}`),
        query: { list: "true" },
        accept: [404],
        subject: "the list of secrets",
      });
      const keys = ((response.body?.data as { keys?: unknown })?.keys ?? []) as unknown[];
      for (const key of keys) {
        if (typeof key !== "string" || key === "") continue;
        const path = folder + key;
        if (key.endsWith("/")) {
          if (path.startsWith(prefix) || prefix.startsWith(path)) await walk(path);
        } else if (path.startsWith(prefix)) {
          try {
            names.push(parseSecretName(path));
          } catch {
            // Not a keyward name: an entry someone else put here.
          }
        }
      }
    };
    await walk(prefix.includes("/") ? prefix.slice(0, prefix.lastIndexOf("/") + 1) : "");
    return names;
  }

  async read(name: string, selector: VersionSelector = { stage: "current" }): Promise<ReadResult> {
    parseSecretName(name);
    checkSelector(selector);
    const live = this.live(
      name,
      await this.effective<ControlState>(VaultStore.control(name), `secret "${name}"`),
    );
    const entry =
      "stage" in selector
        ? live.versions.find((v) => v.stages.includes(selector.stage))
        : live.versions.find((v) => v.version === selector.version);
    if (entry === undefined) throw nothingSelected(name, selector);
    checkReadable(name, entry.version, entry.state);
    const value = await this.readValue(name, live, entry);
    const record = VaultStore.record(name, live);
    return { value, version: versionOf(record, entry.version), record };
  }

  private async readValue(name: string, live: LiveState, entry: VersionEntry): Promise<string> {
    const rel = VaultStore.values(name, live.instance);
    const subject = `secret "${name}"`;
    for (let attempt = 1; attempt <= 2; attempt++) {
      const response = await this.client.request("GET", {
        path: this.api("data", rel),
        query: { version: String(entry.kv) },
        accept: [404],
        subject,
      });
      const data = response.body?.data as
        | {
            data?: { value?: unknown } | null;
            metadata?: { deletion_time?: string; destroyed?: boolean };
          }
        | undefined;
      if (response.status === 200 && typeof data?.data?.value === "string") return data.data.value;
      const metadata = data?.metadata;
      if (attempt === 1 && metadata?.destroyed === false && (metadata.deletion_time ?? "") !== "") {
        // Enabled in keyward but still soft-deleted in Vault: an enable whose follow-up did not
        // finish (or a `vault kv delete` by hand). keyward's control entry decides: undelete.
        await this.kvVersions("undelete", rel, [entry.kv], subject);
        continue;
      }
      break;
    }
    throw new KeywardError(
      "corrupt_store",
      `Vault no longer holds the value of version ${entry.version} of secret ${name} (it was destroyed or pruned outside keyward)`,
      "read another version, or put a new value; check the mount's max_versions and who changed the entry",
    );
  }

  // ---- SecretStore: single-secret writes ----------------------------------------------------

  /**
   * One compare-and-set write of a secret's control entry: load, check the revision, apply,
   * write with cas, follow up. With `value`, the value is written first (once) and `apply`
   * receives its KV version; a lost race destroys it again.
   */
  private async change(
    name: string,
    expectedRevision: number,
    apply: (live: LiveState, now: string, kv: number) => void,
    value?: string,
  ): Promise<LiveState> {
    checkExpectedRevision(name, expectedRevision);
    const subject = `secret "${name}"`;
    const rel = VaultStore.control(name);
    let written: { instance: string; kv: number } | undefined;
    try {
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const { kv, state } = await this.forWrite<ControlState>(rel, subject);
        const live = this.live(name, state);
        if (
          live.revision !== expectedRevision ||
          (written !== undefined && written.instance !== live.instance)
        ) {
          throw revisionConflict(name, expectedRevision, live.revision);
        }
        const now = timestamp();
        const next = clone(live);
        apply(next, now, written?.kv ?? 0);
        if (value !== undefined && written === undefined) {
          // Validated by apply above (stages, states) before anything is written.
          written = {
            instance: live.instance,
            kv: await this.writeValue(name, live.instance, value, live.valuesKv),
          };
          continue;
        }
        next.revision = live.revision + 1;
        next.updatedAt = now;
        try {
          await this.writeDoc<ControlState>(rel, kv, { state: next }, subject);
        } catch (e) {
          if (e instanceof CasMismatch) continue;
          throw e;
        }
        written = undefined;
        await this.reconcile(name, next);
        return next;
      }
      throw busy(`secret ${name}`);
    } finally {
      if (written !== undefined) {
        const lost = written;
        await this.bestEffort(() =>
          this.kvVersions("destroy", VaultStore.values(name, lost.instance), [lost.kv], subject),
        );
      }
    }
  }

  async create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord> {
    parseSecretName(name);
    if (value !== undefined) checkValue(name, value);
    const subject = `secret "${name}"`;
    const rel = VaultStore.control(name);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { kv, state } = await this.forWrite<ControlState>(rel, subject);
      if (state?.kind === "live") throw secretExists(name);
      const next = await this.newLife(name, state, metadata, value);
      if (kv === 0) {
        // First life of this name: make Vault refuse writes without cas (a blind `vault kv put`).
        await this.client.request("POST", {
          path: this.api("metadata", rel),
          body: { cas_required: true },
          subject,
        });
      }
      try {
        await this.writeDoc<ControlState>(rel, kv, { state: next }, subject);
      } catch (e) {
        await this.bestEffort(() =>
          this.deleteEntry(VaultStore.values(name, next.instance), subject),
        );
        if (e instanceof CasMismatch) continue;
        throw e;
      }
      return VaultStore.record(name, next);
    }
    throw busy(`secret ${name}`);
  }

  /** A new life of a name: erase the previous life's values, then write the first value if any. */
  private async newLife(
    name: string,
    previous: ControlState | null,
    metadata: SecretMetadata,
    value: string | undefined,
  ): Promise<LiveState> {
    const subject = `secret "${name}"`;
    if (previous?.kind === "deleted") {
      await this.deleteEntry(VaultStore.values(name, previous.instance), subject);
    }
    const now = timestamp();
    const live: LiveState = {
      kind: "live",
      instance: newId(),
      revision: 1,
      metadata: clone(metadata),
      versions: [],
      createdAt: now,
      updatedAt: now,
      lastVersion: previous?.lastVersion ?? 0,
      valuesKv: 0,
    };
    // Set before the first value lands, whether that is now or at the first putVersion.
    const rel = VaultStore.values(name, live.instance);
    await this.client.request("POST", {
      path: this.api("metadata", rel),
      body: {
        cas_required: true,
        max_versions: this.options.maxVersions,
        custom_metadata: { "keyward-secret": name, "managed-by": "keyward" },
      },
      subject,
    });
    if (value === undefined) return live;
    const kv = await this.writeValue(name, live.instance, value, 0);
    this.addVersion(live, kv, ["current"], now);
    return live;
  }

  async putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult> {
    const stages = checkPutVersion(name, value, options.stages);
    let version = 0;
    const live = await this.change(
      name,
      options.expectedRevision,
      (next, now, kv) => {
        version = this.addVersion(next, kv, stages, now);
      },
      value,
    );
    const record = VaultStore.record(name, live);
    return { value, version: versionOf(record, version), record };
  }

  async moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    checkStageMove(name, stage, version);
    const live = await this.change(name, expectedRevision, (next, now) => {
      if (version === null) {
        clearStage(next.versions, stage);
        return;
      }
      const target = next.versions.find((v) => v.version === version);
      if (target === undefined) throw noSuchVersion(name, version);
      checkStageTarget(name, stage, version, target.state);
      assignStage(next, stage, target, now);
    });
    return VaultStore.record(name, live);
  }

  async setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord> {
    checkStateChange(name, version, state, options.compromised);
    const live = await this.change(name, options.expectedRevision, (next) => {
      const target = next.versions.find((v) => v.version === version);
      if (target === undefined) throw noSuchVersion(name, version);
      const current = { state: target.state, compromised: target.compromised === true };
      const after = nextVersionState(name, version, current, state, options.compromised);
      target.state = after.state;
      if (after.compromised) target.compromised = true;
    });
    return VaultStore.record(name, live);
  }

  async destroyVersion(
    name: string,
    version: number,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    checkVersionNumber(version);
    const live = await this.change(name, expectedRevision, (next) => {
      const target = next.versions.find((v) => v.version === version);
      if (target === undefined) throw noSuchVersion(name, version);
      target.state = "destroyed";
      target.stages = [];
    });
    return VaultStore.record(name, live);
  }

  async updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord> {
    parseSecretName(name);
    const live = await this.change(name, expectedRevision, (next) => {
      next.metadata = clone(metadata);
    });
    return VaultStore.record(name, live);
  }

  async delete(name: string, expectedRevision: number): Promise<void> {
    parseSecretName(name);
    checkExpectedRevision(name, expectedRevision);
    const subject = `secret "${name}"`;
    const rel = VaultStore.control(name);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { kv, state } = await this.forWrite<ControlState>(rel, subject);
      const live = this.live(name, state);
      if (live.revision !== expectedRevision)
        throw revisionConflict(name, expectedRevision, live.revision);
      const tombstone: Tombstone = {
        kind: "deleted",
        lastVersion: live.lastVersion,
        deletedAt: timestamp(),
        instance: live.instance,
      };
      try {
        await this.writeDoc<ControlState>(rel, kv, { state: tombstone }, subject);
      } catch (e) {
        if (e instanceof CasMismatch) continue;
        throw e;
      }
      // DELETE metadata erases every version of the values entry; a crash before it is
      // repaired by the next create of this name, which erases the ended life first.
      await this.bestEffort(() =>
        this.deleteEntry(VaultStore.values(name, live.instance), subject),
      );
      await this.bestEffort(() => this.deleteEntry(VaultStore.rotation(name), subject));
      return;
    }
    throw busy(`secret ${name}`);
  }

  // ---- SecretStore: several secrets at once -------------------------------------------------

  async putVersions(
    writes: VersionWrite[],
    rotation?: { record: RotationRecordInput; expectedRevision?: number },
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }> {
    checkVersionWrites(writes);
    const record = rotation === undefined ? undefined : rotationInput(rotation.record);
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      try {
        return await this.transact(writes, record, rotation?.expectedRevision);
      } catch (e) {
        if (!(e instanceof StartOver)) throw e;
      }
    }
    throw busy(`secrets ${writes.map((w) => w.name).join(", ")}`);
  }

  private async transact(
    writes: VersionWrite[],
    rotationRecord: RotationRecordInput | undefined,
    rotationExpected: number | undefined,
  ): Promise<{ results: ReadResult[]; rotation?: RotationRecord }> {
    interface Participant {
      rel: string;
      subject: string;
      kv: number;
      old: unknown;
      next: unknown;
    }
    // 1. Load and check everything before writing anything.
    const loaded: Array<{ kv: number; state: ControlState | null }> = [];
    for (const w of writes) {
      const l = await this.forWrite<ControlState>(VaultStore.control(w.name), `secret "${w.name}"`);
      if (w.expectedRevision === 0) {
        if (l.state?.kind === "live") throw createConflict(w.name);
      } else {
        const live = this.live(w.name, l.state);
        if (live.revision !== w.expectedRevision)
          throw revisionConflict(w.name, w.expectedRevision, live.revision);
      }
      loaded.push(l);
    }
    let rotationLoaded: { kv: number; state: RotationState | null; instance?: string } | undefined;
    const rotationIndex =
      rotationRecord === undefined ? -1 : writes.findIndex((w) => w.name === rotationRecord.secret);
    if (rotationRecord !== undefined) {
      const secret = rotationRecord.secret;
      const instance =
        rotationIndex === -1
          ? this.live(
              secret,
              await this.effective<ControlState>(VaultStore.control(secret), `secret "${secret}"`),
            ).instance
          : liveInstance(loaded[rotationIndex]?.state);
      const l = await this.forWrite<RotationState>(
        VaultStore.rotation(secret),
        `rotation of secret "${secret}"`,
      );
      const current =
        l.state !== null && l.state.instance === instance ? l.state.record : undefined;
      checkRotationRevision(secret, rotationExpected, current?.revision);
      rotationLoaded = { ...l, ...(instance === undefined ? {} : { instance }) };
    }

    // 2. Write the values (each is harmless until a control entry references it).
    const now = timestamp();
    const nexts: LiveState[] = [];
    const versions: number[] = [];
    const cleanups: Array<() => Promise<void>> = [];
    let committed = false;
    try {
      for (const [i, w] of writes.entries()) {
        const state = loaded[i]!.state;
        let next: LiveState;
        if (w.expectedRevision === 0) {
          next = await this.newLife(w.name, state, w.metadata as SecretMetadata, undefined);
          const rel = VaultStore.values(w.name, next.instance);
          cleanups.push(() => this.deleteEntry(rel, `secret "${w.name}"`));
          const kv = await this.writeValue(w.name, next.instance, w.value, 0);
          versions.push(this.addVersion(next, kv, w.stages ?? ["current"], now));
        } else {
          const live = state as LiveState;
          next = clone(live);
          const kv = await this.writeValue(w.name, live.instance, w.value, live.valuesKv);
          cleanups.push(() =>
            this.kvVersions(
              "destroy",
              VaultStore.values(w.name, live.instance),
              [kv],
              `secret "${w.name}"`,
            ),
          );
          versions.push(this.addVersion(next, kv, w.stages ?? ["current"], now));
          next.revision = live.revision + 1;
          next.updatedAt = now;
        }
        nexts.push(next);
      }
      let storedRotation: RotationRecord | undefined;
      const participants: Participant[] = writes.map((w, i) => ({
        rel: VaultStore.control(w.name),
        subject: `secret "${w.name}"`,
        kv: loaded[i]!.kv,
        old: loaded[i]!.state,
        next: nexts[i],
      }));
      if (rotationRecord !== undefined && rotationLoaded !== undefined) {
        const pending = rotationIndex === -1 ? undefined : versions[rotationIndex];
        const input =
          pending === undefined ? rotationRecord : { ...rotationRecord, pendingVersion: pending };
        const current = rotationLoaded.state?.record;
        storedRotation = {
          ...input,
          revision:
            (rotationLoaded.state?.instance === rotationLoaded.instance
              ? (current?.revision ?? 0)
              : 0) + 1,
        };
        const instance = rotationLoaded.instance ?? nexts[rotationIndex]?.instance ?? "";
        participants.push({
          rel: VaultStore.rotation(rotationRecord.secret),
          subject: `rotation of secret "${rotationRecord.secret}"`,
          kv: rotationLoaded.kv,
          old: rotationLoaded.state,
          next: { instance, record: storedRotation } satisfies RotationState,
        });
      }

      // 3. Commit: one cas write when one entry changes, else a two-phase commit whose
      //    commit point is the transaction record turning `committed`.
      if (participants.length === 1) {
        const p = participants[0]!;
        try {
          await this.writeDoc(p.rel, p.kv, { state: p.next }, p.subject);
        } catch (e) {
          if (e instanceof CasMismatch) throw new StartOver();
          throw e;
        }
      } else {
        await this.twoPhase(participants, now);
      }
      committed = true;
      for (const [i, w] of writes.entries()) await this.reconcile(w.name, nexts[i]!);
      const results = writes.map((w, i) => {
        const record = VaultStore.record(w.name, nexts[i]!);
        return { value: w.value, version: versionOf(record, versions[i]!), record };
      });
      return storedRotation === undefined ? { results } : { results, rotation: storedRotation };
    } finally {
      if (!committed) for (const cleanup of cleanups) await this.bestEffort(cleanup);
    }
  }

  private async twoPhase(
    participants: Array<{ rel: string; subject: string; kv: number; old: unknown; next: unknown }>,
    now: string,
  ): Promise<void> {
    const id = newId();
    const txnRel = `txns/${id}`;
    const subject = `transaction ${id}`;
    const txn: TxnState = {
      status: "pending",
      participants: participants.map((p) => p.rel),
      startedAt: now,
    };
    let txnKv = await this.writeDoc<TxnState>(txnRel, 0, { state: txn }, subject);
    const prepared: Array<{ rel: string; subject: string; kv: number; old: unknown }> = [];
    const rollback = async () => {
      await this.bestEffort(async () => {
        try {
          txnKv = await this.writeDoc<TxnState>(
            txnRel,
            txnKv,
            { state: { ...txn, status: "aborted" } },
            subject,
          );
        } catch (e) {
          if (!(e instanceof CasMismatch)) throw e; // someone found it stale and aborted it
        }
        for (const p of prepared) {
          try {
            await this.writeDoc(p.rel, p.kv, { state: p.old }, p.subject);
          } catch (e) {
            if (!(e instanceof CasMismatch)) throw e; // already rolled back by a reader of it
          }
        }
        await this.deleteEntry(txnRel, subject);
      });
    };
    for (const p of participants) {
      try {
        const kv = await this.writeDoc(
          p.rel,
          p.kv,
          { state: p.old, txn: { id, next: p.next } },
          p.subject,
        );
        prepared.push({ rel: p.rel, subject: p.subject, kv, old: p.old });
      } catch (e) {
        await rollback();
        if (e instanceof CasMismatch) throw new StartOver();
        throw e;
      }
    }
    try {
      txnKv = await this.writeDoc<TxnState>(
        txnRel,
        txnKv,
        { state: { ...txn, status: "committed" } },
        subject,
      );
    } catch (e) {
      await rollback();
      if (e instanceof CasMismatch) throw new StartOver();
      throw e;
    }
    // Committed: every reader now sees the new states; write them in place, then drop the record.
    for (const [i, p] of prepared.entries()) {
      await this.bestEffort(async () => {
        try {
          await this.writeDoc(p.rel, p.kv, { state: participants[i]!.next }, p.subject);
        } catch (e) {
          if (!(e instanceof CasMismatch)) throw e; // a writer rolled it forward already
        }
      });
    }
    await this.bestEffort(() => this.deleteEntry(txnRel, subject));
  }

  // ---- locks --------------------------------------------------------------------------------

  async acquireLock(name: string, owner: string, ttlSeconds: number): Promise<boolean> {
    const ttlMs = checkLock(name, owner, ttlSeconds);
    const rel = `locks/${Buffer.from(name, "utf8").toString("base64url")}`;
    const subject = `lock "${name}"`;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const loaded = await this.readDoc<LockState>(rel, subject);
      const held = loaded.doc?.state ?? null;
      if (held !== null && held.owner !== owner && !lockExpired(held, loaded)) return false;
      try {
        await this.writeDoc<LockState>(rel, loaded.kv, { state: { name, owner, ttlMs } }, subject);
        return true;
      } catch (e) {
        if (!(e instanceof CasMismatch)) throw e;
      }
    }
    throw busy(subject);
  }

  async releaseLock(name: string, owner: string): Promise<void> {
    checkLockHolder(name, owner);
    const rel = `locks/${Buffer.from(name, "utf8").toString("base64url")}`;
    const subject = `lock "${name}"`;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const loaded = await this.readDoc<LockState>(rel, subject);
      if (loaded.doc?.state?.owner !== owner) return;
      try {
        await this.writeDoc<LockState>(rel, loaded.kv, { state: null }, subject);
        return;
      } catch (e) {
        if (!(e instanceof CasMismatch)) throw e;
      }
    }
    throw busy(subject);
  }

  // ---- rotation records ---------------------------------------------------------------------

  async getRotation(name: string): Promise<RotationRecord | undefined> {
    parseSecretName(name);
    const live = this.live(
      name,
      await this.effective<ControlState>(VaultStore.control(name), `secret "${name}"`),
    );
    const state = await this.effective<RotationState>(
      VaultStore.rotation(name),
      `rotation of secret "${name}"`,
    );
    return state !== null && state.instance === live.instance ? clone(state.record) : undefined;
  }

  async putRotation(
    record: RotationRecordInput,
    expectedRevision?: number,
  ): Promise<RotationRecord> {
    const input = rotationInput(record);
    const name = input.secret;
    const subject = `rotation of secret "${name}"`;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const live = this.live(
        name,
        await this.effective<ControlState>(VaultStore.control(name), `secret "${name}"`),
      );
      const { kv, state } = await this.forWrite<RotationState>(VaultStore.rotation(name), subject);
      const current = state !== null && state.instance === live.instance ? state.record : undefined;
      checkRotationRevision(name, expectedRevision, current?.revision);
      const stored: RotationRecord = { ...input, revision: (current?.revision ?? 0) + 1 };
      try {
        await this.writeDoc<RotationState>(
          VaultStore.rotation(name),
          kv,
          { state: { instance: live.instance, record: stored } },
          subject,
        );
        return clone(stored);
      } catch (e) {
        if (!(e instanceof CasMismatch)) throw e;
      }
    }
    throw busy(subject);
  }

  async clearRotation(name: string, rotationId: string): Promise<boolean> {
    parseSecretName(name);
    const control = await this.effective<ControlState>(
      VaultStore.control(name),
      `secret "${name}"`,
    );
    if (control?.kind !== "live") return false;
    const subject = `rotation of secret "${name}"`;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
      const { kv, state } = await this.forWrite<RotationState>(VaultStore.rotation(name), subject);
      if (
        state === null ||
        state.instance !== control.instance ||
        state.record.rotationId !== rotationId
      ) {
        return false;
      }
      try {
        await this.writeDoc<RotationState>(VaultStore.rotation(name), kv, { state: null }, subject);
        return true;
      } catch (e) {
        if (!(e instanceof CasMismatch)) throw e;
      }
    }
    throw busy(subject);
  }
}

/**
 * A lock version expires `ttl` after Vault wrote it (its created_time), judged by Vault's clock
 * (the Date header of the read). The header has second precision, so expiry is rounded down to
 * the second: a lock may end up to a second early, never late.
 */
function lockExpired(held: LockState, loaded: Loaded<LockState>): boolean {
  if (loaded.created === undefined || loaded.date === undefined) return false;
  const expires = Math.floor((loaded.created + held.ttlMs) / 1000) * 1000;
  return loaded.date >= expires;
}

function liveInstance(state: ControlState | null | undefined): string | undefined {
  return state?.kind === "live" ? state.instance : undefined;
}

// ---- the backend entry ----------------------------------------------------------------------

export const vaultBackend: StoreBackend<VaultStoreOptions> = {
  name: "vault",
  options: VaultStoreOptionsSchema,
  open: (options, ctx) => VaultStore.open(options, ctx.env),
  facts: (options, ctx): BackendFacts => ({
    auth: describeAuth(options.auth, ctx.env),
    audit: "Vault audit devices",
    grade: "A",
  }),
};
