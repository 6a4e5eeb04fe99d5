// biome-ignore-all lint/suspicious/noTemplateCurlyInString: literal ${VAR} references are the subject under test
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { mask, withClassicChecksum } from "../../detect/index.js";
import { exampleChars } from "../../detect/rules/examples.js";
import {
  blankJsoncComments,
  configFinding,
  entry,
  fingerprint,
  isCredentialName,
  judgeLiteral,
  looksLikeSecretValue,
  parseStructured,
} from "./config-common.js";

describe("isCredentialName", () => {
  it("accepts names that hold credentials", () => {
    for (const name of [
      "GITHUB_PERSONAL_ACCESS_TOKEN",
      "JIRA_API_TOKEN",
      "apiKey",
      "X-API-Key",
      "Authorization",
      "DB_PASS",
      "GITHUB_PAT",
      "OAUTH_CLIENT_SECRET",
      "tavilyApiKey",
      "Cookie",
      "api-key",
    ]) {
      assert.ok(isCredentialName(name), name);
    }
  });

  it("rejects names that describe a credential or only contain the letters", () => {
    for (const name of [
      "JIRA_USERNAME",
      "GITHUB_APP_PRIVATE_KEY_PATH",
      "TOKEN_URL",
      "GITHUB_OAUTH_SCOPES",
      "SLACK_TEAM_ID",
      "KEY_ID",
      "KEYWARD_HOME",
      "STRIPE_PUBLISHABLE_KEY",
      "SORT_KEY",
      "MAX_TOKENS",
      "token-file",
      "X-MCP-Toolsets",
      "PATH",
    ]) {
      assert.ok(!isCredentialName(name), name);
    }
  });
});

describe("looksLikeSecretValue and judgeLiteral", () => {
  it("keeps placeholders, local defaults, URLs, paths and numbers out", () => {
    for (const value of [
      "${input:gh}",
      "${env:GITHUB_TOKEN}",
      "Bearer ${GITHUB_PAT:-}",
      "changeme",
      "hunter22",
      "https://api.githubcopilot.com/mcp/",
      "/run/secrets/token",
      "1234567890",
      "<your-api-key>",
      "op://vault/item/field",
      "two words here",
    ]) {
      assert.ok(!looksLikeSecretValue(value), value);
    }
    assert.ok(looksLikeSecretValue("Bearer kT9vX2mQ7rL4wN8pZ3bY"));
  });

  it("finds a token format whatever the name, and a fallback literal under a credential name", () => {
    const token = withClassicChecksum("ghp_", exampleChars("judge", 30));
    assert.equal(judgeLiteral("SOMETHING", `Bearer ${token}`)?.token?.validation, "valid");
    assert.equal(
      judgeLiteral("API_TOKEN", "${API_TOKEN:-kT9vX2mQ7rL4wN8pZ3bY}")?.secret,
      "kT9vX2mQ7rL4wN8pZ3bY",
    );
    assert.equal(judgeLiteral("LOG_LEVEL", "kT9vX2mQ7rL4wN8pZ3bY"), undefined);
  });
});

describe("parseStructured", () => {
  it("blanks JSONC comments without moving any offset, and leaves // inside strings", () => {
    const text = '{\n  // note\n  "url": "https://x.dev/a", /* c\n d */ "k": 1,\n}\n';
    const blanked = blankJsoncComments(text);
    assert.equal(blanked.length, text.length);
    assert.equal(blanked.split("\n").length, text.split("\n").length);
    assert.ok(blanked.includes('"https://x.dev/a"'));
    assert.ok(!blanked.includes("note"));
  });

  it("parses JSONC with trailing commas and reports 1-based lines and columns", () => {
    const text = '{\n  // c\n  "servers": {\n    "a": { "command": "npx", },\n  },\n}\n';
    const doc = parseStructured(text, { jsonc: true });
    assert.ok(doc?.root);
    const command = entry(entry(entry(doc.root, "servers"), "a"), "command");
    assert.equal(command?.kind, "string");
    assert.deepEqual(doc.position(command?.start ?? -1), { line: 4, column: 23 });
  });

  it("returns undefined for text that does not parse", () => {
    assert.equal(parseStructured('{ "a": ', { jsonc: true }), undefined);
  });
});

describe("findings", () => {
  it("fingerprints by rule, path and value: stable across lines, never the value itself", () => {
    const base = {
      ruleId: "config/mcp-literal-secret",
      axis: "exposure" as const,
      severity: "high" as const,
      message: "m",
      why: "w",
      fix: "f",
      path: ".mcp.json",
      subject: "mcpServers.a:env X",
      secret: "kT9vX2mQ7rL4wN8pZ3bY",
    };
    const a = configFinding({ ...base, line: 3 });
    const b = configFinding({ ...base, line: 30 });
    const c = configFinding({ ...base, line: 3, path: "other/.mcp.json" });
    assert.equal(a.fingerprint, b.fingerprint);
    assert.notEqual(a.fingerprint, c.fingerprint);
    assert.equal(a.fingerprint, fingerprint(base.ruleId, base.path, base.secret));
    assert.equal(a.masked, mask(base.secret));
    assert.ok(!JSON.stringify(a).includes(base.secret));
  });
});
