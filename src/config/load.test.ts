import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { z } from "zod";
import { isKeywardError } from "../core/errors.js";
import { ConfigError, type ConfigIssue, emptyConfig, loadConfig } from "./load.js";

const root = mkdtempSync(join(tmpdir(), "keyward-config-"));
after(() => rmSync(root, { recursive: true, force: true }));

let counter = 0;
/** Writes `text` to a fresh file owned by this user only (0644 never draws a warning). */
function file(text: string, name = "keyward.yaml"): string {
  const dir = join(root, `case-${++counter}`);
  mkdirSync(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  chmodSync(path, 0o644);
  return path;
}

function configError(path: string): ConfigError {
  try {
    loadConfig(path);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    assert.equal(e.code, "config_invalid");
    return e;
  }
  assert.fail(`${path} loaded without an error`);
}

function onlyIssue(path: string): ConfigIssue {
  const { issues } = configError(path);
  assert.equal(issues.length, 1, issues.map((i) => i.message).join("\n"));
  return issues[0]!;
}

function exampleText(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) dir = dirname(dir);
  return readFileSync(join(dir, "src", "config", "example.keyward.yaml"), "utf8");
}

const FAKE_GITHUB_TOKEN = `ghp_${"A1b2C3d4E5".repeat(3)}zz`;

describe("loadConfig", () => {
  it("loads the example with its declared secrets and profiles and no warnings", () => {
    const loaded = loadConfig(file(exampleText()));
    assert.deepEqual(loaded.warnings, []);
    assert.deepEqual(Object.keys(loaded.config.profiles), ["github", "slack", "jira"]);
    assert.deepEqual(loaded.secretDecl("github/prod-token"), {
      name: "github/prod-token",
      provider: "github",
      scope: ["repo", "read:org"],
      sensitivity: "standard",
      rotation: { ttlSeconds: 90 * 86400, graceSeconds: 3600 },
      owner: "team-platform",
      description: "GitHub MCP server, read access to the platform repositories",
      tags: { env: "prod" },
    });
    assert.equal(loaded.secretDecl("slack/bot-token")?.rotation.ttlSeconds, 3600);
    assert.equal(loaded.secretDecl("nope"), undefined);
    const github = loaded.profile("github");
    assert.deepEqual(github.env, { GITHUB_PERSONAL_ACCESS_TOKEN: "github/prod-token" });
    assert.equal(github.argumentPolicy, "redact");
    assert.equal(loaded.profile("jira").argumentPolicy, "redact");
    assert.deepEqual(loaded.profile("jira").passEnv, []);
  });

  it("loads the same config from YAML and JSON", () => {
    const yaml = loadConfig(
      file(
        [
          "version: 1",
          "secrets:",
          "  a/b: { sensitivity: high, scope: [x] }",
          "profiles:",
          "  p: { command: run, env: { TOKEN: a/b } }",
        ].join("\n"),
      ),
    );
    const json = loadConfig(
      file(
        JSON.stringify(
          {
            $schema: "../schema/keyward.schema.json",
            version: 1,
            secrets: { "a/b": { sensitivity: "high", scope: ["x"] } },
            profiles: { p: { command: "run", env: { TOKEN: "a/b" } } },
          },
          null,
          "\t",
        ),
        "keyward.json",
      ),
    );
    const { $schema, ...fromJson } = json.config;
    assert.equal($schema, "../schema/keyward.schema.json");
    assert.deepEqual(fromJson, yaml.config);
    assert.deepEqual(json.secrets, yaml.secrets);
  });

  it("has an empty config for when there is no file", () => {
    const empty = emptyConfig();
    assert.equal(empty.path, undefined);
    assert.equal(empty.secrets.size, 0);
    assert.deepEqual(empty.config.profiles, {});
    assert.equal(empty.config.store.backend, "sqlite");
    assert.throws(
      () => empty.profile("github"),
      (e) => isKeywardError(e) && e.code === "not_found" && (e.fix ?? "").includes("profiles:"),
    );
  });

  it("suggests the closest profile name", () => {
    const loaded = loadConfig(file("version: 1\nprofiles:\n  github: { command: x }\n"));
    assert.throws(
      () => loaded.profile("gihtub"),
      (e) =>
        isKeywardError(e) &&
        e.code === "not_found" &&
        e.message.includes('"gihtub"') &&
        e.fix === "did you mean github?",
    );
    assert.throws(() => loaded.profile("toString"), /no profile named "toString"/);
  });

  it("reports a missing file as not_found and a folder as io", () => {
    const missing = join(root, "absent.yaml");
    assert.throws(
      () => loadConfig(missing),
      (e) => isKeywardError(e) && e.code === "not_found" && e.message.startsWith(missing),
    );
    assert.throws(
      () => loadConfig(root),
      (e) => isKeywardError(e) && e.code === "io",
    );
  });
});

describe("config errors name the file, the line, the path and the fix", () => {
  const cases: {
    name: string;
    text: string[];
    fileName?: string;
    line: number;
    path: string;
    message: RegExp;
    fix: RegExp;
  }[] = [
    {
      name: "unknown key, with the known key it resembles",
      text: ["version: 1", "profiles:", "  github:", "    command: npx", "    arg: [-y]"],
      line: 5,
      path: "profiles.github.arg",
      message: /unknown key "arg"/,
      fix: /^did you mean args\?$/,
    },
    {
      name: "unknown key written in another case style",
      text: ["version: 1", "profiles:", "  p:", "    command: x", "    argument_policy: block"],
      line: 5,
      path: "profiles.p.argument_policy",
      message: /unknown key/,
      fix: /did you mean argumentPolicy\?/,
    },
    {
      name: "unknown key that belongs one level down",
      text: ["version: 1", "secrets:", "  a/b:", "    ttl: 30d"],
      line: 4,
      path: "secrets.a/b.ttl",
      message: /unknown key "ttl"/,
      fix: /move it under rotation: \(rotation\.ttl\)/,
    },
    {
      name: "unknown key with nothing close",
      text: ["version: 1", "zzz: 1"],
      line: 2,
      path: "zzz",
      message: /unknown key "zzz"/,
      fix: /remove it; the keys allowed here are .*profiles/,
    },
    {
      name: "bad secret name in the secrets map",
      text: ["version: 1", "secrets:", "  ok/one: {}", "  ../escape: {}"],
      line: 4,
      path: 'secrets["../escape"]',
      message: /invalid secret name "\.\.\/escape"/,
      fix: /github\/prod-token/,
    },
    {
      name: "bad secret name referenced from a profile",
      text: ["version: 1", "profiles:", "  p:", "    command: x", "    env: { TOKEN: /abs }"],
      line: 5,
      path: "profiles.p.env.TOKEN",
      message: /invalid secret name "\/abs": it is an absolute path/,
      fix: /slash-separated/,
    },
    {
      name: "invalid environment variable name",
      text: ["version: 1", "profiles:", "  p:", "    command: x", "    env:", "      1TOKEN: a/b"],
      line: 6,
      path: "profiles.p.env.1TOKEN",
      message: /"1TOKEN" is not a valid environment variable name/,
      fix: /letters, digits and _/,
    },
    {
      name: "variable both filled from a secret and set literally",
      text: [
        "version: 1",
        "profiles:",
        "  p:",
        "    command: x",
        "    env: { TOKEN: a/b }",
        "    setEnv:",
        "      TOKEN: literal",
      ],
      line: 7,
      path: "profiles.p.setEnv.TOKEN",
      message: /TOKEN is also set in env/,
      fix: /in one of env and setEnv, not both/,
    },
    {
      name: "variable both passed through and set literally",
      text: [
        "version: 1",
        "profiles:",
        "  p:",
        "    command: x",
        "    setEnv: { HTTPS_PROXY: x }",
        "    passEnv: [HTTPS_PROXY]",
      ],
      line: 6,
      path: "profiles.p.passEnv[0]",
      message: /HTTPS_PROXY is also set in setEnv/,
      fix: /not both/,
    },
    {
      name: "invalid profile name",
      text: ["version: 1", "profiles:", "  -dash: { command: x }"],
      line: 3,
      path: "profiles.-dash",
      message: /is not a valid profile name/,
      fix: /starting with a letter or digit/,
    },
    {
      name: "missing command points at its profile",
      text: ["version: 1", "profiles:", "  github:", "    args: []"],
      line: 3,
      path: "profiles.github.command",
      message: /^is missing$/,
      fix: /add command: the program that starts the MCP server/,
    },
    {
      name: "missing version",
      text: ["profiles: {}"],
      line: 1,
      path: "version",
      message: /^is missing$/,
      fix: /set version: 1/,
    },
    {
      name: "wrong version",
      text: ["version: 2"],
      line: 1,
      path: "version",
      message: /must be 1, got 2/,
      fix: /set version: 1/,
    },
    {
      name: "misspelled sensitivity",
      text: ["version: 1", "secrets:", "  a/b:", "    sensitivity: hihg"],
      line: 4,
      path: "secrets.a/b.sensitivity",
      message: /must be one of "standard", "high", "agent-exposed", got "hihg"/,
      fix: /^did you mean high\?$/,
    },
    {
      name: "unknown argument policy",
      text: ["version: 1", "profiles:", "  p: { command: x, argumentPolicy: deny }"],
      line: 3,
      path: "profiles.p.argumentPolicy",
      message: /must be one of "redact", "block", "allow", got a string$/,
      fix: /use one of/,
    },
    {
      name: "store backend that does not exist",
      text: ["version: 1", "store: { backend: mongodb }"],
      line: 2,
      path: "store.backend",
      message: /is not a store backend \(sqlite/,
      fix: /use one of sqlite/,
    },
    {
      name: "bad duration",
      text: ["version: 1", "secrets:", "  a/b:", "    rotation:", "      ttl: 90 days"],
      line: 5,
      path: "secrets.a/b.rotation.ttl",
      message: /is not a duration/,
      fix: /90d, 12h, 30m, 45s/,
    },
    {
      name: "zero ttl",
      text: ["version: 1", "secrets:", "  a/b:", "    rotation: { ttl: 0s }"],
      line: 4,
      path: "secrets.a/b.rotation.ttl",
      message: /must be longer than zero/,
      fix: /remove it for the default/,
    },
    {
      name: "grace longer than ttl",
      text: ["version: 1", "secrets:", "  a/b:", "    rotation: { ttl: 1h, grace: 2h }"],
      line: 4,
      path: "secrets.a/b.rotation.grace",
      message: /is longer than rotation\.ttl \(1h\)/,
      fix: /shorten rotation\.grace or lengthen rotation\.ttl/,
    },
    {
      name: "unquoted number where a string belongs",
      text: [
        "version: 1",
        "profiles:",
        "  p:",
        "    command: x",
        "    setEnv:",
        "      READ_ONLY: 1",
      ],
      line: 6,
      path: "profiles.p.setEnv.READ_ONLY",
      message: /expected a string, got a number/,
      fix: /put the value in quotes/,
    },
    {
      name: "a single string where a list belongs",
      text: ["version: 1", "secrets:", "  a/b:", "    scope: repo"],
      line: 4,
      path: "secrets.a/b.scope",
      message: /expected a list, got a string/,
      fix: /\[repo:read, read:org\]/,
    },
    {
      name: "an empty entry",
      text: ["version: 1", "profiles:", "  p:"],
      line: 3,
      path: "profiles.p",
      message: /is empty, expected a mapping/,
      fix: /fill it in with a mapping, or remove p/,
    },
    {
      name: "a secret name with dots is quoted in the path",
      text: ["version: 1", "secrets:", "  app.key:", "    scope: [a b]"],
      line: 4,
      path: 'secrets["app.key"].scope[0]',
      message: /must be one scope without spaces/,
      fix: /one scope, for example repo:read/,
    },
    {
      name: "JSON file",
      fileName: "keyward.json",
      text: ["{", '  "version": 1,', '  "profiles": {', '    "p": { "command": 7 }', "  }", "}"],
      line: 4,
      path: "profiles.p.command",
      message: /expected a string, got a number/,
      fix: /quotes/,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const path = file(`${c.text.join("\n")}\n`, c.fileName);
      const issue = onlyIssue(path);
      assert.equal(issue.file, path);
      assert.equal(issue.path, c.path);
      assert.equal(issue.line, c.line, `line of ${c.path}`);
      assert.match(issue.message, c.message);
      assert.match(issue.fix, c.fix);
      const error = configError(path);
      assert.ok(
        error.message.startsWith(`${path}:${c.line}:`),
        `message names file and line: ${error.message}`,
      );
      assert.ok(
        error.message.includes(`: ${c.path}: `),
        `message names the path: ${error.message}`,
      );
      assert.equal(error.fix, issue.fix);
    });
  }

  it("shows line and column for a YAML syntax error", () => {
    const path = file("version: 1\nprofiles:\n  p:\n    command: x\n   args: []\n");
    const issue = onlyIssue(path);
    assert.equal(issue.line, 5);
    assert.equal(typeof issue.column, "number");
    assert.match(issue.message, /^YAML syntax error: the indentation is inconsistent$/);
    assert.match(configError(path).message, new RegExp(`^${path}:5:\\d+: YAML syntax error`));
  });

  it("shows line and column for a JSON syntax error", () => {
    const path = file('{\n  "version": 1,\n  "profiles": {}}\n}\n', "keyward.json");
    const issue = onlyIssue(path);
    assert.equal(issue.line, 4);
    assert.match(issue.message, /^JSON syntax error/);
  });

  it("reports duplicate keys", () => {
    const issue = onlyIssue(file("version: 1\nprofiles: {}\nprofiles: {}\n"));
    assert.equal(issue.line, 3);
    assert.match(issue.message, /a key appears twice/);
  });

  it("reports an empty file and a top level that is not a mapping", () => {
    assert.match(onlyIssue(file("# nothing yet\n")).fix, /start it with version: 1/);
    const list = onlyIssue(file("- version: 1\n"));
    assert.match(list.message, /the top level must be a mapping .* got a list/);
    assert.equal(list.line, 1);
  });

  it("refuses a __proto__ key rather than dropping it", () => {
    const issue = onlyIssue(
      file("version: 1\nprofiles:\n  p:\n    command: x\n    env: { __proto__: a/b }\n"),
    );
    assert.equal(issue.path, "profiles.p.env.__proto__");
    assert.equal(issue.line, 5);
    assert.match(issue.message, /"__proto__" is not allowed/);
  });

  it("refuses an alias bomb instead of expanding it", () => {
    const lines = ["version: 1", "a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 200; i++) lines.push(`k${i}: [*a, *a, *a]`);
    assert.match(onlyIssue(file(lines.join("\n"))).message, /anchors and aliases/);
  });

  it("lists every problem at once, in file order, each with its fix", () => {
    const path = file(
      ["version: 1", "stor: {}", "profiles:", "  p:", "    comand: x", "    env: { 9X: a/b }"].join(
        "\n",
      ),
    );
    const error = configError(path);
    assert.deepEqual(
      error.issues.map((i) => [i.line, i.path]),
      [
        [2, "stor"],
        [4, "profiles.p.command"],
        [5, "profiles.p.comand"],
        [6, "profiles.p.env.9X"],
      ],
    );
    assert.equal(error.message.split("\n").length, 4);
    const fixes = error.fix?.split("\n") ?? [];
    assert.equal(fixes[0], "stor: did you mean store?");
    assert.equal(fixes.length, 4);
    const json = error.toJSON();
    assert.equal(json.code, "config_invalid");
    assert.equal(json.issues.length, 4);
  });

  it("never echoes a value that might be a secret", () => {
    const cases = [
      // a literal token in a field that wants a list
      ["version: 1", "secrets:", `  a/b: { scope: ${FAKE_GITHUB_TOKEN} }`],
      // a token pasted where an enum belongs
      ["version: 1", "secrets:", `  a/b: { sensitivity: ${FAKE_GITHUB_TOKEN} }`],
      // a numeric value in setEnv
      ["version: 1", "profiles:", "  p: { command: x, setEnv: { PIN: 48151623 } }"],
      // a syntax error right after a token
      ["version: 1", `token: "${FAKE_GITHUB_TOKEN}`, "x: ]"],
    ];
    for (const text of cases) {
      const error = configError(file(text.join("\n")));
      const shown = JSON.stringify(error.toJSON());
      assert.ok(!shown.includes(FAKE_GITHUB_TOKEN), shown);
      assert.ok(!shown.includes("48151623"), shown);
    }
  });
});

describe("store options, checked by the backend's own schema", () => {
  const options = z.strictObject({
    schema: z
      .string()
      .regex(/^[a-z_]+$/, { error: "is not a schema name" })
      .default("keyward"),
    url: z.string().describe("A postgres:// URL without a password."),
  });

  it("returns the options without backend:, defaults applied", () => {
    const loaded = loadConfig(
      file(
        ["version: 1", "store:", "  backend: sqlite", "  url: postgres://db/keyward"].join("\n"),
      ),
    );
    assert.deepEqual(loaded.storeOptions(options), {
      schema: "keyward",
      url: "postgres://db/keyward",
    });
  });

  it("names the file, the line and the path of a bad option", () => {
    const path = file(
      [
        "version: 1",
        "store:",
        "  backend: sqlite",
        "  url: postgres://db",
        "  schema: Bad-Name",
      ].join("\n"),
    );
    const error = (() => {
      try {
        loadConfig(path).storeOptions(options);
      } catch (e) {
        return e;
      }
      assert.fail("bad options were accepted");
    })();
    assert.ok(error instanceof ConfigError);
    const [issue] = error.issues;
    assert.equal(issue?.file, path);
    assert.equal(issue?.line, 5);
    assert.equal(issue?.path, "store.schema");
    assert.match(issue?.message ?? "", /is not a schema name/);
  });

  it("for a backend without options (no schema), takes backend: alone and refuses more", () => {
    const alone = loadConfig(file(["version: 1", "store:", "  backend: sqlite"].join("\n")));
    assert.deepEqual(alone.storeOptions(undefined), {});
    const path = file(["version: 1", "store:", "  backend: sqlite", "  path: /x"].join("\n"));
    assert.throws(
      () => loadConfig(path).storeOptions(undefined),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        assert.deepEqual(
          e.issues.map((i) => [i.path, i.line, i.message, i.fix]),
          [["store.path", 4, 'unknown key "path"', "remove it; no other keys are allowed here"]],
        );
        return true;
      },
    );
  });

  it("reports an unknown option and a missing one", () => {
    const path = file(
      ["version: 1", "store:", "  backend: sqlite", "  uri: postgres://db"].join("\n"),
    );
    assert.throws(
      () => loadConfig(path).storeOptions(options),
      (e: unknown) => {
        assert.ok(e instanceof ConfigError);
        const paths = e.issues.map((i) => i.path).sort();
        assert.deepEqual(paths, ["store.uri", "store.url"]);
        return true;
      },
    );
  });
});

describe("config warnings", () => {
  it("warns about a profile using an undeclared secret", () => {
    const loaded = loadConfig(
      file("version: 1\nprofiles:\n  p:\n    command: x\n    env: { TOKEN: a/b }\n"),
    );
    assert.equal(loaded.warnings.length, 1);
    const [warning] = loaded.warnings;
    assert.equal(warning?.path, "profiles.p.env.TOKEN");
    assert.equal(warning?.line, 5);
    assert.match(warning?.message ?? "", /secret a\/b is not declared under secrets:/);
  });

  it("warns about a token written into setEnv or args without echoing it", () => {
    const loaded = loadConfig(
      file(
        [
          "version: 1",
          "profiles:",
          "  p:",
          "    command: x",
          `    args: ["--token=${FAKE_GITHUB_TOKEN}"]`,
          "    setEnv:",
          "      AWS_ACCESS_KEY_ID: AKIAIOSFODNN7EXAMPLE",
          "      GITHUB_TOOLSETS: repos,issues",
        ].join("\n"),
      ),
    );
    assert.deepEqual(
      loaded.warnings.map((w) => [w.path, w.line, w.message]),
      [
        [
          "profiles.p.setEnv.AWS_ACCESS_KEY_ID",
          7,
          "looks like an AWS access key id written into the config",
        ],
        ["profiles.p.args[0]", 5, "looks like a GitHub token written into the config"],
      ],
    );
    const shown = JSON.stringify(loaded.warnings);
    assert.ok(!shown.includes(FAKE_GITHUB_TOKEN) && !shown.includes("AKIAIOSFODNN7EXAMPLE"));
    assert.match(loaded.warnings[0]?.fix ?? "", /keyward secret set/);
  });

  it("warns about a token written into headers or a notification url, pointing to a template", () => {
    const hook = `https://hooks.slack.com/services/T${"A1".repeat(5)}/B${"C2".repeat(5)}/${"x9Y".repeat(8)}`;
    const loaded = loadConfig(
      file(
        [
          "version: 1",
          "profiles:",
          "  remote:",
          "    url: https://mcp.example.com/mcp",
          "    headers:",
          `      Authorization: Bearer ${FAKE_GITHUB_TOKEN}`,
          "notifications:",
          `  - url: ${hook}`,
        ].join("\n"),
      ),
    );
    assert.deepEqual(
      loaded.warnings.map((w) => [w.path, w.line, w.message]),
      [
        [
          "profiles.remote.headers.Authorization",
          6,
          "looks like a GitHub token written into the config",
        ],
        ["notifications[0].url", 8, "looks like a Slack webhook url written into the config"],
      ],
    );
    const shown = JSON.stringify(loaded.warnings);
    assert.ok(!shown.includes(FAKE_GITHUB_TOKEN) && !shown.includes(hook));
    for (const w of loaded.warnings) assert.match(w.fix ?? "", /\{\{secret:<name>\}\}/);
  });

  it("warns about a long-lived agent-exposed secret", () => {
    const loaded = loadConfig(
      file(
        "version: 1\nsecrets:\n  a/b:\n    sensitivity: agent-exposed\n    rotation: { ttl: 7d }\n",
      ),
    );
    assert.deepEqual(
      loaded.warnings.map((w) => w.path),
      ["secrets.a/b.rotation.ttl"],
    );
    assert.match(loaded.warnings[0]?.message ?? "", /should be short-lived/);
  });

  it("warns when others can change the config file", { skip: process.platform === "win32" }, () => {
    const path = file("version: 1\n");
    chmodSync(path, 0o664);
    const [warning] = loadConfig(path).warnings;
    assert.match(warning?.message ?? "", /can be changed by group or others \(mode 664\)/);
    assert.equal(warning?.fix, `chmod go-w ${path}`);
  });
});
