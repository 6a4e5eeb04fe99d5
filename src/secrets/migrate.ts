import type { AccessLog, Actor } from "../accesslog/log.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { type SecretRecord, STAGES, type VersionInfo } from "../core/types.js";
import { randomSecretValue } from "../rotation/rotate.js";
import type { SecretStore } from "../store/types.js";

/** What happened to one secret. */
export interface MigratedSecret {
  name: string;
  /** copied: written now; verified: already complete in the destination (a re-run); planned: a dry run. */
  outcome: "copied" | "verified" | "planned";
  versions: number;
  /** Versions whose value was not carried over, and why (never the value). */
  notCopied: { version: number; why: string }[];
}

export interface MigrateResult {
  secrets: MigratedSecret[];
}

export interface MigrateOptions {
  from: SecretStore;
  to: SecretStore;
  log: AccessLog;
  actor: Actor;
  /** Only names starting with this. */
  prefix?: string;
  dryRun?: boolean;
}

/**
 * Copies every secret with its versions, stages, states and metadata from one store to another,
 * then reads both back and compares them. Safe to re-run after an interruption: a secret already
 * complete in the destination is verified and left alone, a partly copied one is continued from
 * its last version, and one that differs in another way is refused rather than overwritten.
 *
 * Version numbers are kept by writing versions in order into a fresh secret. A version whose
 * value cannot or must not travel is written as a random placeholder and destroyed at once, so
 * the numbering and history stay: destroyed versions (no value left), disabled ones (the store
 * refuses to read them: enable them first to carry them) and compromised ones (a leaked value
 * has no business in a new store). Creation times are the destination's own.
 */
export async function migrateStores(opts: MigrateOptions): Promise<MigrateResult> {
  const records = await opts.from.list(opts.prefix);
  const secrets: MigratedSecret[] = [];
  for (const source of records) {
    const done = await migrateSecret(opts, source);
    secrets.push(done);
  }
  return { secrets };
}

async function migrateSecret(opts: MigrateOptions, source: SecretRecord): Promise<MigratedSecret> {
  const versions = [...source.versions].sort((a, b) => a.version - b.version);
  const notCopied = versions.flatMap((v) => {
    const why = untransferable(v);
    return why === undefined ? [] : [{ version: v.version, why }];
  });
  const summary = { name: source.name, versions: versions.length, notCopied };
  const existing = await opts.to.get(source.name);
  if (opts.dryRun) return { ...summary, outcome: existing ? "verified" : "planned" };

  let target = existing;
  if (target !== undefined && isComplete(source, target)) {
    await verifyValues(opts, source, versions, new Map());
    return { ...summary, outcome: "verified" };
  }
  if (target !== undefined) assertResumable(source, target);
  target ??= await opts.to.create(source.name, source.metadata);
  const have = new Set(target.versions.map((v) => v.version));
  const copied = new Map<number, string>();
  for (const v of versions) {
    if (have.has(v.version)) continue;
    const why = untransferable(v);
    let value = randomSecretValue();
    if (why === undefined) {
      value = await readLogged(opts, source.name, v.version);
      copied.set(v.version, value);
    }
    const put = await opts.to.putVersion(source.name, value, {
      expectedRevision: target.revision,
      stages: [],
    });
    if (put.version.version !== v.version) {
      throw new KeywardError(
        "conflict",
        `${source.name}: the destination numbered version ${v.version} as ${put.version.version}`,
        "the destination reuses or skips version numbers: delete the secret there and re-run",
      );
    }
    target = put.record;
    if (why !== undefined) {
      target = await opts.to.destroyVersion(source.name, v.version, target.revision);
    }
  }
  target = await copyStatesAndStages(opts.to, source, target, versions);
  if (JSON.stringify(target.metadata) !== JSON.stringify(source.metadata)) {
    target = await opts.to.updateMetadata(source.name, source.metadata, target.revision);
  }
  if (!isComplete(source, target)) {
    throw new KeywardError(
      "corrupt_store",
      `${source.name}: after copying, the destination's versions or stages differ from the source's`,
      "re-run the migration; if it persists, report it with `keyward status --json` from both stores",
    );
  }
  await verifyValues(opts, source, versions, copied);
  opts.log.append({ actor: opts.actor, action: "migrate", secret: source.name, outcome: "ok" });
  return { ...summary, outcome: "copied" };
}

/** Why a version's value does not travel, or undefined when it does. */
function untransferable(v: VersionInfo): string | undefined {
  if (v.state === "destroyed") return "destroyed in the source";
  if (v.compromised) return "compromised: a leaked value is not carried into a new store";
  if (v.state === "disabled") return "disabled: enable it in the source first to carry its value";
  return undefined;
}

/** What the destination's version should look like once copied. */
function expectedState(v: VersionInfo): VersionInfo["state"] {
  return untransferable(v) === undefined ? v.state : "destroyed";
}

async function copyStatesAndStages(
  to: SecretStore,
  source: SecretRecord,
  target: SecretRecord,
  versions: VersionInfo[],
): Promise<SecretRecord> {
  let record = target;
  // current first: moving it makes the old holder previous, which the explicit moves then correct.
  for (const stage of STAGES) {
    const holder = versions.find((v) => v.stages.includes(stage) && v.state !== "destroyed");
    const now = record.versions.find((v) => v.stages.includes(stage));
    if (holder?.version === now?.version) continue;
    if (holder !== undefined && untransferable(holder) !== undefined) continue;
    record = await to.moveStage(source.name, stage, holder?.version ?? null, record.revision);
  }
  for (const v of versions) {
    if (v.state !== "disabled" || expectedState(v) === "destroyed") continue;
    const now = record.versions.find((t) => t.version === v.version);
    if (now?.state === "disabled") continue;
    record = await to.setVersionState(source.name, v.version, "disabled", {
      expectedRevision: record.revision,
    });
  }
  return record;
}

/** Same version numbers, states and stage holders as the source would have after a copy. */
function isComplete(source: SecretRecord, target: SecretRecord): boolean {
  const shape = (r: SecretRecord, expected: boolean) =>
    [...r.versions]
      .sort((a, b) => a.version - b.version)
      .map((v) => {
        const state = expected ? expectedState(v) : v.state;
        const stages = state === "destroyed" ? [] : [...v.stages].sort();
        return `${v.version}:${state}:${stages.join(",")}`;
      })
      .join(" ");
  return shape(source, true) === shape(target, false);
}

/** A partly copied secret: its versions must be a prefix of the source's, nothing else. */
function assertResumable(source: SecretRecord, target: SecretRecord): void {
  const sourceNumbers = new Set(source.versions.map((v) => v.version));
  const stray = target.versions.filter((v) => !sourceNumbers.has(v.version));
  if (stray.length > 0) {
    throw new KeywardError(
      "conflict",
      `${source.name} already exists in the destination with versions the source does not have (${stray.map((v) => v.version).join(", ")})`,
      "it was not made by this migration: rename or delete it there, then re-run",
    );
  }
}

async function verifyValues(
  opts: MigrateOptions,
  source: SecretRecord,
  versions: VersionInfo[],
  /** Values this run already read from the source, by version: not read (and logged) twice. */
  known: Map<number, string>,
): Promise<void> {
  for (const v of versions) {
    if (untransferable(v) !== undefined) continue;
    const want = known.get(v.version) ?? (await readLogged(opts, source.name, v.version));
    let got: string;
    try {
      got = (await opts.to.read(source.name, { version: v.version })).value;
    } catch (e) {
      if (isKeywardError(e) && e.code === "disabled") continue;
      throw e;
    }
    if (got !== want) {
      throw new KeywardError(
        "corrupt_store",
        `${source.name} version ${v.version} reads back differently from the destination`,
        "delete the secret in the destination and re-run the migration",
      );
    }
  }
}

/** Reads a source value and logs the read: a migration serves every value once. */
async function readLogged(opts: MigrateOptions, name: string, version: number): Promise<string> {
  const { value } = await opts.from.read(name, { version });
  opts.log.append({
    actor: opts.actor,
    action: "read",
    secret: name,
    version,
    outcome: "ok",
    value,
  });
  return value;
}
