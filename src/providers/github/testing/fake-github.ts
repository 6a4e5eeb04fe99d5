/**
 * A fake GitHub REST API on 127.0.0.1 for tests, reproducing the requests, answers and headers
 * documented in /work/shared/reference/providers.md §1 (sources there):
 *
 * - §1.2 conventions: 403 without a User-Agent, 400 for an unknown X-GitHub-Api-Version, 415 for
 *   an Accept it cannot serve; 401 "Bad credentials"; 404 (not 403) for private resources the key
 *   cannot see; x-ratelimit-* on every answer.
 * - §1.3 GET /rate_limit with X-OAuth-Scopes (classic PAT, OAuth), GitHub-Authentication-Token-
 *   Expiration, and the documented body; 403 "Resource not accessible by personal access token"
 *   / "… by integration" with X-Accepted-GitHub-Permissions for fine-grained actors.
 * - §1.5 POST /app/installations/{id}/access_tokens verifying the RS256 App JWT with the App's
 *   public key, answering 201 with the narrowed permissions and repositories; DELETE
 *   /installation/token → 204.
 * - §1.6 POST /credentials/revoke: unauthenticated on github.com (authenticated → 403), at most
 *   1,000 credentials, 202 / 422, 60 requests an hour; on Enterprise Server (pathPrefix
 *   "/api/v3") authenticated and PATs only.
 *
 * Tokens are generated at run time (checksum-valid ones are never stored in the repository).
 */
import { createPublicKey, createVerify, generateKeyPairSync, randomBytes } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";
import { BASE62, withClassicChecksum } from "../../../detect/checksum.js";
import type { FakeServerHandle } from "../../conformance.js";
import { type GitHubTokenKind, identifyGitHubToken } from "../tokens.js";

export interface FakeTokenSpec {
  kind: Exclude<GitHubTokenKind, "refresh">;
  /** Classic PAT / OAuth scopes, sent back in X-OAuth-Scopes. */
  scopes?: string[];
  /** Fine-grained permissions (`{ issues: "read" }`) for fine-grained PATs and App tokens. */
  permissions?: Record<string, string>;
  /** Repository names the token may reach; undefined = all. */
  repositories?: string[];
  expiresAt?: Date;
}

/** An endpoint the fake serves for scope probes: GET path → {} when the key may read it. */
export interface FakeResource {
  path: string;
  repository: string;
  private: boolean;
  /** X-Accepted-GitHub-Permissions, e.g. "issues=read" or "pull_requests=read; contents=read". */
  acceptedPermissions: string;
  /** X-Accepted-OAuth-Scopes, e.g. "repo". */
  acceptedScopes: string[];
}

export interface FakeGitHubOptions {
  /** "/api/v3" makes it behave as GitHub Enterprise Server. */
  pathPrefix?: "" | "/api/v3";
  /** Requests an hour the revocation API allows (GitHub: 60). */
  revokeLimitPerHour?: number;
  /** Issue installation tokens in the stateless `ghs_<app id>_<JWT>` format (else the 40-char classic one). */
  statelessTokens?: boolean;
  now?: () => Date;
  /** A different App private key from other fakes' (they share one by default). */
  distinctAppKey?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

export interface FakeGitHub extends FakeServerHandle {
  /** As FakeServerHandle's, optionally only for one API path (e.g. "/rate_limit"). */
  failNext(status: number, times: number, headers?: Record<string, string>, path?: string): void;
  settings: { apiBaseUrl: string } & Record<string, unknown>;
  /** Issues a token of the kind and registers it; returns its value. */
  addToken(spec: FakeTokenSpec): string;
  /** A token's state, or undefined for one the fake never issued. */
  token(value: string): (FakeTokenSpec & { revoked: boolean }) | undefined;
  resources: FakeResource[];
  app: {
    appId: string;
    installationId: string;
    /** The App's private key (PEM), as a user would store it. */
    privateKey: string;
    permissions: Record<string, string>;
    repositories: string[];
  };
  requests: RecordedRequest[];
  close(): Promise<void>;
}

const API_VERSIONS = ["2022-11-28"];
const DOCS = "https://docs.github.com/rest";
const LEVELS = ["read", "write", "admin"];

function randomChars(length: number): string {
  let out = "";
  while (out.length < length)
    for (const byte of randomBytes(length * 2))
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
  return out;
}

const segment = (json: unknown) => Buffer.from(JSON.stringify(json)).toString("base64url");

function tokenValue(kind: FakeTokenSpec["kind"], appId: string, stateless: boolean): string {
  if (kind === "fine-grained-pat") return `github_pat_${randomChars(22)}_${randomChars(59)}`;
  const prefix = {
    "classic-pat": "ghp_",
    oauth: "gho_",
    "user-to-server": "ghu_",
    installation: "ghs_",
  }[kind];
  if (kind === "installation" && stateless) {
    // The embedded JWT's layout is undocumented and clients must not depend on it; any signed-looking JWT will do.
    const jwt = `${segment({ alg: "RS256", typ: "JWT" })}.${segment({ iss: appId, jti: randomChars(16) })}.${randomChars(342)}`;
    return `ghs_${appId}_${jwt}`;
  }
  return withClassicChecksum(prefix, randomChars(30));
}

/** GitHub's `2021-10-07 19:07:53 UTC`. */
function expirationHeader(date: Date): string {
  return `${date.toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

function satisfies(granted: Record<string, string>, accepted: string): boolean {
  return accepted.split(";").some((set) =>
    set.split(",").every((entry) => {
      const [name, level] = entry.trim().split("=");
      const have = granted[name ?? ""];
      return have !== undefined && LEVELS.indexOf(have) >= LEVELS.indexOf(level ?? "admin");
    }),
  );
}

const appKeyPair = () => generateKeyPairSync("rsa", { modulusLength: 2048 });
let shared: ReturnType<typeof appKeyPair> | undefined;
/** RSA key generation is the slowest part of a test run: fakes share one App key unless told otherwise. */
function sharedAppKey(): ReturnType<typeof appKeyPair> {
  shared ??= appKeyPair();
  return shared;
}

export async function startFakeGitHub(options: FakeGitHubOptions = {}): Promise<FakeGitHub> {
  const prefix = options.pathPrefix ?? "";
  const now = options.now ?? (() => new Date());
  const enterprise = prefix === "/api/v3";
  const revokeLimit = options.revokeLimitPerHour ?? 60;
  const tokens = new Map<string, FakeTokenSpec & { revoked: boolean }>();
  const requests: RecordedRequest[] = [];
  const scripted: { status: number; headers: Record<string, string>; path?: string }[] = [];
  let hangs = 0;
  const hanging = new Set<ServerResponse>();
  let revokeWindow = { start: 0, count: 0 };
  let coreUsed = 0;

  const { privateKey, publicKey } = options.distinctAppKey ? appKeyPair() : sharedAppKey();
  const app = {
    appId: "424242",
    installationId: "9000001",
    privateKey: privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    permissions: {
      contents: "write",
      issues: "write",
      metadata: "read",
      pull_requests: "read",
    } as Record<string, string>,
    repositories: ["api", "web", "docs"],
  };
  const appPublicKey = createPublicKey(publicKey.export({ type: "spki", format: "pem" }));

  const addToken = (spec: FakeTokenSpec): string => {
    const value = tokenValue(spec.kind, app.appId, options.statelessTokens ?? false);
    tokens.set(value, { ...spec, revoked: false });
    return value;
  };

  const resources: FakeResource[] = [];

  function rateHeaders(): OutgoingHttpHeaders {
    const reset = Math.floor(now().getTime() / 1000) + 3600;
    return {
      "x-ratelimit-limit": "5000",
      "x-ratelimit-remaining": String(5000 - coreUsed),
      "x-ratelimit-used": String(coreUsed),
      "x-ratelimit-reset": String(reset),
      "x-ratelimit-resource": "core",
    };
  }

  function send(
    res: ServerResponse,
    status: number,
    body: unknown,
    headers: OutgoingHttpHeaders = {},
  ) {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, {
      ...rateHeaders(),
      ...(text === "" ? {} : { "content-type": "application/json; charset=utf-8" }),
      ...headers,
    });
    res.end(text);
  }

  const badCredentials = (res: ServerResponse) =>
    send(res, 401, { message: "Bad credentials", documentation_url: DOCS, status: "401" });
  const notFound = (res: ServerResponse) =>
    send(res, 404, { message: "Not Found", documentation_url: DOCS, status: "404" });

  /** The bearer (or `token`) credential, if any. */
  function credentialOf(req: IncomingMessage): string | undefined {
    const match = /^(?:bearer|token)\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    return match?.[1];
  }

  /** The live token behind the request: undefined when unauthenticated, null when the credentials are bad. */
  function authenticate(
    req: IncomingMessage,
  ): { value: string; spec: FakeTokenSpec } | undefined | null {
    const value = credentialOf(req);
    if (value === undefined) return undefined;
    const spec = tokens.get(value);
    if (spec === undefined || spec.revoked) return null;
    if (spec.expiresAt !== undefined && spec.expiresAt.getTime() <= now().getTime()) return null;
    return { value, spec };
  }

  function verifyAppJwt(req: IncomingMessage): string | undefined {
    const jwt = credentialOf(req) ?? "";
    const [head, payload, signature] = jwt.split(".");
    if (head === undefined || payload === undefined || signature === undefined)
      return "A JSON web token could not be decoded";
    let header: { alg?: unknown };
    let claims: { iat?: unknown; exp?: unknown; iss?: unknown };
    try {
      header = JSON.parse(Buffer.from(head, "base64url").toString());
      claims = JSON.parse(Buffer.from(payload, "base64url").toString());
    } catch {
      return "A JSON web token could not be decoded";
    }
    if (header.alg !== "RS256") return "A JSON web token could not be decoded";
    const valid = createVerify("RSA-SHA256")
      .update(`${head}.${payload}`)
      .verify(appPublicKey, Buffer.from(signature, "base64url"));
    if (!valid) return "A JSON web token could not be decoded";
    const seconds = Math.floor(now().getTime() / 1000);
    if (typeof claims.exp !== "number" || typeof claims.iat !== "number")
      return "Missing 'issued at' or 'expiration' time claim";
    if (claims.exp > seconds + 600)
      return "'Expiration time' claim ('exp') is too far in the future";
    if (claims.exp <= seconds)
      return "'Expiration time' claim ('exp') must be a numeric value representing the future time at which the assertion expires";
    if (claims.iat > seconds + 60)
      return "'Issued at' claim ('iat') must be an Integer representing the time that the assertion was issued";
    if (String(claims.iss) !== app.appId) return "Integration not found";
    return undefined;
  }

  function rateLimit(res: ServerResponse, auth: { spec: FakeTokenSpec } | undefined) {
    const core = auth === undefined ? { limit: 60, used: 0 } : { limit: 5000, used: coreUsed };
    const bucket = (limit: number, used: number) => ({
      limit,
      used,
      remaining: limit - used,
      reset: Math.floor(now().getTime() / 1000) + 3600,
    });
    const headers: OutgoingHttpHeaders = {};
    const kind = auth?.spec.kind;
    if (kind === "classic-pat" || kind === "oauth") {
      headers["x-oauth-scopes"] = (auth!.spec.scopes ?? []).join(", ");
      headers["x-accepted-oauth-scopes"] = "";
    }
    if (auth?.spec.expiresAt !== undefined)
      headers["github-authentication-token-expiration"] = expirationHeader(auth.spec.expiresAt);
    send(
      res,
      200,
      {
        resources: {
          core: bucket(core.limit, core.used),
          search: bucket(30, 0),
          code_search: bucket(10, 0),
          graphql: bucket(5000, 0),
          integration_manifest: bucket(5000, 0),
          dependency_snapshots: bucket(100, 0),
          code_scanning_upload: bucket(500, 0),
          actions_runner_registration: bucket(10000, 0),
        },
        rate: bucket(core.limit, core.used),
      },
      headers,
    );
  }

  function resource(
    res: ServerResponse,
    found: FakeResource,
    auth: { spec: FakeTokenSpec } | undefined,
  ) {
    const spec = auth?.spec;
    if (spec === undefined) return found.private ? notFound(res) : send(res, 200, {});
    if (spec.kind === "classic-pat" || spec.kind === "oauth") {
      const ok = found.acceptedScopes.some((s) => (spec.scopes ?? []).includes(s));
      const headers = {
        "x-oauth-scopes": (spec.scopes ?? []).join(", "),
        "x-accepted-oauth-scopes": found.acceptedScopes.join(", "),
      };
      // A classic token without the scope cannot see a private repository at all.
      if (!ok && found.private)
        return send(
          res,
          404,
          { message: "Not Found", documentation_url: DOCS, status: "404" },
          headers,
        );
      return send(res, 200, {}, headers);
    }
    const headers = { "x-accepted-github-permissions": found.acceptedPermissions };
    if (
      spec.repositories !== undefined &&
      !spec.repositories.includes(found.repository) &&
      found.private
    )
      return send(
        res,
        404,
        { message: "Not Found", documentation_url: DOCS, status: "404" },
        headers,
      );
    if (satisfies(spec.permissions ?? {}, found.acceptedPermissions))
      return send(res, 200, {}, headers);
    const actor = spec.kind === "fine-grained-pat" ? "personal access token" : "integration";
    return send(
      res,
      403,
      { message: `Resource not accessible by ${actor}`, documentation_url: DOCS, status: "403" },
      headers,
    );
  }

  function mint(res: ServerResponse, installationId: string, body: string, req: IncomingMessage) {
    const jwtError = verifyAppJwt(req);
    if (jwtError !== undefined)
      return send(res, 401, { message: jwtError, documentation_url: DOCS, status: "401" });
    if (installationId !== app.installationId) return notFound(res);
    let request: { repositories?: unknown; permissions?: unknown };
    try {
      request = body === "" ? {} : JSON.parse(body);
    } catch {
      return send(res, 400, {
        message: "Problems parsing JSON",
        documentation_url: DOCS,
        status: "400",
      });
    }
    const permissions = (request.permissions ?? app.permissions) as Record<string, string>;
    for (const [name, level] of Object.entries(permissions))
      if (!satisfies(app.permissions, `${name}=${level}`))
        return send(res, 422, {
          message: "The permissions requested are not granted to this installation.",
          documentation_url: DOCS,
          status: "422",
        });
    const repositories = request.repositories as string[] | undefined;
    if (
      repositories !== undefined &&
      (!Array.isArray(repositories) ||
        repositories.length > 500 ||
        repositories.some((r) => !app.repositories.includes(r)))
    )
      return send(res, 422, {
        message:
          "There is at least one repository that does not exist or is not accessible to the parent installation.",
        documentation_url: DOCS,
        status: "422",
      });
    const expiresAt = new Date(Math.floor(now().getTime() / 1000) * 1000 + 3600_000);
    const stateless = req.headers["x-github-stateless-s2s-token"];
    const value = tokenValue(
      "installation",
      app.appId,
      stateless === undefined ? (options.statelessTokens ?? false) : stateless === "enabled",
    );
    tokens.set(value, {
      kind: "installation",
      permissions,
      repositories,
      expiresAt,
      revoked: false,
    });
    const selected = repositories ?? app.repositories;
    send(res, 201, {
      token: value,
      expires_at: expiresAt.toISOString().replace(".000Z", "Z"),
      permissions,
      repository_selection: repositories === undefined ? "all" : "selected",
      repositories: selected.map((name, i) => ({
        id: 1000 + i,
        name,
        full_name: `acme/${name}`,
        private: true,
      })),
    });
  }

  function revokeCredentials(res: ServerResponse, body: string, req: IncomingMessage) {
    const nowSeconds = Math.floor(now().getTime() / 1000);
    if (nowSeconds - revokeWindow.start >= 3600) revokeWindow = { start: nowSeconds, count: 0 };
    const limitHeaders = (used: number) => ({
      "x-ratelimit-limit": String(revokeLimit),
      "x-ratelimit-remaining": String(Math.max(0, revokeLimit - used)),
      "x-ratelimit-used": String(used),
      "x-ratelimit-reset": String(revokeWindow.start + 3600),
      "x-ratelimit-resource": "credentials_revoke",
    });
    if (revokeWindow.count >= revokeLimit)
      return send(
        res,
        429,
        { message: "API rate limit exceeded", documentation_url: DOCS, status: "429" },
        limitHeaders(revokeWindow.count),
      );
    revokeWindow.count++;
    const headers = limitHeaders(revokeWindow.count);
    const auth = authenticate(req);
    if (!enterprise && credentialOf(req) !== undefined)
      return send(
        res,
        403,
        {
          message: "This endpoint does not accept authenticated requests.",
          documentation_url: DOCS,
          status: "403",
        },
        headers,
      );
    if (enterprise && (auth === undefined || auth === null)) return badCredentials(res);
    let credentials: unknown;
    try {
      credentials = (JSON.parse(body) as { credentials?: unknown }).credentials;
    } catch {
      credentials = undefined;
    }
    const kinds = enterprise
      ? ["classic-pat", "fine-grained-pat"]
      : ["classic-pat", "fine-grained-pat", "oauth", "user-to-server", "refresh"];
    const acceptable =
      Array.isArray(credentials) &&
      credentials.length >= 1 &&
      credentials.length <= 1000 &&
      credentials.every((c) => {
        const identity = typeof c === "string" ? identifyGitHubToken(c) : undefined;
        return (
          identity !== undefined && identity.formatValid !== false && kinds.includes(identity.kind)
        );
      });
    if (!acceptable)
      return send(
        res,
        422,
        {
          message: "Validation failed, or the endpoint has been spammed.",
          documentation_url: DOCS,
          status: "422",
        },
        headers,
      );
    // Asynchronous upstream; immediate here, which is what tests need to observe it.
    for (const value of credentials as string[]) {
      const spec = tokens.get(value);
      if (spec !== undefined) spec.revoked = true;
    }
    send(res, 202, {}, headers);
  }

  async function handle(req: IncomingMessage, res: ServerResponse, body: string) {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (hangs > 0) {
      hangs--;
      hanging.add(res);
      return;
    }
    const index = scripted.findIndex(
      (s) => s.path === undefined || prefix + s.path === url.pathname,
    );
    const script = index < 0 ? undefined : scripted.splice(index, 1)[0];
    if (script !== undefined) {
      const message =
        script.status >= 500
          ? "Server Error"
          : script.status === 429
            ? "API rate limit exceeded"
            : "Scripted";
      return send(
        res,
        script.status,
        { message, documentation_url: DOCS, status: String(script.status) },
        script.headers,
      );
    }
    if (!req.headers["user-agent"]) {
      res.writeHead(403, { "content-type": "text/plain" });
      return res.end(
        "Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required). Check https://developer.github.com for other possible causes.\n",
      );
    }
    const version = req.headers["x-github-api-version"];
    if (version !== undefined && !API_VERSIONS.includes(String(version)))
      return send(res, 400, {
        message: `API version ${String(version)} is not supported.`,
        documentation_url: DOCS,
        status: "400",
      });
    const accept = req.headers.accept;
    if (
      accept !== undefined &&
      !/application\/vnd\.github(\.[a-z0-9.-]+)?(\+json)?|application\/json|\*\/\*/.test(accept)
    )
      return send(res, 415, {
        message: `Unsupported 'Accept' header: ${JSON.stringify([accept])}.`,
        documentation_url: DOCS,
        status: "415",
      });
    if (!url.pathname.startsWith(prefix)) return notFound(res);
    const path = url.pathname.slice(prefix.length);
    const method = req.method ?? "GET";

    if (method === "POST" && path === "/credentials/revoke")
      return revokeCredentials(res, body, req);
    const installation = /^\/app\/installations\/([^/]+)\/access_tokens$/.exec(path);
    if (method === "POST" && installation !== null)
      return mint(res, decodeURIComponent(installation[1]!), body, req);

    const auth = authenticate(req);
    if (auth === null) return badCredentials(res);
    if (auth !== undefined) coreUsed++;
    if (method === "GET" && path === "/rate_limit") return rateLimit(res, auth);
    if (method === "DELETE" && path === "/installation/token") {
      if (auth === undefined)
        return send(res, 401, {
          message: "Requires authentication",
          documentation_url: DOCS,
          status: "401",
        });
      if (auth.spec.kind !== "installation")
        return send(res, 403, {
          message: "Resource not accessible by personal access token",
          documentation_url: DOCS,
          status: "403",
        });
      tokens.get(auth.value)!.revoked = true;
      res.writeHead(204, rateHeaders());
      return res.end();
    }
    const found = resources.find(
      (r) => r.path === url.pathname.slice(prefix.length) && method === "GET",
    );
    if (found !== undefined) return resource(res, found, auth);
    return notFound(res);
  }

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      requests.push({
        method: req.method ?? "GET",
        path: req.url ?? "/",
        headers: req.headers,
        body,
      });
      void handle(req, res, body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const baseUrl = origin + prefix;

  return {
    baseUrl,
    settings: { apiBaseUrl: baseUrl },
    addToken,
    token: (value) => tokens.get(value),
    resources,
    app,
    requests,
    failNext(status, times, headers = {}, path) {
      for (let i = 0; i < times; i++)
        scripted.push(path === undefined ? { status, headers } : { status, headers, path });
    },
    hangNext() {
      hangs++;
    },
    requestCount: () => requests.length,
    async close() {
      for (const res of hanging) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
