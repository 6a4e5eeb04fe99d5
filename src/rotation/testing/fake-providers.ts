/**
 * Fake providers of each rotation kind, for the rotation tests. The "upstream" they talk to is
 * a JSON file, so it outlives a process killed mid-rotation, and every call is recorded there
 * together with the value the store held as current at that moment. The values are test
 * fixtures (`api-key-3`), not secrets.
 *
 * - api: the key replaces itself by API; the old one stays live until revoked.
 * - mint: a GitHub-App-style installation token, minted with the App's private key (companion
 *   `privateKey`); each rotation is a new token.
 * - refresh: Slack-style token rotation: the single-use refresh token (companion `refreshToken`)
 *   is spent by each rotation, which returns a new access token and a new refresh token.
 * - manual: a PAT-style key with no rotation API, only manual steps.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { KeywardError } from "../../core/errors.js";
import type { Provider, ProviderInfo } from "../../providers/types.js";

export const FAKE_KINDS = ["api", "mint", "refresh", "manual"] as const;
export type FakeKind = (typeof FAKE_KINDS)[number];

export type KeyState = "live" | "revoked" | "spent";

export interface FakeCall {
  op: "rotate" | "verify" | "revoke";
  /** The value the call was made with. */
  value: string;
  /** For rotate: the new value returned. */
  result?: string;
  /** The secret's current value in the store when the call ran, and its upstream state then. */
  storeCurrent?: string;
  storeCurrentState?: KeyState;
}

interface UpstreamState {
  counter: number;
  keys: Record<string, KeyState>;
  calls: FakeCall[];
}

/** The fake upstream's state, in a file written atomically (write, then rename). */
export class FakeUpstream {
  constructor(readonly path: string) {}

  state(): UpstreamState {
    if (!existsSync(this.path)) return { counter: 0, keys: {}, calls: [] };
    return JSON.parse(readFileSync(this.path, "utf8")) as UpstreamState;
  }

  update<T>(change: (state: UpstreamState) => T): T {
    const state = this.state();
    const result = change(state);
    writeFileSync(`${this.path}.tmp`, JSON.stringify(state));
    renameSync(`${this.path}.tmp`, this.path);
    return result;
  }

  issue(prefix: string): string {
    return this.update((state) => {
      state.counter++;
      const value = `${prefix}-${state.counter}`;
      state.keys[value] = "live";
      return value;
    });
  }

  stateOf(value: string): KeyState | undefined {
    return this.state().keys[value];
  }

  calls(): FakeCall[] {
    return this.state().calls;
  }
}

export interface FakeOptions {
  upstream: FakeUpstream;
  /** Reads the store's current value; recorded with every call. */
  storeCurrent?: () => Promise<string | undefined>;
  /** How verify answers: by the key's state (default), always rejecting, or throwing. */
  verify?: "by-state" | "reject" | "throw";
  /** Makes rotate throw this error code (upstream_unavailable: transient; refused: permanent). */
  rotateError?: "upstream_unavailable" | "refused";
  /** revoke answers revoked: false. */
  revokeUnconfirmed?: boolean;
}

/** The first credentials of a fake secret: its value and the companions it needs. */
export function seedFake(
  kind: FakeKind,
  upstream: FakeUpstream,
): { value: string; companions: Record<string, string> } {
  const value = upstream.issue(`${kind}-key`);
  if (kind === "mint")
    return { value, companions: { privateKey: upstream.issue("app-private-key") } };
  if (kind === "refresh")
    return { value, companions: { refreshToken: upstream.issue("refresh-token") } };
  return { value, companions: {} };
}

const yes = { level: "yes" } as const;
const no = { level: "no" } as const;

export function fakeProvider(kind: FakeKind, opts: FakeOptions): Provider {
  const { upstream } = opts;
  const record = async (call: FakeCall) => {
    const current = await opts.storeCurrent?.();
    upstream.update((state) => {
      if (current !== undefined) {
        call.storeCurrent = current;
        const known = state.keys[current];
        if (known !== undefined) call.storeCurrentState = known;
      }
      state.calls.push(call);
    });
  };
  const requireLive = (value: string | undefined, what: string) => {
    if (value === undefined || upstream.stateOf(value) !== "live") {
      throw new KeywardError("upstream_unauthorized", `the fake upstream rejected the ${what}`);
    }
  };
  const info: ProviderInfo = {
    id: `fake-${kind}`,
    title: `Fake ${kind}`,
    capabilities: {
      [kind]: {
        verify: yes,
        rotate: kind === "manual" ? no : yes,
        revoke: yes,
      },
    },
  };
  if (kind === "manual") {
    info.manualRotation = [
      "Open the fake token settings page and create a new token.",
      "Store it: keyward secret set <name> (value on stdin).",
      "Revoke the old token on the same page.",
    ];
  }
  const provider: Provider = {
    info,
    identify: (value) => (value.startsWith(`${kind}-key-`) ? { kind } : undefined),
    async verify(cred) {
      await record({ op: "verify", value: cred.value });
      if (opts.verify === "throw") {
        throw new KeywardError("upstream_unavailable", "the fake upstream is down");
      }
      if (opts.verify === "reject") return { ok: false, detail: "invalid_auth" };
      return { ok: upstream.stateOf(cred.value) === "live" };
    },
    async revoke(cred) {
      await record({ op: "revoke", value: cred.value });
      if (opts.revokeUnconfirmed) return { revoked: false, detail: "not confirmed" };
      upstream.update((state) => {
        state.keys[cred.value] = "revoked";
      });
      return { revoked: true };
    },
  };
  if (kind === "manual") return provider;
  provider.rotate = async (cred, ctx) => {
    if (opts.rotateError !== undefined) {
      await record({ op: "rotate", value: cred.value });
      throw new KeywardError(opts.rotateError, `the fake upstream refused to rotate ${cred.name}`);
    }
    if (kind === "api") requireLive(cred.value, "key");
    if (kind === "mint") requireLive(cred.companions?.privateKey, "App private key");
    if (kind === "refresh") {
      const refreshToken = cred.companions?.refreshToken;
      requireLive(refreshToken, "refresh token");
      upstream.update((state) => {
        state.keys[refreshToken as string] = "spent";
      });
    }
    const value = upstream.issue(`${kind}-key`);
    await record({ op: "rotate", value: cred.value, result: value });
    const hours = kind === "refresh" ? 12 : 1;
    const expiresAt = new Date(ctx.now().getTime() + hours * 3600_000).toISOString();
    if (kind === "refresh") {
      return { value, companions: { refreshToken: upstream.issue("refresh-token") }, expiresAt };
    }
    return kind === "mint" ? { value, expiresAt } : { value };
  };
  return provider;
}
