/**
 * How the PostgreSQL backend finds and authenticates to its server. Wrong passwords are tested
 * against src/store/testing/fake-postgres.ts (the shared server trusts local connections, so it
 * never checks one), which follows the protocol's Start-up message flow and error code 28P01;
 * unknown databases, unknown users and a dead port against the real server on 127.0.0.1.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { type ErrorCode, isKeywardError, type KeywardError } from "../core/errors.js";
import { Envelope } from "../crypto/envelope.js";
import { PostgresStore, postgresBackend } from "./postgres.js";
import { postgresOptions, readPgpass, resolveTarget } from "./postgres-connect.js";
import { FakePostgres } from "./testing/fake-postgres.js";
import { PG_TEST_ENV, pgOptions, testSchema } from "./testing/postgres.js";

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-pgconn-"));
  dirs.push(dir);
  return dir;
}

function pgpassFile(text: string, mode = 0o600): string {
  const file = join(tempDir(), "pgpass");
  writeFileSync(file, text);
  chmodSync(file, mode);
  return file;
}

/** Opening through `options`, expecting a KeywardError of `code` whose message has `mentions`. */
async function openFails(
  options: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  code: ErrorCode,
  ...mentions: string[]
): Promise<KeywardError> {
  let caught: KeywardError | undefined;
  await assert.rejects(
    PostgresStore.open(postgresOptions.parse(options), env, async (h) =>
      Envelope.unlock(randomBytes(32), h, "test key"),
    ),
    (e: unknown) => {
      assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
      assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
      for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" lacks "${m}"`);
      assert.ok(e.fix !== undefined && e.fix.length > 0);
      caught = e;
      return true;
    },
  );
  return caught as KeywardError;
}

describe("postgres options", () => {
  const issues = (input: unknown) => {
    const r = postgresOptions.safeParse(input);
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };

  it("fills defaults: schema keyward, application name keyward, pool of 4, 7-day feed retention", () => {
    assert.deepEqual(postgresOptions.parse({}), {
      schema: "keyward",
      applicationName: "keyward",
      poolSize: 4,
      changeRetention: "7d",
    });
  });

  it("refuses a password in the url without echoing it", () => {
    for (const url of [
      "postgres://app:s3cret-pw@db:5432/keyward",
      "postgres://app@db/keyward?password=s3cret-pw",
    ]) {
      const found = issues({ url });
      assert.deepEqual(found, ["url: holds a password"]);
      assert.ok(!JSON.stringify(postgresOptions.safeParse({ url })).includes("s3cret-pw"));
    }
  });

  it("refuses url together with host fields, unknown url parameters, bad schema names and unknown keys", () => {
    assert.deepEqual(issues({ url: "postgres://db/x", host: "db" }), [
      "host: is set together with url",
    ]);
    assert.match(issues({ url: "postgres://db/x?connect_timeout=3" })[0] ?? "", /connect_timeout/);
    assert.match(issues({ url: "mysql://db/x" })[0] ?? "", /must start with postgres:\/\//);
    assert.equal(issues({ schema: "Bad-Name" }).length, 1);
    assert.equal(issues({ schema: "x".repeat(41) }).length, 1);
    assert.equal(issues({ password: "nope" }).length, 1, "strict: no password field");
    assert.equal(issues({ passwordEnv: "1BAD" }).length, 1);
    assert.equal(issues({ changeRetention: "a week" }).length, 1);
  });
});

describe("postgres connection target", () => {
  it("takes explicit settings, then the url, then PG* variables, then defaults", () => {
    const env = { PGHOST: "env-host", PGPORT: "6543", PGUSER: "env-user", HOME: "/nonexistent" };
    const fromEnv = resolveTarget(postgresOptions.parse({}), env);
    assert.equal(fromEnv.location, "postgres://env-user@env-host:6543/env-user");
    const fromUrl = resolveTarget(
      postgresOptions.parse({ url: "postgresql://app%40corp@db.internal/secrets?sslmode=disable" }),
      env,
    );
    assert.deepEqual(
      [fromUrl.host, fromUrl.port, fromUrl.user, fromUrl.database],
      ["db.internal", 6543, "app@corp", "secrets"],
    );
    const explicit = resolveTarget(
      postgresOptions.parse({ host: "h", port: 1234, user: "u", database: "d" }),
      env,
    );
    assert.equal(explicit.location, "postgres://u@h:1234/d");
    const socket = resolveTarget(
      postgresOptions.parse({ url: "postgres:///kw?host=/var/run/postgresql" }),
      { HOME: "/nonexistent", PGUSER: "me" },
    );
    assert.deepEqual(
      [socket.host, socket.port, socket.database],
      ["/var/run/postgresql", 5432, "kw"],
    );
  });

  it("a bad PGPORT or sslmode is a config error naming it", () => {
    assert.throws(
      () => resolveTarget(postgresOptions.parse({}), { PGPORT: "abc" }),
      (e: unknown) => isKeywardError(e) && e.code === "config_invalid" && /PGPORT/.test(e.message),
    );
    assert.throws(
      () => resolveTarget(postgresOptions.parse({}), { PGSSLMODE: "prefer" }),
      (e: unknown) => isKeywardError(e) && /sslmode "prefer"/.test(e.message),
    );
  });

  it("reads ~/.pgpass as libpq does: first match, wildcards, escapes, comments; an open file is ignored", () => {
    const target = { host: "db", port: 5432, database: "kw", user: "app" };
    const file = pgpassFile(
      [
        "# comment line",
        "other:5432:kw:app:not-this-one",
        "db:5432:kw:app:pa\\:ss\\\\word:with:colons",
        "*:*:*:*:fallback",
      ].join("\n"),
    );
    assert.deepEqual(readPgpass(file, target), { password: "pa:ss\\word:with:colons", line: 3 });
    assert.deepEqual(readPgpass(file, { ...target, host: "elsewhere" }), {
      password: "fallback",
      line: 4,
    });
    const socket = readPgpass(pgpassFile("localhost:5432:kw:app:via-socket\n"), {
      ...target,
      host: "/run/postgresql",
    });
    assert.equal(socket.password, "via-socket");
    const open = readPgpass(pgpassFile("*:*:*:*:pw\n", 0o644), target);
    assert.equal(open.password, undefined);
    assert.match("why" in open ? open.why : "", /readable by group or others/);
  });

  it("status shows the password's source, never the password", () => {
    const file = pgpassFile("*:*:*:*:from-the-file\n");
    const options = pgOptions("keyward");
    const cases: Array<[NodeJS.ProcessEnv, RegExp, string]> = [
      [{ PGPASSWORD: "from-env-pw", PGPASSFILE: file }, /password from PGPASSWORD/, "from-env-pw"],
      [{ PGPASSFILE: file }, /password from .*pgpass line 1/, "from-the-file"],
      [{ HOME: "/nonexistent" }, /tried: PGPASSWORD is not set; .* does not exist/, ""],
    ];
    for (const [env, shown, secret] of cases) {
      const { auth } = postgresBackend.facts(options, { env });
      assert.match(auth, shown);
      if (secret !== "") assert.ok(!auth.includes(secret));
      assert.match(auth, /sslmode disable/);
    }
  });
});

describe("postgres connection failures", () => {
  it("a wrong password is upstream_unauthorized naming the source tried, never the password", async () => {
    const fake = await FakePostgres.start();
    try {
      const base = { host: "127.0.0.1", port: fake.port, user: "app", database: "kw" };
      const file = pgpassFile(`127.0.0.1:${fake.port}:kw:app:from-pgpass-file\n`);
      const cases: Array<[Record<string, unknown>, NodeJS.ProcessEnv, string, string]> = [
        [
          { passwordEnv: "KW_DB_PASSWORD" },
          { KW_DB_PASSWORD: "from-named-var", PGPASSWORD: "from-pgpassword", PGPASSFILE: file },
          "from-named-var",
          "password from KW_DB_PASSWORD (passwordEnv)",
        ],
        [
          { passwordEnv: "KW_DB_PASSWORD" },
          { PGPASSWORD: "from-pgpassword", PGPASSFILE: file },
          "from-pgpassword",
          "password from PGPASSWORD",
        ],
        [{}, { PGPASSFILE: file }, "from-pgpass-file", `password from ${file} line 1`],
      ];
      for (const [extra, env, sent, source] of cases) {
        const e = await openFails({ ...base, ...extra }, env, "upstream_unauthorized", source);
        assert.match(
          e.message,
          new RegExp(`127\\.0\\.0\\.1:${fake.port}/kw rejected the password for user app`),
        );
        assert.equal(fake.passwords.at(-1), sent, "the password came from the named source");
        assert.ok(!JSON.stringify(e).includes(sent) && !(e.stack ?? "").includes(sent));
      }
      assert.equal(fake.startups.at(-1)?.application_name, "keyward");
    } finally {
      await fake.close();
    }
  });

  it("no password anywhere, when the server asks for one, lists every source tried", async () => {
    const fake = await FakePostgres.start();
    try {
      await openFails(
        { host: "127.0.0.1", port: fake.port, user: "app", database: "kw", passwordEnv: "KW_PW" },
        { HOME: "/nonexistent" },
        "upstream_unauthorized",
        "asked for a password and none was found",
        "KW_PW (passwordEnv) is not set",
        "PGPASSWORD is not set",
        "/nonexistent/.pgpass does not exist",
      );
      assert.deepEqual(fake.passwords, [], "nothing was sent");
    } finally {
      await fake.close();
    }
  });

  it("an unknown database is config_invalid naming it", async () => {
    const database = `kw_no_such_db_${randomBytes(4).toString("hex")}`;
    await openFails(
      { host: "127.0.0.1", port: 5432, user: "postgres", database },
      PG_TEST_ENV,
      "config_invalid",
      `database ${database} does not exist`,
    );
  });

  it("an unknown user is upstream_unauthorized naming the user", async () => {
    await openFails(
      { host: "127.0.0.1", port: 5432, user: "kw_no_such_role", database: "test" },
      PG_TEST_ENV,
      "upstream_unauthorized",
      "refused user kw_no_such_role",
    );
  });

  it("a server that is down (a closed port) is upstream_unavailable naming host and port", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const port = typeof address === "object" && address !== null ? address.port : 1;
    await openFails(
      { host: "127.0.0.1", port, user: "postgres", database: "test", schema: testSchema("down") },
      PG_TEST_ENV,
      "upstream_unavailable",
      `postgres://postgres@127.0.0.1:${port}/test refused the connection`,
    );
  });
});
