import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { test } from "node:test";
import { BASE62, withClassicChecksum } from "./checksum.js";
import { getRule, tokenRules } from "./rules/index.js";
import { scanText } from "./scan.js";
import type { TokenRule } from "./types.js";

function randomClassicToken(prefix: string): string {
  let body = "";
  for (let i = 0; i < 30; i++) body += BASE62[randomInt(62)];
  return withClassicChecksum(prefix, body);
}

function rule(overrides: Partial<TokenRule>): TokenRule {
  return {
    id: "test-rule",
    title: "test rule",
    provider: "test",
    category: "token",
    pattern: /tok_[a-z0-9]{12}/g,
    secretGroup: 0,
    keywords: ["tok_"],
    truePositives: [],
    falsePositives: [],
    ...overrides,
  };
}

test("finds every generated checksum-valid token in a larger text, in order, with exact offsets", () => {
  const tokens = Array.from({ length: 50 }, (_, i) =>
    randomClassicToken(["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"][i % 6] ?? "ghp_"),
  );
  const text = tokens.map((token, i) => `line ${i}: export TOKEN="${token}"\n`).join("");
  const matches = scanText(text);
  assert.deepEqual(
    matches.map((m) => m.secret),
    tokens,
  );
  for (const match of matches) {
    assert.equal(text.slice(match.start, match.end), match.secret);
    assert.equal(match.validation, "valid");
  }
});

test("a checksum failure is dropped by default and kept with keepInvalid", () => {
  const token = randomClassicToken("ghp_");
  const broken = `${token.slice(0, -1)}${token.endsWith("0") ? "1" : "0"}`;
  assert.deepEqual(scanText(`t=${broken}`), []);
  const kept = scanText(`t=${broken}`, { keepInvalid: true });
  assert.equal(kept.length, 1);
  assert.equal(kept[0]?.validation, "invalid");
  assert.equal(kept[0]?.ruleId, "github-pat");
});

test("checksum-valid tokens skip the placeholder filter; others do not", () => {
  // 30 × "a" is filler-looking but checksum-valid (reference vector): a real, deliberately built value.
  const valid = withClassicChecksum("npm_", "a".repeat(30));
  assert.equal(scanText(valid)[0]?.validation, "valid");
  assert.deepEqual(scanText("key: tok_aaaaaaaaaaaa", { rules: [rule({})] }), []);
});

test("a rule runs only when one of its keywords occurs (case-insensitively)", () => {
  const text = "value tok_q83vejrwej0m";
  assert.equal(scanText(text, { rules: [rule({ keywords: ["tok_"] })] }).length, 1);
  assert.equal(scanText(text, { rules: [rule({ keywords: ["absent", "value"] })] }).length, 1);
  assert.equal(
    scanText("VALUE tok_q83vejrwej0m", { rules: [rule({ keywords: ["value"] })] }).length,
    1,
  );
  assert.deepEqual(scanText(text, { rules: [rule({ keywords: ["absent"] })] }), []);
});

test("secretGroup selects the span; offsets point at the secret, not the whole match", () => {
  const text = 'conn = "postgres://app:q83vEjRWeJ0mLq17@db.internal:5432/app"';
  const [match] = scanText(text);
  assert.equal(match?.ruleId, "postgres-connection-string");
  assert.equal(match?.secret, "q83vEjRWeJ0mLq17");
  assert.equal(text.slice(match?.start, match?.end), "q83vEjRWeJ0mLq17");
});

test("rule stopwords, entropy floors and placeholders remove noise", () => {
  assert.deepEqual(scanText("postgres://postgres:postgres@localhost:5432/dev"), []);
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference is the example
  assert.deepEqual(scanText("redis://:${REDIS_PASSWORD}@cache:6379"), []);
  const lowEntropy = rule({ entropy: 3.2 });
  assert.deepEqual(scanText("tok_ababababab12", { rules: [lowEntropy] }), []);
  assert.equal(scanText("tok_q83vejrwej0m", { rules: [lowEntropy] }).length, 1);
});

test("two rules on the same span are reported once, under the earlier rule", () => {
  const first = rule({ id: "first" });
  const second = rule({ id: "second" });
  const matches = scanText("tok_q83vejrwej0m", { rules: [first, second] });
  assert.deepEqual(
    matches.map((m) => m.ruleId),
    ["first"],
  );
  // A token in a URL password is reported by its own rule, not as a generic URL password.
  const token = randomClassicToken("ghs_");
  const ids = scanText(`https://x-access-token:${token}@github.com/acme/repo.git`).map(
    (m) => m.ruleId,
  );
  assert.deepEqual(ids, ["github-server-to-server-token"]);
});

test("the caller's pattern and its lastIndex are left alone", () => {
  const custom = rule({});
  custom.pattern.lastIndex = 3;
  scanText("tok_q83vejrwej0m tok_zqwbutsoori4", { rules: [custom] });
  assert.equal(custom.pattern.lastIndex, 3);
  assert.equal(custom.pattern.flags, "g");
});

test("tokens are found after JSON and percent escapes but not inside longer words", () => {
  const token = randomClassicToken("ghp_");
  assert.equal(scanText(`"a\\n${token}\\n"`).length, 1);
  assert.equal(scanText(`q=%3D${token}`).length, 1);
  assert.deepEqual(scanText(`x${token}`), []);
});

test("AWS key ids are found and decodable; the documented example is ignored", () => {
  const id = getRule("aws-access-key-id");
  assert.ok(id);
  assert.deepEqual(scanText(`aws_access_key_id=AKIAIOSFODNN7EXAMPLE`), []);
  const [match] = scanText("aws_access_key_id=ASIAY34FZKBOKMUTVV7A");
  assert.equal(match?.ruleId, "aws-access-key-id");
});

// Adversarial inputs for the bounded patterns: these complete because every quantifier is bounded.
// (Tests must not assert wall-clock time; a regression here shows up as a hang.)
test("pathological inputs finish and find nothing", () => {
  const inputs = [
    `-----BEGIN RSA PRIVATE KEY-----\n${"A".repeat(200_000)}`,
    "-----BEGIN PRIVATE KEY-----".repeat(5_000),
    `-----BEGIN RSA PRIVATE KEY-----\n${"A".repeat(1_000)}\n`.repeat(200),
    `eyJ${"a".repeat(50_000)}.eyJ${"b".repeat(50_000)}`,
    `postgres://${"a".repeat(100_000)}`,
    `postgres://u:${"p".repeat(100_000)}`,
    `ATATT3${"=".repeat(100_000)}`,
    `sk-ant-api03-${"A".repeat(100_000)}`,
    `xoxp-${"1234567890-".repeat(10_000)}`,
    "ghp_".repeat(50_000),
  ];
  for (const input of inputs) assert.deepEqual(scanText(input), [], input.slice(0, 20));
});

test("a rule with an anchor finds exactly what its pattern finds searching every offset", () => {
  // URL rules look for `://` and try their pattern only where a scheme before it can start.
  const anchored = tokenRules.filter((r) => r.anchor !== undefined);
  assert.ok(anchored.length >= 6);
  const everyOffset = anchored.map((r) => ({ ...r, anchor: undefined }));
  // Scheme-like runs, underscores and dots before `://`, credentials, hosts and noise in random
  // order (a fixed sequence: the same texts every run).
  const pieces = [
    ...["http", "HTTPS", "postgresql", "postgres+psycopg2", "mongodb+srv", "rediss", "amqp"],
    ...["://", "://deploy:s3cretPa55w0rd9@", "://u:p@", "://user:user@", "://:Zq9xW2vR7tP4@"],
    ...["_", "x", ".", "-", "+", "a_b", ":", "@", "/", " ", "\n", '"', "db.internal/app", "9"],
    ...["example.com", `${"s".repeat(40)}_http://a:Xy7Pq2Lm9Rt4@h`],
  ];
  let state = 1;
  const next = (n: number): number => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state % n;
  };
  let found = 0;
  for (let i = 0; i < 3000; i++) {
    let text = "";
    for (let k = 2 + next(20); k > 0; k--) text += pieces[next(pieces.length)];
    const expected = scanText(text, { rules: everyOffset, keepInvalid: true });
    assert.deepEqual(scanText(text, { rules: anchored, keepInvalid: true }), expected, text);
    found += expected.length;
  }
  assert.ok(found > 100, `only ${found} URLs with credentials among the texts`);
});
