/**
 * Lease-aware reads of Vault dynamic secrets (database/creds/<role>, aws/creds/<role>, …):
 * read a path and get its lease, look a lease up, renew it with the duration Vault returns
 * (the increment asked for is only advisory), revoke it at once (`sync: true`, so the call
 * returns after the upstream credential is gone) or revoke every lease under a prefix.
 * Source: hashicorp/vault website/content/api-docs/system/leases.mdx.
 */
import { KeywardError } from "../core/errors.js";
import { type VaultClient, vaultErrors } from "./vault-client.js";

export interface VaultLease {
  leaseId: string;
  /** Seconds the lease lasts from when Vault answered. */
  leaseDuration: number;
  renewable: boolean;
  /** When the lease ends by this machine's clock (ISO 8601). */
  expiresAt: string;
}

export interface VaultLeaseInfo {
  id: string;
  issueTime: string;
  expireTime: string | undefined;
  lastRenewalTime: string | undefined;
  renewable: boolean;
  /** Seconds left. */
  ttl: number;
}

/** When to renew a lease: at two thirds of its duration, as Vault Agent does. */
export function renewAt(lease: VaultLease): Date {
  const end = Date.parse(lease.expiresAt);
  return new Date(end - (lease.leaseDuration * 1000) / 3);
}

function leaseOf(id: unknown, duration: unknown, renewable: unknown): VaultLease | undefined {
  if (typeof id !== "string" || id === "") return undefined;
  const seconds = Number(duration);
  const leaseDuration = Number.isFinite(seconds) && seconds >= 0 ? seconds : 0;
  return {
    leaseId: id,
    leaseDuration,
    renewable: renewable === true,
    expiresAt: new Date(Date.now() + leaseDuration * 1000).toISOString(),
  };
}

function checkLeaseId(leaseId: string): void {
  if (typeof leaseId !== "string" || !/^[A-Za-z0-9][A-Za-z0-9._/@+=:-]{0,500}$/.test(leaseId)) {
    throw new KeywardError(
      "usage",
      "a Vault lease id must be a path-like id such as database/creds/readonly/AbC123",
    );
  }
}

export class VaultLeases {
  constructor(private readonly client: VaultClient) {}

  /** Reads a dynamic-secret path; the data holds the credential, the lease says how long it lives. */
  async read(
    path: string,
  ): Promise<{ data: Record<string, unknown>; lease: VaultLease | undefined }> {
    checkLeaseId(path);
    const response = await this.client.request("GET", { path, subject: `dynamic secret ${path}` });
    const body = response.body ?? {};
    return {
      data: (body.data ?? {}) as Record<string, unknown>,
      lease: leaseOf(body.lease_id, body.lease_duration, body.renewable),
    };
  }

  async lookup(leaseId: string): Promise<VaultLeaseInfo> {
    checkLeaseId(leaseId);
    const response = await this.client.request("POST", {
      path: "sys/leases/lookup",
      body: { lease_id: leaseId },
      accept: [400],
      subject: `lease ${leaseId}`,
    });
    if (response.status === 400) throw unknownLease(leaseId, response.body);
    // The docs' sample puts the fields at the top level; the usual envelope puts them in data.
    const raw = (response.body?.data ?? response.body ?? {}) as Record<string, unknown>;
    const text = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
    return {
      id: String(raw.id ?? leaseId),
      issueTime: String(raw.issue_time ?? ""),
      expireTime: text(raw.expire_time),
      lastRenewalTime: text(raw.last_renewal_time),
      renewable: raw.renewable === true,
      ttl: Number(raw.ttl ?? 0),
    };
  }

  /** Renews; the result carries the duration Vault granted, which may be shorter than asked. */
  async renew(leaseId: string, incrementSeconds?: number): Promise<VaultLease> {
    checkLeaseId(leaseId);
    const body: Record<string, unknown> = { lease_id: leaseId };
    if (incrementSeconds !== undefined) body.increment = Math.max(0, Math.floor(incrementSeconds));
    const response = await this.client.request("POST", {
      path: "sys/leases/renew",
      body,
      accept: [400],
      subject: `lease ${leaseId}`,
    });
    if (response.status === 400) throw unknownLease(leaseId, response.body);
    const lease = leaseOf(
      response.body?.lease_id ?? leaseId,
      response.body?.lease_duration,
      response.body?.renewable,
    );
    if (lease === undefined) throw unknownLease(leaseId, response.body);
    return lease;
  }

  /** Revokes now and waits until Vault has revoked the credential upstream. */
  async revoke(leaseId: string): Promise<void> {
    checkLeaseId(leaseId);
    await this.client.request("POST", {
      path: "sys/leases/revoke",
      body: { lease_id: leaseId, sync: true },
      subject: `lease ${leaseId}`,
    });
  }

  /** Revokes every lease whose id starts with `prefix` (needs sudo), waiting until done. */
  async revokePrefix(prefix: string): Promise<void> {
    checkLeaseId(prefix);
    await this.client.request("POST", {
      path: `sys/leases/revoke-prefix/${prefix.split("/").map(encodeURIComponent).join("/")}`,
      body: { sync: true },
      subject: `leases under ${prefix}`,
    });
  }
}

function unknownLease(leaseId: string, body: Record<string, unknown> | undefined): KeywardError {
  return new KeywardError(
    "not_found",
    `Vault does not know the lease ${leaseId} (${vaultErrors(body) ?? "invalid lease"}): it expired or was revoked`,
    "read the dynamic secret again to get a new credential and lease",
  );
}
