import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { describe, it } from "node:test";
import { z } from "zod";
import { BASE62, withClassicChecksum } from "../detect/checksum.js";
import { isSecretHandle } from "./secret.js";
import { zSecret } from "./zod.js";

const value = `sdk-zod-${randomBytes(16).toString("hex")}`;
const processEnv = { KEYWARD_SECRET_MAP: "GITHUB_TOKEN=github/pat", GITHUB_TOKEN: value };

const Config = z.object({
  githubToken: zSecret({ processEnv }),
  owner: z.string(),
});

function classicToken(): string {
  let body = "";
  for (const byte of randomBytes(30)) body += BASE62[byte % 62];
  return withClassicChecksum("ghp_", body);
}

/** The parse error, checked to hold no part of the rejected input. */
async function issues(input: unknown, secretText: string): Promise<string[]> {
  const result = await Config.safeParseAsync(input);
  assert.equal(result.success, false);
  const text = JSON.stringify(result.error) + String(result.error);
  assert.ok(!text.includes(secretText), "the error quotes the rejected value");
  return result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
}

describe("zSecret", () => {
  it("resolves a secret name to a handle", async () => {
    const config = await Config.parseAsync({ githubToken: "github/pat", owner: "acme" });
    assert.ok(isSecretHandle(config.githubToken));
    assert.equal(config.githubToken.value(), value);
    assert.deepEqual(JSON.parse(JSON.stringify(config)), {
      githubToken: "[secret github/pat]",
      owner: "acme",
    });
  });

  it("refuses a literal token in the config, telling where to put it", async () => {
    const token = classicToken();
    const found = await issues({ githubToken: token, owner: "acme" }, token);
    assert.deepEqual(found, [
      "githubToken: this is a credential (github-pat), not a secret name: put the key in keyward (keyward secret set <name>) and reference it here by name",
    ]);
  });

  it("refuses random-looking strings no rule knows", async () => {
    const hex = randomBytes(20).toString("hex");
    const [issue] = await issues({ githubToken: hex, owner: "acme" }, hex);
    assert.match(issue ?? "", /random-looking value/);
  });

  it("refuses a string that is no secret name without quoting it", async () => {
    const [issue] = await issues({ githubToken: "has spaces in it", owner: "acme" }, "spaces");
    assert.match(issue ?? "", /not a secret name/);
  });

  it("reports a secret that is not available as an issue on the field", async () => {
    const [issue] = await issues({ githubToken: "slack/bot", owner: "acme" }, value);
    assert.match(issue ?? "", /^githubToken: slack\/bot is not injected into this server/);
  });

  it("names long but worded secret names as names", async () => {
    const result = await z
      .object({
        t: zSecret({
          processEnv: { KEYWARD_SECRET_MAP: "X=team/production-github-token-2026", X: value },
        }),
      })
      .parseAsync({ t: "team/production-github-token-2026" });
    assert.equal(result.t.value(), value);
  });
});
