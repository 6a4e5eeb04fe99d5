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
  // aligned assignments (Terraform, INI, Go constant blocks)
  ['  password               = "Tf!9xLq2#Wm7Zr4K"', false, "Tf!9xLq2#Wm7Zr4K"],
  ["db_password\t\t\t\t= Qz7#pLm2Vx9", true, "Qz7#pLm2Vx9"],
  // a credential-named string argument, then a literal
  ["define( 'DB_PASSWORD', 'gH4!vT9q@Lz2xWp8' );", false, "gH4!vT9q@Lz2xWp8"],
  [
    'buildConfigField("String", "ANALYTICS_WRITE_KEY", "\\"G3bR7dSpaIOItltztHKcMa4MYPiylY6s\\"")',
    false,
    "G3bR7dSpaIOItltztHKcMa4MYPiylY6s",
  ],
  ['os.environ.setdefault("API_TOKEN", "Zx81kPq02LmNv7Tr55Ws")', false, "Zx81kPq02LmNv7Tr55Ws"],
  // a literal wrapped in a conversion
  [
    'var fallbackSecret = []byte("wKBSqVi3fWibyjYfNUiMcdEQP193LNZ1swLXslef")',
    false,
    "wKBSqVi3fWibyjYfNUiMcdEQP193LNZ1swLXslef",
  ],
  [
    'const ENCRYPTION_KEY = Buffer.from("f45b654d1344e81c32960cbffe8897451ca8adb3e1e8cb656e9b700c279c4067", "hex");',
    false,
    "f45b654d1344e81c32960cbffe8897451ca8adb3e1e8cb656e9b700c279c4067",
  ],
  ['SIGNING_KEY = b"Zx81kPq02LmNv7Tr55Ws"', false, "Zx81kPq02LmNv7Tr55Ws"],
  // `<word>_key` of no known purpose, with a generated-looking value
  [
    "fernet_key = U76hbDHX_GJyL1nANa2ObLHBwTmgOgtec3KZRtnK5jU=",
    true,
    "U76hbDHX_GJyL1nANa2ObLHBwTmgOgtec3KZRtnK5jU=",
  ],
  [
    'const legacyPartnerKey = "34b9504fa804f08b87a59f36fc179871"',
    false,
    "34b9504fa804f08b87a59f36fc179871",
  ],
  [
    'EVAL_WANDB_KEY = "1556fc02e0cd180d72612429e2d686228899ee0d"',
    false,
    "1556fc02e0cd180d72612429e2d686228899ee0d",
  ],
  [
    '<machineKey validationKey="E825371C30E051F203997BB5DF5079EEEA4904940733C22C" validation="HMACSHA256" />',
    false,
    "E825371C30E051F203997BB5DF5079EEEA4904940733C22C",
  ],
  // key=value connection strings
  [
    '"Orders": "Server=tcp:db.internal,1433;User ID=app;Password=Qz8!rT4v#Lp2Wx9m;Encrypt=True;"',
    false,
    "Qz8!rT4v#Lp2Wx9m",
  ],
  [
    '<add name="Legacy" connectionString="Data Source=sql01;User Id=app;Pwd=Legacy#Orders2019;" />',
    false,
    "Legacy#Orders2019",
  ],
  [
    '"Blob": "DefaultEndpointsProtocol=https;AccountName=acme;AccountKey=Jkg8z5C8FEPj2XYW5bgFG8jraTK1XLAmTibYbZ0ykW0d==;EndpointSuffix=core.windows.net"',
    false,
    "Jkg8z5C8FEPj2XYW5bgFG8jraTK1XLAmTibYbZ0ykW0d==",
  ],
  [
    "Endpoint=sb://acme.servicebus.windows.net/;SharedAccessKeyName=Root;SharedAccessKey=Zx81kPq02LmNv7Tr55Ws=",
    true,
    "Zx81kPq02LmNv7Tr55Ws=",
  ],
  // passwords on command lines
  [
    "mysqldump -h db01 -u backup -p'Bk!up#Portal2023' --single-transaction portal",
    true,
    "Bk!up#Portal2023",
  ],
  ["mysql -u root -pQz7pLm2Vx9Kw orders < dump.sql", true, "Qz7pLm2Vx9Kw"],
  ['exec("docker login --password=Qz7#pLm2Vx9Kw ghcr.io")', false, "Qz7#pLm2Vx9Kw"],
  ["curl --token Zx81kPq02LmNv7Tr55Ws https://api.internal", true, "Zx81kPq02LmNv7Tr55Ws"],
  ["PGPASSWORD=Qz7#pLm2Vx9 psql -h db -U app", true, "Qz7#pLm2Vx9"],
  // name/value pairs on one line
  ['{"name": "DB_PASSWORD", "value": "Qz7#pLm2Vx9"}', false, "Qz7#pLm2Vx9"],
  ['{ name = "STRIPE_SECRET", value = "Zx81kPq02LmNv7Tr55Ws" }', false, "Zx81kPq02LmNv7Tr55Ws"],
  // a password may be a plain snake-case phrase; other secrets may not
  ["<password>inventory_local_pw</password>", false, "inventory_local_pw"],
  // setters, fallbacks and defaults, auth classes, commands, macros
  ['user.setPassword("Qz7#pLm2Vx9e");', false, "Qz7#pLm2Vx9e"],
  ['builder.apiKey("Zx81kPq02LmNv7Tr55Ws").build()', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['let password = String::from("Qz7#pLm2Vx9e");', false, "Qz7#pLm2Vx9e"],
  ['const apiKey = process.env.API_KEY || "Zx81kPq02LmNv7Tr55Ws";', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['new Client(process.env["API_KEY"] ?? "Zx81kPq02LmNv7Tr55Ws")', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['val key = System.getenv("API_KEY") ?: "Zx81kPq02LmNv7Tr55Ws"', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['token = os.environ.get("TOKEN") or "Zx81kPq02LmNv7Tr55Ws"', false, "Zx81kPq02LmNv7Tr55Ws"],
  [`      POSTGRES_PASSWORD: ${"$"}{POSTGRES_PASSWORD:-Qz7pLm2Vx9e}`, true, "Qz7pLm2Vx9e"],
  [`spring.datasource.password=${"$"}{DB_PASSWORD:Qz7pLm2Vx9e}`, true, "Qz7pLm2Vx9e"],
  ['requests.get(url, auth=("deploy", "Qz7#pLm2Vx9e"))', false, "Qz7#pLm2Vx9e"],
  ['var credential = new NetworkCredential("deploy", "Qz7#pLm2Vx9e");', false, "Qz7#pLm2Vx9e"],
  ['session.auth = aiohttp.BasicAuth("deploy", "Qz7#pLm2Vx9e")', false, "Qz7#pLm2Vx9e"],
  ["machine api.internal login bot password Qz7#pLm2Vx9e", true, "Qz7#pLm2Vx9e"],
  ["curl -u deploy:Qz7#pLm2Vx9e https://api.internal/x", true, "Qz7#pLm2Vx9e"],
  ["curl -sS --user 'deploy:Qz7#pLm2Vx9e' https://api.internal/x", true, "Qz7#pLm2Vx9e"],
  ["sshpass -p 'Qz7#pLm2Vx9e' ssh root@10.0.0.5", true, "Qz7#pLm2Vx9e"],
  ["mvn deploy -Drepo.password=Qz7#pLm2Vx9e", true, "Qz7#pLm2Vx9e"],
  ['#define API_KEY "Zx81kPq02LmNv7Tr55Ws"', false, "Zx81kPq02LmNv7Tr55Ws"],
  ['static NSString *const kApiKey = @"Zx81kPq02LmNv7Tr55Ws";', false, "Zx81kPq02LmNv7Tr55Ws"],
  // command-line clients and PowerShell
  ["docker login -u ci -p Qz7#pLm2Vx9e registry.internal", true, "Qz7#pLm2Vx9e"],
  ["docker login --password 'Qz7#pLm2Vx9e' --username ci ghcr.io", true, "Qz7#pLm2Vx9e"],
  ["redis-cli -h cache.internal -a Qz7#pLm2Vx9e ping", true, "Qz7#pLm2Vx9e"],
  ["sqlcmd -S db.internal -U sa -P 'Qz7#pLm2Vx9e' -Q 'SELECT 1'", true, "Qz7#pLm2Vx9e"],
  ["mongosh --host db -u admin -p Qz7#pLm2Vx9e", true, "Qz7#pLm2Vx9e"],
  ['$secure = ConvertTo-SecureString "Qz7#pLm2Vx9e" -AsPlainText -Force', false, "Qz7#pLm2Vx9e"],
  // XML named by attributes, and a Gradle DSL line
  ['<property name="password" value="Qz7#pLm2Vx9e"/>', false, "Qz7#pLm2Vx9e"],
  ['<property name="hibernate.connection.password">Qz7#pLm2Vx9e</property>', false, "Qz7#pLm2Vx9e"],
  [
    '<string name="api_key" translatable="false">Zx81kPq02LmNv7Tr55Ws</string>',
    false,
    "Zx81kPq02LmNv7Tr55Ws",
  ],
  ["            password 'Qz7#pLm2Vx9e'", false, "Qz7#pLm2Vx9e"],
  // base64 of random bytes, or of a real-looking user:password pair
  ['auth: "dXNlcjpRejcjcExtMlZ4OUt3"', false, "dXNlcjpRejcjcExtMlZ4OUt3"],
  // base32 (a TOTP seed) is upper case and digits: not words
  ['totp_secret = "JBSWY3DPEHPK3PXPJBSWY3DP"', false, "JBSWY3DPEHPK3PXPJBSWY3DP"],
  // a value that shares one word with its name still counts
  ['const API_TOKEN = "token-9f8Kq2Lm7Zx41pQw"', false, "token-9f8Kq2Lm7Zx41pQw"],
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
  // references, identifiers and file references
  ["existingSecret: search-es-credentials", true],
  ["secretName: search-es-credentials", true],
  ["- Auth: `client_secret` rotation no longer logs out existing sessions (#799)", true],
  ["vault kv put secret/platform/jwt private_key=@jwt-private.pem", true],
  ["SONAR_TOKEN    = credentials('sonar-token')", true],
  ["SONAR_TOKEN    = credentials('sonar-token')", false],
  ["token = value[4:-6]", true],
  ['RELATED_TASK_META_KEY = "io.modelcontextprotocol/related-task"', false],
  ['cache_key = "Zx81kPq02LmNv7Tr55WsZx81kPq02LmNv7"', false],
  ['lastSignificantToken = "?NonExpressionParenKeyword"', false],
  ["'allPass': 'overEvery',", false],
  // placeholders, samples and test values
  ["SENDGRID_API_KEY=your-sendgrid-api-key", true],
  ["POSTGRES_PASSWORD: circle_test", true],
  ['private static final String WRONG_PASSWORD = "not-the-password";', false],
  ['"api_token": "test_token_agent_0001",', false],
  ["headers: { 'X-TOKEN-SECRET': 'SuperSecretToken' },", false],
  ["const pass = 'pa$$word'", false],
  ["idToken: 'eyJhbGciOiJS...',", false],
  ["password: (?i)pass(word)?\\s*=", true],
  // public by design: a README badge's query
  [
    "[![codecov](https://codecov.io/gh/o/r/branch/main/graph/badge.svg?token=yZL6LtXkOA)](https://codecov.io)",
    true,
  ],
  // not a call argument, not a connection string, not a MySQL password flag
  [
    '"args": ["run", "-e", "BRAVE_API_KEY", "mcp/brave-search@sha256:8f7e6d5c4b3a29180f1e2d3c4b5a6978"]',
    false,
  ],
  ["let retries = 1; password = getPassword(user);", false],
  ["mysql -P 3306 -h db -u app -p", true],
  ['<machineKey validationKey="AutoGenerate,IsolateApps" />', false],
  // names, not values: a header named after its constant, identifiers, a host
  ['export const X_AWS_EC2_METADATA_TOKEN = "x-aws-ec2-metadata-token";', false],
  ["ACCESS_KEY = 'AWSAccessKeyId'", false],
  ['"result_key": "S3AccessPointAttachments"', false],
  ['"S3Key": "867139942017-PHIDetection-4750034166536cdb52ffa3295a1b00a3/"', false],
  ["('User:Pass', 'www.python.org:080')", false],
  // patterns in JSON schemas and code
  [
    '"pattern": "^arn:aws[A-Za-z-]*:secretsmanager:[a-z0-9-]{1,20}:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$",',
    false,
  ],
  ['TOKEN: Final = r"[!#$%&\'*+\\-.^_`|~0-9A-Za-z]{1,}"', false],
  // paging and concurrency tokens
  ["aws dynamodb list-tables --starting-token abQ9eFGhiJKlm7OPqrSTuvw3YZ1a", true],
  ['"nextForwardToken": "f/31961209122447488583055879464742346735121166569214640130",', false],
  ['"PolicyUpdateToken": "1:p+2RpKR4wPFx7mcrL1UOQQ==",', false],
  ["aws waf update-rule --change-token 12cs345-67cd-890b-1cd2-c3a4567d89f1", true],
  ['"VerificationToken": "ILQMESfEW0p6i6gIJcEWvO65TP5hg6B99hGFZ2lxrIs=",', false],
  ['"ClientToken": "cachedvol112233",', false],
  // calls that test or look up a value, empty fallbacks, required variables, shell references
  ['if (!user.checkPassword("Qz7#pLm2Vx9e")) return;', false],
  ['const claims = verifyToken("Zx81kPq02LmNv7Tr55Ws");', false],
  ['const t = getToken("Zx81kPq02LmNv7Tr55Ws");', false],
  ['const apiKey = process.env.API_KEY || "";', false],
  [`password: ${"$"}{DB_PASSWORD:?required}`, true],
  [`password: ${"$"}{DB_PASSWORD:+set}`, true],
  ["curl -u $USER:$TOKEN https://api.internal/x", true],
  ['t("auth.login", "Sign in to continue")', false],
  ['requests.get(url, auth=("deploy", os.environ["PW"]))', false],
  ["machine api.internal login bot", true],
  ["docker run -p 8080:80 -e LOG_LEVEL=debug app", true],
  ["echo $REGISTRY_PASSWORD | docker login -u ci --password-stdin", true],
  ["docker login -u ci -p $REGISTRY_PASSWORD", true],
  ["keytool -genkey -keystore app.jks -storepass:env KEYSTORE_PASSWORD", true],
  ['<string name="password_hint">Enter your password</string>', false],
  [`<property name="password" value="${"$"}{db.password}"/>`, false],
  ['Use the token "Zx81kPq02LmNv7Tr55Ws" to sign in', true],
  ["    default login anonymous password user@site", true],
  ["entry.setPassword('topS3cr3tP4$$w0rd')", false],
  // base64 of text that says it is a sample; a C++ scope; an anonymous FTP password
  ["    auth: 'aXNhYWNzOm5vdCBteSByZWFsIHBhc3N3b3Jk',", false],
  ["    password: 'bm90IG15IHJlYWwgcGFzc3dvcmQ=',", false],
  ["Proxy-Authorization: Basic dXNlcjpzM2NyM3QK", true],
  ["* **src**: hide node::credentials::HasOnly outside unit", true],
  ['passwd="anonymous@domain.org"', false],
  ["$pass = '-anonymous@'", false],
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

  test("a command with two password flags: both values", () => {
    const line =
      "keytool -importkeystore -srckeystore a.p12 -srcstorepass Qz7#pLm2Vx9e -deststorepass Vq8Lr2Zt7Kx4Pm9W -destkeystore b.jks";
    assert.deepEqual(
      findGenericSecrets(line, { unquoted: true }).map((m) => m.secret),
      ["Qz7#pLm2Vx9e", "Vq8Lr2Zt7Kx4Pm9W"],
    );
  });

  test("a Kubernetes or ECS env entry: the value on the line after the name", () => {
    const text = [
      "        env:",
      "          - name: LOG_LEVEL",
      '            value: "info"',
      "          - name: PAYPAL_CLIENT_SECRET",
      '            value: "CRA9m4nIhhq99yiSx9r30sQe0kAzN5FVdqSd34EQ2T9p"',
      "          - name: DB_PASSWORD",
      "            valueFrom:",
      "              secretKeyRef: { name: db, key: password }",
    ].join("\n");
    const found = findGenericSecrets(text, { unquoted: true });
    assert.deepEqual(
      found.map((m) => [m.key, m.secret]),
      [["PAYPAL_CLIENT_SECRET", "CRA9m4nIhhq99yiSx9r30sQe0kAzN5FVdqSd34EQ2T9p"]],
    );
    assert.equal(text.slice(found[0]?.start, found[0]?.end), found[0]?.secret);
  });

  test("in tests and fixtures only generated-looking values count", () => {
    const testCode = { unquoted: false, testCode: true };
    for (const line of [
      'const form = { username: "admin", password: "correct-horse-battery-staple" };',
      '@admin = User.create!(email: "a@b.c", password: "Passw0rd!")',
      'password = "hunter2hunter2"',
    ]) {
      assert.deepEqual(findGenericSecrets(line, testCode), [], line);
    }
    const [leaked] = findGenericSecrets(
      'api_key = "wJalrXUtnFEMIK7MDENGbPxRfiCYzKeyQ0t9Xa1b"',
      testCode,
    );
    assert.equal(leaked?.secret, "wJalrXUtnFEMIK7MDENGbPxRfiCYzKeyQ0t9Xa1b");
  });

  test("long minified lines are read around each credential word", () => {
    const filler = "a=b;".repeat(2000);
    const line = `${filler}var cfg={clientSecret:"c9F2kL0qZx81kPq02LmN"};${filler}`;
    const [match] = findGenericSecrets(line, { unquoted: false });
    assert.equal(match?.secret, "c9F2kL0qZx81kPq02LmN");
    assert.equal(line.slice(match?.start, match?.end), "c9F2kL0qZx81kPq02LmN");
  });

  test("names are read where they start: quoted, spaced, several on a line, none inside a value", () => {
    // The name-led patterns are tried only where a name holding a credential word can start;
    // these are the starts a search from every offset finds (a quote before the name, a pair name
    // with a space in it, a later name on the line), and the ones it never tries (a name inside
    // the value of an earlier match).
    const cases: Array<[line: string, unquoted: boolean, expected: string[][]]> = [
      [
        `const cfg = { "apiKey": "Zx81kPq02LmNv7Tr55Ws", db_password = 'Qz7#pLm2Vx9abc', x: 1 };`,
        false,
        [
          ["apiKey", "Zx81kPq02LmNv7Tr55Ws"],
          ["db_password", "Qz7#pLm2Vx9abc"],
        ],
      ],
      [
        `conn = "Server=db;User Password=Tf9xLq2Wm7Zr4K;Database=x";`,
        false,
        [["User Password", "Tf9xLq2Wm7Zr4K"]],
      ],
      [
        "Endpoint=sb://x/;SharedAccessKeyName=Root;SharedAccessKey=Zx81kPq02LmNv7Tr55Ws;",
        true,
        [["SharedAccessKey", "Zx81kPq02LmNv7Tr55Ws"]],
      ],
      [
        `password = "Zx81kPq02LmNv7Tr55Ws token=Qz7pLm2Vx9abcdefgh"; api_token: "G3bR7dSpaIOItltztHKcMa4M"`,
        false,
        [["api_token", "G3bR7dSpaIOItltztHKcMa4M"]],
      ],
      [
        `setenv("GITHUB_TOKEN", "Zx81kPq02LmNv7Tr55Ws")`,
        false,
        [["GITHUB_TOKEN", "Zx81kPq02LmNv7Tr55Ws"]],
      ],
      [
        `$auth.Token = "Zx81kPq02LmNv7Tr55Ws"; mysql -p x`,
        false,
        [["$auth.Token", "Zx81kPq02LmNv7Tr55Ws"]],
      ],
    ];
    for (const [line, unquoted, expected] of cases) {
      const found = findGenericSecrets(line, { unquoted });
      assert.deepEqual(
        found.map((m) => [m.key, m.secret]),
        expected,
        line,
      );
      for (const m of found) assert.equal(line.slice(m.start, m.end), m.secret);
    }
  });

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
    ["S3Key", undefined],
    ["nextForwardToken", undefined],
    ["sessionToken", "secret"],
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
    ["PGPASSWORD", "password"],
    ["existingSecret", undefined],
    ["secretRef", undefined],
    ["fernet_key", "named-key"],
    ["legacyPartnerKey", "named-key"],
    ["AccountKey", "secret"],
    ["cache_key", undefined],
    ["translationKey", undefined],
  ];
  for (const [name, kind] of cases) {
    test(`${name} → ${kind ?? "not a credential"}`, () => assert.equal(credentialKind(name), kind));
  }
});
