/**
 * The Atlassian provider against a local fake of a Jira/Confluence Cloud site and
 * api.atlassian.com (testing/fake-atlassian.ts). Each test names the section of
 * /work/shared/reference/providers.md §3 it reproduces.
 */
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, test } from "node:test";
import { isKeywardError, type KeywardError } from "../../core/errors.js";
import { exampleChars } from "../../detect/rules/examples.js";
import { assertNoLeak, runProviderConformance, testContext } from "../conformance.js";
import type { ProviderCredential } from "../types.js";
import { API_TOKENS_PAGE, atlassianProvider, expiryReminder } from "./index.js";
import {
  atlassianToken,
  type FakeAccount,
  FakeAtlassian,
  type FakeToken,
} from "./testing/fake-atlassian.js";

const EMAIL = "grace@example.com";
let fake: FakeAtlassian;
let grace: FakeAccount;
let classic: FakeToken;
let scoped: FakeToken;

const slackBot = `xo${"xb"}-${exampleChars("atl-test/t", 11, "0123456789")}-${exampleChars("atl-test/b", 12, "0123456789")}-${exampleChars("atl-test/s", 24)}`;
const neverIssued = atlassianToken("atl-test/never-issued");
/** A real-looking token with its last checksum digit changed. */
const broken = (value: string) => value.slice(0, -1) + (value.endsWith("0") ? "1" : "0");

function ctx(settings: Record<string, unknown> = {}, timeoutMs = 5_000) {
  return testContext({ ...fake.settings, email: EMAIL, ...settings }, { timeoutMs });
}

const cred = (value: string, companions?: Record<string, string>): ProviderCredential => ({
  name: "jira/token",
  value,
  ...(companions ? { companions } : {}),
});

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

before(async () => {
  fake = await new FakeAtlassian().start();
  grace = fake.addAccount(EMAIL, "Grace Hopper");
  classic = fake.addToken(grace, "classic", "keyward jira/token", "2026-12-01T00:00:00.000Z");
  scoped = fake.addToken(grace, "scoped", "keyward jira/scoped", "2026-10-01T00:00:00.000Z");
});
after(async () => {
  await fake.close();
});
beforeEach(() => fake.reset());

runProviderConformance(atlassianProvider, async () => {
  const revocable = fake.addToken(
    grace,
    "classic",
    "conformance revocable",
    "2026-09-01T00:00:00.000Z",
  );
  return {
    validValue: classic.value,
    companions: { adminKey: fake.adminKey },
    otherProviderValue: slackBot,
    malformedValue: broken(classic.value),
    rejectedValue: neverIssued,
    revocableValue: revocable.value,
    settings: { email: EMAIL, tokenLabel: revocable.label },
    server: fake,
  };
});

describe("identify (token-formats.md: ATATT3 + CRC-32)", () => {
  test("recognises an API token and checks its checksum", () => {
    assert.deepEqual(atlassianProvider.identify(classic.value), {
      kind: "api-token",
      formatValid: true,
    });
    assert.deepEqual(atlassianProvider.identify(broken(classic.value)), {
      kind: "api-token",
      formatValid: false,
    });
  });

  test("does not claim escaped copies, whitespace or other providers' keys", () => {
    assert.equal(atlassianProvider.identify(classic.value.replace("=", "%3D")), undefined);
    assert.equal(atlassianProvider.identify(`${classic.value}\n`), undefined);
    assert.equal(atlassianProvider.identify(slackBot), undefined);
    assert.equal(atlassianProvider.identify(`ATBB${exampleChars("atl-test/bb", 32)}`), undefined);
  });
});

describe("verify through the current-user endpoint (§3.1, §3.4)", () => {
  test("a classic token signs in with Basic email:token on the site's /rest/api/3/myself", async () => {
    const result = await atlassianProvider.verify!(cred(classic.value), ctx());
    assert.equal(result.ok, true);
    assert.deepEqual(result.identity, {
      kind: "classic-api-token",
      formatValid: true,
      owner: `${EMAIL} (${grace.accountId})`,
    });
    assert.equal(fake.requests.length, 1);
    const [call] = fake.requests;
    assert.equal(call?.path, "/rest/api/3/myself");
    assert.equal(
      call?.headers.authorization,
      `Basic ${Buffer.from(`${EMAIL}:${classic.value}`).toString("base64")}`,
    );
  });

  test("a scoped token answers 401 on the site and is tried once through the gateway", async () => {
    const result = await atlassianProvider.verify!(cred(scoped.value), ctx());
    assert.equal(result.ok, true);
    assert.equal(result.identity?.kind, "scoped-api-token");
    assert.deepEqual(
      fake.requests.map((r) => r.path),
      ["/rest/api/3/myself", "/_edge/tenant_info", `/ex/jira/${fake.cloudId}/rest/api/3/myself`],
    );
    assert.equal(
      fake.requests[1]?.headers.authorization,
      undefined,
      "tenant_info gets no credentials",
    );
  });

  test("tokenKind scoped with a cloudId goes straight to the gateway", async () => {
    const result = await atlassianProvider.verify!(
      cred(scoped.value),
      ctx({ tokenKind: "scoped", cloudId: fake.cloudId }),
    );
    assert.equal(result.ok, true);
    assert.deepEqual(
      fake.requests.map((r) => r.path),
      [`/ex/jira/${fake.cloudId}/rest/api/3/myself`],
    );
  });

  test("tokenKind classic does not probe the gateway", async () => {
    const result = await atlassianProvider.verify!(
      cred(scoped.value),
      ctx({ tokenKind: "classic" }),
    );
    assert.equal(result.ok, false);
    assert.match(result.detail ?? "", /^401: wrong email, or the token is revoked or expired$/);
    assert.equal(fake.requests.length, 1);
  });

  test("Confluence uses /wiki/rest/api/user/current (§3.4, unverified there)", async () => {
    const site = await atlassianProvider.verify!(
      cred(classic.value),
      ctx({ product: "confluence" }),
    );
    assert.equal(site.identity?.owner, `${EMAIL} (${grace.accountId})`);
    const gateway = await atlassianProvider.verify!(
      cred(scoped.value),
      ctx({ product: "confluence", tokenKind: "scoped", cloudId: fake.cloudId }),
    );
    assert.equal(gateway.ok, true);
    assert.deepEqual(
      fake.requests.map((r) => r.path),
      ["/wiki/rest/api/user/current", `/ex/confluence/${fake.cloudId}/wiki/rest/api/user/current`],
    );
  });

  test("a wrong email is a failed verification that says what to check", async () => {
    const result = await atlassianProvider.verify!(
      cred(classic.value),
      ctx({ email: "ada@example.com" }),
    );
    assert.equal(result.ok, false);
    assert.match(
      result.detail ?? "",
      /^401 on the site and through api\.atlassian\.com: wrong email/,
    );
  });

  test("a CAPTCHA challenge is reported as such and not probed further", async () => {
    fake.captcha = true;
    const result = await atlassianProvider.verify!(cred(neverIssued), ctx());
    assert.equal(result.ok, false);
    assert.match(result.detail ?? "", /CAPTCHA.*sign in to the site once in a browser/);
    assert.equal(fake.requests.length, 1);
  });

  test("a plain 403 names the missing scope", async () => {
    fake.script("/rest/api/3/myself", { status: 403, body: { errorMessages: ["Forbidden"] } });
    const result = await atlassianProvider.verify!(cred(classic.value), ctx());
    assert.match(result.detail ?? "", /^403: .*read:jira-user/);
  });

  test("a wrong cloud id (404) is a configuration error", async () => {
    const e = await rejection(
      atlassianProvider.verify!(
        cred(scoped.value),
        ctx({ tokenKind: "scoped", cloudId: "00000000-0000" }),
      ),
      [scoped.value],
    );
    assert.equal(e.code, "config_invalid");
    assert.match(e.message, /404 .* for jira\/token: no such site, product or cloud id/);
  });

  test("without an email nothing is sent", async () => {
    const e = await rejection(
      atlassianProvider.verify!(cred(classic.value), testContext({ ...fake.settings })),
      [classic.value],
    );
    assert.equal(e.code, "config_invalid");
    assert.match(e.message, /sign in with the owner's email/);
    assert.equal(fake.requests.length, 0);
  });

  test("a token failing its checksum is not sent (failed sign-ins lead to a CAPTCHA)", async () => {
    const e = await rejection(atlassianProvider.verify!(cred(broken(classic.value)), ctx()), [
      classic.value,
    ]);
    assert.equal(e.code, "invalid_value");
    assert.match(e.message, /fails the Atlassian token checksum/);
    assert.equal(fake.requests.length, 0);
  });

  test("5xx is retried within bounds; 429 waits for Retry-After", async () => {
    fake.script(
      "/rest/api/3/myself",
      { status: 500 },
      { status: 429, headers: { "retry-after": "5" } },
    );
    const c = ctx();
    assert.equal((await atlassianProvider.verify!(cred(classic.value), c)).ok, true);
    assert.equal(fake.calls("/rest/api/3/myself").length, 3);
    assert.equal(c.sleeps.length, 2);
    assert.ok(c.sleeps[1]! >= 5_000);
  });

  test("5xx on every attempt is a clear error after three attempts", async () => {
    fake.failNext(503, 3);
    const e = await rejection(atlassianProvider.verify!(cred(classic.value), ctx()), [
      classic.value,
    ]);
    assert.equal(e.code, "upstream_unavailable");
    assert.match(e.message, /Atlassian \(secret "jira\/token"\) answered 503 .*\(3 attempts\)/);
  });

  test("an upstream that hangs times out", async () => {
    fake.hangNext();
    const e = await rejection(atlassianProvider.verify!(cred(classic.value), ctx({}, 150)), [
      classic.value,
    ]);
    assert.equal(e.code, "upstream_timeout");
  });
});

describe("introspect: scope and expiry (§3.1, §3.2, §3.3)", () => {
  test("a classic token is everything its user can do; expiry from the expiresAt setting", async () => {
    const report = await atlassianProvider.introspect!(
      cred(classic.value),
      ctx({ expiresAt: "2026-11-30" }),
    );
    assert.deepEqual(report, {
      granted: ["*"],
      partial: false,
      expiresAt: "2026-11-30T00:00:00.000Z",
    });
  });

  test("the org admin API's listing gives the expiry when an Admin API key is a companion", async () => {
    const report = await atlassianProvider.introspect!(
      cred(classic.value, { adminKey: fake.adminKey }),
      ctx({ tokenLabel: classic.label }),
    );
    assert.equal(report.expiresAt, classic.expiry);
    const listing = fake.calls("/users/");
    assert.equal(listing[0]?.path, `/users/${grace.accountId}/manage/api-tokens`);
    assert.equal(listing[0]?.headers.authorization, `Bearer ${fake.adminKey}`);
  });

  test("a scoped token's scopes cannot be read back", async () => {
    const report = await atlassianProvider.introspect!(cred(scoped.value), ctx());
    assert.deepEqual(report, { granted: [], partial: true });
  });

  test("a token Atlassian refuses cannot be introspected", async () => {
    const e = await rejection(atlassianProvider.introspect!(cred(neverIssued), ctx()), [
      neverIssued,
    ]);
    assert.equal(e.code, "upstream_unauthorized");
  });
});

describe("revoke (§3.3: no user API; org admin API with an Admin API key)", () => {
  test("without an Admin API key: refused, with the exact manual steps, nothing sent", async () => {
    const e = await rejection(
      atlassianProvider.revoke!(cred(classic.value), ctx({ tokenLabel: classic.label })),
      [classic.value],
    );
    assert.equal(e.code, "refused");
    assert.ok(e.fix?.includes(API_TOKENS_PAGE));
    assert.ok(e.fix?.includes(`label "${classic.label}"`));
    assert.equal(fake.requests.length, 0);
  });

  test("with an Admin API key: lists the owner's tokens, deletes this one; a second call finds nothing", async () => {
    const doomed = fake.addToken(grace, "classic", "to revoke", "2026-09-15T00:00:00.000Z");
    const withKey = cred(doomed.value, { adminKey: fake.adminKey });
    const settings = { tokenLabel: doomed.label };
    assert.deepEqual(await atlassianProvider.revoke!(withKey, ctx(settings)), { revoked: true });
    const deleted = fake.requests.find((r) => r.method === "DELETE");
    assert.equal(deleted?.path, `/users/${grace.accountId}/manage/api-tokens/${doomed.id}`);
    assert.equal(deleted?.headers.authorization, `Bearer ${fake.adminKey}`);
    assert.equal((await atlassianProvider.verify!(withKey, ctx())).ok, false);
    const again = await atlassianProvider.revoke!(
      withKey,
      ctx({ ...settings, accountId: grace.accountId }),
    );
    assert.equal(again.revoked, false);
    assert.match(again.detail ?? "", /no API token with label "to revoke" is listed/);
  });

  test("a dead token without an accountId setting cannot name its owner", async () => {
    const e = await rejection(
      atlassianProvider.revoke!(
        cred(neverIssued, { adminKey: fake.adminKey }),
        ctx({ tokenId: "tok-9" }),
      ),
      [neverIssued, fake.adminKey],
    );
    assert.equal(e.code, "config_invalid");
    assert.match(e.fix ?? "", /accountId/);
  });

  test("a wrong Admin API key is a clear 401 that shows neither key", async () => {
    const wrongKey = exampleChars("atl-test/wrong-admin", 48);
    const e = await rejection(
      atlassianProvider.revoke!(
        cred(classic.value, { adminKey: wrongKey }),
        ctx({ tokenLabel: classic.label, accountId: grace.accountId }),
      ),
      [classic.value, wrongKey],
    );
    assert.equal(e.code, "upstream_unauthorized");
    assert.match(e.message, /Atlassian admin API/);
  });
});

describe("manual rotation and expiry reminders (§3.2, §3.3)", () => {
  test("rotation is not offered by API and the manual steps start at id.atlassian.com", () => {
    assert.equal(atlassianProvider.rotate, undefined);
    assert.equal(atlassianProvider.info.capabilities["api-token"]?.rotate?.level, "no");
    const steps = atlassianProvider.info.manualRotation ?? [];
    assert.match(
      steps[0] ?? "",
      /https:\/\/id\.atlassian\.com\/manage-profile\/security\/api-tokens/,
    );
    assert.ok(steps.some((s) => /1 to 365 days/.test(s)));
    assert.ok(steps.some((s) => /Revoke/.test(s)));
  });

  test("a reminder comes within the lead time and after expiry, with the steps", () => {
    const now = new Date("2026-08-01T00:00:00.000Z");
    assert.equal(expiryReminder("jira/token", "2026-09-01T00:00:00.000Z", now), undefined);
    const soon = expiryReminder("jira/token", "2026-08-11T00:00:00.000Z", now);
    assert.match(soon?.message ?? "", /jira\/token \(Atlassian API token\) expires in 10 days/);
    assert.deepEqual(soon?.steps, atlassianProvider.info.manualRotation);
    assert.match(
      expiryReminder("jira/token", "2026-07-01", now)?.message ?? "",
      /expired on 2026-07-01/,
    );
  });
});
