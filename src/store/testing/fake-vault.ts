/**
 * A local stand-in for HashiCorp Vault (and OpenBao) on 127.0.0.1, port 0, for the Vault
 * backend's tests. It reproduces the documented HTTP API closely enough that keyward's client
 * runs against it unchanged:
 *
 * - envelope, errors and status codes: hashicorp/vault website/content/api-docs/index.mdx
 *   (`{"errors":[…]}` for every status ≥ 400, 204 without a body, 404 `{"errors":[]}` for a
 *   missing path or an empty LIST, 412 on Enterprise eventual consistency);
 * - KV v2: website/content/api-docs/secret/kv/kv-v2.mdx and the plugin's own handlers
 *   (hashicorp/vault-plugin-secrets-kv path_data.go, path_metadata.go, path_delete.go,
 *   path_destroy.go): a CAS mismatch is 400 "check-and-set parameter did not match the current
 *   version" (not 412), a soft-deleted or destroyed version reads as 404 with its metadata,
 *   destroy / delete / undelete / DELETE metadata on a missing key answer 204;
 * - the KV version preflight `GET sys/internal/ui/mounts/:path` the vault CLI makes
 *   (403 for a path that is not mounted, so mounts cannot be enumerated);
 * - auth: api-docs/auth/token.mdx (lookup-self, renew-self), auth/approle.mdx (400 "invalid
 *   role or secret ID"), auth/jwt.mdx, auth/kubernetes.mdx; an expired or unknown token is 403
 *   "permission denied";
 * - leases: api-docs/system/leases.mdx (lookup, renew, revoke with `sync`, revoke-prefix) and a
 *   dynamic-secrets mount `database/creds/:role` shaped like api-docs/secret/databases.
 * - transit: api-docs/secret/transit.mdx (https://developer.hashicorp.com/vault/api-docs/secret/transit)
 *   encrypt, decrypt and rewrap of single items (AES-256-GCM96 keys); encrypt and decrypt take
 *   `associated_data`, rewrap does not (undocumented there; hashicorp/vault#29532, #31791):
 *   `vault:v<n>:` + base64(nonce ‖ ciphertext ‖ tag); encrypt creates a missing key (the
 *   upsert a token with `create` gets); decrypt and rewrap answer 400 "encryption key not
 *   found" for a missing key, "invalid ciphertext: no prefix", "ciphertext or signature version
 *   is disallowed by policy (too old)" below min_decryption_version, and "cipher: message
 *   authentication failed" (builtin/logical/transit path_decrypt.go, sdk/helper/keysutil).
 *
 * Time comes from an adjustable clock (Date headers, created_time, TTLs), so tests move time
 * forward instead of sleeping. Faults: any request can be answered with a status, delayed, or
 * have its connection dropped before or after the request was applied. Every request is
 * recorded (method, URL, headers, body) for the no-leak tests. Test code only: it ships nowhere.
 */
import { createCipheriv, createDecipheriv, randomBytes, randomUUID } from "node:crypto";
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo, Socket } from "node:net";

export interface RecordedRequest {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface Fault {
  method?: string;
  /** Matches the path after /v1/ (no query). */
  path: RegExp;
  /** Answer with this status and `{"errors":[…]}` instead of handling the request. */
  status?: number;
  /** Wait this long (real time) before answering. */
  delayMs?: number;
  /** Close the connection without an answer: before the request is applied, or after. */
  drop?: "before" | "after";
  /** How many matching requests this fault applies to (default 1). */
  times?: number;
}

interface TokenInfo {
  policies: string[];
  /** Unix ms by the fake clock; undefined for a token that never expires (root). */
  expiresAt: number | undefined;
  ttlSeconds: number;
  maxExpiresAt: number | undefined;
  renewable: boolean;
  revoked: boolean;
  /** KV paths ("mount/rest") this token may use; undefined = all. */
  allow?: RegExp;
}

interface KvVersion {
  data: Record<string, unknown> | undefined;
  created: number;
  deletion: number | undefined;
  destroyed: boolean;
}

interface KvKey {
  versions: Map<number, KvVersion>;
  current: number;
  oldest: number;
  maxVersions: number;
  casRequired: boolean;
  customMetadata: Record<string, string> | null;
  created: number;
  updated: number;
}

interface Lease {
  id: string;
  /** The credential issued with the lease: for assertions only. */
  data: Record<string, string>;
  issued: number;
  expiresAt: number;
  lastRenewal: number | undefined;
  renewable: boolean;
  maxExpiresAt: number;
  revoked: boolean;
}

/** A transit key ring: version n is `versions[n - 1]`. */
export interface TransitKey {
  versions: Buffer[];
  minDecryptionVersion: number;
}

type AuthMount =
  | { type: "approle"; roles: Map<string, { secretId: string; ttlSeconds: number }> }
  | { type: "jwt" | "kubernetes"; roles: Map<string, { jwt: string; ttlSeconds: number }> };

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly errors: string[],
    readonly body?: unknown,
  ) {
    super(errors.join("; "));
  }
}

const denied = () => new HttpError(403, ["permission denied"]);
const notFound = () => new HttpError(404, []);

/** RFC 3339 with nanoseconds, as Vault prints created_time (ptypes timestamps). */
function rfc3339(ms: number | undefined): string {
  if (ms === undefined) return "";
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, ".$1000000Z");
}

export class FakeVault {
  readonly requests: RecordedRequest[] = [];
  /** Milliseconds added to the real clock; tests advance it instead of sleeping. */
  private offsetMs = 0;
  private readonly faults: Array<Fault & { left: number }> = [];
  private readonly tokens = new Map<string, TokenInfo>();
  private readonly kv = new Map<string, Map<string, KvKey>>();
  private readonly authMounts = new Map<string, AuthMount>();
  private readonly leases = new Map<string, Lease>();
  /** Lease settings per database role (default: 3600s, renewable, max TTL 4 × 3600s). */
  private readonly roles = new Map<
    string,
    { ttlSeconds: number; maxTtlSeconds: number; renewable: boolean }
  >();
  private readonly transit = new Map<string, Map<string, TransitKey>>();
  private readonly sockets = new Set<Socket>();
  /** Counts of handled (applied) requests per "METHOD path", for retry assertions. */
  readonly applied = new Map<string, number>();

  private constructor(
    private readonly server: Server,
    readonly url: string,
    readonly namespace: string | undefined,
  ) {}

  static async start(
    options: { kvMounts?: string[]; namespace?: string; tls?: { key: string; cert: string } } = {},
  ): Promise<FakeVault> {
    const handler = (req: IncomingMessage, res: ServerResponse) => fake.handle(req, res);
    const server =
      options.tls === undefined
        ? createHttpServer(handler)
        : createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handler);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as AddressInfo).port;
    const scheme = options.tls === undefined ? "http" : "https";
    const fake: FakeVault = new FakeVault(
      server,
      `${scheme}://127.0.0.1:${port}`,
      options.namespace?.replace(/\/+$/, ""),
    );
    server.on("connection", (socket: Socket) => {
      fake.sockets.add(socket);
      socket.on("close", () => fake.sockets.delete(socket));
    });
    for (const mount of options.kvMounts ?? ["secret"]) fake.kv.set(mount, new Map());
    return fake;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // ---- test controls ----------------------------------------------------------------------

  now(): number {
    return Date.now() + this.offsetMs;
  }

  advance(ms: number): void {
    this.offsetMs += ms;
  }

  /** A token as `vault token create` would make it; a ttl of 0 never expires (like root). */
  addToken(
    token: string,
    options: {
      ttlSeconds?: number;
      maxTtlSeconds?: number;
      renewable?: boolean;
      allow?: RegExp;
    } = {},
  ): void {
    this.tokens.set(token, this.tokenInfo(options.ttlSeconds ?? 0, options));
  }

  revokeToken(token: string): void {
    const info = this.tokens.get(token);
    if (info !== undefined) info.revoked = true;
  }

  enableAppRole(mount: string, roleId: string, secretId: string, ttlSeconds = 3600): void {
    const existing = this.authMounts.get(mount);
    const roles =
      existing?.type === "approle"
        ? existing.roles
        : new Map<string, { secretId: string; ttlSeconds: number }>();
    roles.set(roleId, { secretId, ttlSeconds });
    this.authMounts.set(mount, { type: "approle", roles });
  }

  enableJwtRole(
    type: "jwt" | "kubernetes",
    mount: string,
    role: string,
    jwt: string,
    ttlSeconds = 3600,
  ): void {
    const existing = this.authMounts.get(mount);
    const roles =
      existing !== undefined && existing.type === type
        ? existing.roles
        : new Map<string, { jwt: string; ttlSeconds: number }>();
    roles.set(role, { jwt, ttlSeconds });
    this.authMounts.set(mount, { type, roles });
  }

  /** `vault secrets enable -path=<mount> transit`. */
  enableTransit(mount = "transit"): void {
    if (!this.transit.has(mount)) this.transit.set(mount, new Map());
  }

  /** `vault write -f <mount>/keys/<name>/rotate`: a new latest version. */
  rotateTransitKey(mount: string, name: string): void {
    this.transitKey(mount, name)?.versions.push(randomBytes(32));
  }

  transitKey(mount: string, name: string): TransitKey | undefined {
    return this.transit.get(mount)?.get(name);
  }

  addFault(fault: Fault): void {
    this.faults.push({ ...fault, left: fault.times ?? 1 });
  }

  clearFaults(): void {
    this.faults.length = 0;
  }

  /** The stored versions of a KV v2 key, values included: for assertions only. */
  kvKey(mount: string, path: string): KvKey | undefined {
    return this.kv.get(mount)?.get(path);
  }

  kvPaths(mount: string): string[] {
    return [...(this.kv.get(mount)?.keys() ?? [])].sort();
  }

  lease(id: string): Lease | undefined {
    return this.leases.get(id);
  }

  /** Every lease issued under a prefix (database/creds/app/), oldest first. */
  leasesUnder(prefix: string): Lease[] {
    return [...this.leases.values()].filter((l) => l.id.startsWith(prefix));
  }

  /** Sets how the leases of `database/creds/<role>` are issued (short ones for `keyward run` tests). */
  databaseRole(
    role: string,
    options: { ttlSeconds: number; maxTtlSeconds?: number; renewable?: boolean },
  ): void {
    this.roles.set(role, {
      ttlSeconds: options.ttlSeconds,
      maxTtlSeconds: options.maxTtlSeconds ?? 4 * options.ttlSeconds,
      renewable: options.renewable ?? true,
    });
  }

  countApplied(method: string, pathPattern: RegExp): number {
    let n = 0;
    for (const [key, count] of this.applied) {
      const [m, p] = key.split(" ", 2);
      if (m === method && p !== undefined && pathPattern.test(p)) n += count;
    }
    return n;
  }

  // ---- dispatch ---------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    this.requests.push({
      method: req.method ?? "",
      url: req.url ?? "",
      headers: { ...req.headers },
      body,
    });
    const url = new URL(req.url ?? "/", "http://fake");
    let method = (req.method ?? "GET").toUpperCase();
    if (method === "PUT") method = "POST"; // Vault treats PUT and POST alike
    if (method === "GET" && url.searchParams.get("list") === "true") method = "LIST";
    const path = decodeURIComponent(url.pathname.replace(/^\/v1\//, ""));

    const fault = this.takeFault(method, path);
    if (fault?.delayMs !== undefined) await new Promise((r) => setTimeout(r, fault.delayMs));
    if (fault?.drop === "before") {
      req.socket.destroy();
      return;
    }
    if (fault?.status !== undefined) {
      this.send(res, fault.status, { errors: [`injected ${fault.status}`] });
      return;
    }

    let status = 200;
    let payload: unknown;
    try {
      if (!url.pathname.startsWith("/v1/")) throw notFound();
      const result = this.route(method, path, url, req, body);
      status = result.status;
      payload = result.payload;
      const key = `${method} ${path}`;
      this.applied.set(key, (this.applied.get(key) ?? 0) + 1);
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      status = e.status;
      payload = e.body ?? { errors: e.errors };
    }
    if (fault?.drop === "after") {
      req.socket.destroy();
      return;
    }
    this.send(res, status, payload);
  }

  private takeFault(method: string, path: string): Fault | undefined {
    const index = this.faults.findIndex(
      (f) => (f.method === undefined || f.method === method) && f.path.test(path),
    );
    if (index === -1) return undefined;
    const fault = this.faults[index]!;
    fault.left -= 1;
    if (fault.left <= 0) this.faults.splice(index, 1);
    return fault;
  }

  private send(res: ServerResponse, status: number, payload: unknown): void {
    res.setHeader("Date", new Date(this.now()).toUTCString());
    res.setHeader("Cache-Control", "no-store");
    if (status === 204 || payload === undefined) {
      res.writeHead(status === 200 ? 204 : status);
      res.end();
      return;
    }
    res.setHeader("Content-Type", "application/json");
    res.writeHead(status);
    res.end(JSON.stringify(payload));
  }

  private route(
    method: string,
    path: string,
    url: URL,
    req: IncomingMessage,
    body: string,
  ): { status: number; payload?: unknown } {
    const json = parseBody(body);
    // Unauthenticated login endpoints.
    const login = /^auth\/(.+)\/login$/.exec(path);
    if (login !== null && method === "POST") {
      this.checkNamespace(req);
      return { status: 200, payload: this.login(login[1]!, json) };
    }
    const token = this.authenticate(req);
    if (path === "auth/token/lookup-self" && method === "GET") {
      return { status: 200, payload: envelope({ data: this.lookupSelf(token) }) };
    }
    if (path === "auth/token/renew-self" && method === "POST") {
      return { status: 200, payload: envelope({ auth: this.renewSelf(token, json) }) };
    }
    const uiMount = /^sys\/internal\/ui\/mounts\/([^/]+)\/?/.exec(path);
    if (uiMount !== null && method === "GET") {
      if (!this.kv.has(uiMount[1]!)) throw denied();
      return {
        status: 200,
        payload: envelope({
          data: { type: "kv", options: { version: "2" }, path: `${uiMount[1]}/` },
        }),
      };
    }
    if (path.startsWith("sys/leases/")) return this.leaseRoute(method, path, json);
    const creds = /^database\/creds\/([^/]+)$/.exec(path);
    if (creds !== null && (method === "GET" || method === "POST")) {
      return { status: 200, payload: this.issueLease("database/creds", creds[1]!) };
    }
    const [mount, op, ...rest] = path.split("/");
    const transit = mount === undefined ? undefined : this.transit.get(mount);
    if (transit !== undefined && op !== undefined && rest.length === 1 && method === "POST") {
      const info = this.tokens.get(token);
      if (info?.allow !== undefined && !info.allow.test(path)) throw denied();
      return {
        status: 200,
        payload: envelope({ data: transitRoute(transit, op, rest[0]!, json) }),
      };
    }
    const store = mount === undefined ? undefined : this.kv.get(mount);
    if (store === undefined || op === undefined) {
      throw new HttpError(404, [`no handler for route "${path}". route entry not found.`]);
    }
    const key = rest.join("/");
    const info = this.tokens.get(token);
    if (info?.allow !== undefined && !info.allow.test(`${mount}/${key}`)) throw denied();
    return this.kvRoute(store, method, op, key, url, json);
  }

  // ---- auth ---------------------------------------------------------------------------------

  private tokenInfo(
    ttlSeconds: number,
    options: { maxTtlSeconds?: number; renewable?: boolean; allow?: RegExp } = {},
  ): TokenInfo {
    const now = this.now();
    const info: TokenInfo = {
      policies: ["default", "keyward"],
      expiresAt: ttlSeconds === 0 ? undefined : now + ttlSeconds * 1000,
      ttlSeconds,
      maxExpiresAt:
        options.maxTtlSeconds === undefined ? undefined : now + options.maxTtlSeconds * 1000,
      renewable: options.renewable ?? ttlSeconds !== 0,
      revoked: false,
    };
    if (options.allow !== undefined) info.allow = options.allow;
    return info;
  }

  private checkNamespace(req: IncomingMessage): void {
    if (this.namespace === undefined) return;
    const sent = String(req.headers["x-vault-namespace"] ?? "").replace(/\/+$/, "");
    if (sent !== this.namespace) throw denied();
  }

  private authenticate(req: IncomingMessage): string {
    this.checkNamespace(req);
    const header = req.headers["x-vault-token"];
    const bearer = /^Bearer (.+)$/.exec(String(req.headers.authorization ?? ""));
    const token = typeof header === "string" ? header : bearer?.[1];
    const info = token === undefined ? undefined : this.tokens.get(token);
    if (token === undefined || info === undefined || info.revoked) throw denied();
    if (info.expiresAt !== undefined && info.expiresAt <= this.now()) throw denied();
    return token;
  }

  private issueToken(ttlSeconds: number, metadata: Record<string, string>) {
    const token = `hvs.${randomBytes(18).toString("base64url")}`;
    this.tokens.set(token, this.tokenInfo(ttlSeconds, { maxTtlSeconds: ttlSeconds * 4 }));
    return {
      client_token: token,
      accessor: randomBytes(12).toString("base64url"),
      policies: ["default", "keyward"],
      token_policies: ["default", "keyward"],
      metadata,
      lease_duration: ttlSeconds,
      renewable: true,
      entity_id: randomUUID(),
      token_type: "service",
      orphan: true,
    };
  }

  private login(mountPath: string, body: Record<string, unknown>): unknown {
    const mount = this.authMounts.get(mountPath);
    if (mount === undefined) {
      throw new HttpError(404, [
        `no handler for route "auth/${mountPath}/login". route entry not found.`,
      ]);
    }
    if (mount.type === "approle") {
      const roleId = String(body.role_id ?? "");
      const role = mount.roles.get(roleId);
      if (role === undefined || role.secretId !== body.secret_id) {
        throw new HttpError(400, ["invalid role or secret ID"]);
      }
      return envelope({ auth: this.issueToken(role.ttlSeconds, { role_name: roleId }) });
    }
    const roleName = typeof body.role === "string" ? body.role : "";
    if (roleName === "") throw new HttpError(400, ["missing role"]);
    const role = mount.roles.get(roleName);
    if (role === undefined) throw new HttpError(400, [`role "${roleName}" could not be found`]);
    if (typeof body.jwt !== "string" || body.jwt === "") {
      throw new HttpError(400, ["missing jwt"]);
    }
    if (body.jwt !== role.jwt) {
      // auth/jwt answers 400 with the validation error; auth/kubernetes answers 403.
      if (mount.type === "kubernetes") throw denied();
      throw new HttpError(400, ["error validating token: invalid signature"]);
    }
    return envelope({ auth: this.issueToken(role.ttlSeconds, { role: roleName }) });
  }

  private lookupSelf(token: string): unknown {
    const info = this.tokens.get(token)!;
    const ttl =
      info.expiresAt === undefined
        ? 0
        : Math.max(0, Math.floor((info.expiresAt - this.now()) / 1000));
    return {
      accessor: "accessor-of-token",
      creation_ttl: info.ttlSeconds,
      display_name: "token",
      expire_time: info.expiresAt === undefined ? null : rfc3339(info.expiresAt),
      explicit_max_ttl: 0,
      id: token,
      policies: info.policies,
      renewable: info.renewable,
      ttl,
      type: "service",
    };
  }

  private renewSelf(token: string, body: Record<string, unknown>): unknown {
    const info = this.tokens.get(token)!;
    if (!info.renewable || info.expiresAt === undefined) {
      throw new HttpError(400, ["lease is not renewable"]);
    }
    const increment = durationSeconds(body.increment) ?? info.ttlSeconds;
    let expires = this.now() + increment * 1000;
    if (info.maxExpiresAt !== undefined) expires = Math.min(expires, info.maxExpiresAt);
    info.expiresAt = expires;
    return {
      client_token: token,
      policies: info.policies,
      lease_duration: Math.floor((expires - this.now()) / 1000),
      renewable: true,
    };
  }

  // ---- leases ---------------------------------------------------------------------------------

  private issueLease(mount: string, role: string): unknown {
    const now = this.now();
    const id = `${mount}/${role}/${randomBytes(12).toString("base64url")}`;
    const settings = this.roles.get(role) ?? {
      ttlSeconds: 3600,
      maxTtlSeconds: 4 * 3600,
      renewable: true,
    };
    const duration = settings.ttlSeconds;
    const data = {
      username: `v-keyward-${randomBytes(4).toString("hex")}`,
      password: randomUUID(),
    };
    this.leases.set(id, {
      id,
      data,
      issued: now,
      expiresAt: now + duration * 1000,
      lastRenewal: undefined,
      renewable: settings.renewable,
      maxExpiresAt: now + settings.maxTtlSeconds * 1000,
      revoked: false,
    });
    return {
      ...envelope({ data }),
      lease_id: id,
      lease_duration: duration,
      renewable: settings.renewable,
    };
  }

  private liveLease(id: unknown): Lease {
    const lease = typeof id === "string" ? this.leases.get(id) : undefined;
    if (lease === undefined || lease.revoked || lease.expiresAt <= this.now()) {
      throw new HttpError(400, ["invalid lease"]);
    }
    return lease;
  }

  private leaseRoute(
    method: string,
    path: string,
    body: Record<string, unknown>,
  ): { status: number; payload?: unknown } {
    if (method !== "POST") throw new HttpError(405, ["unsupported operation"]);
    const now = this.now();
    if (path === "sys/leases/lookup") {
      const lease = this.liveLease(body.lease_id);
      return {
        status: 200,
        payload: envelope({
          data: {
            id: lease.id,
            issue_time: rfc3339(lease.issued),
            expire_time: rfc3339(lease.expiresAt),
            last_renewal_time: lease.lastRenewal === undefined ? null : rfc3339(lease.lastRenewal),
            renewable: lease.renewable,
            ttl: Math.floor((lease.expiresAt - now) / 1000),
          },
        }),
      };
    }
    if (path === "sys/leases/renew") {
      const lease = this.liveLease(body.lease_id);
      if (!lease.renewable) throw new HttpError(400, ["lease is not renewable"]);
      const increment = durationSeconds(body.increment) ?? 3600;
      lease.expiresAt = Math.min(now + increment * 1000, lease.maxExpiresAt);
      lease.lastRenewal = now;
      return {
        status: 200,
        payload: {
          ...envelope({}),
          lease_id: lease.id,
          renewable: true,
          lease_duration: Math.floor((lease.expiresAt - now) / 1000),
        },
      };
    }
    if (path === "sys/leases/revoke") {
      if (body.sync !== true) throw new HttpError(400, ["keyward's fake only revokes with sync"]);
      const lease = typeof body.lease_id === "string" ? this.leases.get(body.lease_id) : undefined;
      if (lease !== undefined) lease.revoked = true;
      return { status: 204 };
    }
    const prefix = /^sys\/leases\/revoke-prefix\/(.+)$/.exec(path);
    if (prefix !== null) {
      if (body.sync !== true) throw new HttpError(400, ["keyward's fake only revokes with sync"]);
      for (const lease of this.leases.values()) {
        if (lease.id.startsWith(prefix[1]!)) lease.revoked = true;
      }
      return { status: 204 };
    }
    throw new HttpError(404, [`no handler for route "${path}". route entry not found.`]);
  }

  // ---- KV v2 ----------------------------------------------------------------------------------

  private kvRoute(
    store: Map<string, KvKey>,
    method: string,
    op: string,
    key: string,
    url: URL,
    body: Record<string, unknown>,
  ): { status: number; payload?: unknown } {
    const now = this.now();
    const meta = store.get(key);
    switch (`${method} ${op}`) {
      case "GET data": {
        if (meta === undefined) throw notFound();
        const requested = Number(url.searchParams.get("version") ?? "0");
        const number = requested > 0 ? requested : meta.current;
        const version = meta.versions.get(number);
        if (version === undefined) throw notFound();
        const metadata = {
          created_time: rfc3339(version.created),
          custom_metadata: meta.customMetadata,
          deletion_time: rfc3339(version.deletion),
          destroyed: version.destroyed,
          version: number,
        };
        if (
          version.destroyed ||
          (version.deletion !== undefined && version.deletion <= now) ||
          version.data === undefined
        ) {
          throw new HttpError(404, [], envelope({ data: { data: null, metadata } }));
        }
        return { status: 200, payload: envelope({ data: { data: version.data, metadata } }) };
      }
      case "POST data": {
        if (typeof body.data !== "object" || body.data === null) {
          throw new HttpError(400, ["no data provided"]);
        }
        const entry = meta ?? this.newKey(now);
        const options = (body.options ?? {}) as Record<string, unknown>;
        if ("cas" in options) {
          if (Number(options.cas) !== entry.current) {
            throw new HttpError(400, ["check-and-set parameter did not match the current version"]);
          }
        } else if (entry.casRequired) {
          throw new HttpError(400, ["check-and-set parameter required for this call"]);
        }
        entry.current += 1;
        entry.versions.set(entry.current, {
          data: structuredClone(body.data as Record<string, unknown>),
          created: now,
          deletion: undefined,
          destroyed: false,
        });
        entry.updated = now;
        if (entry.oldest === 0) entry.oldest = entry.current;
        const max = entry.maxVersions > 0 ? entry.maxVersions : 10;
        while (entry.versions.size > max) {
          entry.versions.delete(entry.oldest);
          entry.oldest += 1;
        }
        store.set(key, entry);
        return {
          status: 200,
          payload: envelope({
            data: {
              created_time: rfc3339(now),
              custom_metadata: entry.customMetadata,
              deletion_time: "",
              destroyed: false,
              version: entry.current,
            },
          }),
        };
      }
      case "DELETE data": {
        const latest = meta?.versions.get(meta.current);
        if (latest !== undefined && !latest.destroyed) latest.deletion ??= now;
        return { status: 204 };
      }
      case "POST delete":
      case "POST undelete":
      case "POST destroy": {
        const versions = Array.isArray(body.versions) ? body.versions.map(Number) : [];
        if (versions.length === 0) throw new HttpError(400, ["no version number provided"]);
        if (meta === undefined) return { status: 204 };
        for (const n of versions) {
          const version = meta.versions.get(n);
          if (version === undefined || version.destroyed) continue;
          if (op === "delete") version.deletion ??= now;
          if (op === "undelete") version.deletion = undefined;
          if (op === "destroy") {
            version.destroyed = true;
            version.data = undefined;
          }
        }
        meta.updated = now;
        return { status: 204 };
      }
      case "GET metadata": {
        if (meta === undefined) throw notFound();
        const versions: Record<string, unknown> = {};
        for (const [n, v] of meta.versions) {
          versions[String(n)] = {
            created_time: rfc3339(v.created),
            deletion_time: rfc3339(v.deletion),
            destroyed: v.destroyed,
          };
        }
        return {
          status: 200,
          payload: envelope({
            data: {
              cas_required: meta.casRequired,
              created_time: rfc3339(meta.created),
              current_version: meta.current,
              custom_metadata: meta.customMetadata,
              delete_version_after: "0s",
              max_versions: meta.maxVersions,
              oldest_version: meta.oldest,
              updated_time: rfc3339(meta.updated),
              versions,
            },
          }),
        };
      }
      case "POST metadata": {
        const entry = meta ?? this.newKey(now);
        if (typeof body.max_versions === "number") entry.maxVersions = body.max_versions;
        if (typeof body.cas_required === "boolean") entry.casRequired = body.cas_required;
        if (typeof body.custom_metadata === "object" && body.custom_metadata !== null) {
          const custom: Record<string, string> = {};
          for (const [k, v] of Object.entries(body.custom_metadata)) {
            if (k.length === 0 || k.length > 128 || String(v).length > 512) {
              throw new HttpError(400, ["custom_metadata validation failed"]);
            }
            custom[k] = String(v);
          }
          entry.customMetadata = custom;
        }
        entry.updated = now;
        store.set(key, entry);
        return { status: 204 };
      }
      case "DELETE metadata": {
        store.delete(key);
        return { status: 204 };
      }
      case "LIST metadata": {
        const folder = key === "" || key.endsWith("/") ? key : `${key}/`;
        const keys = new Set<string>();
        for (const path of store.keys()) {
          if (!path.startsWith(folder)) continue;
          const rest = path.slice(folder.length);
          const slash = rest.indexOf("/");
          keys.add(slash === -1 ? rest : rest.slice(0, slash + 1));
        }
        if (keys.size === 0) throw notFound();
        return { status: 200, payload: envelope({ data: { keys: [...keys].sort() } }) };
      }
      default:
        throw new HttpError(405, ["unsupported operation"]);
    }
  }

  private newKey(now: number): KvKey {
    return {
      versions: new Map(),
      current: 0,
      oldest: 0,
      maxVersions: 0,
      casRequired: false,
      customMetadata: null,
      created: now,
      updated: now,
    };
  }
}

// ---- transit --------------------------------------------------------------------------------

function transitRoute(
  keys: Map<string, TransitKey>,
  op: string,
  name: string,
  body: Record<string, unknown>,
): Record<string, unknown> {
  const aad = Buffer.from(op === "rewrap" ? "" : String(body.associated_data ?? ""), "base64");
  switch (op) {
    case "encrypt": {
      if (typeof body.plaintext !== "string")
        throw new HttpError(400, ["missing plaintext to encrypt"]);
      let key = keys.get(name);
      if (key === undefined) {
        key = { versions: [randomBytes(32)], minDecryptionVersion: 1 };
        keys.set(name, key);
      }
      return transitEncrypt(key, Buffer.from(body.plaintext, "base64"), aad);
    }
    case "decrypt":
    case "rewrap": {
      const key = keys.get(name);
      if (key === undefined) throw new HttpError(400, ["encryption key not found"]);
      const plaintext = transitDecrypt(key, String(body.ciphertext ?? ""), aad);
      if (op === "rewrap") return transitEncrypt(key, plaintext, aad);
      return { plaintext: plaintext.toString("base64") };
    }
    default:
      throw new HttpError(404, [`no handler for route "${op}/${name}". route entry not found.`]);
  }
}

function transitEncrypt(key: TransitKey, plaintext: Buffer, aad: Buffer): Record<string, unknown> {
  const version = key.versions.length;
  const nonce = randomBytes(12);
  const cipher = createCipheriv("aes-256-gcm", key.versions[version - 1]!, nonce);
  cipher.setAAD(aad);
  const sealed = Buffer.concat([
    nonce,
    cipher.update(plaintext),
    cipher.final(),
    cipher.getAuthTag(),
  ]);
  return { ciphertext: `vault:v${version}:${sealed.toString("base64")}`, key_version: version };
}

function transitDecrypt(key: TransitKey, ciphertext: string, aad: Buffer): Buffer {
  const match = /^vault:v(\d+):(.*)$/.exec(ciphertext);
  if (match === null) throw new HttpError(400, ["invalid ciphertext: no prefix"]);
  const version = Number(match[1]);
  if (version < key.minDecryptionVersion) {
    throw new HttpError(400, ["ciphertext or signature version is disallowed by policy (too old)"]);
  }
  const material = key.versions[version - 1];
  const sealed = Buffer.from(match[2]!, "base64");
  if (material === undefined || sealed.length < 28) {
    throw new HttpError(400, ["invalid ciphertext: version is too new"]);
  }
  try {
    const decipher = createDecipheriv("aes-256-gcm", material, sealed.subarray(0, 12));
    decipher.setAAD(aad);
    decipher.setAuthTag(sealed.subarray(sealed.length - 16));
    return Buffer.concat([
      decipher.update(sealed.subarray(12, sealed.length - 16)),
      decipher.final(),
    ]);
  } catch {
    throw new HttpError(400, ["cipher: message authentication failed"]);
  }
}

function parseBody(body: string): Record<string, unknown> {
  if (body.trim() === "") return {};
  try {
    const parsed = JSON.parse(body) as unknown;
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new HttpError(400, ["failed to parse JSON input"]);
  }
}

/** "1h", "30m", "45s" or a number of seconds, as Vault's duration fields accept. */
function durationSeconds(raw: unknown): number | undefined {
  if (typeof raw === "number") return raw;
  if (typeof raw !== "string" || raw === "") return undefined;
  const match = /^(\d+)([smh]?)$/.exec(raw);
  if (match === null) return undefined;
  const n = Number(match[1]);
  return match[2] === "h" ? n * 3600 : match[2] === "m" ? n * 60 : n;
}

/** Vault's response envelope (api-docs/index.mdx; sdk/logical HTTPResponse). */
function envelope(fields: { data?: unknown; auth?: unknown }): Record<string, unknown> {
  return {
    request_id: randomUUID(),
    lease_id: "",
    renewable: false,
    lease_duration: 0,
    data: fields.data ?? null,
    wrap_info: null,
    warnings: null,
    auth: fields.auth ?? null,
  };
}
