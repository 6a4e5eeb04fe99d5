import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { credentialKind, findGenericSecrets } from "./generic-secret.js";

/** Each true positive: the line, whether unquoted values count there, and the value expected. */
const TRUE_POSITIVES: Array<[line: string, unquoted: boolean, value: string]> = [
  ['password = "hunter2hunter2"', false, "hunter2hunter2"],
  ["db_password: hunter2hunter2", true, "hunter2hunter2"],
  ["DB_PASSWORD=hunter2hunter2", true, "hunter2hunter2"],
  ["spring.datasource.password=Qz7#pLm2Vx9", true, "Qz7#pLm2Vx9"],
  ['{"apiKey": "Zx81kPq02LmNv7Tr55Ws"}', false, "Zx81kPq02LmNv7Tr55Ws"],
  ["const clientSecret = 'c9F2kL0qZx81kPq02LmN';", false, "c9F2kL0qZx81kPq02LmN"],
  [
    'AWS_SECRET_ACCESS_KEY: "wJalrXUtnFEMIK7MDENGbPxRfiCYzKeyQ0t9Xa1b"',
    false,
    "wJalrXUtnFEMIK7MDENGbPxRfiCYzKeyQ0t9Xa1b",
  ],
  ['headers = { Authorization: "Bearer Zx81kPq02LmNv7Tr55Ws" }', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['def connect(password: str = "hunter2hunter2"):', false, "hunter2hunter2"],
  ["$config['api_key'] => 'Zx81kPq02LmNv7Tr55Ws';", false, "Zx81kPq02LmNv7Tr55Ws"],
  ['token := "Zx81kPq02LmNv7Tr55Ws"', false, "Zx81kPq02LmNv7Tr55Ws"],
  ["<password>hunter2hunter2</password>", false, "hunter2hunter2"],
  ['<add key="ApiKey" value="Zx81kPq02LmNv7Tr55Ws" />', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['<connection user="app" password="hunter2hunter2"/>', false, "hunter2hunter2"],
  [
    "SESSION_SECRET=9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    true,
    "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
  ],
  ['secret_key_base: "Zx81kPq02LmNv7Tr55Ws"', false, "Zx81kPq02LmNv7Tr55Ws"],
];

/** Lines that must not be reported, whatever the file type. */
const FALSE_POSITIVES: Array<[line: string, unquoted: boolean]> = [
  ['password = os.environ["X"]', false],
  ['password = os.environ["X"]', true],
  [`token: ${"$"}{TOKEN}`, true],
  ['api_key = "<your-key>"', false],
  ['secret_name = "prod"', false],
  ['secret_name = "production-database"', false],
  ["password = getPassword()", false],
  ["password: config.db.password", true],
  ['password = ""', false],
  ['password = "changeme"', false],
  ['token_url = "https://example.org/oauth/token"', false],
  ['api_key = "https://vault.internal/v1/secret/data/api"', false],
  ['password_file = "/run/secrets/db_password"', false],
  ["private_key: ./keys/server.pem", true],
  ['"integrity": "sha512-3vYk8Kq0aLmN7Tr55WsZx81kPq02LmNv7Tr55WsZx81kPq02LmN=="', false],
  ['token = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"', false],
  [
    'checksum_token = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" # sha256',
    false,
  ],
  ['api_key = "123e4567-e89b-12d3-a456-426614174000"', false],
  ["password: DB_PASSWORD_VALUE", true],
  ['secret = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/db"', false],
  ["max_tokens = 4096", true],
  ['nextToken: "eyAiY3Vyc29yIjogMTIzIH0K"', false],
  ['public_key = "Zx81kPq02LmNv7Tr55Ws"', false],
  ['author = "Zx81kPq02LmNv7Tr55Ws"', false],
  ['password = "%s"', false],
  ['password: "{{ .Values.db.password }}"', false],
  ["password: production", true],
  ["The token: is described below", true],
  ["password = hunter2hunter2", false],
];

describe("findGenericSecrets", () => {
  for (const [line, unquoted, value] of TRUE_POSITIVES) {
    test(`finds ${line}`, () => {
      const found = findGenericSecrets(line, { unquoted });
      assert.equal(found.length, 1, `expected one match in ${line}`);
      const match = found[0];
      assert.equal(match?.secret, value);
      assert.equal(line.slice(match?.start, match?.end), value);
    });
  }

  for (const [line, unquoted] of FALSE_POSITIVES) {
    test(`ignores ${line} (unquoted ${unquoted})`, () => {
      assert.deepEqual(findGenericSecrets(line, { unquoted }), []);
    });
  }

  test("offsets point into multi-line text", () => {
    const text = "a: 1\n\npassword: hunter2hunter2\n";
    const [match] = findGenericSecrets(text, { unquoted: true });
    assert.equal(match?.start, text.indexOf("hunter2"));
    assert.equal(match?.ruleId, "secret/generic-password");
  });

  test("a weak password is medium, a long random key is high", () => {
    const [weak] = findGenericSecrets('password = "hunter2hunter2"', { unquoted: false });
    const [strong] = findGenericSecrets('api_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYzKeyQ0t9Xa1b"', {
      unquoted: false,
    });
    assert.equal(weak?.severity, "medium");
    assert.equal(strong?.severity, "high");
    assert.equal(strong?.ruleId, "secret/generic-api-key");
  });
});

describe("credentialKind", () => {
  const cases: Array<[string, ReturnType<typeof credentialKind>]> = [
    ["password", "password"],
    ["DB_PASSWD", "password"],
    ["apiKey", "secret"],
    ["APIKey", "secret"],
    ["AWS_SECRET_ACCESS_KEY", "secret"],
    ["x-api-key", "secret"],
    ["githubToken", "secret"],
    ["client_secret", "secret"],
    ["_authToken", "secret"],
    ["secret_name", undefined],
    ["password_hash", undefined],
    ["token_url", undefined],
    ["page_token", undefined],
    ["public_key", undefined],
    ["sort_key", undefined],
    ["author", undefined],
  ];
  for (const [name, kind] of cases) {
    test(`${name} → ${kind ?? "not a credential"}`, () => assert.equal(credentialKind(name), kind));
  }
});
