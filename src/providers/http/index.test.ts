/**
 * The generic http provider against a small internal API on 127.0.0.1 whose verify and revoke
 * requests are described in settings, as a user would write them in the config.
 */
import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, beforeEach, describe, test } from "node:test";
import { isKeywardError, type KeywardError } from "../../core/errors.js";
import { exampleChars } from "../../detect/rules/examples.js";
import {
  assertNoLeak,
  type FakeServerHandle,
  runProviderConformance,
  testContext,
} from "../conformance.js";
import type { ProviderCredential } from "../types.js";
import { httpProvider } from "./index.js";

interface Recorded {
  method: string;
  path: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** An internal API: X-Api-Key on GET /v1/whoami, JSON POST /v1/keys/revoke, admin key in a header. */
class FakeInternalApi implements FakeServerHandle {
  readonly keys = new Set<string>();
  readonly adminKey = exampleChars("http-test/admin", 40);
  readonly requests: Recorded[] = [];
  private readonly queue: {
    status: number;
    headers: Record<string, string>;
    body?: string;
    hang?: boolean;
  }[] = [];
  private readonly hanging = new Set<ServerResponse>();
  private readonly server = createServer((req, res) => void this.handle(req, res));
  baseUrl = "";

  async start(): Promise<this> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    this.baseUrl = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy();
    this.server.closeAllConnections();
    this.server.close();
    await once(this.server, "close");
  }

  get settings(): Record<string, unknown> {
    return {
      title: "billing API",
      verify: { url: `${this.baseUrl}/v1/whoami`, headers: { "X-Api-Key": "{{value}}" } },
      revoke: {
        method: "POST",
        url: `${this.baseUrl}/v1/keys/revoke`,
        headers: { "Content-Type": "application/json", "X-Admin": "{{companions.adminKey}}" },
        body: '{"key":"{{value}}"}',
        expectStatus: 204,
      },
    };
  }

  failNext(status: number, times: number, headers: Record<string, string> = {}): void {
    for (let i = 0; i < times; i++) this.queue.push({ status, headers });
  }

  /** The next request answers with this body (an upstream that echoes what it got). */
  answerNext(status: number, body: string): void {
    this.queue.push({ status, headers: { "content-type": "application/json" }, body });
  }

  hangNext(): void {
    this.queue.push({ status: 0, headers: {}, hang: true });
  }

  requestCount(): number {
    return this.requests.length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks).toString("utf8");
    const path = new URL(req.url ?? "/", "http://127.0.0.1").pathname;
    this.requests.push({ method: req.method ?? "", path, headers: req.headers, body });
    const scripted = this.queue.shift();
    if (scripted?.hang) {
      this.hanging.add(res);
      return;
    }
    if (scripted !== undefined) {
      res.writeHead(scripted.status, scripted.headers);
      res.end(scripted.body ?? "");
      return;
    }
    if (req.method === "GET" && path === "/v1/whoami") {
      const key = req.headers["x-api-key"];
      res.writeHead(typeof key === "string" && this.keys.has(key) ? 200 : 401, {
        "content-type": "application/json",
      });
      res.end(JSON.stringify({ service: "billing" }));
      return;
    }
    if (req.method === "POST" && path === "/v1/keys/revoke") {
      if (req.headers["x-admin"] !== this.adminKey) {
        res.writeHead(403);
        res.end();
        return;
      }
      const key = (JSON.parse(body) as { key: string }).key;
      res.writeHead(this.keys.delete(key) ? 204 : 404);
      res.end();
      return;
    }
    res.writeHead(404);
    res.end();
  }
}

let fake: FakeInternalApi;
const key = exampleChars("http-test/key", 40);
const revocable = exampleChars("http-test/revocable", 40);
const cred = (value: string): ProviderCredential => ({
  name: "billing/key",
  value,
  companions: { adminKey: fake.adminKey },
});
const ctx = (settings: Record<string, unknown> = {}, timeoutMs = 5_000) =>
  testContext({ ...fake.settings, ...settings }, { timeoutMs });

async function rejection(promise: Promise<unknown>, secrets: string[]): Promise<KeywardError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assertNoLeak(e, secrets);
    return e;
  }
  assert.fail("expected a rejection");
}

before(async () => {
  fake = await new FakeInternalApi().start();
});
after(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.requests.length = 0;
  fake.keys.clear();
  fake.keys.add(key);
  fake.keys.add(revocable);
});

runProviderConformance(httpProvider, async () => {
  return {
    validValue: key,
    companions: { adminKey: fake.adminKey },
    malformedValue: `${key}\n`,
    rejectedValue: exampleChars("http-test/never-issued", 40),
    revocableValue: revocable,
    server: fake,
  };
});

describe("verify as configured", () => {
  test("sends the value only where the template puts it", async () => {
    const result = await httpProvider.verify!(cred(key), ctx());
    assert.deepEqual(result, { ok: true, identity: { kind: "configured" } });
    const [call] = fake.requests;
    assert.equal(call?.method, "GET");
    assert.equal(call?.path, "/v1/whoami");
    assert.equal(call?.headers["x-api-key"], key);
    assert.equal(call?.body, "");
  });

  test("a refused key is a failed verification; an unexpected status says what was expected", async () => {
    const unknown = exampleChars("http-test/unknown", 40);
    assert.deepEqual(await httpProvider.verify!(cred(unknown), ctx()), {
      ok: false,
      detail: "the upstream refused the key (401)",
    });
    fake.failNext(403, 1);
    assert.equal(
      (await httpProvider.verify!(cred(key), ctx())).detail,
      "the upstream refused the key (403)",
    );
    const strict = ctx({
      verify: {
        url: `${fake.baseUrl}/v1/whoami`,
        headers: { "X-Api-Key": "{{value}}" },
        expectStatus: [204],
      },
    });
    assert.deepEqual(await httpProvider.verify!(cred(key), strict), {
      ok: false,
      detail: "the upstream answered 200, expected 204",
    });
  });

  test("404 and an upstream echoing the key in its error: clear, and scrubbed", async () => {
    fake.failNext(404, 1);
    const missing = await rejection(httpProvider.verify!(cred(key), ctx()), [key]);
    assert.equal(missing.code, "not_found");
    assert.match(
      missing.message,
      /billing API \(secret "billing\/key"\) answered 404 to GET 127\.0\.0\.1:\d+\/v1\/whoami/,
    );
    fake.answerNext(
      400,
      JSON.stringify({ message: `unknown key ${key} (${encodeURIComponent(key)})` }),
    );
    const echoed = await rejection(httpProvider.verify!(cred(key), ctx()), [key]);
    assert.equal(echoed.code, "upstream_rejected");
    assert.match(echoed.message, /unknown key \[secret\]/);
  });

  test("a 5xx is retried a bounded number of times; a 429 waits for Retry-After", async () => {
    fake.failNext(500, 1);
    fake.failNext(429, 1, { "retry-after": "3" });
    const c = ctx();
    assert.equal((await httpProvider.verify!(cred(key), c)).ok, true);
    assert.equal(fake.requests.length, 3);
    assert.ok(c.sleeps[1]! >= 3_000);
  });
});

describe("revoke as configured", () => {
  test("fills the JSON body and the companion header, then the key no longer verifies", async () => {
    assert.deepEqual(await httpProvider.revoke!(cred(key), ctx()), { revoked: true });
    const call = fake.requests.find((r) => r.path === "/v1/keys/revoke");
    assert.equal(call?.method, "POST");
    assert.equal(call?.headers["x-admin"], fake.adminKey);
    assert.deepEqual(JSON.parse(call?.body ?? ""), { key });
    assert.equal((await httpProvider.verify!(cred(key), ctx())).ok, false);
  });

  test("a value with quotes and backslashes stays one JSON string", async () => {
    const tricky = `${exampleChars("http-test/tricky", 20)}"},"admin":true,"x":"\\`;
    fake.keys.add(tricky);
    assert.deepEqual(await httpProvider.revoke!(cred(tricky), ctx()), { revoked: true });
    const call = fake.requests.find((r) => r.path === "/v1/keys/revoke");
    assert.deepEqual(JSON.parse(call?.body ?? ""), { key: tricky });
  });

  test("a form body is URL-encoded", async () => {
    const settings = {
      revoke: {
        method: "POST",
        url: `${fake.baseUrl}/v1/form-revoke`,
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
        body: "token={{value}}&reason=leak",
        expectStatus: [404],
      },
    };
    const odd = `${exampleChars("http-test/odd", 20)}&reason=none+x`;
    assert.deepEqual(await httpProvider.revoke!(cred(odd), ctx(settings)), { revoked: true });
    const form = new URLSearchParams(fake.requests[0]?.body);
    assert.equal(form.get("token"), odd);
    assert.equal(form.get("reason"), "leak");
  });

  test("a 2xx other than the expected status is not a revocation; a 404 is a clear error", async () => {
    fake.failNext(200, 1);
    const result = await httpProvider.revoke!(cred(key), ctx());
    assert.deepEqual(result, { revoked: false, detail: "the upstream answered 200, expected 204" });
    const gone = exampleChars("http-test/gone", 40);
    const e = await rejection(httpProvider.revoke!(cred(gone), ctx()), [gone, fake.adminKey]);
    assert.equal(e.code, "not_found");
    assert.equal(fake.requests.length, 2, "a POST revoke is not retried");
  });
});

describe("settings that would leak the key, or send it nowhere, are refused before any request", () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    [
      "a template in the URL",
      { verify: { url: "http://127.0.0.1:9/v1/whoami?key={{value}}", headers: {} } },
      /URL holds a template/,
    ],
    [
      "plain http to another host",
      {
        verify: {
          url: "http://billing.internal.test/v1/whoami",
          headers: { "X-Api-Key": "{{value}}" },
        },
      },
      /plain http to billing\.internal\.test/,
    ],
    [
      "an unknown template",
      {
        verify: {
          url: "https://billing.internal.test/v1/whoami",
          headers: { "X-Api-Key": "{{valeu}}" },
        },
      },
      /refers to \{\{valeu\}\}/,
    ],
    [
      "a companion the key does not have",
      {
        verify: {
          url: "https://billing.internal.test/",
          headers: { A: "{{value}}", B: "{{companions.nope}}" },
        },
      },
      /refers to \{\{companions\.nope\}\}/,
    ],
    [
      "a verify request that never sends the key",
      { verify: { url: "https://billing.internal.test/v1/health", headers: {} } },
      /never sends \{\{value\}\}/,
    ],
    [
      "an impossible expected status",
      {
        verify: {
          url: "https://billing.internal.test/",
          headers: { A: "{{value}}" },
          expectStatus: 99,
        },
      },
      /settings are invalid \(verify\.expectStatus\)/,
    ],
  ];
  for (const [what, settings, message] of cases) {
    test(what, async () => {
      const e = await rejection(httpProvider.verify!(cred(key), ctx(settings)), [
        key,
        fake.adminKey,
      ]);
      assert.equal(e.code, "config_invalid");
      assert.match(e.message, message);
      assert.equal(fake.requests.length, 0);
    });
  }

  test("no verify request configured is a refusal with the fix", async () => {
    const e = await rejection(httpProvider.verify!(cred(key), testContext({})), [key]);
    assert.equal(e.code, "refused");
    assert.match(e.fix ?? "", /settings\.verify/);
  });

  test("a value with a line break is not sent", async () => {
    const e = await rejection(httpProvider.verify!(cred(`${key}\r\nX-Injected: 1`), ctx()), [key]);
    assert.equal(e.code, "invalid_value");
    assert.equal(fake.requests.length, 0);
  });

  test("an upstream that hangs times out", async () => {
    fake.hangNext();
    const e = await rejection(httpProvider.verify!(cred(key), ctx({}, 150)), [key]);
    assert.equal(e.code, "upstream_timeout");
  });
});
