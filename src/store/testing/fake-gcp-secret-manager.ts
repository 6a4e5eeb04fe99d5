/**
 * A local GCP Secret Manager for tests: the v1 REST API on 127.0.0.1 (port 0), close enough that
 * the official client (@google-cloud/secret-manager in its REST mode) runs against it unchanged,
 * plus the Security Token Service exchange that Application Default Credentials use for workload
 * identity federation, so the tests authenticate the way a production host does.
 *
 * What it follows:
 * - googleapis/googleapis google/cloud/secretmanager/v1/service.proto (HTTP bindings, request
 *   fields) and resources.proto (Secret, SecretVersion, SecretPayload; limits: payload ≤ 64 KiB,
 *   ≤ 64 labels, annotations < 16 KiB, ≤ 50 version aliases, alias names start with a letter and
 *   are not `latest`/`NEW`); resource names in responses use the project number.
 * - cloud.google.com/secret-manager/docs/etags: an etag that does not match fails with
 *   FAILED_PRECONDITION (HTTP 400); every modification, even a no-op, changes the etag of the
 *   resource it touches and only that one (a version change leaves the Secret's etag alone).
 * - cloud.google.com/secret-manager/docs/filtering: `labels.k=v`, `labels.k:*`, `name:substr`,
 *   `state:ENABLED`, terms joined by AND; results sorted by name.
 * - cloud.google.com/secret-manager/docs/data-integrity: `dataCrc32c` (CRC32C) checked on
 *   addVersion (a mismatch is INVALID_ARGUMENT, as Cloud KMS does) and returned on access.
 * - An empty payload is refused with "Field [payload] is required." (hashicorp/
 *   terraform-provider-google issue #10475; firebase/firebase-tools PR #3863).
 * - Errors are google.rpc.Status bodies `{"error":{"code","message","status"}}` (AIP-193).
 * - cloud.google.com/iam/docs/reference/sts/rest/v1/TopLevel/token: RFC 8693 token exchange,
 *   form-encoded, answered with `{"access_token","issued_token_type","token_type","expires_in"}`.
 * - gax-nodejs REST mode asks for `$alt=json;enum-encoding=int`: states are then numbers
 *   (ENABLED 1, DISABLED 2, DESTROYED 3), otherwise names.
 *
 * Test controls: fault injection (5xx, dropped connections before or after the write is applied,
 * delays), holding a request (so a test can SIGKILL the client mid-sequence), denied IAM
 * permissions, and a record of every request (method, URL, headers, body) for no-leak checks.
 * Requests for the GCE metadata server are counted, so a test can prove none were made.
 * Its STS also answers for the Cloud KMS fake (fake-gcp-kms.ts). It is test code and ships nowhere.
 */
import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { crc32c } from "../crc32c.js";
import { closeServer, listenLocal } from "./local-server.js";

export type Rpc =
  | "ListSecrets"
  | "CreateSecret"
  | "GetSecret"
  | "UpdateSecret"
  | "DeleteSecret"
  | "AddSecretVersion"
  | "ListSecretVersions"
  | "GetSecretVersion"
  | "AccessSecretVersion"
  | "EnableSecretVersion"
  | "DisableSecretVersion"
  | "DestroySecretVersion"
  | "Token";

/** The IAM permission each method checks (cloud.google.com/secret-manager/docs/access-control). */
const PERMISSION: Record<Exclude<Rpc, "Token">, string> = {
  ListSecrets: "secretmanager.secrets.list",
  CreateSecret: "secretmanager.secrets.create",
  GetSecret: "secretmanager.secrets.get",
  UpdateSecret: "secretmanager.secrets.update",
  DeleteSecret: "secretmanager.secrets.delete",
  AddSecretVersion: "secretmanager.versions.add",
  ListSecretVersions: "secretmanager.versions.list",
  GetSecretVersion: "secretmanager.versions.get",
  AccessSecretVersion: "secretmanager.versions.access",
  EnableSecretVersion: "secretmanager.versions.enable",
  DisableSecretVersion: "secretmanager.versions.disable",
  DestroySecretVersion: "secretmanager.versions.destroy",
};

export interface Call {
  rpc: Rpc;
  /** The secret id for secret and version methods. */
  secretId?: string;
  /** The version segment as requested (a number, `latest` or an alias). */
  version?: string;
}

export interface RecordedRequest extends Call {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** What fault and hold predicates see: the call and its raw body. */
export type Seen = Call & { body: string };

/**
 * What to do to matching requests: answer with an error status without applying the request,
 * drop the connection before or after applying it (a lost response), or answer late.
 */
export type Fault =
  | { kind: "status"; status: 429 | 500 | 502 | 503 | 504 }
  | { kind: "drop-before" }
  | { kind: "drop-after" }
  | { kind: "delay-after"; ms: number }
  /** An access answer whose payload bytes changed on the way but whose CRC32C did not. */
  | { kind: "corrupt" };

interface ArmedFault {
  when: (call: Seen) => boolean;
  fault: Fault;
  times: number;
}

interface Hold {
  when: (call: Seen) => boolean;
  apply: boolean;
  reached: () => void;
  held: ServerResponse[];
}

const STATE_NAMES = ["STATE_UNSPECIFIED", "ENABLED", "DISABLED", "DESTROYED"] as const;
const ENABLED = 1;
const DISABLED = 2;
const DESTROYED = 3;

interface StoredVersion {
  number: number;
  createTime: string;
  state: number;
  data: Buffer | undefined;
  crc: number;
  etag: string;
  destroyTime?: string;
}

interface StoredSecret {
  id: string;
  /** `projects/<number>` or `projects/<number>/locations/<location>`. */
  parent: string;
  createTime: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  versionAliases: Record<string, number>;
  replication: unknown;
  etag: string;
  versions: StoredVersion[];
}

/** A google.rpc failure: the HTTP status and the status name of the body (AIP-193). */
export class RpcError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly status: string,
    message: string,
  ) {
    super(message);
  }
}

const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAX_ANNOTATION_BYTES = 16 * 1024;
const SECRET_ID = /^[A-Za-z0-9_-]{1,255}$/;
const LABEL_KEY = /^[\p{Ll}\p{Lo}][\p{Ll}\p{Lo}\p{N}_-]{0,62}$/u;
const LABEL_VALUE = /^[\p{Ll}\p{Lo}\p{N}_-]{0,63}$/u;
const ANNOTATION_KEY = /^[A-Za-z0-9]([A-Za-z0-9._-]{0,61}[A-Za-z0-9])?$/;
const ALIAS = /^[A-Za-z][A-Za-z0-9_-]{0,62}$/;
const ROUTE =
  /^\/v1\/projects\/([^/:]+)(?:\/locations\/([^/:]+))?\/secrets(?:\/([^/:]+)(?:\/versions(?:\/([^/:]+))?)?)?(?::([A-Za-z]+))?$/;

export interface FakeGcpOptions {
  projectId?: string;
  projectNumber?: string;
  /** The OIDC token the workload presents to STS (the content of its credential_source file). */
  subjectToken?: string;
  /** The workload identity pool provider audience STS accepts. */
  audience?: string;
}

export class FakeGcpSecretManager {
  readonly projectId: string;
  readonly projectNumber: string;
  readonly subjectToken: string;
  readonly audience: string;
  readonly requests: RecordedRequest[] = [];
  /** Requests that reached the (fake) GCE metadata server path: a test asserts this stays 0. */
  metadataHits = 0;
  private readonly secrets = new Map<string, StoredSecret>();
  private readonly tokens = new Set<string>();
  private readonly denied = new Set<string>();
  private faults: ArmedFault[] = [];
  private holds: Hold[] = [];
  private rejecting = false;

  private constructor(
    private readonly server: Server,
    options: FakeGcpOptions,
  ) {
    this.projectId = options.projectId ?? "keyward-test";
    this.projectNumber = options.projectNumber ?? "418230077421";
    this.subjectToken = options.subjectToken ?? `oidc-${randomBytes(12).toString("hex")}`;
    this.audience =
      options.audience ??
      `//iam.googleapis.com/projects/${this.projectNumber}/locations/global/workloadIdentityPools/ci/providers/local`;
  }

  static async start(options: FakeGcpOptions = {}): Promise<FakeGcpSecretManager> {
    let fake: FakeGcpSecretManager | undefined;
    const server = rpcServer((req, res) => (fake as FakeGcpSecretManager).handle(req, res));
    fake = new FakeGcpSecretManager(server, options);
    fake.origin = await listenLocal(server);
    return fake;
  }

  /** `http://127.0.0.1:<port>`: the API endpoint, the STS token URL's origin and the metadata host. */
  origin = "";

  get tokenUrl(): string {
    return `${this.origin}/v1/token`;
  }

  get host(): string {
    return new URL(this.origin).host;
  }

  /**
   * Whether an Authorization header carries a token this fake's STS issued: the other GCP fakes
   * (fake-gcp-kms.ts) check their callers against it, as every Google API accepts STS tokens.
   */
  accepts(authorization: string | undefined): boolean {
    const token = /^Bearer (.+)$/.exec(authorization ?? "")?.[1];
    return token !== undefined && this.tokens.has(token) && !this.rejecting;
  }

  /** The next `times` requests matching `when` get `fault`. */
  inject(when: (call: Seen) => boolean, fault: Fault, times = 1): void {
    this.faults.push({ when, fault, times });
  }

  /**
   * Holds the first request matching `when` (after applying it if `apply`): `reached` resolves
   * when it arrives; `release` drops its connection. Lets a test kill the client mid-sequence.
   */
  hold(when: (call: Seen) => boolean, apply: boolean): { reached: Promise<void>; release(): void } {
    let reached: () => void = () => {};
    const done = new Promise<void>((resolve) => {
      reached = resolve;
    });
    const hold: Hold = { when, apply, reached, held: [] };
    this.holds.push(hold);
    return {
      reached: done,
      release: () => {
        this.holds = this.holds.filter((h) => h !== hold);
        for (const res of hold.held) res.socket?.destroy();
      },
    };
  }

  /** Makes every later request needing `permission` fail with 403 PERMISSION_DENIED. */
  deny(permission: string): void {
    this.denied.add(permission);
  }

  /**
   * From now on the API refuses every access token with 401 UNAUTHENTICATED, even fresh ones
   * (the client's one refresh-and-retry cannot heal it): credentials that STS accepts but that
   * have no access to this API.
   */
  rejectAllTokens(): void {
    this.rejecting = true;
  }

  count(rpc: Rpc, secretId?: string): number {
    return this.requests.filter(
      (r) => r.rpc === rpc && (secretId === undefined || r.secretId === secretId),
    ).length;
  }

  /** The stored secret ids (test inspection; the API is how keyward sees them). */
  secretIds(): string[] {
    return [...this.secrets.values()].map((s) => s.id).sort();
  }

  private find(secretId: string): StoredSecret | undefined {
    return [...this.secrets.values()].find((s) => s.id === secretId);
  }

  /** A version's number and state name as stored, for assertions that look past keyward. */
  versionStates(secretId: string): Array<{ number: number; state: string }> {
    const secret = this.find(secretId);
    return (secret?.versions ?? []).map((v) => ({
      number: v.number,
      state: STATE_NAMES[v.state] ?? "?",
    }));
  }

  annotations(secretId: string): Record<string, string> | undefined {
    const secret = this.find(secretId);
    return secret === undefined ? undefined : { ...secret.annotations };
  }

  labels(secretId: string): Record<string, string> | undefined {
    const secret = this.find(secretId);
    return secret === undefined ? undefined : { ...secret.labels };
  }

  aliases(secretId: string): Record<string, number> | undefined {
    const secret = this.find(secretId);
    return secret === undefined ? undefined : { ...secret.versionAliases };
  }

  /** Simulates another tool deleting the secret in the console: no etag, no keyward. */
  forceDelete(secretId: string): void {
    const secret = this.find(secretId);
    if (secret !== undefined) this.secrets.delete(this.key(secret.parent, secret.id));
  }

  async close(): Promise<void> {
    for (const hold of this.holds) for (const res of hold.held) res.socket?.destroy();
    await closeServer(this.server);
  }

  // ---- dispatch ------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const url = new URL(req.url ?? "/", this.origin);
    if (url.pathname.startsWith("/computeMetadata")) {
      this.metadataHits++;
      res.socket?.destroy();
      return;
    }
    const method = (req.method ?? "GET").toUpperCase();
    let call: Call;
    try {
      call = this.route(method, url);
    } catch (e) {
      sendError(res, e);
      return;
    }
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      headers[k] = Array.isArray(v) ? v.join(", ") : String(v ?? "");
    }
    this.requests.push({ ...call, method, url: url.pathname + url.search, headers, body });

    const seen: Seen = { ...call, body };
    const armed = this.faults.find((f) => f.times > 0 && f.when(seen));
    if (armed !== undefined) armed.times--;
    const fault = armed?.fault;
    if (fault?.kind === "status") {
      const status = fault.status === 429 ? "RESOURCE_EXHAUSTED" : httpStatusName(fault.status);
      send(res, fault.status, rpcBody(fault.status, status, "injected by the test"));
      return;
    }
    if (fault?.kind === "drop-before") {
      res.socket?.destroy();
      return;
    }
    const hold = this.holds.find((h) => h.when(seen));
    if (hold !== undefined && !hold.apply) {
      hold.held.push(res);
      hold.reached();
      return;
    }

    let status = 200;
    let answer: unknown;
    try {
      answer =
        call.rpc === "Token"
          ? this.token(body)
          : this.api(call, url, body, headers.authorization ?? "");
    } catch (e) {
      if (!(e instanceof RpcError)) throw e;
      status = e.httpStatus;
      answer =
        call.rpc === "Token"
          ? { error: e.status, error_description: e.message }
          : rpcBody(e.httpStatus, e.status, e.message);
    }
    if (hold !== undefined) {
      hold.held.push(res);
      hold.reached();
      return;
    }
    if (fault?.kind === "corrupt") {
      const payload = (answer as { payload?: { data?: string } }).payload;
      if (payload?.data !== undefined) {
        const bytes = Buffer.from(payload.data, "base64");
        bytes[0] = (bytes[0] ?? 0) ^ 0x20;
        payload.data = bytes.toString("base64");
      }
    }
    if (fault?.kind === "drop-after") {
      res.socket?.destroy();
      return;
    }
    if (fault?.kind === "delay-after") {
      await new Promise((resolve) => setTimeout(resolve, fault.ms));
      if (res.socket === null || res.socket.destroyed) return;
    }
    send(res, status, answer);
  }

  private route(method: string, url: URL): Call {
    if (url.pathname === "/v1/token" && method === "POST") return { rpc: "Token" };
    const m = ROUTE.exec(url.pathname);
    if (m === null) throw new RpcError(404, "NOT_FOUND", `no route for ${method} ${url.pathname}`);
    const [, , , secretId, version, verb] = m;
    const call = (rpc: Rpc): Call => {
      const c: Call = { rpc };
      if (secretId !== undefined) c.secretId = decodeURIComponent(secretId);
      if (version !== undefined) c.version = decodeURIComponent(version);
      return c;
    };
    const atVersions = url.pathname.includes("/versions");
    if (secretId === undefined) {
      if (method === "GET") return call("ListSecrets");
      if (method === "POST") return call("CreateSecret");
    } else if (!atVersions) {
      if (verb === "addVersion" && method === "POST") return call("AddSecretVersion");
      if (verb === undefined && method === "GET") return call("GetSecret");
      if (verb === undefined && method === "PATCH") return call("UpdateSecret");
      if (verb === undefined && method === "DELETE") return call("DeleteSecret");
    } else if (version === undefined) {
      if (method === "GET") return call("ListSecretVersions");
    } else if (verb === undefined && method === "GET") {
      return call("GetSecretVersion");
    } else if (verb === "access" && method === "GET") {
      return call("AccessSecretVersion");
    } else if (method === "POST") {
      if (verb === "enable") return call("EnableSecretVersion");
      if (verb === "disable") return call("DisableSecretVersion");
      if (verb === "destroy") return call("DestroySecretVersion");
    }
    throw new RpcError(404, "NOT_FOUND", `no route for ${method} ${url.pathname}`);
  }

  // ---- STS token exchange ------------------------------------------------------------------

  private token(body: string): unknown {
    const form = new URLSearchParams(body);
    if (form.get("grant_type") !== "urn:ietf:params:oauth:grant-type:token-exchange") {
      throw new RpcError(400, "unsupported_grant_type", "grant_type must be token-exchange");
    }
    if (form.get("requested_token_type") !== "urn:ietf:params:oauth:token-type:access_token") {
      throw new RpcError(400, "invalid_request", "requested_token_type must be access_token");
    }
    if (form.get("audience") !== this.audience) {
      throw new RpcError(
        400,
        "invalid_target",
        "The target service indicated by the audience is invalid.",
      );
    }
    if (form.get("subject_token") !== this.subjectToken) {
      throw new RpcError(400, "invalid_grant", "The subject token could not be verified.");
    }
    const accessToken = `ya29.fake-${randomBytes(18).toString("base64url")}`;
    this.tokens.add(accessToken);
    return {
      access_token: accessToken,
      issued_token_type: "urn:ietf:params:oauth:token-type:access_token",
      token_type: "Bearer",
      expires_in: 3600,
    };
  }

  // ---- Secret Manager ----------------------------------------------------------------------

  private api(call: Call, url: URL, body: string, auth: string): unknown {
    if (!this.accepts(auth)) {
      throw new RpcError(
        401,
        "UNAUTHENTICATED",
        "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
      );
    }
    const m = ROUTE.exec(url.pathname) as RegExpExecArray;
    const [, project = "", location] = m;
    const parent = this.parentOf(project, location);
    const rpc = call.rpc as Exclude<Rpc, "Token">;
    const resource = `${parent}${call.secretId === undefined ? "" : `/secrets/${call.secretId}`}`;
    if (this.denied.has(PERMISSION[rpc])) {
      throw new RpcError(
        403,
        "PERMISSION_DENIED",
        `Permission '${PERMISSION[rpc]}' denied for resource '${resource}' (or it may not exist).`,
      );
    }
    const ints = (url.searchParams.get("$alt") ?? "").includes("enum-encoding=int");
    const json = body.length === 0 ? {} : parseJson(body);
    switch (rpc) {
      case "ListSecrets":
        return this.listSecrets(parent, url);
      case "CreateSecret":
        return this.createSecret(parent, location, url.searchParams.get("secretId"), json);
      case "GetSecret":
        return this.secretJson(this.secret(parent, call.secretId));
      case "UpdateSecret":
        return this.updateSecret(parent, call.secretId, url.searchParams.get("updateMask"), json);
      case "DeleteSecret": {
        const secret = this.secret(parent, call.secretId);
        checkEtag(url.searchParams.get("etag"), secret.etag);
        this.secrets.delete(this.key(secret.parent, secret.id));
        return {};
      }
      case "AddSecretVersion":
        return this.versionJson(
          this.secret(parent, call.secretId),
          this.addVersion(parent, call.secretId, json),
          ints,
        );
      case "ListSecretVersions":
        return this.listVersions(this.secret(parent, call.secretId), url, ints);
      case "GetSecretVersion": {
        const secret = this.secret(parent, call.secretId);
        return this.versionJson(secret, this.version(secret, call.version), ints);
      }
      case "AccessSecretVersion":
        return this.access(this.secret(parent, call.secretId), call.version);
      case "EnableSecretVersion":
      case "DisableSecretVersion":
      case "DestroySecretVersion": {
        const secret = this.secret(parent, call.secretId);
        const version = this.version(secret, call.version);
        checkEtag(stringField(json, "etag"), version.etag);
        if (version.state === DESTROYED) {
          throw new RpcError(
            400,
            "FAILED_PRECONDITION",
            `SecretVersion [${this.versionName(secret, version)}] is in DESTROYED state.`,
          );
        }
        if (rpc === "EnableSecretVersion") version.state = ENABLED;
        else if (rpc === "DisableSecretVersion") version.state = DISABLED;
        else {
          version.state = DESTROYED;
          version.data?.fill(0);
          version.data = undefined;
          version.destroyTime = new Date().toISOString();
        }
        version.etag = newEtag();
        return this.versionJson(secret, version, ints);
      }
    }
  }

  private parentOf(project: string, location: string | undefined): string {
    if (project !== this.projectId && project !== this.projectNumber) {
      throw new RpcError(
        403,
        "PERMISSION_DENIED",
        `Permission denied on resource project ${project}.`,
      );
    }
    const base = `projects/${this.projectNumber}`;
    return location === undefined ? base : `${base}/locations/${location}`;
  }

  private key(parent: string, id: string): string {
    return `${parent}/secrets/${id}`;
  }

  private secret(parent: string, id: string | undefined): StoredSecret {
    const secret = id === undefined ? undefined : this.secrets.get(this.key(parent, id));
    if (secret === undefined) {
      throw new RpcError(
        404,
        "NOT_FOUND",
        `Secret [${this.key(parent, id ?? "")}] not found or has no versions.`,
      );
    }
    return secret;
  }

  private version(secret: StoredSecret, selector: string | undefined): StoredVersion {
    let number: number | undefined;
    if (selector === "latest") {
      number = secret.versions.filter((v) => v.state === ENABLED).at(-1)?.number;
    } else if (selector !== undefined && /^\d+$/.test(selector)) {
      number = Number(selector);
    } else if (selector !== undefined) {
      number = secret.versionAliases[selector];
    }
    const version = number === undefined ? undefined : secret.versions[number - 1];
    if (version === undefined) {
      throw new RpcError(
        404,
        "NOT_FOUND",
        `Secret Version [${this.key(secret.parent, secret.id)}/versions/${selector}] not found.`,
      );
    }
    return version;
  }

  private createSecret(
    parent: string,
    location: string | undefined,
    secretId: string | null,
    json: Record<string, unknown>,
  ): unknown {
    if (secretId === null || !SECRET_ID.test(secretId)) {
      throw new RpcError(
        400,
        "INVALID_ARGUMENT",
        "Secret ID must be 1-255 characters of letters, numerals, hyphens and underscores.",
      );
    }
    if (location === undefined && json.replication === undefined) {
      throw new RpcError(400, "INVALID_ARGUMENT", "Secret.replication is required.");
    }
    if (location !== undefined && json.replication !== undefined) {
      throw new RpcError(
        400,
        "INVALID_ARGUMENT",
        "Regional secrets do not accept Secret.replication.",
      );
    }
    const key = this.key(parent, secretId);
    if (this.secrets.has(key)) {
      throw new RpcError(409, "ALREADY_EXISTS", `Secret [${key}] already exists.`);
    }
    const labels = checkLabels(json.labels);
    const annotations = checkAnnotations(json.annotations);
    if (
      json.versionAliases !== undefined &&
      Object.keys(objectField(json, "versionAliases")).length > 0
    ) {
      throw new RpcError(400, "INVALID_ARGUMENT", "A new secret has no versions to alias.");
    }
    const secret: StoredSecret = {
      id: secretId,
      parent,
      createTime: new Date().toISOString(),
      labels,
      annotations,
      versionAliases: {},
      replication: json.replication,
      etag: newEtag(),
      versions: [],
    };
    this.secrets.set(key, secret);
    return this.secretJson(secret);
  }

  private updateSecret(
    parent: string,
    secretId: string | undefined,
    mask: string | null,
    json: Record<string, unknown>,
  ): unknown {
    const secret = this.secret(parent, secretId);
    if (mask === null || mask.length === 0) {
      throw new RpcError(400, "INVALID_ARGUMENT", "update_mask is required.");
    }
    checkEtag(stringField(json, "etag"), secret.etag);
    const paths = mask.split(",").map((p) => p.trim());
    // Validate everything before changing anything: an update applies whole or not at all.
    const next: Partial<Pick<StoredSecret, "labels" | "annotations" | "versionAliases">> = {};
    for (const path of paths) {
      if (path === "labels") next.labels = checkLabels(json.labels);
      else if (path === "annotations") next.annotations = checkAnnotations(json.annotations);
      else if (path === "version_aliases" || path === "versionAliases") {
        next.versionAliases = this.checkAliases(secret, json.versionAliases);
      } else {
        throw new RpcError(400, "INVALID_ARGUMENT", `update_mask path ${path} is not supported.`);
      }
    }
    Object.assign(secret, next);
    secret.etag = newEtag();
    return this.secretJson(secret);
  }

  private checkAliases(secret: StoredSecret, raw: unknown): Record<string, number> {
    const entries = Object.entries(raw === undefined ? {} : objectValue(raw, "versionAliases"));
    if (entries.length > 50) {
      throw new RpcError(400, "INVALID_ARGUMENT", "A secret can have at most 50 version aliases.");
    }
    const out: Record<string, number> = {};
    for (const [alias, value] of entries) {
      if (!ALIAS.test(alias) || alias === "latest" || alias === "NEW") {
        throw new RpcError(400, "INVALID_ARGUMENT", `Invalid version alias ${alias}.`);
      }
      const number = Number(value);
      const version = Number.isSafeInteger(number) ? secret.versions[number - 1] : undefined;
      if (version === undefined) {
        throw new RpcError(
          400,
          "INVALID_ARGUMENT",
          `Version alias ${alias} refers to version ${String(value)}, which does not exist.`,
        );
      }
      if (version.state === DESTROYED) {
        // The documents do not say what GCP answers here; keyward never asks (it drops a stage
        // before destroying its version), and the fake refuses rather than guess a state.
        throw new RpcError(
          400,
          "INVALID_ARGUMENT",
          `Version alias ${alias} cannot refer to destroyed version ${number}.`,
        );
      }
      out[alias] = number;
    }
    return out;
  }

  private addVersion(
    parent: string,
    secretId: string | undefined,
    json: Record<string, unknown>,
  ): StoredVersion {
    const secret = this.secret(parent, secretId);
    const payload = json.payload === undefined ? {} : objectValue(json.payload, "payload");
    const encoded = payload.data;
    if (typeof encoded !== "string" || encoded.length === 0) {
      throw new RpcError(400, "INVALID_ARGUMENT", "Field [payload] is required.");
    }
    const data = Buffer.from(encoded, "base64");
    if (data.length > MAX_PAYLOAD_BYTES) {
      throw new RpcError(
        400,
        "INVALID_ARGUMENT",
        `Secret payload is ${data.length} bytes; the limit is ${MAX_PAYLOAD_BYTES} bytes.`,
      );
    }
    const crc = crc32c(data);
    if (payload.dataCrc32c !== undefined && Number(payload.dataCrc32c) !== crc) {
      throw new RpcError(400, "INVALID_ARGUMENT", "Checksum mismatch: data corrupted in transit.");
    }
    const version: StoredVersion = {
      number: secret.versions.length + 1,
      createTime: new Date().toISOString(),
      state: ENABLED,
      data,
      crc,
      etag: newEtag(),
    };
    secret.versions.push(version);
    return version;
  }

  private access(secret: StoredSecret, selector: string | undefined): unknown {
    const version = this.version(secret, selector);
    if (version.state !== ENABLED || version.data === undefined) {
      throw new RpcError(
        400,
        "FAILED_PRECONDITION",
        `SecretVersion [${this.versionName(secret, version)}] is in ${STATE_NAMES[version.state]} state.`,
      );
    }
    return {
      name: this.versionName(secret, version),
      payload: { data: version.data.toString("base64"), dataCrc32c: String(version.crc) },
    };
  }

  private listSecrets(parent: string, url: URL): unknown {
    const filter = parseFilter(url.searchParams.get("filter"), ["labels", "name"]);
    const all = [...this.secrets.values()]
      .filter((s) => s.parent === parent)
      .filter((s) =>
        filter.every((term) => {
          if (term.field === "name") return this.key(s.parent, s.id).includes(term.value);
          const label = s.labels[term.key ?? ""];
          return term.op === ":" ? label !== undefined : label === term.value;
        }),
      )
      .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    const { page, next } = paginate(all, url);
    return {
      secrets: page.map((s) => this.secretJson(s)),
      ...(next === undefined ? {} : { nextPageToken: next }),
      totalSize: all.length,
    };
  }

  private listVersions(secret: StoredSecret, url: URL, ints: boolean): unknown {
    const filter = parseFilter(url.searchParams.get("filter"), ["state"]);
    const all = [...secret.versions]
      .reverse()
      .filter((v) => filter.every((term) => STATE_NAMES[v.state] === term.value));
    const { page, next } = paginate(all, url);
    return {
      versions: page.map((v) => this.versionJson(secret, v, ints)),
      ...(next === undefined ? {} : { nextPageToken: next }),
      totalSize: all.length,
    };
  }

  private secretJson(secret: StoredSecret): unknown {
    const aliases: Record<string, string> = {};
    for (const [alias, n] of Object.entries(secret.versionAliases)) aliases[alias] = String(n);
    return {
      name: this.key(secret.parent, secret.id),
      ...(secret.replication === undefined ? {} : { replication: secret.replication }),
      createTime: secret.createTime,
      labels: secret.labels,
      etag: secret.etag,
      versionAliases: aliases,
      annotations: secret.annotations,
    };
  }

  private versionName(secret: StoredSecret, version: StoredVersion): string {
    return `${this.key(secret.parent, secret.id)}/versions/${version.number}`;
  }

  private versionJson(secret: StoredSecret, version: StoredVersion, ints: boolean): unknown {
    return {
      name: this.versionName(secret, version),
      createTime: version.createTime,
      ...(version.destroyTime === undefined ? {} : { destroyTime: version.destroyTime }),
      state: ints ? version.state : STATE_NAMES[version.state],
      etag: version.etag,
      clientSpecifiedPayloadChecksum: true,
    };
  }
}

// ---- helpers ------------------------------------------------------------------------------------

let etagCounter = 0;
/** Etags are quoted strings, as AIP-154 and the Secret Manager etag page say. */
function newEtag(): string {
  etagCounter++;
  return `"${etagCounter.toString(36)}${randomBytes(4).toString("hex")}"`;
}

function checkEtag(given: string | null | undefined, current: string): void {
  if (given !== null && given !== undefined && given !== "" && given !== current) {
    throw new RpcError(
      400,
      "FAILED_PRECONDITION",
      "The etag provided in the request does not match the current etag of the resource.",
    );
  }
}

function checkLabels(raw: unknown): Record<string, string> {
  const labels = raw === undefined ? {} : objectValue(raw, "labels");
  const entries = Object.entries(labels);
  if (entries.length > 64) throw new RpcError(400, "INVALID_ARGUMENT", "At most 64 labels.");
  for (const [k, v] of entries) {
    if (!LABEL_KEY.test(k) || typeof v !== "string" || !LABEL_VALUE.test(v)) {
      throw new RpcError(400, "INVALID_ARGUMENT", `Invalid label ${k}.`);
    }
  }
  return labels as Record<string, string>;
}

function checkAnnotations(raw: unknown): Record<string, string> {
  const annotations = raw === undefined ? {} : objectValue(raw, "annotations");
  let bytes = 0;
  for (const [k, v] of Object.entries(annotations)) {
    if (!ANNOTATION_KEY.test(k) || typeof v !== "string") {
      throw new RpcError(400, "INVALID_ARGUMENT", `Invalid annotation key ${k}.`);
    }
    bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
  }
  if (bytes >= MAX_ANNOTATION_BYTES) {
    throw new RpcError(
      400,
      "INVALID_ARGUMENT",
      `The total size of annotation keys and values must be less than 16KiB (got ${bytes} bytes).`,
    );
  }
  return annotations as Record<string, string>;
}

interface FilterTerm {
  field: string;
  key?: string;
  op: "=" | ":";
  value: string;
}

function parseFilter(filter: string | null, fields: string[]): FilterTerm[] {
  if (filter === null || filter.trim() === "") return [];
  const terms: FilterTerm[] = [];
  for (const raw of filter.split(/\s+(?:AND\s+)?/)) {
    const m = /^(labels\.([^=:]+)|name|state)([=:])(.+)$/.exec(raw);
    const field = m?.[2] === undefined ? m?.[1] : "labels";
    if (m === null || field === undefined || !fields.includes(field)) {
      throw new RpcError(400, "INVALID_ARGUMENT", `Invalid filter term ${raw}.`);
    }
    const term: FilterTerm = { field, op: m[3] as "=" | ":", value: m[4] ?? "" };
    if (m[2] !== undefined) term.key = m[2];
    terms.push(term);
  }
  return terms;
}

function paginate<T>(all: T[], url: URL): { page: T[]; next: string | undefined } {
  const requested = Number(url.searchParams.get("pageSize") ?? "0");
  const size = requested > 0 ? Math.min(requested, 25_000) : 25_000;
  const token = url.searchParams.get("pageToken");
  const start = token ? Number(Buffer.from(token, "base64url").toString()) : 0;
  if (!Number.isSafeInteger(start) || start < 0) {
    throw new RpcError(400, "INVALID_ARGUMENT", "Invalid page token.");
  }
  const end = start + size;
  return {
    page: all.slice(start, end),
    next: end < all.length ? Buffer.from(String(end)).toString("base64url") : undefined,
  };
}

function parseJson(body: string): Record<string, unknown> {
  try {
    return objectValue(JSON.parse(body), "body");
  } catch (e) {
    if (e instanceof RpcError) throw e;
    throw new RpcError(400, "INVALID_ARGUMENT", "Invalid JSON payload received.");
  }
}

function objectValue(raw: unknown, what: string): Record<string, unknown> {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new RpcError(400, "INVALID_ARGUMENT", `${what} must be an object.`);
  }
  return raw as Record<string, unknown>;
}

function objectField(json: Record<string, unknown>, field: string): Record<string, unknown> {
  return objectValue(json[field], field);
}

function stringField(json: Record<string, unknown>, field: string): string | undefined {
  const v = json[field];
  return typeof v === "string" ? v : undefined;
}

function httpStatusName(status: number): string {
  if (status === 500) return "INTERNAL";
  if (status === 504) return "DEADLINE_EXCEEDED";
  return "UNAVAILABLE";
}

export function rpcBody(code: number, status: string, message: string): unknown {
  return { error: { code, message, status } };
}

function sendError(res: ServerResponse, e: unknown): void {
  if (e instanceof RpcError) send(res, e.httpStatus, rpcBody(e.httpStatus, e.status, e.message));
  else send(res, 500, rpcBody(500, "INTERNAL", String(e)));
}

/**
 * An HTTP server that hands each request to `handle`; a handler that throws answers 500 INTERNAL,
 * as Google's front end would.
 */
export function rpcServer(
  handle: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): Server {
  return createServer((req, res) => {
    handle(req, res).catch((e: unknown) => {
      if (!res.headersSent) send(res, 500, rpcBody(500, "INTERNAL", String(e)));
    });
  });
}

export function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=UTF-8",
    "content-length": Buffer.byteLength(text),
  });
  res.end(text);
}
