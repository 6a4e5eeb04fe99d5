/**
 * keyward's HTTP client for HashiCorp Vault and OpenBao: where Vault is (VAULT_ADDR,
 * VAULT_NAMESPACE, VAULT_CACERT / VAULT_CAPATH, as the vault CLI reads them), how keyward
 * logs in (token, AppRole, JWT/OIDC, Kubernetes), token renewal, bounded retries, and errors
 * that name the credential source tried and never contain a token or a value.
 *
 * HashiCorp publishes no Node client for Vault on npm (hashicorp/vault-client-typescript is a
 * generated client that is not published), and the community clients wrap the same small HTTP
 * API, so keyward speaks it directly. Requests go through node:http/https rather than fetch:
 * Node 20's fetch cannot be given a CA bundle (VAULT_CACERT) without the undici package.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { KeywardError } from "../core/errors.js";
import { backoffDelay } from "./remote.js";

/** How keyward authenticates to Vault; credentials come from the environment or files, never the config. */
export type VaultAuth =
  | { method: "token"; tokenFile?: string }
  | {
      method: "approle";
      mount?: string;
      roleIdEnv?: string;
      roleIdFile?: string;
      secretIdEnv?: string;
      secretIdFile?: string;
    }
  | { method: "jwt"; mount?: string; role?: string; jwtFile?: string; jwtEnv?: string }
  | { method: "kubernetes"; mount?: string; role: string; tokenFile?: string };

export interface VaultConnection {
  /** Default: VAULT_ADDR, else https://127.0.0.1:8200 (the vault CLI's default). */
  address?: string;
  /** Default: VAULT_NAMESPACE. */
  namespace?: string;
  /** PEM file of the CA that signed Vault's certificate. Default: VAULT_CACERT, then VAULT_CAPATH. */
  caCert?: string;
  auth: VaultAuth;
  /** Per attempt. */
  timeoutMs?: number;
}

export interface VaultRetry {
  /** Total attempts, the first included. */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_VAULT_RETRY: VaultRetry = { attempts: 4, baseDelayMs: 250, maxDelayMs: 4000 };
export const DEFAULT_VAULT_TIMEOUT_MS = 10_000;
export const DEFAULT_KUBERNETES_TOKEN_FILE = "/var/run/secrets/kubernetes.io/serviceaccount/token";

/** KV values are at most 1 MiB but JSON escaping can grow them; anything far larger is not Vault. */
const MAX_RESPONSE_BYTES = 16 * 1024 * 1024;

/** Seams for tests: fast retries, and the clock token renewal is timed by. */
export interface VaultClientTesting {
  retry?: VaultRetry;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export interface VaultResponse {
  status: number;
  /** Parsed JSON body; undefined for 204 or an empty body. */
  body: Record<string, unknown> | undefined;
  /** Vault's clock from the Date header (Unix ms, second precision), when it sent one. */
  date: number | undefined;
  /** True when an earlier attempt of this request failed in a way that may have applied it. */
  retried: boolean;
}

export interface VaultRequest {
  /** Path after /v1/, e.g. `secret/data/keyward/secrets/github/token`. */
  path: string;
  query?: Record<string, string>;
  body?: unknown;
  /** Statuses returned to the caller instead of thrown (404 for "absent", 400 for a CAS mismatch). */
  accept?: readonly number[];
  /** What the call is for, named in errors: `secret "github/token"`. */
  subject?: string;
}

interface ResolvedAuth {
  method: VaultAuth["method"];
  /** As shown to users: "AppRole (role id from VAULT_ROLE_ID, secret id from file /run/secret-id)". */
  description: string;
  mount: string;
  /** Static token methods read the token; login methods build the login body. Reads happen at use, so rotated files are picked up. */
  load(): { token: string } | { login: Record<string, string> };
}

interface HeldToken {
  token: string;
  /** Local clock (ms) when this token's lease started, and its length; undefined = never expires. */
  leaseStart: number;
  leaseSeconds: number | undefined;
  renewable: boolean;
}

type Transport = (
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  timeoutMs: number,
) => Promise<{ status: number; headers: IncomingHttpHeaders; text: string }>;

/** Where Vault is and how to reach it, resolved from options and environment without a network call. */
export function resolveAddress(connection: VaultConnection, env: NodeJS.ProcessEnv): string {
  const raw = connection.address ?? env.VAULT_ADDR ?? "https://127.0.0.1:8200";
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new KeywardError(
      "config_invalid",
      `the Vault address ${JSON.stringify(raw)} is not a URL`,
      "set VAULT_ADDR (or store.address) to Vault's URL, for example https://vault.example.com:8200",
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new KeywardError(
      "config_invalid",
      `the Vault address ${url.origin} must use https (or http on a loopback address)`,
      "set VAULT_ADDR to Vault's https:// URL",
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new KeywardError(
      "config_invalid",
      "the Vault address must not carry a user name or password",
      "remove them from VAULT_ADDR; keyward authenticates with the method in store.auth",
    );
  }
  return url.origin + url.pathname.replace(/\/+$/, "");
}

export function resolveNamespace(
  connection: VaultConnection,
  env: NodeJS.ProcessEnv,
): string | undefined {
  const ns = (connection.namespace ?? env.VAULT_NAMESPACE ?? "").replace(/^\/+|\/+$/g, "");
  return ns === "" ? undefined : ns;
}

/** The auth method and where its credentials come from, as `keyward status` shows it. */
export function describeAuth(auth: VaultAuth, env: NodeJS.ProcessEnv): string {
  return resolveAuth(auth, env).description;
}

function readCredentialFile(path: string, what: string, method: string): string {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new KeywardError(
      "upstream_unauthorized",
      `cannot read the ${what} for Vault ${method} login from file ${path} (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`,
      `check that ${path} exists and that this user can read it`,
    );
  }
  if (text === "") {
    throw new KeywardError(
      "upstream_unauthorized",
      `the ${what} file ${path} for Vault ${method} login is empty`,
      `write the ${what} into ${path}`,
    );
  }
  return text;
}

function readCredentialEnv(
  env: NodeJS.ProcessEnv,
  name: string,
  what: string,
  method: string,
): string {
  const value = env[name]?.trim() ?? "";
  if (value === "") {
    throw new KeywardError(
      "upstream_unauthorized",
      `the ${what} for Vault ${method} login was expected in ${name}, which is not set`,
      `export ${name}, or name a file holding the ${what} in the store's auth settings`,
    );
  }
  return value;
}

function resolveAuth(auth: VaultAuth, env: NodeJS.ProcessEnv): ResolvedAuth {
  switch (auth.method) {
    case "token": {
      // The vault CLI's order: VAULT_TOKEN, then the token helper's file (~/.vault-token).
      const envToken = env.VAULT_TOKEN?.trim();
      if (envToken !== undefined && envToken !== "") {
        return {
          method: "token",
          mount: "token",
          description: "token from VAULT_TOKEN",
          load: () => ({ token: readCredentialEnv(env, "VAULT_TOKEN", "token", "token") }),
        };
      }
      const file = auth.tokenFile ?? join(env.HOME ?? homedir(), ".vault-token");
      return {
        method: "token",
        mount: "token",
        description: `token from file ${file}`,
        load: () => ({ token: readCredentialFile(file, "token", "token") }),
      };
    }
    case "approle": {
      const mount = auth.mount ?? "approle";
      const roleIdEnv = auth.roleIdEnv ?? "VAULT_ROLE_ID";
      const secretIdEnv = auth.secretIdEnv ?? "VAULT_SECRET_ID";
      const roleSource = auth.roleIdFile === undefined ? roleIdEnv : `file ${auth.roleIdFile}`;
      const secretSource =
        auth.secretIdFile === undefined ? secretIdEnv : `file ${auth.secretIdFile}`;
      return {
        method: "approle",
        mount,
        description: `AppRole at auth/${mount} (role id from ${roleSource}, secret id from ${secretSource})`,
        load: () => ({
          login: {
            role_id:
              auth.roleIdFile === undefined
                ? readCredentialEnv(env, roleIdEnv, "role id", "AppRole")
                : readCredentialFile(auth.roleIdFile, "role id", "AppRole"),
            secret_id:
              auth.secretIdFile === undefined
                ? readCredentialEnv(env, secretIdEnv, "secret id", "AppRole")
                : readCredentialFile(auth.secretIdFile, "secret id", "AppRole"),
          },
        }),
      };
    }
    case "jwt": {
      const mount = auth.mount ?? "jwt";
      const source =
        auth.jwtFile !== undefined ? `file ${auth.jwtFile}` : (auth.jwtEnv ?? "VAULT_JWT");
      const role = auth.role === undefined ? "the mount's default role" : `role ${auth.role}`;
      return {
        method: "jwt",
        mount,
        description: `JWT/OIDC at auth/${mount}, ${role} (JWT from ${source})`,
        load: () => {
          const jwt =
            auth.jwtFile !== undefined
              ? readCredentialFile(auth.jwtFile, "JWT", "JWT")
              : readCredentialEnv(env, auth.jwtEnv ?? "VAULT_JWT", "JWT", "JWT");
          const login: Record<string, string> = { jwt };
          if (auth.role !== undefined) login.role = auth.role;
          return { login };
        },
      };
    }
    case "kubernetes": {
      const mount = auth.mount ?? "kubernetes";
      const file = auth.tokenFile ?? DEFAULT_KUBERNETES_TOKEN_FILE;
      return {
        method: "kubernetes",
        mount,
        description: `Kubernetes at auth/${mount}, role ${auth.role} (service-account token from file ${file})`,
        load: () => ({
          login: {
            role: auth.role,
            jwt: readCredentialFile(file, "service-account token", "Kubernetes"),
          },
        }),
      };
    }
  }
}

/** The CA bundle, as the vault CLI reads it: an explicit file, else VAULT_CACERT, else every file in VAULT_CAPATH. */
function loadCa(connection: VaultConnection, env: NodeJS.ProcessEnv): string | undefined {
  if (env.VAULT_SKIP_VERIFY !== undefined && !/^(0|false|)$/i.test(env.VAULT_SKIP_VERIFY)) {
    throw new KeywardError(
      "refused",
      "VAULT_SKIP_VERIFY is set: keyward does not send Vault credentials over a connection whose certificate it has not checked",
      "unset VAULT_SKIP_VERIFY and set VAULT_CACERT to the CA that signed Vault's certificate",
    );
  }
  const file = connection.caCert ?? env.VAULT_CACERT;
  const read = (path: string) => {
    try {
      return readFileSync(path, "utf8");
    } catch (e) {
      throw new KeywardError(
        "config_invalid",
        `cannot read the Vault CA certificate ${path} (${(e as NodeJS.ErrnoException).code ?? "unreadable"})`,
        "point VAULT_CACERT (or store.caCert) at a readable PEM file",
      );
    }
  };
  if (file !== undefined && file !== "") return read(file);
  const dir = env.VAULT_CAPATH;
  if (dir === undefined || dir === "") return undefined;
  let names: string[];
  try {
    names = readdirSync(dir).sort();
  } catch {
    throw new KeywardError(
      "config_invalid",
      `cannot read the Vault CA folder ${dir} (VAULT_CAPATH)`,
      "point VAULT_CAPATH at a folder of PEM files, or use VAULT_CACERT",
    );
  }
  const pems = names
    .map((n) => join(dir, n))
    .filter((p) => statSync(p).isFile())
    .map(read)
    .filter((t) => t.includes("-----BEGIN CERTIFICATE-----"));
  return pems.length === 0 ? undefined : pems.join("\n");
}

function nodeTransport(
  address: string,
  ca: string | undefined,
): {
  transport: Transport;
  close: () => void;
} {
  const https = address.startsWith("https:");
  // Keep-alive: a keyward read is two requests, and TLS handshakes would dominate.
  const agent = https
    ? new HttpsAgent({ keepAlive: true, maxSockets: 8, ...(ca === undefined ? {} : { ca }) })
    : new HttpAgent({ keepAlive: true, maxSockets: 8 });
  const send = https ? httpsRequest : httpRequest;
  const transport: Transport = (url, method, headers, body, timeoutMs) =>
    new Promise((resolve, reject) => {
      const req = send(url, { method, headers, agent, timeout: timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (chunk: Buffer) => {
          size += chunk.length;
          if (size > MAX_RESPONSE_BYTES) {
            req.destroy(Object.assign(new Error("response too large"), { code: "ETOOBIG" }));
            return;
          }
          chunks.push(chunk);
        });
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      });
      req.on("timeout", () =>
        req.destroy(Object.assign(new Error("timeout"), { code: "ETIMEDOUT" })),
      );
      req.on("error", reject);
      req.end(body);
    });
  return { transport, close: () => agent.destroy() };
}

/** Statuses worth another attempt: Vault's own advice for 412, rate limits, and server trouble. */
function retryable(status: number): boolean {
  return status === 412 || status === 429 || status === 500 || status === 502 || status === 503;
}

function errorCode(e: unknown): string {
  const code = (e as { code?: unknown } | undefined)?.code;
  return typeof code === "string" && /^[A-Z_]{3,40}$/.test(code) ? code : "network error";
}

/** Vault's own short explanation from `{"errors":[…]}`, with control characters removed. */
export function vaultErrors(body: Record<string, unknown> | undefined): string | undefined {
  const errors = body?.errors;
  if (!Array.isArray(errors) || errors.length === 0) return undefined;
  return errors
    .map((e) => String(e))
    .join("; ")
    .replace(/[\u0000-\u001f\u007f]/g, " ")
    .slice(0, 300);
}

/**
 * One authenticated connection to Vault. Every request keyward sends is safe to repeat: reads,
 * deletes and destroys are idempotent, and every KV write carries `cas`, so a repeated write
 * fails instead of applying twice (callers tell "my earlier attempt landed" apart by a nonce).
 * That is why 5xx, 412, 429, dropped connections and timeouts are all retried, with bounds.
 */
export class VaultClient {
  readonly address: string;
  readonly namespace: string | undefined;
  readonly authDescription: string;
  private readonly auth: ResolvedAuth;
  private readonly transport: Transport;
  private readonly closeTransport: () => void;
  private held: HeldToken | undefined;
  private loggingIn: Promise<HeldToken> | undefined;
  private readonly timeoutMs: number;
  private readonly retry: VaultRetry;
  private readonly sleep: (ms: number) => Promise<void>;
  /** The clock token leases are timed by. */
  private readonly now: () => number;
  /** Every token and login credential this client has handled, kept out of error messages. */
  private readonly sensitive = new Set<string>();

  constructor(
    connection: VaultConnection,
    env: NodeJS.ProcessEnv,
    options: VaultClientTesting = {},
  ) {
    this.address = resolveAddress(connection, env);
    this.namespace = resolveNamespace(connection, env);
    this.auth = resolveAuth(connection.auth, env);
    this.authDescription = this.auth.description;
    const { transport, close } = nodeTransport(this.address, loadCa(connection, env));
    this.transport = transport;
    this.closeTransport = close;
    this.timeoutMs = connection.timeoutMs ?? DEFAULT_VAULT_TIMEOUT_MS;
    this.retry = options.retry ?? DEFAULT_VAULT_RETRY;
    this.sleep = options.sleep ?? ((ms) => delay(ms).then(() => {}));
    this.now = options.now ?? Date.now;
  }

  close(): void {
    this.held = undefined;
    this.closeTransport();
  }

  /** Logs in (or loads the token) now, so a wrong credential fails at open, not at first use. */
  async authenticate(): Promise<void> {
    await this.token();
  }

  /** Sends an authenticated request; retries as described on the class; maps failures to KeywardErrors. */
  async request(method: string, req: VaultRequest): Promise<VaultResponse> {
    let relogged = false;
    for (;;) {
      const held = await this.token();
      const response = await this.send(method, req, held.token);
      if (response.status === 403 && !req.accept?.includes(403)) {
        // An expired or revoked login token: log in again once. A token that is fine but
        // lacks a policy fails again and is reported as a permission problem.
        if (this.auth.method !== "token" && !relogged) {
          relogged = true;
          this.forget(held);
          continue;
        }
        throw await this.forbidden(method, req, response, held);
      }
      if (response.status < 400 || req.accept?.includes(response.status)) return response;
      throw this.statusError(method, req, response);
    }
  }

  /** A request that needs no token (logins), with the same retries and error mapping. */
  private async send(
    method: string,
    req: VaultRequest,
    token: string | undefined,
  ): Promise<VaultResponse> {
    const url = new URL(`${this.address}/v1/${req.path}`);
    for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
    const headers: Record<string, string> = { "X-Vault-Request": "true" };
    if (token !== undefined) headers["X-Vault-Token"] = token;
    if (this.namespace !== undefined) headers["X-Vault-Namespace"] = this.namespace;
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers["Content-Type"] = "application/json";
    }
    const what = `${method} ${req.path}`;
    let ambiguous = false;
    for (let attempt = 1; ; attempt++) {
      const last = attempt >= this.retry.attempts;
      let raw: Awaited<ReturnType<Transport>>;
      try {
        raw = await this.transport(url, method, headers, body, this.timeoutMs);
      } catch (e) {
        // The request may have reached Vault and been applied before the connection died.
        ambiguous = true;
        const code = errorCode(e);
        if (!last) {
          await this.sleep(this.backoff(attempt));
          continue;
        }
        const timedOut = code === "ETIMEDOUT";
        throw new KeywardError(
          timedOut ? "upstream_timeout" : "upstream_unavailable",
          this.scrub(
            timedOut
              ? `Vault at ${this.address} did not answer ${what}${this.about(req)} within ${this.timeoutMs} ms (${attempt} attempts)`
              : `could not reach Vault at ${this.address} for ${what}${this.about(req)} (${code}, ${attempt} attempts)`,
          ),
          "check VAULT_ADDR, the network and Vault's health (`vault status`), then run the command again",
        );
      }
      const parsed = this.parse(raw.text, what, req);
      if (retryable(raw.status) && !last) {
        if (raw.status >= 500) ambiguous = true;
        await this.sleep(this.retryDelay(raw.headers, attempt));
        continue;
      }
      const date = Date.parse(String(raw.headers.date ?? ""));
      return {
        status: raw.status,
        body: parsed,
        date: Number.isNaN(date) ? undefined : date,
        retried: ambiguous,
      };
    }
  }

  private parse(
    text: string,
    what: string,
    req: VaultRequest,
  ): Record<string, unknown> | undefined {
    if (text.trim() === "") return undefined;
    try {
      const parsed = JSON.parse(text) as unknown;
      return typeof parsed === "object" && parsed !== null
        ? (parsed as Record<string, unknown>)
        : undefined;
    } catch {
      throw new KeywardError(
        "upstream_rejected",
        this.scrub(
          `Vault at ${this.address} answered ${what}${this.about(req)} with a body that is not JSON`,
        ),
        "check VAULT_ADDR: it may point at a proxy or another service rather than Vault's API",
      );
    }
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt - 1, this.retry);
  }

  private retryDelay(headers: IncomingHttpHeaders, attempt: number): number {
    const after = Number(headers["retry-after"]);
    if (Number.isFinite(after) && after >= 0) return Math.min(after * 1000, this.retry.maxDelayMs);
    return this.backoff(attempt);
  }

  private about(req: VaultRequest): string {
    return req.subject === undefined ? "" : ` (${req.subject})`;
  }

  private scrub(text: string): string {
    let out = text;
    for (const s of [...this.sensitive].sort((a, b) => b.length - a.length)) {
      if (s.length >= 4) out = out.split(s).join("[redacted]");
    }
    return out;
  }

  private statusError(method: string, req: VaultRequest, response: VaultResponse): KeywardError {
    const what = `${method} ${req.path}${this.about(req)}`;
    const said = vaultErrors(response.body);
    const detail = said === undefined ? `${response.status}` : `${response.status}: ${said}`;
    const status = response.status;
    if (status === 404) {
      return new KeywardError(
        "not_found",
        this.scrub(`Vault has nothing at ${req.path}${this.about(req)} (${detail})`),
        "check the store's mount and prefix settings, and that the path exists",
      );
    }
    if (status === 503) {
      return new KeywardError(
        "upstream_unavailable",
        this.scrub(
          `Vault at ${this.address} is sealed or unavailable: ${what} answered ${detail} after ${this.retry.attempts} attempts`,
        ),
        "check `vault status`; an operator may need to unseal Vault",
      );
    }
    if (status >= 500 || status === 412 || status === 429) {
      return new KeywardError(
        status === 429 ? "upstream_rate_limited" : "upstream_unavailable",
        this.scrub(
          `Vault at ${this.address} answered ${what} with ${detail} after ${this.retry.attempts} attempts`,
        ),
        "Vault is failing or overloaded; check its health and run the command again later",
      );
    }
    return new KeywardError(
      "upstream_rejected",
      this.scrub(`Vault rejected ${what} (${detail})`),
      "check the store settings (mount, prefix) and the request; Vault's message says what it expected",
    );
  }

  /** 403 after a fresh login, or with a static token: tell an unusable token from a missing policy. */
  private async forbidden(
    method: string,
    req: VaultRequest,
    response: VaultResponse,
    held: HeldToken,
  ): Promise<KeywardError> {
    const check = await this.send("GET", { path: "auth/token/lookup-self" }, held.token);
    if (check.status === 403) {
      this.forget(held);
      return new KeywardError(
        "upstream_unauthorized",
        `Vault refused the ${this.auth.description}: it is expired, revoked or not valid at ${this.address}${this.namespace === undefined ? "" : ` in namespace ${this.namespace}`}`,
        this.auth.method === "token"
          ? "get a fresh token (`vault login`) and put it where keyward looks for it"
          : "check the login credentials and the role's token TTLs in Vault",
      );
    }
    const said = vaultErrors(response.body) ?? "permission denied";
    return new KeywardError(
      "upstream_forbidden",
      this.scrub(
        `Vault denied ${method} ${req.path}${this.about(req)} (403: ${said}) to the ${this.auth.description}`,
      ),
      `grant the token's policy the needed capability on ${req.path.split("/").slice(0, 2).join("/")}/… (see docs/backends/vault.md for the policy keyward needs)`,
    );
  }

  // ---- tokens -------------------------------------------------------------------------------

  private forget(held: HeldToken): void {
    if (this.held === held) this.held = undefined;
  }

  private async token(): Promise<HeldToken> {
    const held = this.held;
    if (held !== undefined) {
      const renewed = await this.renewIfDue(held);
      if (renewed !== undefined) return renewed;
    }
    this.loggingIn ??= this.obtain().finally(() => {
      this.loggingIn = undefined;
    });
    this.held = await this.loggingIn;
    return this.held;
  }

  /**
   * Renews at two thirds of the lease, as Vault Agent does (renew-self with the lease length as
   * increment). Returns undefined when the token must be replaced (expired, or renewal refused
   * for a login method).
   */
  private async renewIfDue(held: HeldToken): Promise<HeldToken | undefined> {
    if (held.leaseSeconds === undefined) return held;
    const age = (this.now() - held.leaseStart) / 1000;
    if (age < (held.leaseSeconds * 2) / 3) return held;
    const expired = age >= held.leaseSeconds;
    if (held.renewable && !expired) {
      const response = await this.send(
        "POST",
        { path: "auth/token/renew-self", body: { increment: `${held.leaseSeconds}s` } },
        held.token,
      );
      const auth = response.body?.auth as Record<string, unknown> | undefined;
      if (response.status === 200 && auth !== undefined) {
        const lease = Number(auth.lease_duration);
        // A renewal that no longer extends much (explicit max TTL reached) is kept but a login
        // method logs in again once it runs out.
        const next: HeldToken = {
          token: held.token,
          leaseStart: this.now(),
          leaseSeconds: Number.isFinite(lease) && lease > 0 ? lease : held.leaseSeconds,
          renewable: auth.renewable === true && lease >= held.leaseSeconds / 3,
        };
        this.held = next;
        return next;
      }
    }
    if (this.auth.method === "token") {
      if (expired) {
        throw new KeywardError(
          "upstream_unauthorized",
          `the ${this.auth.description} expired and cannot be renewed`,
          "get a fresh token (`vault login`) and put it where keyward looks for it",
        );
      }
      return held;
    }
    return expired ? undefined : held;
  }

  private async obtain(): Promise<HeldToken> {
    const loaded = this.auth.load();
    if ("token" in loaded) {
      this.sensitive.add(loaded.token);
      const response = await this.send("GET", { path: "auth/token/lookup-self" }, loaded.token);
      if (response.status === 403 || response.status === 401) {
        throw new KeywardError(
          "upstream_unauthorized",
          `Vault at ${this.address} refused the ${this.auth.description} (${response.status}: ${vaultErrors(response.body) ?? "permission denied"}): it is expired, revoked or belongs to another Vault or namespace`,
          "get a fresh token (`vault login`) and put it where keyward looks for it",
        );
      }
      if (response.status >= 400)
        throw this.statusError("GET", { path: "auth/token/lookup-self" }, response);
      const data = (response.body?.data ?? {}) as Record<string, unknown>;
      const ttl = Number(data.ttl);
      return {
        token: loaded.token,
        leaseStart: this.now(),
        leaseSeconds: Number.isFinite(ttl) && ttl > 0 ? ttl : undefined,
        renewable: data.renewable === true,
      };
    }
    for (const v of Object.values(loaded.login)) this.sensitive.add(v);
    const path = `auth/${this.auth.mount}/login`;
    const response = await this.send("POST", { path, body: loaded.login }, undefined);
    const auth = response.body?.auth as Record<string, unknown> | undefined;
    const token = auth?.client_token;
    if (response.status !== 200 || typeof token !== "string" || token === "") {
      const said = vaultErrors(response.body) ?? "no token in the answer";
      throw new KeywardError(
        "upstream_unauthorized",
        this.scrub(
          `Vault at ${this.address} refused the login at ${path} (${response.status}: ${said}); tried ${this.auth.description}`,
        ),
        response.status === 404
          ? `no auth method is mounted at auth/${this.auth.mount}; set the mount in the store's auth settings`
          : "check that those credentials are current and that the role exists and allows this login",
      );
    }
    this.sensitive.add(token);
    const lease = Number(auth?.lease_duration);
    return {
      token,
      leaseStart: this.now(),
      leaseSeconds: Number.isFinite(lease) && lease > 0 ? lease : undefined,
      renewable: auth?.renewable === true,
    };
  }
}
