/**
 * A local AWS Secrets Manager on 127.0.0.1 for tests, with the one STS call web identity needs,
 * so `@aws-sdk/client-secrets-manager` and the SDK's default credential chain run unchanged
 * against it (pointed here by the client's `endpoint` option and `AWS_ENDPOINT_URL_STS`).
 *
 * What it reproduces, and from where:
 * - Wire protocol (/work/shared/reference/rotation-and-backends.md §1.1; botocore
 *   `secretsmanager/2017-10-17/service-2.json` metadata): `POST /`, `X-Amz-Target:
 *   secretsmanager.<Operation>`, `Content-Type: application/x-amz-json-1.1`, timestamps as epoch
 *   seconds, SecretBinary as base64, errors as HTTP 4xx/5xx with `{"__type", "Message"}`.
 * - Operation shapes and semantics (§1.2; AWS API reference pages CreateSecret, PutSecretValue,
 *   GetSecretValue, UpdateSecretVersionStage, DescribeSecret, ListSecrets, ListSecretVersionIds,
 *   BatchGetSecretValue, DeleteSecret, RestoreSecret): ClientRequestToken becomes the VersionId
 *   (32–64 chars; same token + same value = no-op, different value = ResourceExistsException);
 *   PutSecretValue without VersionStages moves AWSCURRENT and AWSCURRENT moves push AWSPREVIOUS;
 *   the first version of a secret always gets AWSCURRENT; a label on another version can only be
 *   moved by naming its holder in RemoveFromVersionId; ≤ 20 labels per version; values ≤ 65,536
 *   bytes; unlabelled versions are deprecated, listed only with IncludeDeprecated, and removed
 *   beyond 100 versions once 24 h old (quotas page); DeleteSecret recovery windows of 7–30 days
 *   or ForceDeleteWithoutRecovery; NextToken paging.
 * - An empty SecretString is refused like a missing one (terraform-provider-aws#19731: AWS does
 *   not store an empty string) — inferred, not documented.
 * - Authentication (AWS General Reference, "Signature Version 4 signing process"; Secrets Manager
 *   API reference "Common Errors"): every Secrets Manager request must carry a well-formed SigV4
 *   `Authorization` header scoped to this region and service `secretsmanager`; the signature is
 *   verified against the registered credential. Unknown key: UnrecognizedClientException (400);
 *   bad signature: InvalidSignatureException (400); expired session: ExpiredTokenException (400);
 *   no header: MissingAuthenticationTokenException (403); malformed: IncompleteSignatureException.
 * - STS AssumeRoleWithWebIdentity (STS API reference; AWS Query protocol, form body, XML answer,
 *   unsigned) issues temporary credentials for a registered role and token.
 *
 * Faults for the retry and crash tests: scripted errors, hangs, delays and responses dropped
 * after the request was applied, per operation or for any operation.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { UPPER_BASE32 } from "../../detect/rules/examples.js";
import {
  AwsError,
  answerJson,
  type FakeCredential,
  newCredential,
  randomChars,
  type SigningScope,
  verifySigV4,
} from "./fake-aws-protocol.js";
import { closeServer, listenLocal } from "./local-server.js";

export type { FakeCredential };

export const FAKE_ACCOUNT = "123456789012";
const DAY_MS = 86_400_000;
const MAX_VALUE_BYTES = 65_536;
const KEEP_VERSIONS = 100;

export interface FakeVersion {
  id: string;
  string?: string;
  binary?: Buffer;
  stages: string[];
  created: number;
}

export interface FakeSecret {
  name: string;
  arn: string;
  description?: string;
  kmsKeyId?: string;
  tags: Array<{ Key: string; Value: string }>;
  versions: FakeVersion[];
  created: number;
  changed: number;
  /** When a scheduled deletion takes effect (Unix ms). */
  deletionDate?: number;
}

export type Fault =
  /** Answered instead of the operation, which is not applied. */
  | { kind: "error"; status: number; type: string; message?: string }
  /** The operation is applied, then the connection is cut before any answer. */
  | { kind: "drop-after-apply" }
  /** Never answered and not applied: the client must time out. */
  | { kind: "hang" }
  /** Served normally: lets a later fault in the queue hit a later request. */
  | { kind: "pass" };

export interface RecordedRequest {
  /** `secretsmanager.<Op>` or `sts.<Action>`. */
  op: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Who signed it (a registered principal), when the signature verified. */
  principal?: string;
}

const notFound = () =>
  new AwsError(
    400,
    "ResourceNotFoundException",
    "Secrets Manager can't find the specified secret.",
  );
const markedForDeletion = () =>
  new AwsError(
    400,
    "InvalidRequestException",
    "You can't perform this operation on the secret because it was marked for deletion.",
  );
const invalidParameter = (message: string) =>
  new AwsError(400, "InvalidParameterException", message);
const validation = (message: string) =>
  new AwsError(400, "ValidationException", `1 validation error detected: ${message}`);

type Json = Record<string, unknown>;

export interface FakeAwsOptions {
  region?: string;
  /** Largest page a listing returns, whatever MaxResults asks (AWS may return fewer). */
  pageSize?: number;
  /** Real AWS may refuse to strip AWSCURRENT without moving it; off reproduces that reading. */
  allowRemovingCurrent?: boolean;
  /** Added before every answer, so a killed client often dies between two calls. */
  latencyMs?: number;
}

export class FakeAwsSecretsManager {
  readonly region: string;
  readonly requests: RecordedRequest[] = [];
  readonly secrets = new Map<string, FakeSecret>();
  /** Shifts the fake's clock (deprecated-version removal, scheduled deletion, token expiry). */
  clockOffsetMs = 0;
  pageSize: number;
  allowRemovingCurrent: boolean;
  latencyMs: number;
  baseUrl = "";
  private readonly credentials = new Map<string, FakeCredential>();
  private readonly signing: SigningScope;
  private readonly roles = new Map<string, { token: string; principal: string }>();
  private readonly faults = new Map<string, Fault[]>();
  private readonly hanging = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => void this.handle(req, res));

  constructor(options: FakeAwsOptions = {}) {
    this.region = options.region ?? "us-east-1";
    this.pageSize = options.pageSize ?? 100;
    this.allowRemovingCurrent = options.allowRemovingCurrent ?? true;
    this.latencyMs = options.latencyMs ?? 0;
    this.signing = {
      region: this.region,
      service: "secretsmanager",
      credentials: this.credentials,
      now: () => this.now(),
    };
  }

  async start(): Promise<this> {
    this.baseUrl = await listenLocal(this.server);
    return this;
  }

  async stop(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    await closeServer(this.server);
  }

  now(): number {
    return Date.now() + this.clockOffsetMs;
  }

  /** Registers a long-term key pair (AKIA…) for `principal`, built at run time. */
  addUser(principal: string): FakeCredential {
    const credential = newCredential(principal);
    this.credentials.set(credential.accessKeyId, credential);
    return credential;
  }

  /** A key pair that is not registered: what a revoked or mistyped key looks like. */
  unknownUser(): FakeCredential {
    return newCredential("nobody");
  }

  /** AssumeRoleWithWebIdentity for `roleArn` succeeds with exactly this token. */
  allowWebIdentity(roleArn: string, token: string, principal: string): void {
    this.roles.set(roleArn, { token, principal });
  }

  /** Queues faults for the next requests of `op` (e.g. "PutSecretValue") or of any ("*"). */
  inject(op: string, ...faults: Fault[]): void {
    const queue = this.faults.get(op) ?? [];
    queue.push(...faults);
    this.faults.set(op, queue);
  }

  clearFaults(): void {
    this.faults.clear();
  }

  /** Requests to the Secrets Manager operation `op`. */
  calls(op: string): RecordedRequest[] {
    return this.requests.filter((r) => r.op === `secretsmanager.${op}`);
  }

  secret(name: string): FakeSecret | undefined {
    this.expireDeletions();
    return this.secrets.get(name);
  }

  // ---- HTTP ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const body = raw.toString("utf8");
    const contentType = String(req.headers["content-type"] ?? "");
    if (this.latencyMs > 0) await new Promise((r) => setTimeout(r, this.latencyMs));

    if (contentType.startsWith("application/x-www-form-urlencoded")) {
      const form = new URLSearchParams(body);
      const action = form.get("Action") ?? "";
      this.requests.push({ op: `sts.${action}`, url: req.url ?? "", headers: req.headers, body });
      this.sts(action, form, res);
      return;
    }

    const target = String(req.headers["x-amz-target"] ?? "");
    const op = target.startsWith("secretsmanager.") ? target.slice("secretsmanager.".length) : "";
    const recorded: RecordedRequest = {
      op: target,
      url: req.url ?? "",
      headers: req.headers,
      body,
    };
    this.requests.push(recorded);
    try {
      if (req.method !== "POST" || req.url !== "/") {
        throw new AwsError(404, "UnknownOperationException", "Only POST / is served.");
      }
      if (!contentType.startsWith("application/x-amz-json-1.1")) {
        throw new AwsError(400, "SerializationException", "Expected application/x-amz-json-1.1.");
      }
      recorded.principal = verifySigV4(req, raw, this.signing).principal;
      const fault = this.nextFault(op);
      if (fault?.kind === "hang") {
        this.hanging.add(res);
        return;
      }
      if (fault?.kind === "error")
        throw new AwsError(fault.status, fault.type, fault.message ?? "");
      let input: Json;
      try {
        input = body === "" ? {} : (JSON.parse(body) as Json);
      } catch {
        throw new AwsError(400, "SerializationException", "The request body is not JSON.");
      }
      const output = this.operation(op, input);
      if (fault?.kind === "drop-after-apply") {
        req.socket.destroy();
        return;
      }
      answerJson(res, 200, output);
    } catch (e) {
      if (!(e instanceof AwsError)) throw e;
      answerJson(res, e.status, { __type: e.type, Message: e.message });
    }
  }

  private nextFault(op: string): Fault | undefined {
    for (const key of [op, "*"]) {
      const queue = this.faults.get(key);
      if (queue !== undefined && queue.length > 0) return queue.shift();
    }
    return undefined;
  }

  // ---- STS ----------------------------------------------------------------------------------

  private sts(action: string, form: URLSearchParams, res: ServerResponse): void {
    const fail = (status: number, code: string, message: string) => {
      res.writeHead(status, { "content-type": "text/xml" });
      res.end(
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>${code}</Code><Message>${message}</Message></Error><RequestId>${randomUUID()}</RequestId></ErrorResponse>`,
      );
    };
    if (action !== "AssumeRoleWithWebIdentity") {
      fail(400, "InvalidAction", "Only AssumeRoleWithWebIdentity is served.");
      return;
    }
    const roleArn = form.get("RoleArn") ?? "";
    const role = this.roles.get(roleArn);
    if (role === undefined) {
      fail(403, "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity");
      return;
    }
    if (form.get("WebIdentityToken") !== role.token) {
      fail(
        400,
        "InvalidIdentityToken",
        "Couldn't retrieve verification key from your identity provider.",
      );
      return;
    }
    const credential: FakeCredential = {
      accessKeyId: `AS${"IA"}${randomChars(16, UPPER_BASE32)}`,
      secretAccessKey: randomBytes(30).toString("base64"),
      sessionToken: randomBytes(48).toString("base64"),
      expiresAt: this.now() + 3600_000,
      principal: role.principal,
    };
    this.credentials.set(credential.accessKeyId, credential);
    const session = form.get("RoleSessionName") ?? "session";
    res.writeHead(200, { "content-type": "text/xml" });
    res.end(
      `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>system:serviceaccount:ci:keyward</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience><AssumedRoleUser><Arn>${roleArn.replace(":role/", ":assumed-role/")}/${session}</Arn><AssumedRoleId>AROA${randomChars(16, UPPER_BASE32)}:${session}</AssumedRoleId></AssumedRoleUser><Credentials><SessionToken>${credential.sessionToken}</SessionToken><SecretAccessKey>${credential.secretAccessKey}</SecretAccessKey><Expiration>${new Date(credential.expiresAt ?? 0).toISOString()}</Expiration><AccessKeyId>${credential.accessKeyId}</AccessKeyId></Credentials><Provider>oidc.example</Provider></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>${randomUUID()}</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
    );
  }

  // ---- Secrets Manager ----------------------------------------------------------------------

  private operation(op: string, input: Json): Json {
    this.expireDeletions();
    switch (op) {
      case "CreateSecret":
        return this.createSecret(input);
      case "GetSecretValue":
        return this.getSecretValue(input);
      case "PutSecretValue":
        return this.putSecretValue(input);
      case "UpdateSecretVersionStage":
        return this.updateSecretVersionStage(input);
      case "DescribeSecret":
        return this.describeSecret(input);
      case "ListSecrets":
        return this.listSecrets(input);
      case "ListSecretVersionIds":
        return this.listSecretVersionIds(input);
      case "BatchGetSecretValue":
        return this.batchGetSecretValue(input);
      case "DeleteSecret":
        return this.deleteSecret(input);
      case "RestoreSecret":
        return this.restoreSecret(input);
      default:
        throw new AwsError(400, "UnknownOperationException", `Unknown operation ${op}.`);
    }
  }

  private createSecret(input: Json): Json {
    const name = str(input.Name);
    if (!/^[A-Za-z0-9/_+=.@-]{1,512}$/.test(name)) {
      throw validation(
        "Value at 'name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9/_+=.@-]+$",
      );
    }
    const value = requestValue(input);
    const token = optionalToken(input.ClientRequestToken);
    const existing = this.secrets.get(name);
    if (existing !== undefined) {
      if (existing.deletionDate !== undefined) {
        throw new AwsError(
          400,
          "InvalidRequestException",
          "You can't create this secret because a secret with this name is already scheduled for deletion.",
        );
      }
      const same = existing.versions.find((v) => v.id === token);
      if (same !== undefined && value !== undefined && sameValue(same, value)) {
        return { ARN: existing.arn, Name: name, VersionId: same.id };
      }
      throw new AwsError(
        400,
        "ResourceExistsException",
        `The operation failed because the secret ${name} already exists.`,
      );
    }
    const now = this.now();
    const secret: FakeSecret = {
      name,
      arn: `arn:aws:secretsmanager:${this.region}:${FAKE_ACCOUNT}:secret:${name}-${randomChars(6, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")}`,
      tags: Array.isArray(input.Tags) ? (input.Tags as FakeSecret["tags"]) : [],
      versions: [],
      created: now,
      changed: now,
    };
    if (typeof input.Description === "string") secret.description = input.Description;
    if (typeof input.KmsKeyId === "string") secret.kmsKeyId = input.KmsKeyId;
    this.secrets.set(name, secret);
    if (value === undefined) return { ARN: secret.arn, Name: name };
    const id = token ?? randomUUID();
    secret.versions.push({ id, ...value, stages: ["AWSCURRENT"], created: now });
    return { ARN: secret.arn, Name: name, VersionId: id };
  }

  private getSecretValue(input: Json): Json {
    const secret = this.live(input.SecretId);
    const versionId = optionalStr(input.VersionId);
    const stage = optionalStr(input.VersionStage);
    let version: FakeVersion | undefined;
    if (versionId !== undefined) {
      version = secret.versions.find((v) => v.id === versionId);
      if (version !== undefined && stage !== undefined && !version.stages.includes(stage)) {
        version = undefined;
      }
    } else {
      version = holder(secret, stage ?? "AWSCURRENT");
    }
    if (version === undefined) {
      throw new AwsError(
        400,
        "ResourceNotFoundException",
        versionId !== undefined
          ? `Secrets Manager can't find the specified secret value for VersionId: ${versionId}`
          : `Secrets Manager can't find the specified secret value for staging label: ${stage ?? "AWSCURRENT"}`,
      );
    }
    return valueEntry(secret, version);
  }

  private putSecretValue(input: Json): Json {
    const secret = this.live(input.SecretId);
    const value = requestValue(input);
    if (value === undefined) {
      throw new AwsError(
        400,
        "InvalidRequestException",
        "You must provide either SecretString or SecretBinary.",
      );
    }
    const stages = input.VersionStages === undefined ? undefined : labels(input.VersionStages);
    const token = optionalToken(input.ClientRequestToken) ?? randomUUID();
    const existing = secret.versions.find((v) => v.id === token);
    if (existing !== undefined) {
      if (!sameValue(existing, value)) {
        throw new AwsError(
          400,
          "ResourceExistsException",
          "You can't modify an existing version, you can only create a new version.",
        );
      }
      return {
        ARN: secret.arn,
        Name: secret.name,
        VersionId: token,
        VersionStages: existing.stages,
      };
    }
    const version: FakeVersion = { id: token, ...value, stages: [], created: this.now() };
    const first = secret.versions.length === 0;
    secret.versions.push(version);
    const wanted = new Set(stages ?? ["AWSCURRENT"]);
    if (first) wanted.add("AWSCURRENT");
    for (const stage of wanted) this.attach(secret, stage, version);
    secret.changed = this.now();
    this.removeDeprecated(secret);
    return { ARN: secret.arn, Name: secret.name, VersionId: token, VersionStages: version.stages };
  }

  private updateSecretVersionStage(input: Json): Json {
    const secret = this.live(input.SecretId);
    const stage = str(input.VersionStage);
    if (stage.length < 1 || stage.length > 256) {
      throw validation(
        "Value at 'versionStage' failed to satisfy constraint: Member must have length between 1 and 256",
      );
    }
    const moveTo = optionalStr(input.MoveToVersionId);
    const removeFrom = optionalStr(input.RemoveFromVersionId);
    const current = holder(secret, stage);
    const target = moveTo === undefined ? undefined : secret.versions.find((v) => v.id === moveTo);
    if (moveTo !== undefined && target === undefined) {
      throw new AwsError(
        400,
        "ResourceNotFoundException",
        `Secrets Manager can't find the specified secret value for VersionId: ${moveTo}`,
      );
    }
    if (target === undefined && removeFrom === undefined) {
      throw invalidParameter("You must specify MoveToVersionId or RemoveFromVersionId.");
    }
    if (current !== undefined && current !== target) {
      if (removeFrom === undefined) {
        throw invalidParameter(
          `The parameter RemoveFromVersionId can't be empty. Staging label ${stage} is currently attached to version ${current.id}, so you must explicitly reference that version in RemoveFromVersionId.`,
        );
      }
      if (removeFrom !== current.id) {
        throw invalidParameter(
          `When you move staging label ${stage}, if you specify RemoveFromVersionId, it must be set to the version that currently has the staging label ${stage}.`,
        );
      }
    } else if (current === undefined && removeFrom !== undefined && target === undefined) {
      throw invalidParameter(`Staging label ${stage} is not attached to version ${removeFrom}.`);
    }
    if (target === undefined) {
      if (stage === "AWSCURRENT" && !this.allowRemovingCurrent) {
        throw invalidParameter(
          "You can't remove the staging label AWSCURRENT from a version without attaching it to another version.",
        );
      }
      if (current !== undefined) current.stages = current.stages.filter((s) => s !== stage);
    } else {
      this.attach(secret, stage, target);
    }
    secret.changed = this.now();
    this.removeDeprecated(secret);
    return { ARN: secret.arn, Name: secret.name };
  }

  /** Puts `stage` on `version`, taking it off its holder; AWSCURRENT moves push AWSPREVIOUS. */
  private attach(secret: FakeSecret, stage: string, version: FakeVersion): void {
    const previousHolder = holder(secret, stage);
    if (previousHolder === version) return;
    if (version.stages.length >= 20) {
      throw new AwsError(
        400,
        "LimitExceededException",
        "A version can have at most 20 staging labels.",
      );
    }
    if (previousHolder !== undefined) {
      previousHolder.stages = previousHolder.stages.filter((s) => s !== stage);
    }
    version.stages.push(stage);
    if (stage === "AWSCURRENT" && previousHolder !== undefined) {
      const oldPrevious = holder(secret, "AWSPREVIOUS");
      if (oldPrevious !== undefined) {
        oldPrevious.stages = oldPrevious.stages.filter((s) => s !== "AWSPREVIOUS");
      }
      previousHolder.stages.push("AWSPREVIOUS");
    }
  }

  /** AWS keeps about 100 versions: unlabelled ones beyond that go once they are 24 h old. */
  private removeDeprecated(secret: FakeSecret): void {
    let excess = secret.versions.length - KEEP_VERSIONS;
    if (excess <= 0) return;
    const cutoff = this.now() - DAY_MS;
    secret.versions = secret.versions.filter((v) => {
      if (excess > 0 && v.stages.length === 0 && v.created < cutoff) {
        excess--;
        return false;
      }
      return true;
    });
  }

  private describeSecret(input: Json): Json {
    const secret = this.find(input.SecretId);
    return summary(secret);
  }

  private listSecrets(input: Json): Json {
    const includeDeleted = input.IncludePlannedDeletion === true;
    const all = [...this.secrets.values()].filter(
      (s) => (includeDeleted || s.deletionDate === undefined) && matches(s, input.Filters),
    );
    const { page, next } = this.page(all, input.MaxResults, input.NextToken, 100);
    return { SecretList: page.map(summary), ...(next === undefined ? {} : { NextToken: next }) };
  }

  private listSecretVersionIds(input: Json): Json {
    const secret = this.find(input.SecretId);
    const versions = secret.versions.filter(
      (v) => input.IncludeDeprecated === true || v.stages.length > 0,
    );
    const { page, next } = this.page(versions, input.MaxResults, input.NextToken, 100);
    return {
      ARN: secret.arn,
      Name: secret.name,
      Versions: page.map((v) => ({
        VersionId: v.id,
        VersionStages: v.stages,
        CreatedDate: v.created / 1000,
      })),
      ...(next === undefined ? {} : { NextToken: next }),
    };
  }

  private batchGetSecretValue(input: Json): Json {
    const ids = input.SecretIdList;
    const filters = input.Filters;
    if ((ids === undefined) === (filters === undefined)) {
      throw invalidParameter("Either SecretIdList or Filters must be provided, but not both.");
    }
    const values: Json[] = [];
    const errors: Json[] = [];
    if (Array.isArray(ids)) {
      if (ids.length > 20) throw invalidParameter("SecretIdList can name at most 20 secrets.");
      if (input.MaxResults !== undefined) {
        throw invalidParameter("MaxResults can be used only with Filters.");
      }
      for (const id of ids) {
        try {
          values.push(this.getSecretValue({ SecretId: id }));
        } catch (e) {
          if (!(e instanceof AwsError)) throw e;
          errors.push({ SecretId: id, ErrorCode: e.type, Message: e.message });
        }
      }
      return { SecretValues: values, Errors: errors };
    }
    const matching = [...this.secrets.values()].filter(
      (s) => s.deletionDate === undefined && matches(s, filters),
    );
    const { page, next } = this.page(matching, input.MaxResults, input.NextToken, 20);
    for (const secret of page) {
      const current = holder(secret, "AWSCURRENT");
      if (current !== undefined) values.push(valueEntry(secret, current));
    }
    return {
      SecretValues: values,
      Errors: errors,
      ...(next === undefined ? {} : { NextToken: next }),
    };
  }

  private deleteSecret(input: Json): Json {
    const secret = this.find(input.SecretId);
    const force = input.ForceDeleteWithoutRecovery === true;
    const window = input.RecoveryWindowInDays;
    if (force && window !== undefined) {
      throw invalidParameter(
        "You can't use ForceDeleteWithoutRecovery in conjunction with RecoveryWindowInDays.",
      );
    }
    if (force) {
      this.secrets.delete(secret.name);
      return { ARN: secret.arn, Name: secret.name, DeletionDate: this.now() / 1000 };
    }
    if (secret.deletionDate !== undefined) throw markedForDeletion();
    const days = window === undefined ? 30 : Number(window);
    if (!Number.isInteger(days) || days < 7 || days > 30) {
      throw invalidParameter(
        "The RecoveryWindowInDays value must be between 7 and 30 days (inclusive).",
      );
    }
    secret.deletionDate = this.now() + days * DAY_MS;
    return { ARN: secret.arn, Name: secret.name, DeletionDate: secret.deletionDate / 1000 };
  }

  private restoreSecret(input: Json): Json {
    const secret = this.find(input.SecretId);
    if (secret.deletionDate === undefined) {
      throw new AwsError(
        400,
        "InvalidRequestException",
        "You can't perform this operation on the secret because it was not deleted.",
      );
    }
    delete secret.deletionDate;
    return { ARN: secret.arn, Name: secret.name };
  }

  // ---- helpers ------------------------------------------------------------------------------

  private find(id: unknown): FakeSecret {
    const key = str(id);
    const secret = this.secrets.get(key) ?? [...this.secrets.values()].find((s) => s.arn === key);
    if (secret === undefined) throw notFound();
    return secret;
  }

  /** A secret that is not scheduled for deletion. */
  private live(id: unknown): FakeSecret {
    const secret = this.find(id);
    if (secret.deletionDate !== undefined) throw markedForDeletion();
    return secret;
  }

  private expireDeletions(): void {
    const now = this.now();
    for (const [name, s] of this.secrets) {
      if (s.deletionDate !== undefined && s.deletionDate <= now) this.secrets.delete(name);
    }
  }

  /** NextToken is an opaque offset; a NextToken may come back even when the page is empty. */
  private page<T>(
    items: T[],
    maxResults: unknown,
    nextToken: unknown,
    limit: number,
  ): { page: T[]; next: string | undefined } {
    let start = 0;
    if (nextToken !== undefined) {
      const decoded = /^o(\d+)$/.exec(Buffer.from(str(nextToken), "base64url").toString());
      if (decoded === null)
        throw new AwsError(400, "InvalidNextTokenException", "Invalid NextToken.");
      start = Number(decoded[1]);
    }
    // "Secrets Manager might return fewer results than the maximum even when there are more."
    const size = Math.min(
      maxResults === undefined ? limit : Number(maxResults),
      this.pageSize,
      limit,
    );
    if (!Number.isInteger(size) || size < 1) {
      throw validation(
        `Value at 'maxResults' failed to satisfy constraint: Member must be between 1 and ${limit}`,
      );
    }
    const page = items.slice(start, start + size);
    const end = start + size;
    return {
      page,
      next: end < items.length ? Buffer.from(`o${end}`).toString("base64url") : undefined,
    };
  }
}

function holder(secret: FakeSecret, stage: string): FakeVersion | undefined {
  return secret.versions.find((v) => v.stages.includes(stage));
}

function summary(secret: FakeSecret): Json {
  const stages: Record<string, string[]> = {};
  for (const v of secret.versions) if (v.stages.length > 0) stages[v.id] = [...v.stages];
  return {
    ARN: secret.arn,
    Name: secret.name,
    ...(secret.description === undefined ? {} : { Description: secret.description }),
    ...(secret.kmsKeyId === undefined ? {} : { KmsKeyId: secret.kmsKeyId }),
    ...(secret.tags.length === 0 ? {} : { Tags: secret.tags }),
    LastChangedDate: secret.changed / 1000,
    CreatedDate: secret.created / 1000,
    ...(secret.deletionDate === undefined ? {} : { DeletedDate: secret.deletionDate / 1000 }),
    VersionIdsToStages: stages,
  };
}

function valueEntry(secret: FakeSecret, version: FakeVersion): Json {
  return {
    ARN: secret.arn,
    Name: secret.name,
    VersionId: version.id,
    ...(version.string === undefined ? {} : { SecretString: version.string }),
    ...(version.binary === undefined ? {} : { SecretBinary: version.binary.toString("base64") }),
    VersionStages: [...version.stages],
    CreatedDate: version.created / 1000,
  };
}

/** ListSecrets / BatchGetSecretValue filters: prefix matches, `!` negates. */
function matches(secret: FakeSecret, filters: unknown): boolean {
  if (!Array.isArray(filters)) return true;
  return (filters as Array<{ Key?: string; Values?: string[] }>).every((f) =>
    (f.Values ?? []).some((raw) => {
      const negate = raw.startsWith("!");
      const value = negate ? raw.slice(1) : raw;
      let hit: boolean;
      switch (f.Key) {
        case "name":
          hit = secret.name.startsWith(value);
          break;
        case "description":
          hit = (secret.description ?? "").startsWith(value);
          break;
        case "tag-key":
          hit = secret.tags.some((t) => t.Key.startsWith(value));
          break;
        case "tag-value":
          hit = secret.tags.some((t) => t.Value.startsWith(value));
          break;
        default:
          throw invalidParameter(`Unsupported filter key ${String(f.Key)}.`);
      }
      return negate ? !hit : hit;
    }),
  );
}

function requestValue(input: Json): { string?: string; binary?: Buffer } | undefined {
  const s = input.SecretString;
  const b = input.SecretBinary;
  if (s !== undefined && b !== undefined) {
    throw invalidParameter(
      "You can't specify both a binary secret value and a string secret value in the same secret.",
    );
  }
  if (typeof s === "string" && s.length > 0) {
    if (Buffer.byteLength(s, "utf8") > MAX_VALUE_BYTES) {
      throw validation(
        `Value at 'secretString' failed to satisfy constraint: Member must have length less than or equal to ${MAX_VALUE_BYTES}`,
      );
    }
    return { string: s };
  }
  if (typeof b === "string" && b.length > 0) {
    const binary = Buffer.from(b, "base64");
    if (binary.length > MAX_VALUE_BYTES) {
      throw validation(
        `Value at 'secretBinary' failed to satisfy constraint: Member must have length less than or equal to ${MAX_VALUE_BYTES}`,
      );
    }
    return { binary };
  }
  return undefined;
}

function sameValue(v: FakeVersion, value: { string?: string; binary?: Buffer }): boolean {
  return (
    v.string === value.string &&
    (v.binary === undefined) === (value.binary === undefined) &&
    (v.binary === undefined || value.binary === undefined || v.binary.equals(value.binary))
  );
}

function labels(value: unknown): string[] {
  if (!Array.isArray(value) || value.length < 1 || value.length > 20) {
    throw validation(
      "Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 20",
    );
  }
  for (const stage of value) {
    if (typeof stage !== "string" || stage.length < 1 || stage.length > 256) {
      throw validation(
        "Value at 'versionStages' failed to satisfy constraint: Member must have length between 1 and 256",
      );
    }
  }
  return value as string[];
}

function optionalToken(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const token = str(value);
  if (token.length < 32 || token.length > 64) {
    throw validation(
      "Value at 'clientRequestToken' failed to satisfy constraint: Member must have length between 32 and 64",
    );
  }
  return token;
}

function str(value: unknown): string {
  if (typeof value !== "string") throw validation("a required string parameter is missing");
  return value;
}

function optionalStr(value: unknown): string | undefined {
  return value === undefined ? undefined : str(value);
}
