import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { describe, test } from "node:test";
import { BASE62 } from "../../detect/checksum.js";
import { withClassicChecksum } from "../../detect/index.js";
import {
  findSecrets,
  fingerprint,
  isCodePath,
  isTemplatePath,
  isTestPath,
  lineStarts,
  position,
  secretsAnalyzer,
} from "./secrets.js";

/** A checksum-valid classic GitHub token, made at run time so none is ever stored. */
function githubToken(): string {
  const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
  return withClassicChecksum(`${"gh"}p_`, body);
}

describe("secretsAnalyzer", () => {
  test("a checksum-valid token is critical, masked, located and fingerprinted without the value", () => {
    const token = githubToken();
    const text = `# config\nexport const client = new Octokit({ auth: "${token}" });\n`;
    const [finding, ...rest] = secretsAnalyzer.analyze({ path: "src/github.ts", text });
    assert.deepEqual(rest, []);
    assert.ok(finding !== undefined);
    assert.equal(finding.ruleId, "secret/github-pat");
    assert.equal(finding.kind, "secret");
    assert.equal(finding.axis, "security");
    assert.equal(finding.severity, "critical");
    assert.equal(finding.validation, "valid");
    assert.equal(finding.location.line, 2);
    assert.equal(finding.location.column, (text.split("\n")[1] ?? "").indexOf(token) + 1);
    assert.equal(finding.location.endColumn, (finding.location.column ?? 0) + token.length);
    assert.equal(finding.masked, `${token.slice(0, 4)}…${token.slice(-2)}`);
    const valueHash = createHash("sha256").update(token).digest("hex");
    const expected = createHash("sha256")
      .update(`secret/github-pat\0src/github.ts\0${valueHash}`)
      .digest("hex");
    assert.equal(finding.fingerprint, expected);
    assert.ok(!JSON.stringify(finding).includes(token));
  });

  test("a token whose checksum fails is not reported", () => {
    const token = githubToken();
    const broken = token.slice(0, -1) + (token.endsWith("0") ? "1" : "0");
    assert.deepEqual(secretsAnalyzer.analyze({ path: "a.ts", text: `t = "${broken}"` }), []);
  });

  test("a keyword assignment holding a token is reported once, as the token", () => {
    const token = githubToken();
    const hits = findSecrets(`GITHUB_TOKEN=${token}\n`, ".env");
    assert.deepEqual(
      hits.map((h) => h.ruleId),
      ["secret/github-pat"],
    );
  });

  test("generic passwords are medium, high-entropy generic keys high; test-mode Stripe keys high", () => {
    const text = [
      'password = "hunter2hunter2"',
      'api_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYzKeyQ0t9Xa1b"',
      `stripe = "${"sk"}_test_${"4eC39HqLyjWDarjtT1zdp7dc"}"`,
    ].join("\n");
    const findings = secretsAnalyzer.analyze({ path: "settings.py", text });
    assert.deepEqual(
      findings.map((f) => [f.ruleId, f.severity, f.location.line]),
      [
        ["secret/generic-password", "medium", 1],
        ["secret/generic-api-key", "high", 2],
        ["secret/stripe-secret-key", "high", 3],
      ],
    );
  });

  test("unquoted values count in config files, not in code", () => {
    const line = "password: hunter2hunter2\n";
    assert.equal(findSecrets(line, "config/app.yaml").length, 1);
    assert.equal(findSecrets(line, "src/app.ts").length, 0);
  });

  test("tests and fixtures: token formats count, sample passwords do not", () => {
    const token = githubToken();
    const text = `password = "hunter2hunter2"\nsecret = "c9F2kL0qZx81"\nGITHUB_TOKEN = "${token}"\n`;
    for (const path of [
      "test/payments.test.ts",
      "src/test/java/com/acme/AuthControllerTest.java",
      "spec/rails_helper.rb",
      "tests/fixtures/users.json",
      "pkg/auth/auth_test.go",
      "tests/test_auth.py",
    ]) {
      assert.ok(isTestPath(path), path);
      assert.deepEqual(
        findSecrets(text, path).map((h) => h.ruleId),
        ["secret/github-pat"],
        path,
      );
    }
    assert.equal(findSecrets(text, "src/payments.ts").length, 3);
    for (const path of ["src/contest.ts", "src/latest/index.ts", "docs/testing.md"])
      assert.ok(!isTestPath(path), path);
  });

  test("templates (.env.example, *.sample): only token formats count", () => {
    const token = githubToken();
    const text = `DB_PASSWORD=Qz7#pLm2Vx9\nGITHUB_TOKEN=${token}\n`;
    for (const path of [".env.example", "config/settings.sample.yml", "app.json.dist"]) {
      assert.ok(isTemplatePath(path), path);
      assert.deepEqual(
        findSecrets(text, path).map((h) => h.ruleId),
        ["secret/github-pat"],
        path,
      );
    }
    assert.ok(!isTemplatePath(".env") && !isTemplatePath("src/examples.ts"));
  });

  test("build scripts without an extension are code: unquoted values are expressions", () => {
    assert.ok(isCodePath("Jenkinsfile") && isCodePath("ci/Jenkinsfile.release"));
    assert.ok(isCodePath("app/build.gradle") && isCodePath("dist/index.js.map"));
    assert.deepEqual(findSecrets("SONAR_TOKEN = sonarLookupValue9\n", "Jenkinsfile"), []);
  });

  test("in tests a password in a URL counts only when it looks generated", () => {
    const sample = 'url.parse("https://anonymous:flabada@developer.mozilla.org/en-US/docs");\n';
    const generated = 'connect("postgres://app:Vq8Lr2Zt7Kx4Pm9W@db.internal:5432/app");\n';
    assert.deepEqual(findSecrets(sample, "tests/string.test.ts"), []);
    assert.deepEqual(
      findSecrets(generated, "tests/db.test.ts").map((h) => h.secret),
      ["Vq8Lr2Zt7Kx4Pm9W"],
    );
    assert.deepEqual(
      findSecrets(sample, "src/client.ts").map((h) => h.secret),
      ["flabada"],
    );
  });

  test("Python stubs are code: an annotation is a type, not a value", () => {
    const stub = "def pbkdf2(password: ReadableBuffer, salt: bytes) -> bytes: ...\n";
    for (const path of ["typeshed/stdlib/_hashlib.pyi", "pkg/_speedups.pyx", "pkg/_speedups.pxd"]) {
      assert.ok(isCodePath(path), path);
      assert.deepEqual(findSecrets(stub, path), [], path);
    }
    assert.equal(findSecrets(stub, "notes.txt").length, 1);
  });

  test("a Kubernetes Secret's base64 data is decoded and scanned", () => {
    const token = githubToken();
    const dockerConfig = Buffer.from(
      JSON.stringify({ auths: { "ghcr.io": { username: "bot", password: token } } }),
    ).toString("base64");
    const password = Buffer.from("Qz7#pLm2Vx9Kw").toString("base64");
    const text = [
      "apiVersion: v1",
      "kind: ConfigMap",
      "data:",
      `  DB_PASSWORD: ${password}`,
      "---",
      "apiVersion: v1",
      "kind: Secret",
      "type: kubernetes.io/dockerconfigjson",
      "data:",
      `  .dockerconfigjson: ${dockerConfig}`,
      `  DB_PASSWORD: ${password}`,
      "  LOG_LEVEL: aW5mbw==",
      "",
    ].join("\n");
    const findings = secretsAnalyzer.analyze({ path: "k8s/secret.yaml", text });
    assert.deepEqual(
      findings.map((f) => [f.ruleId, f.location.line]),
      [
        ["secret/github-pat", 10],
        ["secret/generic-password", 11],
      ],
    );
    // The span is the encoded value in the file; the finding names the decoded credential.
    const [hit] = findSecrets(text, "k8s/secret.yaml");
    assert.equal(hit?.secret, token);
    assert.equal(text.slice(hit?.start, hit?.end), dockerConfig);
    assert.equal(hit?.encoded, dockerConfig);
    assert.ok(!JSON.stringify(findings).includes(token));
  });

  test("fingerprints differ by rule, path and value, and ignore the line", () => {
    const a = fingerprint("secret/x", "a.ts", "value-one");
    assert.notEqual(a, fingerprint("secret/y", "a.ts", "value-one"));
    assert.notEqual(a, fingerprint("secret/x", "b.ts", "value-one"));
    assert.notEqual(a, fingerprint("secret/x", "a.ts", "value-two"));
    const token = githubToken();
    const [first] = secretsAnalyzer.analyze({ path: "a.ts", text: `t = "${token}"` });
    const [moved] = secretsAnalyzer.analyze({ path: "a.ts", text: `\n\n\nt = "${token}"` });
    assert.equal(first?.fingerprint, moved?.fingerprint);
    assert.match(first?.fingerprint ?? "", /^[0-9a-f]{64}$/);
  });
});

describe("position", () => {
  test("maps offsets to 1-based lines and columns", () => {
    const text = "ab\ncde\n\nf";
    const starts = lineStarts(text);
    assert.deepEqual(position(starts, 0), { line: 1, column: 1 });
    assert.deepEqual(position(starts, 4), { line: 2, column: 2 });
    assert.deepEqual(position(starts, 7), { line: 3, column: 1 });
    assert.deepEqual(position(starts, 8), { line: 4, column: 1 });
  });
});
