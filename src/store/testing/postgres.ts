/**
 * The real PostgreSQL server the tests use (127.0.0.1:5432, trust auth, database `test`), and
 * the one rule they follow: every store lives in a schema of its own, named with a random
 * suffix, and dropped when the test is done, so test files and other workers never collide.
 */
import { randomBytes } from "node:crypto";
import pg from "pg";
import { type PostgresOptions, postgresOptions } from "../postgres-connect.js";

export const PG_TEST = { host: "127.0.0.1", port: 5432, user: "postgres", database: "test" };

/** The environment the tests give the store: no PG* variables, no password file. */
export const PG_TEST_ENV: NodeJS.ProcessEnv = { HOME: "/nonexistent-keyward-test-home" };

/** A fresh schema name, `kwt_<tag>_<random>` (at most 40 characters). */
export function testSchema(tag: string): string {
  return `kwt_${tag.slice(0, 20)}_${randomBytes(6).toString("hex")}`;
}

/** Parsed store options for the test server, as the config loader would produce them. */
export function pgOptions(schema: string, extra: Record<string, unknown> = {}): PostgresOptions {
  return postgresOptions.parse({ ...PG_TEST, schema, ...extra });
}

/** Runs `fn` on a plain connection to the test database (the DBA's view of the tables). */
export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ ...PG_TEST, application_name: "keyward-test-admin" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function dropSchema(schema: string): Promise<void> {
  await withAdmin((c) => c.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
}

/** Every row of every table of `schema` as text (bytea as latin1), for no-leak checks. */
export async function schemaDump(schema: string): Promise<string> {
  return withAdmin(async (c) => {
    const tables = await c.query<{ t: string }>(
      "SELECT tablename AS t FROM pg_tables WHERE schemaname = $1",
      [schema],
    );
    let text = "";
    for (const { t } of tables.rows) {
      const rows = await c.query(`SELECT * FROM "${schema}"."${t}"`);
      text += JSON.stringify(rows.rows, (_k, v) =>
        v?.type === "Buffer" ? Buffer.from(v.data).toString("latin1") : v,
      );
    }
    return text;
  });
}

/** The server pids of this database's sessions with `applicationName`. */
export async function backendPids(applicationName: string): Promise<number[]> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE application_name = $1 ORDER BY pid",
      [applicationName],
    );
    return rows.map((r) => r.pid);
  });
}

/** What a server restart looks like to a client: its sessions end with SQLSTATE 57P01. */
export async function terminateBackends(applicationName: string): Promise<number> {
  return withAdmin(async (c) => {
    const { rows } = await c.query<{ done: boolean }>(
      "SELECT pg_terminate_backend(pid) AS done FROM pg_stat_activity WHERE application_name = $1",
      [applicationName],
    );
    return rows.filter((r) => r.done).length;
  });
}
