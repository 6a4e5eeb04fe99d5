/** Domain types shared by every layer. No I/O here. */

export const STAGES = ["current", "pending", "previous"] as const;
export type Stage = (typeof STAGES)[number];

export const SENSITIVITIES = ["standard", "high", "agent-exposed"] as const;
export type Sensitivity = (typeof SENSITIVITIES)[number];

/** Default rotation TTLs from the guide: 90 days, 30 days for high sensitivity, short-lived for agent-exposed. */
export const DEFAULT_TTL_SECONDS: Record<Sensitivity, number> = {
  standard: 90 * 86400,
  high: 30 * 86400,
  "agent-exposed": 3600,
};

export interface RotationPolicy {
  /** Seconds a version may be current before rotation is due. */
  ttlSeconds: number;
  /** Seconds the previous value stays valid upstream after a rotation. */
  graceSeconds?: number;
}

export interface SecretMetadata {
  provider?: string;
  /** Scopes the key is declared to need, e.g. ["repo:read", "read:org"]. */
  scope: string[];
  sensitivity: Sensitivity;
  rotation: RotationPolicy;
  owner?: string;
  description?: string;
  tags: Record<string, string>;
  /** When the key expires upstream, if known (ISO 8601). */
  expiresAt?: string;
}

export type VersionState = "enabled" | "disabled" | "destroyed";

export interface VersionInfo {
  version: number;
  stages: Stage[];
  state: VersionState;
  createdAt: string;
  /** Set when the version was disabled because it leaked; never cleared by enable alone. */
  compromised?: boolean;
}

/** A secret as the store describes it: metadata and versions, never values. */
export interface SecretRecord {
  name: string;
  /** Compare-and-set token: every write to the secret increments it. */
  revision: number;
  metadata: SecretMetadata;
  versions: VersionInfo[];
  createdAt: string;
  updatedAt: string;
  /** When a version last became current. */
  rotatedAt?: string;
}

export function defaultMetadata(sensitivity: Sensitivity = "standard"): SecretMetadata {
  return {
    scope: [],
    sensitivity,
    rotation: { ttlSeconds: DEFAULT_TTL_SECONDS[sensitivity] },
    tags: {},
  };
}

export function currentVersion(record: SecretRecord): VersionInfo | undefined {
  return record.versions.find((v) => v.stages.includes("current"));
}

/** When rotation of the current version is due (ISO 8601), or undefined without a current version. */
export function rotationDueAt(record: SecretRecord): string | undefined {
  const since = record.rotatedAt ?? currentVersion(record)?.createdAt;
  if (since === undefined) return undefined;
  return new Date(Date.parse(since) + record.metadata.rotation.ttlSeconds * 1000).toISOString();
}
