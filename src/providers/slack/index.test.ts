/**
 * The Slack provider against a local fake of the Web API (testing/fake-slack.ts). Each test names
 * the section of /work/shared/reference/providers.md §2 it reproduces.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { isKeywardError, type KeywardError } from "../../core/errors.js";
import { withClassicChecksum } from "../../detect/index.js";
import { exampleChars } from "../../detect/rules/examples.js";
import { assertNoLeak, runProviderConformance, testContext } from "../conformance.js";
import type { ProviderCredential } from "../types.js";
import { OVER_BROAD_KINDS, slackProvider } from "./index.js";
import { FakeSlack, slackToken } from "./testing/fake-slack.js";

const NOW = new Date("2026-08-01T12:00:00.000Z");
let fake: FakeSlack;

function ctx(settings: Record<string, unknown> = {}, timeoutMs = 5_000) {
  return testContext({ ...fake.settings, ...settings }, { now: () => NOW, timeoutMs });
}

/** Awaits a rejection: a KeywardError that shows none of `secrets` in any form. */
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

const bot = slackToken("bot", "slack-test/bot");
const user = slackToken("user", "slack-test/user");
const rotating = slackToken("rotating-bot", "slack-test/rotating");
const refresh = slackToken("refresh", "slack-test/refresh");
const session = slackToken("browser-session", "slack-test/session");
const app = `xapp-1-A${exampleChars("slack-test/app-id", 10, "ABCDEFGHJKLMNPQRSTUVWXYZ")}-${exampleChars("slack-test/app-n", 13, "0123456789")}-${exampleChars("slack-test/app", 64, "0123456789abcdef")}`;
const cookie = `xoxd-${exampleChars("slack-test/cookie", 60)}`;
const cred = (value: string, companions?: Record<string, string>): ProviderCredential => ({
  name: "slack/bot",
  value,
  ...(companions ? { companions } : {}),
});

before(async () => {
  fake = await new FakeSlack().start();
});
after(async () => {
  await fake.close();
});
beforeEach(() => {
  fake.reset();
  const grace = {
    team: "Subarachnoid Workspace",
    team_id: "T12345678",
    user: "grace",
    user_id: "W12345678",
  };
  fake.accounts.set(bot, { ...grace, bot_id: "B0123", scopes: ["chat:write", "channels:read"] });
  fake.accounts.set(user, { ...grace, scopes: ["search:read", "users:read"] });
  fake.accounts.set(rotating, {
    ...grace,
    bot_id: "B0123",
    scopes: ["chat:write"],
    expires_in: 43_000,
  });
  fake.accounts.set(session, { ...grace, scopes: [] });
  fake.refreshTokens.set(refresh, { ...grace, bot_id: "B0123", scopes: ["chat:write"] });
});

runProviderConformance(slackProvider, async () => ({
  validValue: bot,
  otherProviderValue: withClassicChecksum("ghp_", exampleChars("slack-test/github", 30)),
  malformedValue: "xoxb-12345-abc",
  rejectedValue: slackToken("bot", "slack-test/never-issued"),
  revocableValue: user,
  server: fake,
}));

describe("identify (token-formats.md, providers.md §2.2)", () => {
  test("names each kind by its prefix", () => {
    assert.deepEqual(slackProvider.identify(bot), { kind: "bot", formatValid: true });
    assert.deepEqual(slackProvider.identify(user), { kind: "user", formatValid: true });
    assert.equal(slackProvider.identify(rotating)?.kind, "rotating-bot");
    assert.equal(slackProvider.identify(refresh)?.kind, "refresh-token");
    assert.equal(slackProvider.identify(app)?.kind, "app-level");
  });

  test("flags browser-session tokens as over-broad", () => {
    const kind = slackProvider.identify(session)?.kind;
    assert.equal(kind, "browser-session");
    assert.ok(OVER_BROAD_KINDS.has(kind as "browser-session"));
    assert.ok(OVER_BROAD_KINDS.has(slackProvider.identify(cookie)?.kind as "browser-cookie"));
    assert.match(
      slackProvider.info.capabilities["browser-session"]?.identify?.note ?? "",
      /over-broad/,
    );
  });

  test("a malformed bot token keeps its kind but fails the shape check", () => {
    assert.deepEqual(slackProvider.identify("xoxb-12345-abc"), { kind: "bot", formatValid: false });
  });

  test("refuses values with whitespace and tokens of other providers", () => {
    assert.equal(slackProvider.identify(`${bot}\n`), undefined);
    assert.equal(slackProvider.identify(`xoxb- ${bot.slice(5)}`), undefined);
    assert.equal(
      slackProvider.identify(withClassicChecksum("ghp_", exampleChars("slack-test/gh", 30))),
      undefined,
    );
    assert.equal(slackProvider.identify("xoxb-"), undefined);
  });
});

describe("verify and introspect through auth.test (§2.3, §2.6)", () => {
  test("POSTs auth.test with the Bearer token and reports the owner", async () => {
    const result = await slackProvider.verify!(cred(bot), ctx());
    assert.equal(result.ok, true);
    assert.equal(result.identity?.kind, "bot");
    assert.match(
      result.identity?.owner ?? "",
      /grace on Subarachnoid Workspace \(W12345678\/T12345678\)/,
    );
    const [call] = fake.calls("auth.test");
    assert.equal(call?.method, "POST");
    assert.equal(call?.headers.authorization, `Bearer ${bot}`);
    assert.equal(call?.headers["content-type"], "application/x-www-form-urlencoded");
    assert.equal(call?.body, "", "the token travels in the header, not the body");
  });

  test("reads scopes from x-oauth-scopes", async () => {
    const report = await slackProvider.introspect!(cred(bot), ctx());
    assert.deepEqual(report, { granted: ["chat:write", "channels:read"], partial: false });
  });

  test("a rotating token's expires_in becomes expiresAt (§2.5: 12-hour tokens)", async () => {
    const report = await slackProvider.introspect!(cred(rotating), ctx());
    assert.equal(report.expiresAt, new Date(NOW.getTime() + 43_000_000).toISOString());
  });

  test("a missing x-oauth-scopes header gives a partial report", async () => {
    fake.script("auth.test", {
      status: 200,
      body: { ok: true, user: "grace", team: "S", team_id: "T1", user_id: "W1" },
    });
    assert.deepEqual(await slackProvider.introspect!(cred(bot), ctx()), {
      granted: [],
      partial: true,
    });
  });

  test("a browser session is everything its user can do, and sends the d cookie", async () => {
    const withCookie = cred(session, { cookie });
    assert.deepEqual(await slackProvider.introspect!(withCookie, ctx()), {
      granted: ["*"],
      partial: false,
    });
    const result = await slackProvider.verify!(withCookie, ctx());
    assert.equal(result.ok, true);
    assert.match(result.detail ?? "", /over-broad/);
    assert.equal(fake.calls("auth.test")[0]?.headers.cookie, `d=${cookie}`);
  });

  test("ok:false invalid_auth and token_revoked are a failed verification, not an exception", async () => {
    const unknown = slackToken("bot", "slack-test/unknown");
    const bad = await slackProvider.verify!(cred(unknown), ctx());
    assert.equal(bad.ok, false);
    assert.match(bad.detail ?? "", /^invalid_auth: Slack does not recognise the token/);
    fake.revoked.add(bot);
    const revoked = await slackProvider.verify!(cred(bot), ctx());
    assert.match(revoked.detail ?? "", /^token_revoked/);
    for (const d of [bad.detail, revoked.detail])
      assert.ok(!d?.includes(unknown) && !d?.includes(bot));
  });

  test("token_expired (§2.3, unverified) reads as expired", async () => {
    fake.script("auth.test", { status: 200, body: { ok: false, error: "token_expired" } });
    const result = await slackProvider.verify!(cred(rotating), ctx());
    assert.match(result.detail ?? "", /^token_expired: the token has expired/);
  });

  test("introspect throws on ok:false with the Slack error code", async () => {
    fake.revoked.add(bot);
    const e = await rejection(slackProvider.introspect!(cred(bot), ctx()), [bot]);
    assert.equal(e.code, "upstream_unauthorized");
    assert.match(e.message, /auth\.test failed for slack\/bot: token_revoked/);
  });

  test("an error code that is not Slack-shaped is not echoed", async () => {
    fake.script("auth.test", { status: 200, body: { ok: false, error: `leak ${bot}` } });
    const e = await rejection(slackProvider.verify!(cred(bot), ctx()), [bot]);
    assert.match(e.message, /an unrecognised error/);
  });

  test("the app-level token is refused before any request", async () => {
    const e = await rejection(slackProvider.verify!(cred(app), ctx()), [app]);
    assert.equal(e.code, "refused");
    assert.equal(fake.requests.length, 0);
  });
});

describe("values that must not be sent", () => {
  test("a token of another provider is refused offline, naming the secret", async () => {
    const github = withClassicChecksum("ghp_", exampleChars("slack-test/github", 30));
    const e = await rejection(slackProvider.verify!(cred(github), ctx()), [github]);
    assert.equal(e.code, "refused");
    assert.match(e.message, /slack\/bot does not look like a Slack token/);
    assert.equal(fake.requests.length, 0);
  });

  test("an apiUrl in plain http to another host is refused", async () => {
    const e = await rejection(
      slackProvider.verify!(cred(bot), ctx({ apiUrl: "http://slack.example.test/api" })),
      [bot],
    );
    assert.equal(e.code, "config_invalid");
    assert.match(e.message, /settings are invalid \(apiUrl\)/);
    assert.equal(fake.requests.length, 0);
  });

  test("a value with a trailing newline is refused offline", async () => {
    const e = await rejection(slackProvider.revoke!(cred(`${bot}\n`), ctx()), [bot]);
    assert.equal(e.code, "refused");
    assert.equal(fake.requests.length, 0);
  });

  test("a bot token that fails the shape check is not sent", async () => {
    const e = await rejection(slackProvider.verify!(cred("xoxb-12345-abc"), ctx()), []);
    assert.equal(e.code, "invalid_value");
    assert.match(e.message, /starts like a Slack bot token but does not have its shape/);
    assert.equal(fake.requests.length, 0);
  });
});

describe("HTTP failures through the shared client (§2.1: 429 + Retry-After; 5xx)", () => {
  test("429 with Retry-After is waited out and retried", async () => {
    fake.script("auth.test", {
      status: 429,
      headers: { "retry-after": "7" },
      body: { ok: false, error: "ratelimited" },
    });
    const c = ctx();
    const result = await slackProvider.verify!(cred(bot), c);
    assert.equal(result.ok, true);
    assert.equal(fake.calls("auth.test").length, 2);
    assert.equal(c.sleeps.length, 1);
    assert.ok(c.sleeps[0]! >= 7_000, "waits at least what Retry-After asks");
  });

  test("429 on every attempt stops after the bounded number of attempts", async () => {
    const limited = {
      status: 429,
      headers: { "retry-after": "1" },
      body: { ok: false, error: "ratelimited" },
    };
    fake.script("auth.test", limited, limited, limited, limited);
    const e = await rejection(slackProvider.verify!(cred(bot), ctx()), [bot]);
    assert.equal(e.code, "upstream_rate_limited");
    assert.equal(fake.calls("auth.test").length, 3);
  });

  test("5xx is retried for auth.test, then reported with the attempt count", async () => {
    fake.script(
      "auth.test",
      { status: 503 },
      { status: 502 },
      { status: 500, body: { ok: false, error: `echo ${bot}` } },
    );
    const e = await rejection(slackProvider.verify!(cred(bot), ctx()), [bot]);
    assert.equal(e.code, "upstream_unavailable");
    assert.match(e.message, /Slack \(secret "slack\/bot"\) answered 500 .*3 attempts/);
    assert.equal(fake.calls("auth.test").length, 3);
  });

  test("one 5xx then success is a success", async () => {
    fake.script("auth.test", { status: 502 });
    assert.equal((await slackProvider.verify!(cred(bot), ctx())).ok, true);
    assert.equal(fake.calls("auth.test").length, 2);
  });

  for (const [status, code] of [
    [401, "upstream_unauthorized"],
    [403, "upstream_forbidden"],
    [404, "not_found"],
  ] as const) {
    test(`HTTP ${status} (not the Web API's way) is a clear error`, async () => {
      fake.script("auth.test", { status, body: { ok: false, error: "invalid_auth" } });
      const e = await rejection(slackProvider.verify!(cred(bot), ctx()), [bot]);
      assert.equal(e.code, code);
      assert.match(e.message, /slack\/bot/);
      assert.equal(fake.calls("auth.test").length, 1);
    });
  }

  test("a 200 that is not a Web API result is rejected", async () => {
    fake.script("auth.test", { status: 200, body: ["not", "slack"] });
    const e = await rejection(slackProvider.verify!(cred(bot), ctx()), [bot]);
    assert.match(e.message, /did not answer with a Web API result/);
  });

  test("a hanging Slack times out", async () => {
    fake.script("auth.test", { status: 0, hang: true });
    const e = await rejection(slackProvider.verify!(cred(bot), ctx({}, 150)), [bot]);
    assert.equal(e.code, "upstream_timeout");
    assert.equal(fake.calls("auth.test").length, 1);
  });
});

describe("revoke through auth.revoke (§2.4)", () => {
  test("revokes, then answers already revoked", async () => {
    assert.deepEqual(await slackProvider.revoke!(cred(bot), ctx()), { revoked: true });
    assert.equal(fake.calls("auth.revoke")[0]?.headers.authorization, `Bearer ${bot}`);
    assert.equal((await slackProvider.verify!(cred(bot), ctx())).ok, false);
    assert.deepEqual(await slackProvider.revoke!(cred(bot), ctx()), {
      revoked: true,
      detail: "already revoked",
    });
  });

  test("an unknown token is not reported as revoked", async () => {
    const unknown = slackToken("user", "slack-test/unknown-user");
    const result = await slackProvider.revoke!(cred(unknown), ctx());
    assert.equal(result.revoked, false);
    assert.match(result.detail ?? "", /^invalid_auth/);
  });

  test("ok without revoked:true is not a revocation", async () => {
    fake.script("auth.revoke", { status: 200, body: { ok: true, revoked: false } });
    assert.equal((await slackProvider.revoke!(cred(bot), ctx())).revoked, false);
  });
});

describe("rotate with a refresh token through oauth.v2.access (§2.5)", () => {
  const companions = () => ({ refreshToken: refresh, clientSecret: fake.client.secret });

  test("returns the new access token and the new refresh token together", async () => {
    const result = await slackProvider.rotate!(
      cred(rotating, companions()),
      ctx({ clientId: fake.client.id }),
    );
    assert.equal(slackProvider.identify(result.value)?.kind, "rotating-bot");
    assert.notEqual(result.value, rotating);
    assert.equal(
      slackProvider.identify(result.companions?.refreshToken ?? "")?.kind,
      "refresh-token",
    );
    assert.notEqual(result.companions?.refreshToken, refresh);
    assert.equal(result.expiresAt, new Date(NOW.getTime() + 43_200_000).toISOString());
    const form = new URLSearchParams(fake.calls("oauth.v2.access")[0]?.body);
    assert.equal(form.get("grant_type"), "refresh_token");
    assert.equal(form.get("refresh_token"), refresh);
    assert.equal(form.get("client_id"), fake.client.id);
    assert.equal(fake.calls("oauth.v2.access")[0]?.headers.authorization, undefined);
    // The new pair works: the new token verifies and the new refresh token rotates again.
    assert.equal((await slackProvider.verify!(cred(result.value), ctx())).ok, true);
    const again = await slackProvider.rotate!(
      cred(result.value, { ...companions(), refreshToken: result.companions!.refreshToken! }),
      ctx({ clientId: fake.client.id }),
    );
    assert.notEqual(again.value, result.value);
  });

  test("a refresh token works once: reuse is invalid_grant", async () => {
    await slackProvider.rotate!(cred(rotating, companions()), ctx({ clientId: fake.client.id }));
    const e = await rejection(
      slackProvider.rotate!(cred(rotating, companions()), ctx({ clientId: fake.client.id })),
      [rotating, refresh, fake.client.secret],
    );
    assert.equal(e.code, "upstream_unauthorized");
    assert.match(e.message, /invalid_grant/);
    assert.match(e.fix ?? "", /reinstall the app/);
  });

  test("a wrong client secret is bad_client_secret", async () => {
    const wrong = exampleChars("slack-test/wrong-secret", 32);
    const e = await rejection(
      slackProvider.rotate!(
        cred(rotating, { refreshToken: refresh, clientSecret: wrong }),
        ctx({ clientId: fake.client.id }),
      ),
      [rotating, refresh, wrong],
    );
    assert.match(e.message, /bad_client_secret/);
  });

  test("a 5xx during refresh is not retried: the refresh token may be spent", async () => {
    fake.script("oauth.v2.access", { status: 500, body: { ok: false, error: `bad ${refresh}` } });
    const e = await rejection(
      slackProvider.rotate!(cred(rotating, companions()), ctx({ clientId: fake.client.id })),
      [rotating, refresh, fake.client.secret],
    );
    assert.equal(e.code, "upstream_unavailable");
    assert.equal(fake.calls("oauth.v2.access").length, 1);
  });

  test("missing companions are named, and nothing is sent", async () => {
    const e = await rejection(slackProvider.rotate!(cred(rotating), ctx()), [rotating]);
    assert.equal(e.code, "config_invalid");
    assert.match(
      e.message,
      /refreshToken \(companion\), clientId \(setting or companion\), clientSecret \(companion\)/,
    );
    assert.equal(fake.requests.length, 0);
  });

  test("a long-lived token cannot be rotated by API", async () => {
    const e = await rejection(
      slackProvider.rotate!(cred(bot, companions()), ctx({ clientId: fake.client.id })),
      [bot, refresh],
    );
    assert.equal(e.code, "refused");
    assert.equal(fake.requests.length, 0);
  });

  test("an answer without a refresh token is an error, not half a rotation", async () => {
    fake.script("oauth.v2.access", {
      status: 200,
      body: { ok: true, access_token: slackToken("rotating-bot", "x"), expires_in: 43200 },
    });
    const e = await rejection(
      slackProvider.rotate!(cred(rotating, companions()), ctx({ clientId: fake.client.id })),
      [rotating, refresh, fake.client.secret],
    );
    assert.match(e.message, /without a usable access token and refresh token/);
  });
});
