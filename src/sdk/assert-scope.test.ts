import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { type FakeGitHub, startFakeGitHub } from "../providers/github/testing/fake-github.js";
import { encodedForms } from "../testing/cli.js";
import { assertScope } from "./assert-scope.js";
import { type SecretHandle, secret } from "./secret.js";

/**
 * assertScope against the fake GitHub (src/providers/github/testing/fake-github.ts), which follows
 * /work/shared/reference/providers.md §1.3: classic PATs answer GET /rate_limit with their scopes in
 * X-OAuth-Scopes; fine-grained PATs send none and are learnt from probes (partial reports).
 */
let github: FakeGitHub;
before(async () => {
  github = await startFakeGitHub();
});
after(() => github.close());

async function handleFor(scopes: string[]): Promise<SecretHandle> {
  const value = github.addToken({ kind: "classic-pat", scopes });
  return secret("github/pat", {
    processEnv: { KEYWARD_SECRET_MAP: "GITHUB_TOKEN=github/pat", GITHUB_TOKEN: value },
  });
}

/** Checks the refusal names what it should, and holds no form of the key anywhere. */
function refused(handle: SecretHandle, ...about: RegExp[]) {
  return (e: unknown) => {
    assert.ok(isKeywardError(e));
    assert.equal(e.code, "refused");
    for (const re of about) assert.match(`${e.message}\n${e.fix}`, re);
    const everything = `${e.message}${e.fix}${e.stack}${JSON.stringify(e)}`;
    for (const form of encodedForms(handle.value())) assert.ok(!everything.includes(form));
    return true;
  };
}

describe("assertScope (providers.md §1.3: X-OAuth-Scopes on GET /rate_limit)", () => {
  it("passes a key that carries what the server needs and no more", async () => {
    const handle = await handleFor(["repo", "read:org"]);
    const result = await assertScope(handle, {
      provider: "github",
      needs: ["repo", "read:org"],
      settings: github.settings,
    });
    assert.deepEqual(result.granted, ["read:org", "repo"]);
    assert.deepEqual(result.excess, []);
    assert.deepEqual(result.missing, []);
    assert.equal(result.tokenKind, "classic-pat");
    assert.equal(result.partial, false);
  });

  it("refuses a key with more than the server needs, naming each excess scope and its narrowing", async () => {
    const handle = await handleFor(["repo", "admin:org", "delete_repo"]);
    await assert.rejects(
      assertScope(handle, {
        provider: "github",
        needs: ["repo", "read:org"],
        settings: github.settings,
      }),
      refused(
        handle,
        /github\/pat \(github classic-pat\) grants more than this server allows: admin:org \(narrow to read:org\), delete_repo/,
        /create a fine-grained PAT with|classic PAT with: read:org, repo/,
        /keyward secret set github\/pat/,
      ),
    );
  });

  it("takes allow as a ceiling: scopes it implies pass, others are excess", async () => {
    const narrow = await handleFor(["public_repo"]);
    const ok = await assertScope(narrow, {
      provider: "github",
      allow: ["repo", "read:org"],
      settings: github.settings,
    });
    assert.deepEqual(ok.granted, ["public_repo"]);
    const broad = await handleFor(["repo", "gist"]);
    await assert.rejects(
      assertScope(broad, { provider: "github", allow: ["public_repo"], settings: github.settings }),
      refused(broad, /gist, repo \(narrow to public_repo\)/, /at most: public_repo/),
    );
  });

  it("generalises the guide's validateTokenScope: deny patterns match granted and implied scopes", async () => {
    const handle = await handleFor(["repo", "admin:org"]);
    await assert.rejects(
      assertScope(handle, {
        provider: "github",
        deny: ["*write*", "*admin*", "delete_repo"],
        settings: github.settings,
      }),
      refused(handle, /grants what this server denies: admin:org, write:org/),
    );
  });

  it("refuses a key that lacks what the server needs", async () => {
    const handle = await handleFor(["read:org"]);
    await assert.rejects(
      assertScope(handle, { provider: "github", needs: ["repo"], settings: github.settings }),
      refused(handle, /lacks what this server needs: repo/, /grants more than .*read:org/),
    );
  });

  it("compares a fine-grained key with the fine-grained needs; what probes cannot see is a note", async () => {
    github.resources.push({
      path: "/repos/acme/api/issues",
      repository: "api",
      private: true,
      acceptedPermissions: "issues=read",
      acceptedScopes: ["repo"],
    });
    const value = github.addToken({
      kind: "fine-grained-pat",
      permissions: { issues: "read" },
      repositories: ["api"],
    });
    const handle = await secret("github/fine", {
      processEnv: { KEYWARD_SECRET_MAP: "T=github/fine", T: value },
    });
    const result = await assertScope(handle, {
      provider: "github",
      needs: ["repo", "issues=read", "pull_requests=read"],
      settings: { ...github.settings, scopeProbes: ["/repos/acme/api/issues"] },
    });
    assert.equal(result.mode, "fine-grained");
    assert.equal(result.partial, true);
    assert.deepEqual(result.granted, ["issues=read"]);
    assert.deepEqual(result.missing, []);
    assert.ok(result.notes.some((n) => /not seen .*pull_requests=read/.test(n)));
  });

  it("refuses providers it cannot ask and unknown catalogs", async () => {
    const handle = await handleFor(["repo"]);
    await assert.rejects(assertScope(handle, { provider: "nope" }), /no provider "nope"/);
    await assert.rejects(
      assertScope(handle, { provider: "github", catalog: "nope", settings: github.settings }),
      /no scope catalog "nope"/,
    );
  });
});
