/**
 * The GitHub provider against the fake GitHub (testing/fake-github.ts). Each test names the
 * section of /work/shared/reference/providers.md (and its public source) it follows.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../../core/errors.js";
import { BASE62, withClassicChecksum } from "../../detect/checksum.js";
import { assertNoLeak, runProviderConformance, testContext } from "../conformance.js";
import type { ProviderContext } from "../types.js";
import { githubProvider, revokeGitHubTokens } from "./index.js";
import { startFakeGitHub } from "./testing/fake-github.js";

const fake = await startFakeGitHub();
const ghes = await startFakeGitHub({ pathPrefix: "/api/v3" });
after(async () => {
  await fake.close();
  await ghes.close();
});

const appSettings = { appId: fake.app.appId, installationId: fake.app.installationId };
const in30Days = new Date(Date.now() + 30 * 86_400_000);

function chars(n: number): string {
  return [...randomBytes(n)].map((b) => BASE62[b % 62]).join("");
}
/** Checksum-valid, but never issued by the fake: GitHub answers 401. */
const neverIssued = () => withClassicChecksum("ghp_", chars(30));
/** A Slack bot token's shape (providers.md §2.2), assembled so no token literal sits in the file. */
const slackToken = `${"xox"}b-${"1".repeat(11)}-${"2".repeat(12)}-${chars(24)}`;
/** A classic PAT whose last checksum character is wrong. */
function brokenChecksum(value: string): string {
  return value.slice(0, -1) + (value.endsWith("A") ? "B" : "A");
}

const validPat = fake.addToken({
  kind: "classic-pat",
  scopes: ["repo", "read:org"],
  expiresAt: in30Days,
});

runProviderConformance(githubProvider, {
  validValue: validPat,
  otherProviderValue: slackToken,
  malformedValue: brokenChecksum(validPat),
  rejectedValue: neverIssued(),
  revocableValue: fake.addToken({ kind: "classic-pat", scopes: ["gist"] }),
  mint: {
    cred: { value: "", companions: { privateKey: fake.app.privateKey } },
    request: { scope: ["issues=read"], resources: ["api"] },
  },
  settings: appSettings,
  server: fake,
});

const cred = (value: string, companions?: Record<string, string>) => ({
  name: "github/token",
  value,
  ...(companions === undefined ? {} : { companions }),
});
const ctxFor = (overrides: Partial<ProviderContext> = {}, server = fake) =>
  testContext({ ...server.settings, ...appSettings }, overrides);

/** Runs `action`, expects a KeywardError with `code`, checks it names what it should and leaks nothing. */
async function rejects(
  action: Promise<unknown>,
  code: string,
  secrets: string[],
  ...mentions: string[]
) {
  await assert.rejects(action, (e: unknown) => {
    assert.ok(isKeywardError(e), String(e));
    assert.equal(e.code, code, e.message);
    for (const m of mentions)
      assert.ok(`${e.message} ${e.fix}`.includes(m), `"${e.message}" lacks "${m}"`);
    assertNoLeak(e, secrets);
    return true;
  });
}

describe("identify (providers.md §1.1; token-formats.md §1: github.blog 2021-04-05 token formats)", () => {
  it("knows each prefix and checks the classic CRC-32 offline", () => {
    // token-formats.md §1.1 test vector: body zQWB… → checksum 0mLq17.
    const vector = withClassicChecksum("ghp_", "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ");
    assert.ok(vector.endsWith("0mLq17"));
    assert.deepEqual(githubProvider.identify(vector), { kind: "classic-pat", formatValid: true });
    assert.deepEqual(githubProvider.identify(brokenChecksum(vector)), {
      kind: "classic-pat",
      formatValid: false,
    });
    for (const [prefix, kind] of [
      ["gho_", "oauth"],
      ["ghu_", "user-to-server"],
      ["ghr_", "refresh"],
      ["ghs_", "installation"],
    ])
      assert.deepEqual(githubProvider.identify(withClassicChecksum(prefix!, chars(30))), {
        kind,
        formatValid: true,
      });
  });

  it("recognises fine-grained PATs by shape (no documented checksum)", () => {
    const fine = `github_pat_${chars(22)}_${chars(59)}`;
    assert.deepEqual(githubProvider.identify(fine), {
      kind: "fine-grained-pat",
      formatValid: true,
    });
    assert.deepEqual(githubProvider.identify(fine.slice(0, -1)), {
      kind: "fine-grained-pat",
      formatValid: false,
    });
  });

  it("recognises the stateless ghs_<app id>_<JWT> installation format (rolled out 2026-04-27)", () => {
    const jwt = `${Buffer.from('{"alg":"RS256"}').toString("base64url")}.${Buffer.from('{"iss":"1"}').toString("base64url")}.${chars(40)}`;
    assert.deepEqual(githubProvider.identify(`ghs_123456_${jwt}`), {
      kind: "installation",
      owner: "app 123456",
      formatValid: true,
    });
  });

  it("leaves classic tokens longer than 40 characters unchecked (GitHub reserved growth to 255)", () => {
    assert.deepEqual(githubProvider.identify(`ghp_${chars(50)}`), { kind: "classic-pat" });
    assert.deepEqual(githubProvider.identify("ghp_short"), {
      kind: "classic-pat",
      formatValid: false,
    });
  });

  it("does not claim a Slack token or free text", () => {
    assert.equal(githubProvider.identify(slackToken), undefined);
    assert.equal(githubProvider.identify("github"), undefined);
    assert.equal(githubProvider.identify(""), undefined);
  });
});

describe("verify and introspect (providers.md §1.2–1.3: github/docs troubleshooting-the-rest-api.md, scopes-for-oauth-apps.md, rate-limits)", () => {
  it("calls GET /rate_limit with the documented headers", async () => {
    const before = fake.requests.length;
    const result = await githubProvider.verify!(cred(validPat), ctxFor());
    assert.equal(result.ok, true);
    const request = fake.requests[before]!;
    assert.equal(request.method, "GET");
    assert.equal(request.path, "/rate_limit");
    assert.equal(request.headers.accept, "application/vnd.github+json");
    assert.equal(request.headers["x-github-api-version"], "2022-11-28");
    assert.ok(request.headers["user-agent"]);
    assert.equal(request.headers.authorization, `Bearer ${validPat}`);
    assertNoLeak(result, [validPat]);
  });

  it("the fake answers like GitHub: 400 for an unknown API version, 403 without a User-Agent", async () => {
    const unknown = await fetch(`${fake.baseUrl}/rate_limit`, {
      headers: { "user-agent": "t", "x-github-api-version": "2099-01-01" },
    });
    assert.equal(unknown.status, 400);
    assert.match(((await unknown.json()) as { message: string }).message, /not supported/);
    const anonymous = await fetch(`${fake.baseUrl}/rate_limit`, { headers: { "user-agent": "" } });
    assert.equal(anonymous.status, 403);
  });

  it("reads classic scopes from X-OAuth-Scopes and expiry from GitHub-Authentication-Token-Expiration", async () => {
    const report = await githubProvider.introspect!(cred(validPat), ctxFor());
    assert.deepEqual(report.granted, ["repo", "read:org"]);
    assert.equal(report.partial, false);
    // The header has whole seconds: "2021-10-07 19:07:53 UTC".
    assert.equal(
      report.expiresAt,
      new Date(Math.floor(in30Days.getTime() / 1000) * 1000).toISOString(),
    );
  });

  it("learns a fine-grained PAT's permissions from X-Accepted-GitHub-Permissions (github.blog changelog 2023-08-10)", async () => {
    fake.resources.push(
      {
        path: "/repos/acme/api/issues",
        repository: "api",
        private: true,
        acceptedPermissions: "issues=read",
        acceptedScopes: ["repo"],
      },
      {
        path: "/repos/acme/api/pulls",
        repository: "api",
        private: true,
        acceptedPermissions: "pull_requests=read; contents=read",
        acceptedScopes: ["repo"],
      },
      {
        path: "/repos/acme/secret/issues",
        repository: "secret",
        private: true,
        acceptedPermissions: "issues=read",
        acceptedScopes: ["repo"],
      },
    );
    const fine = fake.addToken({
      kind: "fine-grained-pat",
      permissions: { issues: "write" },
      repositories: ["api"],
    });
    const report = await githubProvider.introspect!(
      cred(fine),
      testContext({
        ...fake.settings,
        scopeProbes: [
          "/repos/acme/api/issues",
          "/repos/acme/api/pulls",
          "/repos/acme/secret/issues",
        ],
      }),
    );
    assert.equal(report.partial, true);
    assert.deepEqual(report.granted, ["issues=read"]);
    assert.deepEqual(report.probes, [
      { endpoint: "GET /repos/acme/api/issues", outcome: "allowed", accepted: [["issues=read"]] },
      {
        endpoint: "GET /repos/acme/api/pulls",
        outcome: "denied",
        accepted: [["pull_requests=read"], ["contents=read"]],
      },
      // Private resources the key cannot reach answer 404, not 403 (troubleshooting-the-rest-api.md).
      { endpoint: "GET /repos/acme/secret/issues", outcome: "hidden", accepted: [["issues=read"]] },
    ]);
  });

  it("says a revoked or unknown key does not work (401 Bad credentials) and refuses to introspect it", async () => {
    const unknown = neverIssued();
    const result = await githubProvider.verify!(cred(unknown), ctxFor());
    assert.equal(result.ok, false);
    assert.match(result.detail!, /401/);
    await rejects(
      githubProvider.introspect!(cred(unknown), ctxFor()),
      "upstream_unauthorized",
      [unknown],
      "github/token",
      "401",
    );
  });

  it("refuses a Slack token with a clear message, sending nothing", async () => {
    const before = fake.requests.length;
    await rejects(
      githubProvider.verify!(cred(slackToken), ctxFor()),
      "refused",
      [slackToken],
      "does not look like a GitHub token",
      "github/token",
    );
    assert.equal(fake.requests.length, before);
  });

  it("does not send a token whose checksum fails", async () => {
    const broken = brokenChecksum(validPat);
    const before = fake.requests.length;
    const result = await githubProvider.verify!(cred(broken), ctxFor());
    assert.equal(result.ok, false);
    assert.match(result.detail!, /nothing was sent/);
    await rejects(
      githubProvider.introspect!(cred(broken), ctxFor()),
      "refused",
      [broken, validPat],
      "format check",
    );
    await rejects(githubProvider.revoke!(cred(broken), ctxFor()), "refused", [broken, validPat]);
    assert.equal(fake.requests.length, before);
  });

  it("refuses refresh tokens, which are not API credentials", async () => {
    const refresh = withClassicChecksum("ghr_", chars(30));
    await rejects(githubProvider.verify!(cred(refresh), ctxFor()), "refused", [refresh], "refresh");
  });

  it("rejects a bad setting by name", async () => {
    await rejects(
      githubProvider.verify!(cred(validPat), testContext({ apiBaseUrl: "not a url" })),
      "config_invalid",
      [validPat],
      "apiBaseUrl",
    );
  });
});

describe("retries, rate limits, timeouts (providers.md §1.3 rate limits: docs.github.com …/rate-limits-for-the-rest-api)", () => {
  it("retries 5xx a bounded number of times with growing back-off", async () => {
    fake.failNext(500, 2);
    const ctx = ctxFor();
    const before = fake.requests.length;
    assert.equal((await githubProvider.verify!(cred(validPat), ctx)).ok, true);
    assert.equal(fake.requests.length - before, 3);
    assert.equal(ctx.sleeps.length, 2);

    fake.failNext(503, 3);
    const failing = ctxFor({
      retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 1000, maxWaitMs: 60_000 },
    });
    const start = fake.requests.length;
    await rejects(
      githubProvider.verify!(cred(validPat), failing),
      "upstream_unavailable",
      [validPat],
      "503",
      "3 attempts",
    );
    assert.equal(fake.requests.length - start, 3);
    // Equal jitter: attempt n waits between half and all of base·2^(n-1).
    assert.ok(failing.sleeps[0]! >= 50 && failing.sleeps[0]! <= 100);
    assert.ok(failing.sleeps[1]! >= 100 && failing.sleeps[1]! <= 200);
  });

  it("does not retry a 5xx on a POST that creates something (minting)", async () => {
    fake.failNext(502, 1);
    const before = fake.requests.length;
    await rejects(
      githubProvider.mint!(
        cred("", { privateKey: fake.app.privateKey }),
        { scope: ["issues=read"] },
        ctxFor(),
      ),
      "upstream_unavailable",
      [fake.app.privateKey],
    );
    assert.equal(fake.requests.length - before, 1);
  });

  it("waits for x-ratelimit-reset on a 403 with x-ratelimit-remaining: 0", async () => {
    const resetAt = Math.floor(Date.now() / 1000) + 30;
    fake.failNext(403, 1, { "x-ratelimit-remaining": "0", "x-ratelimit-reset": String(resetAt) });
    const ctx = ctxFor();
    assert.equal((await githubProvider.verify!(cred(validPat), ctx)).ok, true);
    assert.equal(ctx.sleeps.length, 1);
    assert.ok(ctx.sleeps[0]! > 20_000, "waited for the reset");
  });

  it("gives up at once, saying until when, if the limit resets later than it will wait", async () => {
    fake.failNext(429, 1, { "retry-after": "3600" });
    const ctx = ctxFor();
    const before = fake.requests.length;
    await rejects(
      githubProvider.verify!(cred(validPat), ctx),
      "upstream_rate_limited",
      [validPat],
      "retried after",
    );
    assert.equal(fake.requests.length - before, 1);
    assert.equal(ctx.sleeps.length, 0);
  });

  it("a probe's rate-limit 403 is a rate limit, not a missing permission", async () => {
    fake.resources.push({
      path: "/repos/acme/web/issues",
      repository: "web",
      private: true,
      acceptedPermissions: "issues=read",
      acceptedScopes: ["repo"],
    });
    const fine = fake.addToken({ kind: "fine-grained-pat", permissions: { issues: "read" } });
    const ctx = testContext({ ...fake.settings, scopeProbes: ["/repos/acme/web/issues"] });
    const reset = String(Math.floor(Date.now() / 1000) + 5);
    fake.failNext(
      403,
      1,
      { "x-ratelimit-remaining": "0", "x-ratelimit-reset": reset },
      "/repos/acme/web/issues",
    );
    const report = await githubProvider.introspect!(cred(fine), ctx);
    assert.equal(report.probes![0]!.outcome, "allowed");
    assert.equal(ctx.sleeps.length, 1);
  });

  it("times out on a hanging endpoint with a clear error", async () => {
    fake.hangNext();
    await rejects(
      githubProvider.verify!(cred(validPat), ctxFor({ timeoutMs: 150 })),
      "upstream_timeout",
      [validPat],
      "GitHub",
      "github/token",
      "150 ms",
      "/rate_limit",
    );
  });
});

describe("GitHub App installation tokens (providers.md §1.5: github/docs generate-installation-access-token.md, generating-a-json-web-token-jwt-for-a-github-app.md)", () => {
  it("mints a token narrowed to the named repositories and permissions, with a verified RS256 JWT", async () => {
    const before = fake.requests.length;
    const minted = await githubProvider.mint!(
      cred("", { privateKey: fake.app.privateKey }),
      { scope: ["issues=write", "contents=read"], resources: ["acme/api", "web"] },
      ctxFor(),
    );
    const request = fake.requests[before]!;
    assert.equal(request.path, `/app/installations/${fake.app.installationId}/access_tokens`);
    assert.deepEqual(JSON.parse(request.body), {
      repositories: ["api", "web"],
      permissions: { issues: "write", contents: "read" },
    });
    const [, payload] = request.headers.authorization!.slice("Bearer ".length).split(".");
    const claims = JSON.parse(Buffer.from(payload!, "base64url").toString()) as {
      iat: number;
      exp: number;
      iss: string;
    };
    assert.equal(claims.iss, fake.app.appId);
    assert.equal(claims.exp - claims.iat, 600, "iat = now − 60, exp = now + 540");
    assert.deepEqual(minted.scope, ["contents=read", "issues=write"]);
    assert.equal(githubProvider.identify(minted.value)?.kind, "installation");
    assert.deepEqual(fake.token(minted.value)?.repositories, ["api", "web"]);
    assert.ok(Date.parse(minted.expiresAt!) > Date.now());
    assertNoLeak({ scope: minted.scope, expiresAt: minted.expiresAt }, [fake.app.privateKey]);
  });

  it("accepts the stateless token format the mint may return", async () => {
    const stateless = await startFakeGitHub({ statelessTokens: true });
    try {
      const minted = await githubProvider.mint!(
        cred("", { privateKey: stateless.app.privateKey }),
        { scope: ["metadata=read"] },
        testContext({
          ...stateless.settings,
          appId: stateless.app.appId,
          installationId: stateless.app.installationId,
        }),
      );
      assert.deepEqual(githubProvider.identify(minted.value), {
        kind: "installation",
        owner: `app ${stateless.app.appId}`,
        formatValid: true,
      });
    } finally {
      await stateless.close();
    }
  });

  it("refuses to mint without the App settings, without permissions, or beyond an hour", async () => {
    const key = { privateKey: fake.app.privateKey };
    await rejects(
      githubProvider.mint!(cred("", key), { scope: ["issues=read"] }, testContext(fake.settings)),
      "refused",
      [key.privateKey],
      "appId",
      "installationId",
    );
    await rejects(
      githubProvider.mint!(cred(""), { scope: ["issues=read"] }, ctxFor()),
      "refused",
      [],
      "privateKey",
    );
    await rejects(
      githubProvider.mint!(cred("", key), { scope: [] }, ctxFor()),
      "refused",
      [key.privateKey],
      "without permissions",
    );
    await rejects(
      githubProvider.mint!(cred("", key), { scope: ["issues:read"] }, ctxFor()),
      "invalid_value",
      [key.privateKey],
      "issues:read",
    );
    await rejects(
      githubProvider.mint!(cred("", key), { scope: ["issues=read"], ttlSeconds: 7200 }, ctxFor()),
      "refused",
      [key.privateKey],
      "one hour",
    );
  });

  it("reports GitHub's 422 when asking for more than the App was granted", async () => {
    await rejects(
      githubProvider.mint!(
        cred("", { privateKey: fake.app.privateKey }),
        { scope: ["administration=write"] },
        ctxFor(),
      ),
      "upstream_rejected",
      [fake.app.privateKey],
      "422",
      "not granted",
    );
  });

  it("names the App, not the key, when GitHub rejects the JWT", async () => {
    const other = await startFakeGitHub({ distinctAppKey: true });
    try {
      // Another App's private key: the signature does not verify.
      await rejects(
        githubProvider.mint!(
          cred("", { privateKey: other.app.privateKey }),
          { scope: ["issues=read"] },
          ctxFor(),
        ),
        "upstream_unauthorized",
        [other.app.privateKey],
        `app ${fake.app.appId}`,
        "privateKey",
      );
    } finally {
      await other.close();
    }
    await rejects(
      githubProvider.mint!(
        cred("", {
          privateKey: "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----",
        }),
        { scope: ["issues=read"] },
        ctxFor(),
      ),
      "invalid_value",
      ["not a key"],
      "PEM",
    );
  });

  it("rotates an installation token by minting the next one; PATs get the manual steps instead", async () => {
    const current = fake.addToken({ kind: "installation", permissions: { issues: "read" } });
    const ctx = testContext({
      ...fake.settings,
      ...appSettings,
      permissions: ["issues=read"],
      repositories: ["docs"],
    });
    const next = await githubProvider.rotate!(
      cred(current, { privateKey: fake.app.privateKey }),
      ctx,
    );
    assert.notEqual(next.value, current);
    assert.deepEqual(fake.token(next.value)?.permissions, { issues: "read" });
    // The old one keeps working through the grace period; revocation comes later.
    assert.equal((await githubProvider.verify!(cred(current), ctxFor())).ok, true);

    await rejects(
      githubProvider.rotate!(cred(validPat), ctxFor()),
      "refused",
      [validPat],
      "classic personal access token",
      "--stage pending",
    );
  });

  it("revokes an installation token with DELETE /installation/token (docs.github.com/en/rest/apps/installations)", async () => {
    const token = fake.addToken({ kind: "installation", permissions: { issues: "read" } });
    const before = fake.requests.length;
    const result = await githubProvider.revoke!(cred(token), ctxFor());
    assert.equal(result.revoked, true);
    assert.equal(fake.requests[before]!.method, "DELETE");
    assert.equal(fake.requests[before]!.path, "/installation/token");
    assert.equal(fake.token(token)?.revoked, true);
    assert.equal((await githubProvider.verify!(cred(token), ctxFor())).ok, false);
    assertNoLeak(result, [token]);
  });
});

describe("credential revocation API (providers.md §1.6: docs.github.com/en/enterprise-cloud@latest/rest/credentials/revoke)", () => {
  it("revokes a leaked PAT unauthenticated, with the documented body", async () => {
    const leaked = fake.addToken({ kind: "fine-grained-pat", permissions: { contents: "read" } });
    const before = fake.requests.length;
    const result = await githubProvider.revoke!(cred(leaked), ctxFor());
    assert.equal(result.revoked, true);
    assert.match(result.detail!, /asynchronous/);
    const request = fake.requests[before]!;
    assert.equal(request.path, "/credentials/revoke");
    assert.equal(
      request.headers.authorization,
      undefined,
      "github.com answers an authenticated call 403",
    );
    assert.deepEqual(JSON.parse(request.body), { credentials: [leaked] });
    assert.equal(fake.token(leaked)?.revoked, true);
    assertNoLeak(result, [leaked]);
  });

  it("sends at most 1,000 credentials a request", async () => {
    const values = Array.from({ length: 1001 }, neverIssued);
    const before = fake.requests.length;
    const result = await revokeGitHubTokens(values, ctxFor(), "leaked/batch");
    assert.equal(result.revoked, true);
    assert.deepEqual(
      fake.requests
        .slice(before)
        .map((r) => (JSON.parse(r.body) as { credentials: string[] }).credentials.length),
      [1000, 1],
    );
  });

  it("refuses the whole batch when one value is not a revocable GitHub token", async () => {
    const before = fake.requests.length;
    await rejects(
      revokeGitHubTokens([neverIssued(), slackToken], ctxFor(), "leaked/batch"),
      "refused",
      [slackToken],
      "1 of the values",
      "nothing was sent",
    );
    assert.equal(fake.requests.length, before);
  });

  it("respects the endpoint's rate limit (60 an hour): stops with the reset time", async () => {
    const limited = await startFakeGitHub({ revokeLimitPerHour: 1 });
    try {
      const ctx = testContext(limited.settings);
      const first = limited.addToken({ kind: "classic-pat" });
      const second = limited.addToken({ kind: "classic-pat" });
      assert.equal((await githubProvider.revoke!(cred(first), ctx)).revoked, true);
      const before = limited.requests.length;
      await rejects(
        githubProvider.revoke!(cred(second), ctx),
        "upstream_rate_limited",
        [first, second],
        "/credentials/revoke",
        "Wait until",
      );
      assert.equal(limited.requests.length - before, 1, "no retry while the limit lasts an hour");
      assert.equal(limited.token(second)?.revoked, false);
    } finally {
      await limited.close();
    }
  });

  it("reports a 422 (validation failed, or the endpoint has been spammed) without the token", async () => {
    const value = fake.addToken({ kind: "classic-pat" });
    fake.failNext(422, 1);
    await rejects(
      githubProvider.revoke!(cred(value), ctxFor()),
      "upstream_rejected",
      [value],
      "422",
      "github/token",
    );
  });

  it("on Enterprise Server (/api/v3) authenticates and takes PATs only", async () => {
    const ctx = testContext(ghes.settings);
    const pat = ghes.addToken({ kind: "classic-pat", scopes: ["repo"] });
    assert.equal((await githubProvider.verify!(cred(pat), ctx)).ok, true);
    const before = ghes.requests.length;
    assert.equal((await githubProvider.revoke!(cred(pat), ctx)).revoked, true);
    assert.equal(ghes.requests[before]!.path, "/api/v3/credentials/revoke");
    assert.equal(ghes.requests[before]!.headers.authorization, `Bearer ${pat}`);
    assert.equal(ghes.token(pat)?.revoked, true);
    const oauth = ghes.addToken({ kind: "oauth", scopes: ["repo"] });
    await rejects(
      githubProvider.revoke!(cred(oauth), ctx),
      "refused",
      [oauth],
      "Enterprise Server",
    );
  });
});
