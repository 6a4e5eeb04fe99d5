import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { isKeywardError } from "../core/errors.js";
import {
  ConfigSchema,
  configJsonSchema,
  DEFAULT_GRACE_SECONDS,
  parseDuration,
  resolveSecretDecl,
} from "./schema.js";

/** The checkout root, from src/config under tsx or dist/src/config when compiled. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, "package.json not found above the test file");
    dir = parent;
  }
  return dir;
}

describe("parseDuration", () => {
  it("reads days, hours, minutes, seconds and combinations", () => {
    assert.equal(parseDuration("90d"), 90 * 86400);
    assert.equal(parseDuration("12h"), 12 * 3600);
    assert.equal(parseDuration("30m"), 1800);
    assert.equal(parseDuration("45s"), 45);
    assert.equal(parseDuration("1h30m"), 5400);
    assert.equal(parseDuration("1d2h3m4s"), 86400 + 7200 + 180 + 4);
    assert.equal(parseDuration("0s"), 0);
  });

  for (const bad of ["", "90", "1.5h", "90D", "h", "30m1h", "-1d", " 1d", "1d ", "1 d", "1w"]) {
    it(`refuses ${JSON.stringify(bad)} with a fix`, () => {
      assert.throws(
        () => parseDuration(bad),
        (e) =>
          isKeywardError(e) &&
          e.code === "invalid_value" &&
          e.message.includes("invalid duration") &&
          (e.fix ?? "").includes("90d"),
      );
    });
  }

  it("refuses a duration too large to count in seconds", () => {
    assert.throws(() => parseDuration(`${"9".repeat(20)}d`), /too large/);
  });
});

describe("secret defaults", () => {
  const resolve = (decl: unknown) => {
    const config = ConfigSchema.parse({ version: 1, secrets: { "a/b": decl } });
    const parsed = config.secrets["a/b"];
    assert.ok(parsed);
    return resolveSecretDecl("a/b", parsed);
  };

  it("rotates standard secrets every 90 days, high every 30, agent-exposed every hour", () => {
    assert.equal(resolve({}).rotation.ttlSeconds, 90 * 86400);
    assert.equal(resolve({ sensitivity: "standard" }).rotation.ttlSeconds, 90 * 86400);
    assert.equal(resolve({ sensitivity: "high" }).rotation.ttlSeconds, 30 * 86400);
    assert.equal(resolve({ sensitivity: "agent-exposed" }).rotation.ttlSeconds, 3600);
  });

  it("gives each sensitivity its grace period, never longer than the ttl", () => {
    assert.equal(resolve({}).rotation.graceSeconds, DEFAULT_GRACE_SECONDS.standard);
    assert.equal(
      resolve({ sensitivity: "high" }).rotation.graceSeconds,
      DEFAULT_GRACE_SECONDS.high,
    );
    assert.equal(
      resolve({ sensitivity: "agent-exposed" }).rotation.graceSeconds,
      DEFAULT_GRACE_SECONDS["agent-exposed"],
    );
    assert.equal(resolve({ rotation: { ttl: "2h" } }).rotation.graceSeconds, 7200);
  });

  it("lets rotation.ttl and rotation.grace override the defaults", () => {
    const decl = resolve({ sensitivity: "high", rotation: { ttl: "7d", grace: "30m" } });
    assert.deepEqual(decl.rotation, { ttlSeconds: 7 * 86400, graceSeconds: 1800 });
  });

  it("fills scope and tags, and leaves unset optional fields out", () => {
    assert.deepEqual(resolve({}), {
      name: "a/b",
      scope: [],
      sensitivity: "standard",
      rotation: { ttlSeconds: 90 * 86400, graceSeconds: DEFAULT_GRACE_SECONDS.standard },
      tags: {},
    });
    const full = resolve({
      provider: "github",
      scope: ["repo"],
      owner: "team",
      description: "d",
      tags: { env: "prod" },
    });
    assert.equal(full.provider, "github");
    assert.deepEqual(full.scope, ["repo"]);
    assert.equal(full.owner, "team");
    assert.equal(full.description, "d");
    assert.deepEqual(full.tags, { env: "prod" });
  });
});

describe("JSON Schema", () => {
  it("matches the committed schema/keyward.schema.json", () => {
    const file = join(repoRoot(), "schema", "keyward.schema.json");
    const committed: unknown = JSON.parse(readFileSync(file, "utf8"));
    assert.deepEqual(
      committed,
      configJsonSchema(),
      "schema/keyward.schema.json is stale: run `node --import tsx scripts/gen-schema.mjs` and commit the result",
    );
  });

  it("describes what people write: only version and a profile's command or url are required", () => {
    const schema = configJsonSchema() as {
      $id: string;
      required: string[];
      additionalProperties: boolean;
      properties: { profiles: { additionalProperties: { oneOf: unknown[] } } };
    };
    assert.equal(schema.$id, "urn:keyward:config:1");
    assert.deepEqual(schema.required, ["version"]);
    assert.equal(schema.additionalProperties, false);
    assert.deepEqual(schema.properties.profiles.additionalProperties.oneOf, [
      { required: ["command"] },
      { required: ["url"] },
    ]);
  });
});

describe("remote profiles", () => {
  const profileIssues = (profile: unknown) => {
    const result = ConfigSchema.safeParse({ version: 1, profiles: { p: profile } });
    return result.success
      ? []
      : result.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("accepts url with headers and {{secret:…}} templates", () => {
    assert.deepEqual(
      profileIssues({
        url: "https://mcp.example.net/mcp?key={{secret:cursor/search/key}}",
        headers: { Authorization: "Bearer {{secret:github/pat}}", "X-MCP-Toolsets": "repos" },
      }),
      [],
    );
  });

  it("refuses both command and url, neither, credentials in the url and bad template names", () => {
    assert.deepEqual(profileIssues({ command: "x", url: "https://h/" }), [
      "profiles.p.url: is set together with command",
    ]);
    assert.deepEqual(profileIssues({ args: [] }), ["profiles.p.command: is missing"]);
    assert.deepEqual(profileIssues({ url: "https://u:p@h/" }), [
      "profiles.p.url: carries credentials",
    ]);
    assert.deepEqual(profileIssues({ url: "http://h.example/" }), [
      "profiles.p.url: must use https (plain http only to localhost)",
    ]);
    assert.equal(profileIssues({ url: "http://127.0.0.1:3000/mcp" }).length, 0);
    assert.match(
      profileIssues({ url: "https://h/", headers: { A: "{{secret:../x}}" } }).join(),
      /profiles\.p\.headers\.A: invalid secret name/,
    );
    assert.deepEqual(profileIssues({ command: "x", headers: { A: "b" } }), [
      "profiles.p.headers: only applies to a remote profile (url)",
    ]);
  });
});
