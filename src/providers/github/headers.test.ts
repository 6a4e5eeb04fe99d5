/** Header formats from /work/shared/reference/providers.md §1.3 (github/docs scopes-for-oauth-apps.md; troubleshooting-the-rest-api.md; github.blog changelog 2021-07-26). */
import assert from "node:assert/strict";
import { it } from "node:test";
import { parseAcceptedPermissions, parseOAuthScopes, parseTokenExpiration } from "./headers.js";

it("X-OAuth-Scopes is a comma+space list, possibly empty", () => {
  assert.deepEqual(parseOAuthScopes("repo, user"), ["repo", "user"]);
  assert.deepEqual(parseOAuthScopes(""), []);
});

it("X-Accepted-GitHub-Permissions separates alternative sets with ';'", () => {
  assert.deepEqual(
    parseAcceptedPermissions("pull_requests=read,contents=read; issues=read,contents=read"),
    [
      ["pull_requests=read", "contents=read"],
      ["issues=read", "contents=read"],
    ],
  );
  assert.deepEqual(parseAcceptedPermissions(""), []);
});

it("GitHub-Authentication-Token-Expiration reads as UTC or with an offset", () => {
  assert.equal(parseTokenExpiration("2021-10-07 19:07:53 UTC"), "2021-10-07T19:07:53.000Z");
  assert.equal(parseTokenExpiration("2021-10-07 19:07:53 +0900"), "2021-10-07T10:07:53.000Z");
  assert.equal(parseTokenExpiration("next tuesday"), undefined);
});
