/**
 * A token minted for one `keyward run` session (a profile's `mint:`): narrowed to the profile's
 * permissions and repositories, put in the server's environment instead of a stored key,
 * minted again before it expires, and revoked when the session ends. For GitHub it is an App
 * installation token (providers.md §1.5: one hour, narrowed at mint; revoked with
 * DELETE /installation/token), minted with the App's private key read from the store.
 *
 * Every mint is a "launch" entry in the access log and every revocation a "revoke" entry, each
 * with the token's HMAC (so `keyward log` can tell which session a leaked token came from),
 * never the token.
 */
import type { MintConfig } from "../config/schema.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { requireProvider } from "../providers/registry.js";
import type { Minted, ProviderContext, RetryPolicy } from "../providers/types.js";
import { SecretService } from "../secrets/service.js";
import type { Session } from "../secrets/session.js";

/** A fresh token is minted this long before the current one expires. */
export const RENEW_BEFORE_MS = 5 * 60_000;
/** After a failed renewal, the next attempt waits this long. */
export const RENEW_RETRY_MS = 60_000;
/** setTimeout's longest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export interface SessionTokenDeps {
  fetch: typeof fetch;
  timeoutMs: number;
  now: () => Date;
  retry?: RetryPolicy;
  renewBeforeMs?: number;
  retryMs?: number;
}

export class SessionToken {
  /** The name the token is redacted and reported as: `minted/<profile>`. */
  readonly label: string;
  readonly envVar: string;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** The renewal running now, if any: `end()` waits for it. */
  private renewing: Promise<void> | undefined;

  private constructor(
    private readonly session: Session,
    private readonly profile: string,
    private readonly spec: MintConfig,
    private readonly deps: SessionTokenDeps,
    private minted: Minted,
  ) {
    this.label = `minted/${profile}`;
    this.envVar = spec.envVar;
  }

  /** Mints the session's first token; a failure refuses the launch (there is no key to fall back to). */
  static async mint(
    session: Session,
    profile: string,
    spec: MintConfig,
    deps: SessionTokenDeps,
  ): Promise<SessionToken> {
    const minted = await mintOnce(session, profile, spec, deps);
    return new SessionToken(session, profile, spec, deps, minted);
  }

  /** The token now in the server's environment: never print or log it. */
  get value(): string {
    return this.minted.value;
  }

  get expiresAt(): string | undefined {
    return this.minted.expiresAt;
  }

  /**
   * Mints a fresh token before the current one expires and hands it to `onRenewed` (which
   * restarts the server with it); the old one is revoked afterwards. A failed mint is reported
   * to `onError` and tried again after a minute; the server keeps the old token meanwhile.
   */
  startRenewal(onRenewed: (value: string) => Promise<void>, onError: (e: unknown) => void): void {
    const renew = async () => {
      try {
        await renewOnce();
      } catch (e) {
        onError(e);
      }
    };
    const renewOnce = async () => {
      if (this.stopped) return;
      let fresh: Minted;
      try {
        fresh = await mintOnce(this.session, this.profile, this.spec, this.deps);
      } catch (e) {
        onError(e);
        this.schedule(renew, this.deps.retryMs ?? RENEW_RETRY_MS);
        return;
      }
      if (this.stopped) {
        await this.revokeValue(fresh.value);
        return;
      }
      const old = this.minted;
      this.minted = fresh;
      try {
        await onRenewed(fresh.value);
      } catch (e) {
        onError(e);
      }
      const revoked = await this.revokeValue(old.value);
      if (!revoked.revoked) onError(new KeywardError("upstream_rejected", revoked.detail));
      this.scheduleRenewal(renew);
    };
    this.scheduleRenewal(renew);
  }

  /** Stops renewing and revokes the token in use; best effort, logged, never throws. */
  async end(): Promise<{ revoked: boolean; detail: string }> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    // A renewal under way finishes first: it revokes the token it replaced (or the one it just
    // minted) and logs that, which must happen before the caller closes the session.
    await this.renewing;
    return this.revokeValue(this.minted.value);
  }

  private scheduleRenewal(renew: () => Promise<void>): void {
    if (this.minted.expiresAt === undefined) return;
    const due =
      Date.parse(this.minted.expiresAt) -
      this.deps.now().getTime() -
      (this.deps.renewBeforeMs ?? RENEW_BEFORE_MS);
    this.schedule(renew, Math.max(0, due));
  }

  private schedule(renew: () => Promise<void>, ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(
      () => {
        const run: Promise<void> = renew().finally(() => {
          if (this.renewing === run) this.renewing = undefined;
        });
        this.renewing = run;
      },
      Math.min(ms, MAX_TIMER_MS),
    );
    // The proxy keeps the process alive while the session lasts; a pending renewal must not.
    this.timer.unref();
  }

  private async revokeValue(value: string): Promise<{ revoked: boolean; detail: string }> {
    const about = `the token minted for ${this.envVar} of profile ${this.profile} from ${this.spec.privateKey}`;
    try {
      const provider = requireProvider(this.spec.provider);
      if (!provider.revoke) {
        throw new KeywardError("refused", `the ${this.spec.provider} provider cannot revoke`);
      }
      const result = await provider.revoke(
        { name: this.label, value },
        providerContext(this.session, this.spec, this.deps),
      );
      const detail = `${about}: ${result.detail ?? (result.revoked ? "revoked" : "not revoked")}`;
      this.session.log.append({
        actor: this.session.actor,
        action: "revoke",
        outcome: result.revoked ? "ok" : "error",
        detail,
        value,
      });
      return { revoked: result.revoked, detail };
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      const detail = `${about}: ${e.message}; it expires on its own at ${this.minted.expiresAt ?? "an unknown time"}`;
      this.session.log.append({
        actor: this.session.actor,
        action: "revoke",
        outcome: "error",
        detail: `${about}: ${e.code}`,
        value,
      });
      return { revoked: false, detail };
    }
  }
}

async function mintOnce(
  session: Session,
  profile: string,
  spec: MintConfig,
  deps: SessionTokenDeps,
): Promise<Minted> {
  try {
    const provider = requireProvider(spec.provider);
    if (!provider.mint) {
      throw new KeywardError(
        "refused",
        `the ${spec.provider} provider cannot mint tokens`,
        "keyward providers shows which providers mint; remove mint: from the profile",
      );
    }
    // Read (and logged with the profile as actor) at every mint, so a rotated App key is used
    // and a disabled one stops the minting.
    const appKey = await new SecretService(session).get(spec.privateKey);
    const minted = await provider.mint(
      { name: spec.privateKey, value: "", companions: { privateKey: appKey.value } },
      {
        scope: spec.permissions,
        ...(spec.repositories ? { resources: spec.repositories } : {}),
      },
      providerContext(session, spec, deps),
    );
    session.log.append({
      actor: session.actor,
      action: "launch",
      outcome: "ok",
      detail: `minted a ${spec.provider} token for ${spec.envVar} of profile ${profile} from ${spec.privateKey}: ${minted.scope.join(",") || spec.permissions.join(",")}${spec.repositories ? ` on ${spec.repositories.join(",")}` : ""}${minted.expiresAt ? `; expires ${minted.expiresAt}` : ""}`,
      value: minted.value,
    });
    return minted;
  } catch (e) {
    if (isKeywardError(e)) {
      session.log.append({
        actor: session.actor,
        action: "launch",
        outcome: "error",
        detail: `minting a ${spec.provider} token for ${spec.envVar} of profile ${profile}: ${e.code}`,
      });
    }
    throw e;
  }
}

function providerContext(
  session: Session,
  spec: MintConfig,
  deps: SessionTokenDeps,
): ProviderContext {
  return {
    settings: session.config?.config.providers?.[spec.provider] ?? {},
    fetch: deps.fetch,
    timeoutMs: deps.timeoutMs,
    now: deps.now,
    ...(deps.retry ? { retry: deps.retry } : {}),
  };
}
