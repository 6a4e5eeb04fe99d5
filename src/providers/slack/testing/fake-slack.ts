/**
 * A local Slack Web API on 127.0.0.1 for tests, reproducing /work/shared/reference/providers.md §2:
 * `auth.test` (§2.3: identity in the body, scopes in `x-oauth-scopes`), `auth.revoke` (§2.4),
 * `oauth.v2.access` with grant_type=refresh_token and single-use refresh tokens (§2.5), HTTP 200
 * with `ok:false` for every error, and 429 + Retry-After for rate limits (§2.1). Scripted answers
 * (429, 5xx, a hang) are served first, in order, for the method they name.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exampleChars } from "../../../detect/rules/examples.js";
import type { FakeServerHandle } from "../../conformance.js";

export interface SlackAccount {
  team: string;
  team_id: string;
  user: string;
  user_id: string;
  bot_id?: string;
  scopes: string[];
  /** For rotating tokens: seconds left, reported by auth.test as expires_in. */
  expires_in?: number;
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Never answer (the client must time out). */
  hang?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** Builds Slack-shaped token strings at run time (no token-shaped literal in the repository). */
export function slackToken(
  kind: "bot" | "user" | "rotating-bot" | "refresh" | "browser-session",
  label: string,
): string {
  const digits = (n: number, l: string) => exampleChars(`${label}/${l}`, n, "0123456789");
  const secret = (n: number) => exampleChars(`${label}/secret`, n);
  const xo = "xo";
  switch (kind) {
    case "bot":
      return `${xo}xb-${digits(11, "t")}-${digits(12, "b")}-${secret(24)}`;
    case "user":
      return `${xo}xp-${digits(11, "t")}-${digits(12, "u")}-${digits(13, "v")}-${exampleChars(`${label}/hex`, 32, "0123456789abcdef")}`;
    case "rotating-bot":
      return `${xo}xe.${xo}xb-1-${secret(40)}`;
    case "refresh":
      return `${xo}xe-1-${secret(40)}`;
    case "browser-session":
      return `${xo}xc-${digits(11, "t")}-${digits(12, "u")}-${secret(40)}`;
  }
}

export class FakeSlack implements FakeServerHandle {
  readonly requests: RecordedRequest[] = [];
  readonly accounts = new Map<string, SlackAccount>();
  readonly revoked = new Set<string>();
  /** refresh token → the account its next access token belongs to; deleted once used. */
  readonly refreshTokens = new Map<string, SlackAccount>();
  readonly client = { id: "1234567890.0987654321", secret: exampleChars("fake-slack/client", 32) };
  private readonly scripts = new Map<string, ScriptedAnswer[]>();
  /** Answers for the next requests whatever their method (the conformance suite's failNext). */
  private readonly anyMethod: ScriptedAnswer[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private rotations = 0;
  private readonly server = createServer((req, res) => void this.handle(req, res));
  baseUrl = "";

  async start(): Promise<this> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api`;
    return this;
  }

  get settings(): Record<string, unknown> {
    return { apiUrl: this.baseUrl };
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  /** Forgets requests, tokens and unused scripted answers between tests. */
  reset(): void {
    this.requests.length = 0;
    this.accounts.clear();
    this.revoked.clear();
    this.refreshTokens.clear();
    this.scripts.clear();
    this.anyMethod.length = 0;
  }

  failNext(status: number, times: number, headers: Record<string, string> = {}): void {
    // Slack's own rate-limit body (§2.1); other failures are not Web API answers at all.
    const body = status === 429 ? { ok: false, error: "ratelimited" } : undefined;
    for (let i = 0; i < times; i++) this.anyMethod.push({ status, headers, body });
  }

  hangNext(): void {
    this.anyMethod.push({ status: 0, hang: true });
  }

  requestCount(): number {
    return this.requests.length;
  }

  /** Answers the next calls of `method` with these, in order, before behaving normally. */
  script(method: string, ...answers: ScriptedAnswer[]): void {
    this.scripts.set(method, [...(this.scripts.get(method) ?? []), ...answers]);
  }

  calls(method: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path === `/api/${method}`);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    this.requests.push({ method: req.method ?? "", path, headers: req.headers, body });
    const method = path.replace(/^\/api\//, "");

    const scripted = this.anyMethod.shift() ?? this.scripts.get(method)?.shift();
    if (scripted !== undefined) {
      if (scripted.hang) {
        this.hanging.add(res);
        return;
      }
      res.writeHead(scripted.status, { "content-type": "application/json", ...scripted.headers });
      res.end(scripted.body === undefined ? "" : JSON.stringify(scripted.body));
      return;
    }

    const form = new URLSearchParams(body);
    const auth = req.headers.authorization;
    const token = auth?.startsWith("Bearer ") ? auth.slice("Bearer ".length) : form.get("token");
    switch (method) {
      case "auth.test":
        return this.authTest(token, res);
      case "auth.revoke":
        return this.authRevoke(token, form, res);
      case "oauth.v2.access":
        return this.refresh(form, res);
      default:
        return send(res, { ok: false, error: "unknown_method" });
    }
  }

  private lookup(token: string | null | undefined, res: ServerResponse): SlackAccount | undefined {
    if (token === null || token === undefined || token === "") {
      send(res, { ok: false, error: "not_authed" });
      return undefined;
    }
    if (this.revoked.has(token)) {
      send(res, { ok: false, error: "token_revoked" });
      return undefined;
    }
    const account = this.accounts.get(token);
    if (account === undefined) send(res, { ok: false, error: "invalid_auth" });
    return account;
  }

  private authTest(token: string | null | undefined, res: ServerResponse) {
    const account = this.lookup(token, res);
    if (account === undefined) return;
    const { scopes, ...identity } = account;
    send(
      res,
      { ok: true, url: `https://${account.team.toLowerCase()}.slack.com/`, ...identity },
      { "x-oauth-scopes": scopes.join(","), "x-accepted-oauth-scopes": "" },
    );
  }

  private authRevoke(token: string | null | undefined, form: URLSearchParams, res: ServerResponse) {
    if (this.lookup(token, res) === undefined) return;
    // test=1 is a dry run: the token stays valid (§2.4).
    const dryRun = form.get("test") === "1" || form.get("test") === "true";
    if (!dryRun) this.revoked.add(token!);
    send(res, { ok: true, revoked: !dryRun });
  }

  private refresh(form: URLSearchParams, res: ServerResponse) {
    if (form.get("client_id") !== this.client.id)
      return send(res, { ok: false, error: "invalid_client_id" });
    if (form.get("client_secret") !== this.client.secret)
      return send(res, { ok: false, error: "bad_client_secret" });
    if (form.get("grant_type") !== "refresh_token")
      return send(res, { ok: false, error: "invalid_grant_type" });
    const refreshToken = form.get("refresh_token") ?? "";
    const account = this.refreshTokens.get(refreshToken);
    if (account === undefined) return send(res, { ok: false, error: "invalid_grant" });
    // Single use: each refresh returns a new refresh token and revokes the old one (§2.5).
    this.refreshTokens.delete(refreshToken);
    this.rotations += 1;
    const access = slackToken("rotating-bot", `fake-slack/rotated-${this.rotations}`);
    const next = slackToken("refresh", `fake-slack/refresh-${this.rotations}`);
    this.accounts.set(access, { ...account, expires_in: 43200 });
    this.refreshTokens.set(next, account);
    send(res, {
      ok: true,
      access_token: access,
      expires_in: 43200,
      refresh_token: next,
      token_type: "bot",
      scope: account.scopes.join(","),
      bot_user_id: account.user_id,
      app_id: "A0123456789",
      team: { id: account.team_id, name: account.team },
    });
  }
}

function send(res: ServerResponse, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", ...headers });
  res.end(JSON.stringify(body));
}
