import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { algebraFor, FULL_ACCESS, isPermissionLevel } from "./algebra.js";

const github = algebraFor("github");
const slack = algebraFor("slack");
const atlassian = algebraFor("atlassian");

describe("github classic hierarchy (providers.md §1.4)", () => {
  it("closure of repo includes its children", () => {
    assert.deepEqual(github.closure(["repo"]), [
      "public_repo",
      "repo",
      "repo:invite",
      "repo:status",
      "repo_deployment",
      "security_events",
    ]);
  });

  it("closure is transitive: admin:org ⊃ write:org ⊃ read:org", () => {
    assert.deepEqual(github.closure(["admin:org"]), ["admin:org", "read:org", "write:org"]);
    assert.deepEqual(github.closure(["admin:repo_hook"]), [
      "admin:repo_hook",
      "read:repo_hook",
      "write:repo_hook",
    ]);
  });

  it("implies follows the hierarchy one way only", () => {
    assert.equal(github.implies(["repo"], ["public_repo"]), true);
    assert.equal(github.implies(["repo"], ["security_events", "repo:status"]), true);
    assert.equal(github.implies(["admin:org"], ["read:org"]), true);
    assert.equal(github.implies(["public_repo"], ["repo"]), false);
    assert.equal(github.implies(["read:org"], ["write:org"]), false);
    assert.equal(github.implies(["repo"], ["delete_repo"]), false);
    assert.equal(github.implies(["user"], ["user:email", "read:user"]), true);
    assert.equal(github.implies(["project"], ["read:project"]), true);
  });

  it("normalise drops implied scopes and duplicates, as X-OAuth-Scopes does", () => {
    assert.deepEqual(github.normalise(["user", "gist", "user:email"]), ["gist", "user"]);
    assert.deepEqual(
      github.normalise(["read:org", "admin:org", "write:org", "repo", "public_repo"]),
      ["admin:org", "repo"],
    );
    assert.deepEqual(github.normalise([" repo ", "repo", ""]), ["repo"]);
  });

  it("missing lists needed scopes the grant does not cover", () => {
    assert.deepEqual(github.missing(["public_repo"], ["repo", "read:org"]), ["read:org", "repo"]);
    assert.deepEqual(github.missing(["repo", "admin:org"], ["public_repo", "read:org"]), []);
  });

  it("excess: repo granted, public_repo needed → repo, narrowed to public_repo", () => {
    assert.deepEqual(github.excess(["repo"], ["public_repo"]), ["repo"]);
    assert.deepEqual(github.narrowings(["repo"], ["public_repo"]), [
      { scope: "repo", suggest: ["public_repo"] },
    ]);
  });

  it("excess: unneeded subtrees and broader parents, not what is needed", () => {
    assert.deepEqual(
      github.narrowings(["repo", "admin:org", "delete_repo"], ["repo", "read:org"]),
      [
        { scope: "admin:org", suggest: ["read:org"] },
        { scope: "delete_repo", suggest: [] },
      ],
    );
    // A grant below the need is not excess (it is missing something instead).
    assert.deepEqual(github.excess(["public_repo"], ["repo"]), []);
    assert.deepEqual(github.excess(["repo"], ["repo"]), []);
  });
});

describe("github fine-grained permissions: admin ⊃ write ⊃ read", () => {
  it("recognises perm=level", () => {
    assert.equal(isPermissionLevel("contents=read"), true);
    assert.equal(isPermissionLevel("read:org"), false);
  });

  it("closure, implies and normalise follow levels", () => {
    assert.deepEqual(github.closure(["contents=admin"]), [
      "contents=admin",
      "contents=read",
      "contents=write",
    ]);
    assert.equal(github.implies(["issues=write"], ["issues=read"]), true);
    assert.equal(github.implies(["issues=read"], ["issues=write"]), false);
    assert.equal(github.implies(["issues=write"], ["contents=read"]), false);
    assert.deepEqual(github.normalise(["issues=read", "issues=write", "contents=read"]), [
      "contents=read",
      "issues=write",
    ]);
  });

  it("excess narrows write to read", () => {
    assert.deepEqual(
      github.narrowings(["contents=write", "metadata=read"], ["contents=read", "metadata=read"]),
      [{ scope: "contents=write", suggest: ["contents=read"] }],
    );
  });

  it("accepts perm:level as a spelling of perm=level", () => {
    assert.deepEqual(github.normalise(["contents:read", "issues:write"]), [
      "contents=read",
      "issues=write",
    ]);
    // Classic scopes with a colon are left alone.
    assert.deepEqual(github.normalise(["read:org", "repo:status"]), ["read:org", "repo:status"]);
  });
});

describe("flat providers and full access", () => {
  it("slack scopes imply nothing but themselves", () => {
    assert.equal(slack.implies(["chat:write"], ["chat:write.public"]), false);
    assert.equal(slack.implies(["channels:history"], ["channels:read"]), false);
    assert.deepEqual(slack.excess(["chat:write", "channels:read"], ["channels:read"]), [
      "chat:write",
    ]);
  });

  it("atlassian write does not imply read", () => {
    assert.deepEqual(atlassian.missing(["write:jira-work"], ["read:jira-work"]), [
      "read:jira-work",
    ]);
  });

  it("full access implies everything and is excess unless everything is needed", () => {
    assert.equal(atlassian.implies([FULL_ACCESS], ["read:jira-work", "write:jira-work"]), true);
    assert.deepEqual(atlassian.missing([FULL_ACCESS], ["read:jira-work"]), []);
    assert.deepEqual(atlassian.normalise([FULL_ACCESS, "read:jira-work"]), [FULL_ACCESS]);
    assert.deepEqual(atlassian.narrowings([FULL_ACCESS], ["write:jira-work", "read:jira-work"]), [
      { scope: FULL_ACCESS, suggest: ["read:jira-work", "write:jira-work"] },
    ]);
  });

  it("an unknown provider gets a flat algebra", () => {
    const other = algebraFor("internal-api");
    assert.deepEqual(other.normalise(["b", "a", "a"]), ["a", "b"]);
    assert.deepEqual(other.excess(["a", "b"], ["a"]), ["b"]);
  });
});
