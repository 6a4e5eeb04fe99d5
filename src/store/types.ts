import type { SecretMetadata, SecretRecord, Stage, VersionInfo } from "../core/types.js";
import type { KeyHeader } from "../crypto/envelope.js";

/** Values are UTF-8 strings of at most 1 MiB (they end up in environment variables). */
export const MAX_VALUE_BYTES = 1024 * 1024;

/** Which version a read wants: a stage (default `current`) or an exact version number. */
export type VersionSelector = { stage: Stage } | { version: number };

export interface PutVersionOptions {
  /** The revision the caller last saw; a mismatch fails with `conflict` and writes nothing. */
  expectedRevision: number;
  /**
   * Stages the new version takes (default `["current"]`). A stage moves off whichever version
   * held it; when `current` moves, the version that held it becomes `previous`, as
   * AWS Secrets Manager does with AWSCURRENT and AWSPREVIOUS.
   */
  stages?: Stage[];
}

export interface ReadResult {
  value: string;
  version: VersionInfo;
  record: SecretRecord;
}

export interface StoreDescription {
  backend: string;
  location: string;
  /** e.g. "AES-256-GCM envelope, per-secret data keys" or "server-side (Vault transit)". */
  encryption: string;
}

/**
 * Every backend (sqlite, postgres, vault, aws, gcp) implements this. Every write is
 * compare-and-set on the secret's revision; every failure is a KeywardError whose message
 * names the secret and never contains a value. Conformance: src/store/conformance.ts.
 */
export interface SecretStore {
  describe(): StoreDescription;
  /** Creates a secret at revision 1; with a value, version 1 becomes `current`. Fails if it exists. */
  create(name: string, metadata: SecretMetadata, value?: string): Promise<SecretRecord>;
  /** Metadata and versions, never values; undefined when there is no such secret. */
  get(name: string): Promise<SecretRecord | undefined>;
  /** All secrets, sorted by name; with a prefix, only names starting with it. */
  list(prefix?: string): Promise<SecretRecord[]>;
  /** Adds a version and returns the new record; the version number is one above the highest ever used. */
  putVersion(name: string, value: string, options: PutVersionOptions): Promise<ReadResult>;
  /** Reads a value. Fails with `disabled` or `destroyed` for such versions, `not_found` for a missing stage. */
  read(name: string, selector?: VersionSelector): Promise<ReadResult>;
  /** Moves a stage to a version, or removes it from whichever version holds it (`version: null`). */
  moveStage(
    name: string,
    stage: Stage,
    version: number | null,
    expectedRevision: number,
  ): Promise<SecretRecord>;
  /** Disables (reversible) or re-enables a version. A compromised version cannot be re-enabled. */
  setVersionState(
    name: string,
    version: number,
    state: "enabled" | "disabled",
    options: { expectedRevision: number; compromised?: boolean },
  ): Promise<SecretRecord>;
  /** Erases a version's value for good; its number and history stay. It loses its stages. */
  destroyVersion(name: string, version: number, expectedRevision: number): Promise<SecretRecord>;
  updateMetadata(
    name: string,
    metadata: SecretMetadata,
    expectedRevision: number,
  ): Promise<SecretRecord>;
  /** Removes the secret and erases every version. */
  delete(name: string, expectedRevision: number): Promise<void>;
  close(): Promise<void>;
}

/** Backends that encrypt on the client with keyward's envelope keys (sqlite, postgres). */
export interface EnvelopeStore extends SecretStore {
  keyHeader(): KeyHeader;
  /** Rewraps every data key under a new master key in one transaction; values untouched. */
  rekey(newHeader: KeyHeader, rewrap: (wrapped: Buffer, aad: string) => Buffer): Promise<number>;
}
