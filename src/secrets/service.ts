import type { AccessAction, LogEntry } from "../accesslog/log.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import {
  defaultMetadata,
  type SecretMetadata,
  type SecretRecord,
  type Sensitivity,
  type Stage,
  type VersionInfo,
} from "../core/types.js";
import type { ReadResult, VersionSelector } from "../store/types.js";
import type { Session } from "./session.js";

/** Values shorter than this cannot be told apart from ordinary text, so `keyward run` cannot scrub them. */
export const MIN_REDACTABLE_LENGTH = 8;

export interface SetOptions {
  sensitivity?: Sensitivity;
  scope?: string[];
  provider?: string;
  owner?: string;
  description?: string;
  tags?: Record<string, string>;
  ttlSeconds?: number;
  /** Stage the new version takes (default current). */
  stage?: Stage;
}

export interface SetResult {
  record: SecretRecord;
  version: number;
  created: boolean;
  warnings: string[];
}

/**
 * Secret operations as the CLI and services see them: each one goes to the store and leaves
 * an access-log entry (with the value's HMAC for reads and writes, never the value).
 */
export class SecretService {
  constructor(private readonly session: Session) {}

  async set(name: string, value: string, opts: SetOptions = {}): Promise<SetResult> {
    parseSecretName(name);
    const warnings: string[] = [];
    if (value.length < MIN_REDACTABLE_LENGTH) {
      warnings.push(
        `${name} is ${value.length} characters long; keyward run cannot reliably scrub values shorter than ${MIN_REDACTABLE_LENGTH} characters from server output`,
      );
    }
    return this.logged(
      "write",
      name,
      value,
      async () => {
        const existing = await this.session.store.get(name);
        if (existing === undefined) {
          const metadata = this.metadataFor(name, undefined, opts);
          if ((opts.stage ?? "current") === "current") {
            // One write: a crash cannot leave a secret without a value.
            const record = await this.session.store.create(name, metadata, value);
            return { record, version: record.versions[0]!.version, created: true, warnings };
          }
          const record = await this.session.store.create(name, metadata);
          const put = await this.session.store.putVersion(name, value, {
            expectedRevision: record.revision,
            stages: [opts.stage ?? "current"],
          });
          return { record: put.record, version: put.version.version, created: true, warnings };
        }
        let revision = existing.revision;
        if (hasMetadataChange(opts)) {
          const updated = await this.session.store.updateMetadata(
            name,
            this.metadataFor(name, existing.metadata, opts),
            revision,
          );
          revision = updated.revision;
        }
        const put = await this.session.store.putVersion(name, value, {
          expectedRevision: revision,
          stages: [opts.stage ?? "current"],
        });
        return { record: put.record, version: put.version.version, created: false, warnings };
      },
      (r) => r.version,
    );
  }

  async get(name: string, selector?: VersionSelector): Promise<ReadResult> {
    parseSecretName(name);
    return this.logged(
      "read",
      name,
      undefined,
      () => this.session.store.read(name, selector),
      (r) => r.version.version,
      (r) => r.value,
    );
  }

  async describe(name: string): Promise<SecretRecord> {
    parseSecretName(name);
    const record = await this.session.store.get(name);
    if (record === undefined) throw notFound(name);
    return record;
  }

  list(prefix?: string): Promise<SecretRecord[]> {
    return this.session.store.list(prefix);
  }

  /** Disables or enables a version (default: the current one). */
  async setState(
    name: string,
    state: "enabled" | "disabled",
    version?: number,
  ): Promise<VersionInfo> {
    const record = await this.describe(name);
    const target = version ?? currentOrThrow(record).version;
    const action: AccessAction = state === "enabled" ? "enable" : "disable";
    const updated = await this.logged(
      action,
      name,
      undefined,
      () =>
        this.session.store.setVersionState(name, target, state, {
          expectedRevision: record.revision,
        }),
      () => target,
    );
    return updated.versions.find((v) => v.version === target)!;
  }

  /** Destroys one version for good, or with no version deletes the whole secret. */
  async remove(name: string, version?: number): Promise<void> {
    const record = await this.describe(name);
    if (version === undefined) {
      await this.logged("delete", name, undefined, () =>
        this.session.store.delete(name, record.revision),
      );
      return;
    }
    await this.logged(
      "destroy",
      name,
      undefined,
      () => this.session.store.destroyVersion(name, version, record.revision),
      () => version,
    );
  }

  history(name: string): LogEntry[] {
    return this.session.log.query({ secret: name });
  }

  private metadataFor(
    name: string,
    base: SecretMetadata | undefined,
    opts: SetOptions,
  ): SecretMetadata {
    const declared = this.session.config?.secretDecl(name);
    const sensitivity =
      opts.sensitivity ?? base?.sensitivity ?? declared?.sensitivity ?? "standard";
    const defaults = defaultMetadata(sensitivity);
    const ttlSeconds =
      opts.ttlSeconds ??
      (opts.sensitivity && !declared ? defaults.rotation.ttlSeconds : undefined) ??
      base?.rotation.ttlSeconds ??
      declared?.rotation.ttlSeconds ??
      defaults.rotation.ttlSeconds;
    const graceSeconds = base?.rotation.graceSeconds ?? declared?.rotation.graceSeconds;
    return {
      ...defaults,
      ...base,
      sensitivity,
      scope: opts.scope ?? base?.scope ?? declared?.scope ?? [],
      rotation: graceSeconds === undefined ? { ttlSeconds } : { ttlSeconds, graceSeconds },
      tags: { ...(declared?.tags ?? {}), ...(base?.tags ?? {}), ...(opts.tags ?? {}) },
      ...optional("provider", opts.provider ?? base?.provider ?? declared?.provider),
      ...optional("owner", opts.owner ?? base?.owner ?? declared?.owner),
      ...optional("description", opts.description ?? base?.description ?? declared?.description),
    };
  }

  /** Runs a store operation and appends its outcome to the access log, whether it worked or not. */
  private async logged<T>(
    action: AccessAction,
    secret: string,
    value: string | undefined,
    run: () => Promise<T>,
    versionOf: (result: T) => number | undefined = () => undefined,
    servedValueOf: (result: T) => string | undefined = () => value,
  ): Promise<T> {
    try {
      const result = await run();
      const version = versionOf(result);
      const served = servedValueOf(result);
      this.session.log.append({
        actor: this.session.actor,
        action,
        secret,
        outcome: "ok",
        ...(version === undefined ? {} : { version }),
        ...(served === undefined ? {} : { value: served }),
      });
      return result;
    } catch (e) {
      const denied =
        isKeywardError(e) &&
        ["disabled", "destroyed", "refused", "conflict", "not_found"].includes(e.code);
      this.session.log.append({
        actor: this.session.actor,
        action,
        secret,
        outcome: denied ? "denied" : "error",
        detail: isKeywardError(e) ? e.code : "internal error",
      });
      throw e;
    }
  }
}

function hasMetadataChange(opts: SetOptions): boolean {
  return (
    opts.sensitivity !== undefined ||
    opts.scope !== undefined ||
    opts.provider !== undefined ||
    opts.owner !== undefined ||
    opts.description !== undefined ||
    opts.tags !== undefined ||
    opts.ttlSeconds !== undefined
  );
}

function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return (value === undefined ? {} : { [key]: value }) as { [P in K]?: V };
}

function notFound(name: string): KeywardError {
  return new KeywardError(
    "not_found",
    `no secret named ${name}`,
    "`keyward secret ls` lists the secrets in this store",
  );
}

function currentOrThrow(record: SecretRecord): VersionInfo {
  const current = record.versions.find((v) => v.stages.includes("current"));
  if (!current) {
    throw new KeywardError(
      "not_found",
      `${record.name} has no current version`,
      "name one with --version",
    );
  }
  return current;
}
