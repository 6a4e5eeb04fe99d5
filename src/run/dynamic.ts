/**
 * Vault dynamic secrets in `keyward run`: a profile env entry `{ vaultDynamic: <path>, field }`.
 * Each path is read once per credential (variables naming the same path share the read and its
 * lease), each read is logged with the profile as actor, the lease is renewed at two thirds of
 * its life, and once it cannot be renewed any more a new credential is read and handed to the
 * caller, which restarts the server with it. `end()` revokes every lease (sync).
 */
import { type ProfileConfig, vaultDynamicEnv } from "../config/schema.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import type { Session } from "../secrets/session.js";
import { renewAt, type VaultLease, type VaultLeases } from "../store/vault-leases.js";
import type { InjectedSecret } from "./plan.js";

/** How long to wait before trying again to read a credential that could not be replaced. */
const RETRY_MS = 5000;

interface HeldPath {
  path: string;
  vars: Array<{ envVar: string; field: string }>;
  secrets: InjectedSecret[];
  lease: VaultLease | undefined;
  /** The duration of the first lease: what each renewal asks for. */
  increment: number;
  /** Vault granted less than asked (its max TTL is near): replace at the next due time. */
  lastPeriod: boolean;
  reads: number;
  timer: NodeJS.Timeout | undefined;
}

/** The name a dynamic value goes by in redaction markers, the access log and KEYWARD_SECRET_MAP. */
export function dynamicSecretName(path: string, field: string): string {
  return `vault/${path}/${field}`;
}

export class DynamicSecrets {
  private ended = false;
  private readonly inflight = new Set<Promise<unknown>>();
  private onReplaced: (path: string, secrets: InjectedSecret[]) => Promise<void> = async () => {};
  private onError: (text: string) => void = () => {};

  private constructor(
    private readonly session: Session,
    private readonly leases: VaultLeases,
    private readonly held: HeldPath[],
  ) {}

  /**
   * Reads the profile's dynamic secrets, or returns undefined when it has none. A failed read
   * revokes the leases already taken and throws.
   */
  static async open(
    session: Session,
    profile: string,
    config: ProfileConfig,
  ): Promise<DynamicSecrets | undefined> {
    const uses = vaultDynamicEnv(config);
    if (uses.length === 0) return undefined;
    // The config refuses this for another backend; this catches a store opened some other way.
    const store = session.store as { leases?: () => VaultLeases };
    if (typeof store.leases !== "function") {
      throw new KeywardError(
        "config_invalid",
        `profile ${profile} names a Vault dynamic secret, but the store is not Vault`,
        "set store: { backend: vault } in the config, or name a secret in the store",
      );
    }
    const byPath = new Map<string, HeldPath>();
    for (const [envVar, { vaultDynamic: path, field }] of uses) {
      const held = byPath.get(path) ?? {
        path,
        vars: [],
        secrets: [],
        lease: undefined,
        increment: 0,
        lastPeriod: false,
        reads: 0,
        timer: undefined,
      };
      held.vars.push({ envVar, field });
      byPath.set(path, held);
    }
    const dynamic = new DynamicSecrets(session, store.leases(), [...byPath.values()]);
    try {
      for (const held of dynamic.held) await dynamic.read(held);
    } catch (e) {
      await dynamic.end();
      throw e;
    }
    return dynamic;
  }

  /** The values injected now. */
  get secrets(): InjectedSecret[] {
    return this.held.flatMap((h) => h.secrets);
  }

  /**
   * Starts renewing. `onReplaced` gets a path's new values once its lease could not be renewed
   * (the old lease is revoked after it returns); `onError` gets what went wrong, without values.
   */
  start(
    onReplaced: (path: string, secrets: InjectedSecret[]) => Promise<void>,
    onError: (text: string) => void,
  ): void {
    this.onReplaced = onReplaced;
    this.onError = onError;
    for (const held of this.held) this.schedule(held, dueIn(held.lease));
  }

  /** Stops renewing and revokes every lease; returns what could not be revoked. */
  async end(): Promise<string[]> {
    this.ended = true;
    for (const held of this.held) clearTimeout(held.timer);
    await Promise.allSettled([...this.inflight]);
    const failures = await Promise.all(
      this.held.map(async (held) => {
        const lease = held.lease;
        held.lease = undefined;
        return lease === undefined ? undefined : this.revoke(held.path, lease);
      }),
    );
    return failures.filter((f): f is string => f !== undefined);
  }

  /** Reads a new credential for the path and logs the read of each field. */
  private async read(held: HeldPath): Promise<void> {
    const { data, lease } = await this.leases.read(held.path);
    const secrets: InjectedSecret[] = [];
    for (const { envVar, field } of held.vars) {
      const value = data[field];
      if ((typeof value !== "string" && typeof value !== "number") || String(value) === "") {
        // A credential nobody will use should not outlive this error.
        if (lease) await this.leases.revoke(lease.leaseId).catch(() => {});
        throw new KeywardError(
          "not_found",
          `Vault's answer for ${held.path} has no field ${field} (fields: ${Object.keys(data).join(", ") || "none"})`,
          `change field: of ${envVar} to one of those`,
        );
      }
      secrets.push({
        name: dynamicSecretName(held.path, field),
        envVar,
        version: held.reads + 1,
        value: String(value),
      });
    }
    held.reads += 1;
    held.secrets = secrets;
    held.lease = lease;
    held.lastPeriod = false;
    if (lease && held.increment === 0) held.increment = lease.leaseDuration;
    for (const s of secrets) {
      this.session.log.append({
        actor: this.session.actor,
        action: "read",
        secret: s.name,
        outcome: "ok",
        detail: `Vault dynamic secret ${held.path} for ${s.envVar}${lease ? `; lease ${lease.leaseId}, ${lease.leaseDuration}s${lease.renewable ? ", renewable" : ""}` : "; no lease"}`,
        // HMACed only: `keyward log` can then tell which session a leaked credential came from.
        value: s.value,
      });
    }
  }

  private schedule(held: HeldPath, ms: number | undefined): void {
    if (this.ended || ms === undefined) return;
    held.timer = setTimeout(() => this.track(this.due(held)), ms);
    held.timer.unref();
  }

  private track(work: Promise<void>): void {
    const settled = work.catch((e) => this.onError(message(e)));
    this.inflight.add(settled);
    void settled.finally(() => this.inflight.delete(settled));
  }

  /** Renews the lease, or replaces the credential when it cannot be renewed any more. */
  private async due(held: HeldPath): Promise<void> {
    const lease = held.lease;
    if (this.ended || lease === undefined) return;
    if (lease.renewable && !held.lastPeriod) {
      try {
        const renewed = await this.leases.renew(lease.leaseId, held.increment);
        held.lease = renewed;
        // Vault grants less than asked once the lease nears its max TTL.
        held.lastPeriod = !renewed.renewable || renewed.leaseDuration < held.increment;
        if (renewed.leaseDuration > 0) {
          this.schedule(held, dueIn(renewed));
          return;
        }
        // Nothing granted: the credential ends now.
      } catch (e) {
        this.onError(
          `could not renew the Vault lease ${lease.leaseId} (${message(e)}); reading a new credential`,
        );
      }
    }
    await this.replace(held, lease);
  }

  private async replace(held: HeldPath, old: VaultLease): Promise<void> {
    try {
      await this.read(held);
    } catch (e) {
      this.onError(
        `could not read a new credential from ${held.path} (${message(e)}); trying again in ${RETRY_MS / 1000}s`,
      );
      held.timer = setTimeout(() => this.track(this.replace(held, old)), RETRY_MS);
      held.timer.unref();
      return;
    }
    if (this.ended) return;
    try {
      await this.onReplaced(held.path, held.secrets);
    } finally {
      // The server now holds the new credential: the old one serves nobody.
      const failure = await this.revoke(held.path, old);
      if (failure) this.onError(`could not revoke ${failure}`);
      this.schedule(held, dueIn(held.lease));
    }
  }

  /** Revokes a lease (sync), logging it; returns what to tell the user if it failed. */
  private async revoke(path: string, lease: VaultLease): Promise<string | undefined> {
    try {
      await this.leases.revoke(lease.leaseId);
      this.session.log.append({
        actor: this.session.actor,
        action: "revoke",
        outcome: "ok",
        detail: `Vault lease ${lease.leaseId} of ${path}`,
      });
      return undefined;
    } catch (e) {
      this.session.log.append({
        actor: this.session.actor,
        action: "revoke",
        outcome: "error",
        detail: `Vault lease ${lease.leaseId} of ${path}: ${isKeywardError(e) ? e.code : "error"}`,
      });
      return `the Vault lease ${lease.leaseId} (${message(e)}); it ends by itself at ${lease.expiresAt}, or run: vault lease revoke ${lease.leaseId}`;
    }
  }
}

/**
 * Milliseconds until a lease is due (renewal or replacement); undefined without a lease or for
 * one without an end (duration 0), which would otherwise be replaced over and over.
 */
function dueIn(lease: VaultLease | undefined): number | undefined {
  if (lease === undefined || lease.leaseDuration === 0) return undefined;
  return Math.max(0, renewAt(lease).getTime() - Date.now());
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
