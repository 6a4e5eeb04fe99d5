// biome-ignore-all lint/suspicious/noTemplateCurlyInString: client reference syntax is the subject under test
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { withClassicChecksum } from "../detect/checksum.js";
import { exampleChars } from "../detect/rules/examples.js";
import { hasTemplate } from "../mcp/clients/index.js";
import { classifyValue, isCredentialName, nameWords, splitHeaderValue } from "./classify.js";

const PAT = withClassicChecksum(`${"gh"}p_`, exampleChars("classify", 30));
const OPAQUE = exampleChars("classify/opaque", 32);

describe("isCredentialName", () => {
  const secret = [
    "GITHUB_PERSONAL_ACCESS_TOKEN",
    "GITHUB_APP_PRIVATE_KEY",
    "GITHUB_OAUTH_CLIENT_SECRET",
    "SLACK_BOT_TOKEN",
    "SLACK_MCP_XOXC_TOKEN",
    "JIRA_API_TOKEN",
    "CONFLUENCE_PERSONAL_TOKEN",
    "BRAVE_API_KEY",
    "STRIPE_SECRET_KEY",
    "SENTRY_AUTH_TOKEN",
    "AUTH_TOKEN",
    "DB_PASSWORD",
    "GITLAB_PAT",
    "Authorization",
    "Proxy-Authorization",
    "X-API-Key",
    "X-Goog-Api-Key",
    "PRIVATE-TOKEN",
    "Cookie",
    "apiKey",
    "exaApiKey",
    "access_token",
    "key",
  ];
  const setting = [
    "GITHUB_TOOLSETS",
    "GITHUB_HOST",
    "GITHUB_APP_ID",
    "GITHUB_APP_PRIVATE_KEY_PATH",
    "GITHUB_OAUTH_CLIENT_ID",
    "GITHUB_OAUTH_CALLBACK_PORT",
    "GITHUB_AUTHORIZATION_SERVER",
    "ATLASSIAN_OAUTH_SCOPE",
    "JIRA_URL",
    "JIRA_USERNAME",
    "SLACK_TEAM_ID",
    "LOG_LEVEL",
    "PORT",
    "HTTPS_PROXY",
    "X-MCP-Toolsets",
    "X-MCP-Readonly",
    "Accept",
    "tools",
  ];
  for (const name of secret)
    it(`${name} names a credential`, () => assert.ok(isCredentialName(name)));
  for (const name of setting)
    it(`${name} names a setting`, () => assert.ok(!isCredentialName(name)));

  it("splits names into words", () => {
    assert.deepEqual(nameWords("exaApiKey"), ["EXA", "API", "KEY"]);
    assert.deepEqual(nameWords("X-MCP-Toolsets"), ["X", "MCP", "TOOLSETS"]);
  });
});

describe("classifyValue", () => {
  const classify = (name: string, value: string) => classifyValue(name, value, hasTemplate).class;

  it("leaves every client reference syntax alone, even under credential names", () => {
    for (const value of [
      "${input:gh}",
      "${env:GITHUB_TOKEN}",
      "${GITHUB_PAT}",
      "${GITHUB_PAT:-}",
      "Bearer ${input:gh}",
      "${user_config.api_key}",
      "op://vault/item/token",
    ]) {
      assert.equal(classify("GITHUB_PERSONAL_ACCESS_TOKEN", value), "placeholder", value);
    }
  });

  it("finds tokens by format under any name, and by name when the format is unknown", () => {
    assert.deepEqual(classifyValue("SOMETHING", PAT, hasTemplate), {
      class: "secret",
      ruleId: "github-pat",
      provider: "github",
    });
    assert.deepEqual(classifyValue("JIRA_API_TOKEN", OPAQUE, hasTemplate), {
      class: "secret",
      provider: "atlassian",
    });
    assert.equal(classify("DB_PASSWORD", "Summer123456"), "secret");
  });

  it("keeps settings: non-credential names, paths, URLs without credentials, flags", () => {
    assert.equal(classify("GITHUB_TOOLSETS", "repos,issues"), "setting");
    assert.equal(classify("JIRA_CLIENT_KEY", "/Users/ada/certs/client.key"), "setting");
    assert.equal(classify("GOOGLE_APPLICATION_CREDENTIALS", "~/gcp/creds.json"), "setting");
    assert.equal(classify("AUTH_REQUIRED", "true"), "setting");
    assert.equal(classify("AUTH", "https://auth.example.net/"), "setting");
    assert.equal(classify("AUTH", "https://u:pw-3d8f@db.example.net/"), "secret");
    assert.equal(classify("API_KEY", ""), "setting");
  });
});

describe("splitHeaderValue", () => {
  it("keeps the scheme of Authorization headers in the template", () => {
    assert.deepEqual(splitHeaderValue("Authorization", `Bearer ${PAT}`), {
      prefix: "Bearer ",
      credential: PAT,
    });
    assert.deepEqual(splitHeaderValue("authorization", `token ${PAT}`), {
      prefix: "token ",
      credential: PAT,
    });
  });

  it("takes the whole value of other headers", () => {
    assert.deepEqual(splitHeaderValue("X-API-Key", OPAQUE), { prefix: "", credential: OPAQUE });
  });
});
