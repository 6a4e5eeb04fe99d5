/**
 * A local Atlassian Cloud on 127.0.0.1 for tests, reproducing /work/shared/reference/providers.md §3:
 * the site (`/rest/api/3/myself`, `/wiki/rest/api/user/current`, `/_edge/tenant_info`) and
 * api.atlassian.com (the `/ex/{product}/{cloudId}/…` gateway and the org admin API
 * `/users/{account_id}/manage/api-tokens`) on one server, told apart by path. Classic tokens work
 * on the site only, scoped tokens through the gateway only (401 elsewhere, §3.1). Scripted
 * answers (429, 5xx, a hang) are served first, in order, for paths starting with their prefix.
 */
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { atlassianChecksum } from "../../../detect/index.js";
import { exampleChars } from "../../../detect/rules/examples.js";
import type { FakeServerHandle } from "../../conformance.js";

export interface FakeToken {
  id: string;
  label: string;
  value: string;
  kind: "classic" | "scoped";
  expiry: string;
  createdAt: string;
  lastAccess?: string;
}

export interface FakeAccount {
  accountId: string;
  email: string;
  displayName: string;
  tokens: FakeToken[];
}

export interface ScriptedAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  hang?: boolean;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
}

/** An `ATATT3…` token with a valid CRC-32 tail, built at run time (token-formats.md). */
export function atlassianToken(label: string): string {
  const head = `ATA${"TT3"}${exampleChars(label, 177)}=`;
  return head + atlassianChecksum(head);
}

export class FakeAtlassian implements FakeServerHandle {
  readonly cloudId = "11111111-2222-3333-4444-555555555555";
  readonly adminKey = exampleChars("fake-atlassian/admin-key", 48);
  readonly accounts: FakeAccount[] = [];
  readonly requests: RecordedRequest[] = [];
  /** Answer every failed sign-in with the CAPTCHA challenge instead of 401. */
  captcha = false;
  private readonly scripts: { prefix: string; answer: ScriptedAnswer }[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  baseUrl = "";
  /** Settings of the atlassian provider that point it at this server (site and api.atlassian.com alike). */
  settings: Record<string, unknown> = {};

  async start(): Promise<this> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.settings = { siteUrl: this.baseUrl, apiUrl: this.baseUrl };
    return this;
  }

  /** Forgets requests and unused scripted answers between tests (accounts stay). */
  reset(): void {
    this.requests.length = 0;
    this.scripts.length = 0;
    this.captcha = false;
  }

  failNext(status: number, times: number, headers: Record<string, string> = {}): void {
    this.script("/", ...Array.from({ length: times }, () => ({ status, headers })));
  }

  hangNext(): void {
    this.script("/", { status: 0, hang: true });
  }

  requestCount(): number {
    return this.requests.length;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  addAccount(email: string, displayName: string): FakeAccount {
    const account: FakeAccount = {
      accountId: `5b10ac8d82e05b22cc7d4e${String(this.accounts.length).padStart(2, "0")}`,
      email,
      displayName,
      tokens: [],
    };
    this.accounts.push(account);
    return account;
  }

  addToken(
    account: FakeAccount,
    kind: "classic" | "scoped",
    label: string,
    expiry: string,
  ): FakeToken {
    const token: FakeToken = {
      id: `tok-${account.tokens.length + 1}-${kind}`,
      label,
      value: atlassianToken(`fake-atlassian/${account.email}/${label}`),
      kind,
      expiry,
      createdAt: "2026-01-05T10:00:00.000Z",
    };
    account.tokens.push(token);
    return token;
  }

  /** Answers the next requests whose path starts with `prefix` with these, in order. */
  script(prefix: string, ...answers: ScriptedAnswer[]): void {
    for (const answer of answers) this.scripts.push({ prefix, answer });
  }

  calls(prefix: string): RecordedRequest[] {
    return this.requests.filter((r) => r.path.startsWith(prefix));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    for await (const _ of req) {
      // Bodies are not used by these endpoints.
    }
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    const method = req.method ?? "GET";
    this.requests.push({ method, path, headers: req.headers });

    const at = this.scripts.findIndex((s) => path.startsWith(s.prefix));
    if (at !== -1) {
      const { answer } = this.scripts.splice(at, 1)[0]!;
      if (answer.hang) {
        this.hanging.add(res);
        return;
      }
      res.writeHead(answer.status, { "content-type": "application/json", ...answer.headers });
      res.end(answer.body === undefined ? "" : JSON.stringify(answer.body));
      return;
    }

    if (method === "GET" && path === "/_edge/tenant_info")
      return json(res, 200, { cloudId: this.cloudId });
    const site = /^\/(rest\/api\/3\/myself|wiki\/rest\/api\/user\/current)$/.exec(path);
    if (method === "GET" && site) return this.currentUser(req, res, "classic", site[1]!);
    const gateway =
      /^\/ex\/(jira|confluence)\/([^/]+)\/(rest\/api\/3\/myself|wiki\/rest\/api\/user\/current)$/.exec(
        path,
      );
    if (method === "GET" && gateway) {
      if (gateway[2] !== this.cloudId) return json(res, 404, { errorMessages: ["Site not found"] });
      return this.currentUser(req, res, "scoped", gateway[3]!);
    }
    const admin = /^\/users\/([^/]+)\/manage\/api-tokens(?:\/([^/]+))?$/.exec(path);
    if (admin) return this.adminApi(req, res, method, decodeURIComponent(admin[1]!), admin[2]);
    json(res, 404, { errorMessages: ["Not found"] });
  }

  private currentUser(
    req: IncomingMessage,
    res: ServerResponse,
    via: "classic" | "scoped",
    endpoint: string,
  ) {
    const auth = req.headers.authorization ?? "";
    const decoded = auth.startsWith("Basic ")
      ? Buffer.from(auth.slice("Basic ".length), "base64").toString("utf8")
      : "";
    const colon = decoded.indexOf(":");
    const email = decoded.slice(0, colon);
    const secret = decoded.slice(colon + 1);
    const account = this.accounts.find((a) => a.email === email);
    const token = account?.tokens.find((t) => t.value === secret);
    if (account === undefined || token === undefined || token.kind !== via) {
      if (this.captcha) {
        res.writeHead(403, {
          "x-authentication-denied-reason":
            "CAPTCHA_CHALLENGE; login-url=https://example.invalid/login.jsp",
        });
        res.end();
        return;
      }
      res.writeHead(401, { "content-type": "text/plain" });
      res.end("Client must be authenticated to access this resource.");
      return;
    }
    token.lastAccess = new Date().toISOString();
    if (endpoint.startsWith("wiki"))
      return json(res, 200, {
        type: "known",
        accountId: account.accountId,
        accountType: "atlassian",
        email: account.email,
        displayName: account.displayName,
      });
    json(res, 200, {
      self: `${this.baseUrl}/rest/api/3/user?accountId=${account.accountId}`,
      accountId: account.accountId,
      accountType: "atlassian",
      emailAddress: account.email,
      displayName: account.displayName,
      active: true,
      timeZone: "Europe/Paris",
    });
  }

  private adminApi(
    req: IncomingMessage,
    res: ServerResponse,
    method: string,
    accountId: string,
    tokenId: string | undefined,
  ) {
    if (req.headers.authorization !== `Bearer ${this.adminKey}`)
      return json(res, 401, { code: 401, message: "Unauthorized" });
    const account = this.accounts.find((a) => a.accountId === accountId);
    if (account === undefined) return json(res, 404, { code: 404, message: "User not found" });
    if (method === "GET" && tokenId === undefined)
      return json(
        res,
        200,
        account.tokens.map(({ id, label, createdAt, lastAccess, expiry }) => ({
          id,
          label,
          createdAt,
          lastAccess,
          expiry,
        })),
      );
    if (method === "DELETE" && tokenId !== undefined) {
      const at = account.tokens.findIndex((t) => t.id === tokenId);
      if (at === -1) return json(res, 404, { code: 404, message: "Token not found" });
      account.tokens.splice(at, 1);
      res.writeHead(204);
      res.end();
      return;
    }
    json(res, 405, { code: 405, message: "Method not allowed" });
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}
