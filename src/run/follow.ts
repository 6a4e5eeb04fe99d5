import type { ProfileConfig } from "../config/schema.js";
import { currentVersion } from "../core/types.js";
import type { Session } from "../secrets/session.js";
import { type InjectedSecret, readProfileSecrets } from "./plan.js";

export type SecretChange =
  | { kind: "rotated"; secrets: InjectedSecret[]; changed: string[] }
  | { kind: "revoked"; secret: string; reason: string };

/**
 * Follows the store for one running profile: when a secret gets a new current version the
 * server is restarted with it; when the current version is disabled, compromised or gone and
 * nothing replaces it, the server is stopped. Polling reads only metadata (no value, so no
 * access-log entry) and costs one indexed SQLite query per secret per tick.
 * (The daemon's control socket and PostgreSQL LISTEN/NOTIFY will push changes instead.)
 */
export class StoreFollower {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private stopped = false;

  constructor(
    private readonly session: Session,
    private readonly config: ProfileConfig,
    private injected: InjectedSecret[],
    private readonly intervalMs: number,
  ) {}

  start(onChange: (change: SecretChange) => Promise<void>, onError: (e: unknown) => void): void {
    const tick = async () => {
      if (this.busy || this.stopped) return;
      this.busy = true;
      try {
        const change = await this.check();
        if (change && !this.stopped) {
          if (change.kind === "rotated") this.injected = change.secrets;
          else this.stopped = true;
          await onChange(change);
        }
      } catch (e) {
        onError(e);
      } finally {
        this.busy = false;
      }
    };
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
  }

  /** What changed since the values now injected, if anything. */
  async check(): Promise<SecretChange | undefined> {
    const changed: string[] = [];
    for (const s of this.injected) {
      const record = await this.session.store.get(s.name);
      if (record === undefined)
        return { kind: "revoked", secret: s.name, reason: `${s.name} was deleted` };
      const current = currentVersion(record);
      if (current === undefined || current.state !== "enabled") {
        const why = current?.compromised
          ? "marked compromised"
          : current
            ? `version ${current.version} ${current.state}`
            : "has no current version";
        return { kind: "revoked", secret: s.name, reason: `${s.name} ${why}` };
      }
      if (current.version !== s.version) changed.push(s.name);
    }
    if (changed.length === 0) return undefined;
    return {
      kind: "rotated",
      secrets: await readProfileSecrets(this.session, this.config),
      changed,
    };
  }
}
