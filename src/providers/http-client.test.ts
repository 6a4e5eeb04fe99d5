/**
 * providerFetch against a scripted server on 127.0.0.1. Rate-limit behaviour follows
 * /work/shared/reference/providers.md §1.3 (docs.github.com …/rate-limits-for-the-rest-api:
 * honour retry-after, else x-ratelimit-reset, else wait a minute).
 */
import assert from "node:assert/strict";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { assertNoLeak, testContext } from "./conformance.js";
import { providerFetch, rateLimitDelay } from "./http-client.js";

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const queue: Handler[] = [];
let hits = 0;
const server = createServer((req, res) => {
  hits++;
  const handler = queue.shift();
  if (handler === undefined) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end('{"ok":true}');
  } else handler(req, res);
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
after(() => {
  server.closeAllConnections();
  server.close();
});

const KEY = `sk-test-${"q7".repeat(16)}`;
const answer =
  (status: number, body: unknown, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { "content-type": "application/json", ...headers });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
const call = (overrides: Record<string, unknown> = {}) => ({
  url: `${base}/v1/thing?token=${KEY}`,
  headers: { authorization: `Bearer ${KEY}` },
  provider: "Example",
  secretName: "example/key",
  ...overrides,
});

async function rejectsWith(action: Promise<unknown>, code: string, ...mentions: string[]) {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(isKeywardError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" lacks "${m}"`);
    assertNoLeak(e, [KEY]);
    return true;
  });
}

describe("providerFetch", () => {
  it("returns a 2xx answer with its status, headers and JSON body", async () => {
    queue.push(answer(200, { hello: "world" }, { "x-thing": "1" }));
    const res = await providerFetch(testContext({}), call());
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-thing"), "1");
    assert.deepEqual(await res.json(), { hello: "world" });
  });

  it("turns 401, 403, 404 into KeywardErrors that name the secret and the call, never the key or the query", async () => {
    queue.push(answer(401, { message: `Bad credentials for ${KEY}` }));
    await rejectsWith(
      providerFetch(testContext({}), call()),
      "upstream_unauthorized",
      'secret "example/key"',
      "GET 127.0.0.1",
      "/v1/thing",
      "Bad credentials for [secret]",
    );
    queue.push(answer(403, { error: "missing_scope" }));
    await rejectsWith(
      providerFetch(testContext({}), call()),
      "upstream_forbidden",
      "missing_scope",
    );
    queue.push(answer(404, { errorMessages: ["No project"] }));
    await rejectsWith(providerFetch(testContext({}), call()), "not_found", "No project");
  });

  it("returns the statuses a caller accepts", async () => {
    queue.push(answer(401, { message: "Bad credentials" }));
    assert.equal((await providerFetch(testContext({}), call({ accept: [401] }))).status, 401);
  });

  it("keeps a Basic header's password and extra sensitive values out of messages", async () => {
    const basic = `Basic ${Buffer.from(`me@example.com:${KEY}`).toString("base64")}`;
    queue.push(answer(400, { message: `rejected ${KEY} at /hook/${"h".repeat(10)}` }));
    await rejectsWith(
      providerFetch(
        testContext({}),
        call({ headers: { authorization: basic }, sensitive: [`/hook/${"h".repeat(10)}`] }),
      ),
      "upstream_rejected",
      "rejected [secret] at [secret]",
    );
  });

  it("retries 5xx on idempotent calls only, a bounded number of times", async () => {
    const ctx = testContext({});
    const before = hits;
    queue.push(answer(500, {}), answer(502, {}), answer(503, {}));
    await rejectsWith(providerFetch(ctx, call()), "upstream_unavailable", "503", "3 attempts");
    assert.equal(hits - before, 3);
    assert.equal(ctx.sleeps.length, 2);

    const post = hits;
    queue.push(answer(500, {}));
    await rejectsWith(
      providerFetch(testContext({}), call({ method: "POST", body: { a: 1 } })),
      "upstream_unavailable",
      "1 attempt",
    );
    assert.equal(hits - post, 1);
  });

  it("retries a rate limit even on POST, since the upstream did not act on it", async () => {
    const ctx = testContext({});
    queue.push(answer(429, {}, { "retry-after": "2" }));
    const res = await providerFetch(ctx, call({ method: "POST", body: {} }));
    assert.equal(res.status, 200);
    assert.ok(ctx.sleeps[0]! >= 2000);
  });

  it("reads Retry-After as seconds or an HTTP date, else x-ratelimit-reset, else a minute", () => {
    const now = new Date("2026-01-01T00:00:00Z");
    const response = (status: number, headers: Record<string, string>) =>
      new Response(null, { status, headers });
    assert.equal(rateLimitDelay(response(429, { "retry-after": "5" }), now), 5000);
    assert.equal(
      rateLimitDelay(response(429, { "retry-after": "Thu, 01 Jan 2026 00:00:30 GMT" }), now),
      30_000,
    );
    const reset = String(now.getTime() / 1000 + 90);
    assert.equal(
      rateLimitDelay(
        response(403, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset }),
        now,
      ),
      90_000,
    );
    assert.equal(rateLimitDelay(response(429, {}), now), 60_000);
    // A 403 without rate-limit headers is a permission problem, not a rate limit.
    assert.equal(rateLimitDelay(response(403, { "x-ratelimit-remaining": "12" }), now), undefined);
  });

  it("does not follow a redirect with the key", async () => {
    queue.push((_req, res) => {
      res.writeHead(302, { location: "http://127.0.0.1:9/steal" });
      res.end();
    });
    const before = hits;
    await rejectsWith(providerFetch(testContext({}), call()), "upstream_rejected", "redirect");
    assert.equal(hits - before, 1);
  });

  it("times out a hanging call without retrying it", async () => {
    const before = hits;
    queue.push(() => {});
    await rejectsWith(
      providerFetch(testContext({}, { timeoutMs: 100 }), call()),
      "upstream_timeout",
      "100 ms",
    );
    assert.equal(hits - before, 1);
  });

  it("says when an answer is not JSON", async () => {
    queue.push(answer(200, "<html>proxy login</html>"));
    const res = await providerFetch(testContext({}), call());
    await rejectsWith(res.json(), "upstream_rejected", "not JSON");
  });
});
