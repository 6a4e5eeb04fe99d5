import type { z } from "zod";
import type { Envelope, KeyHeader } from "../crypto/envelope.js";
import type { SecretStore } from "./types.js";

/**
 * What opening a backend may use. Backends that encrypt on the client (sqlite, postgres) keep a
 * key header beside their data and call `unlock` with it; managers that encrypt server-side
 * (Vault, AWS, GCP) never see keyward's master key.
 */
export interface BackendContext {
  home: string;
  env: NodeJS.ProcessEnv;
  unlock: (header: KeyHeader) => Promise<Envelope>;
}

/** How a backend authenticates and where its own audit trail is, as `keyward status` shows it. */
export interface BackendFacts {
  /** e.g. "AppRole (role id from VAULT_ROLE_ID)", "SDK default chain: web identity", "key file". */
  auth: string;
  /** e.g. "Vault audit devices", "CloudTrail", "Cloud Audit Logs (Data Access off by default)". */
  audit: string;
  /**
   * The guide's table: hardcoded CRITICAL, environment variables MEDIUM, secrets managers A.
   * keyward's own encrypted stores grade A too only with a hash-chained access log beside them.
   */
  grade: "A" | "B" | "MEDIUM" | "CRITICAL";
  /** Why this grade, in a sentence (shown by status). */
  why?: string;
}

/**
 * A client-side store (sqlite, postgres) grades B because its master key sits on the host; once a
 * KMS keeps the key, opening the store is authorised and audited by that KMS, as with a manager.
 */
export function withKeyCustody(facts: BackendFacts, header: KeyHeader): BackendFacts {
  if (header.wrapped === undefined || facts.grade !== "B") return facts;
  return {
    ...facts,
    grade: "A",
    why: `the store holds only ciphertext and the master key is kept encrypted by ${header.wrapped.source}, which authorises and audits every open`,
  };
}

/**
 * One storage backend, found through src/store/backends.ts. `options` is the schema of the
 * config's `store:` section for this backend (without `backend:`), so a typo in it is reported
 * with file, line and fix like every other config error; a backend without options (sqlite)
 * leaves it out, so that opening it without a config file does not load zod.
 */
export interface StoreBackend<Options = unknown> {
  readonly name: string;
  /**
   * Several homes share the store (postgres team mode): `keyward init` on another host joins a
   * store that already has a key header, with the master key that opens it.
   */
  readonly shared?: boolean;
  readonly options?: z.ZodType<Options>;
  /**
   * `keyward init` for backends that encrypt on the client: stores the new key header beside the
   * data (refusing if one is there). Managers that encrypt server-side leave it out.
   */
  create?(
    options: Options,
    ctx: BackendContext,
    envelope: Envelope,
    header: KeyHeader,
  ): Promise<SecretStore>;
  /**
   * The key header, read without unlocking, for backends that keep one beside their data
   * (`keyward status`, "is this initialised?"); undefined when there is none yet.
   */
  readHeader?(
    options: Options,
    ctx: Pick<BackendContext, "home" | "env">,
  ): Promise<KeyHeader | undefined>;
  /** Opens an existing store; fails with `not_initialized` when there is none. */
  open(options: Options, ctx: BackendContext): Promise<SecretStore>;
  /** What status shows: computed from options and environment, without a network call. */
  facts(options: Options, ctx: Pick<BackendContext, "env">): BackendFacts;
}
