/**
 * A provider is keyward's view of the upstream that issued a key (GitHub, Slack, Atlassian, an
 * internal API). Each declares honestly what it can do: `keyward providers` prints the matrix, so
 * a user knows what "rotate every 90 days" can mean for each key. One folder per provider
 * (src/providers/<id>/), found through src/providers/registry.ts, all running the conformance
 * suite in src/providers/conformance.ts.
 */

export type Capability =
  | "identify" // token type and owner
  | "introspect-scope" // what the key may do
  | "introspect-expiry" // when it expires upstream
  | "verify" // does the key work (a cheap authenticated call)
  | "mint" // short-lived, narrowed credentials
  | "rotate" // replace the key by API (the four-step rotation's "set upstream")
  | "revoke"; // invalidate at the source

export const CAPABILITIES: readonly Capability[] = [
  "identify",
  "introspect-scope",
  "introspect-expiry",
  "verify",
  "mint",
  "rotate",
  "revoke",
];

/** How well a provider supports a capability, per key kind: "yes", "no", or a short caveat. */
export type Support = { level: "yes" | "partial" | "no"; note?: string };

export interface ProviderInfo {
  id: string;
  title: string;
  /** Capability support, per token kind where it differs (e.g. github: classic PAT vs App). */
  capabilities: Record<string, Partial<Record<Capability, Support>>>;
  /** For keys that cannot be rotated by API: the exact manual steps, shown in reminders. */
  manualRotation?: string[];
}

export interface Identity {
  /** Token kind as the provider names it, e.g. "classic-pat", "fine-grained-pat", "installation", "bot". */
  kind: string;
  owner?: string;
  /** Whether an offline check (checksum, structure) passed. */
  formatValid?: boolean;
}

export interface ScopeReport {
  /** The scopes (or permissions `perm=level`) the key carries, normalised by the provider. */
  granted: string[];
  /** True when the provider cannot list a key's scopes (e.g. fine-grained PATs): `granted` is then what could be learnt. */
  partial: boolean;
  expiresAt?: string;
  /** Endpoints probed to learn a partial scope, and what each answered (see ScopeProbe). */
  probes?: ScopeProbe[];
}

/**
 * One endpoint called to learn what a key may do, when the upstream cannot list it (GitHub
 * fine-grained PATs): the endpoint's accepted permission sets (any one set suffices) and whether
 * the key got through. A denied probe's `accepted` is what the key would need.
 */
export interface ScopeProbe {
  /** Method and path, e.g. "GET /repos/acme/api/issues". */
  endpoint: string;
  /** allowed: 2xx; denied: 403 for a missing permission; hidden: 404 (no access to a private resource, or it does not exist). */
  outcome: "allowed" | "denied" | "hidden";
  /** Alternative permission sets the endpoint accepts, each a list of `perm=level`. */
  accepted: string[][];
}

export interface MintRequest {
  /** What the minted credential may do (scopes or `perm=level`), narrowed from the parent key. */
  scope: string[];
  /** Resources to narrow to (e.g. repository names). */
  resources?: string[];
  ttlSeconds?: number;
}

export interface Minted {
  value: string;
  expiresAt?: string;
  scope: string[];
}

/** The secrets a call may use: the key itself and, for some providers, companions (App private key, refresh token). */
export interface ProviderCredential {
  name: string;
  value: string;
  /** Other secrets the provider config names, already read from the store (e.g. { privateKey, refreshToken }). */
  companions?: Record<string, string>;
}

export interface ProviderContext {
  /** Provider settings from the config (API base URL for GitHub Enterprise, http/command definitions). */
  settings: Record<string, unknown>;
  /** fetch, injectable so tests point providers at a local server; never used off-machine in tests. */
  fetch: typeof fetch;
  /** Milliseconds before a provider call is abandoned. */
  timeoutMs: number;
  now: () => Date;
  /** Retries on 429 / rate-limit 403 / 5xx (src/providers/http-client.ts); default DEFAULT_RETRY there. */
  retry?: RetryPolicy;
  /** Waits between retries; injectable so tests count attempts without waiting. Default: a real timer. */
  sleep?: (ms: number) => Promise<void>;
}

export interface RetryPolicy {
  /** Total attempts, the first included (1 = no retry). */
  attempts: number;
  /** First back-off delay; doubled per attempt, with jitter, up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** Longest wait an upstream may ask for (Retry-After, rate-limit reset) before keyward gives up instead. */
  maxWaitMs: number;
}

/**
 * Every method may throw a KeywardError (never containing the value); a provider that lacks a
 * capability throws KeywardError("refused") naming the capability and what to do instead.
 */
export interface Provider {
  info: ProviderInfo;
  /** Offline: does this value look like this provider's key, and which kind? */
  identify(value: string): Identity | undefined;
  introspect?(cred: ProviderCredential, ctx: ProviderContext): Promise<ScopeReport>;
  verify?(
    cred: ProviderCredential,
    ctx: ProviderContext,
  ): Promise<{ ok: boolean; identity?: Identity; detail?: string }>;
  mint?(cred: ProviderCredential, request: MintRequest, ctx: ProviderContext): Promise<Minted>;
  /** Rotation by API: returns the new value (and new companions, stored in one atomic write). */
  rotate?(
    cred: ProviderCredential,
    ctx: ProviderContext,
  ): Promise<{ value: string; companions?: Record<string, string>; expiresAt?: string }>;
  revoke?(
    cred: ProviderCredential,
    ctx: ProviderContext,
  ): Promise<{ revoked: boolean; detail?: string }>;
}
