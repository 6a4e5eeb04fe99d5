/**
 * How the PostgreSQL backend finds its server: the `store:` options, resolved the way libpq
 * resolves a connection (explicit setting, then the PG* environment variables, then defaults),
 * the password sources, and PostgreSQL failures turned into KeywardErrors that say what was tried.
 * Documents followed: libpq "Connection Strings", "Environment Variables" and "The Password File"
 * (https://www.postgresql.org/docs/current/libpq-connect.html, libpq-envars.html, libpq-pgpass.html)
 * and "PostgreSQL Error Codes" (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 */
import { readFileSync, statSync } from "node:fs";
import { homedir, userInfo } from "node:os";
import { join } from "node:path";
import type pg from "pg";
import * as z from "zod";
import { DURATION_PATTERN } from "../core/duration.js";
import { KeywardError } from "../core/errors.js";

/** How long connecting may take before it counts as a failure. */
const CONNECT_TIMEOUT_MS = 10_000;

const PG_ENV_VAR = /^[A-Za-z_][A-Za-z0-9_]*$/;

export const postgresOptions = z
  .strictObject({
    url: z
      .string()
      .optional()
      .describe(
        "Connection URL without a password, e.g. postgres://keyward@db.internal:5432/secrets?sslmode=verify-full. Use either url or host/port/database/user.",
      ),
    host: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Server host name or address, or a Unix socket folder (default PGHOST, then localhost).",
      ),
    port: z
      .number()
      .int()
      .min(1)
      .max(65535)
      .optional()
      .describe("Server port (default PGPORT, then 5432)."),
    database: z
      .string()
      .min(1)
      .optional()
      .describe("Database name (default PGDATABASE, then the user name)."),
    user: z
      .string()
      .min(1)
      .optional()
      .describe("Database user (default PGUSER, then the operating-system user)."),
    passwordEnv: z
      .string()
      .regex(PG_ENV_VAR, { error: "is not a valid environment variable name" })
      .optional()
      .describe(
        "Name of an environment variable holding the password, tried before PGPASSWORD and ~/.pgpass. The password itself never goes in the config.",
      ),
    schema: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,39}$/, {
        error: "must be 1–40 lowercase letters, digits or _, not starting with a digit",
      })
      .default("keyward")
      .describe("The schema holding keyward's tables (one store per schema)."),
    applicationName: z
      .string()
      .regex(/^[\x20-\x7e]{1,50}$/, { error: "must be 1–50 printable ASCII characters" })
      .default("keyward")
      .describe("application_name shown in pg_stat_activity and the server log."),
    sslmode: z
      .enum(["disable", "require", "verify-ca", "verify-full"])
      .optional()
      .describe("TLS to the server, as libpq's sslmode (default PGSSLMODE, then disable)."),
    sslRootCert: z
      .string()
      .min(1)
      .optional()
      .describe("CA certificate file for verify-ca / verify-full (default PGSSLROOTCERT)."),
    poolSize: z
      .number()
      .int()
      .min(1)
      .max(50)
      .default(4)
      .describe("Most connections one keyward process opens for reads and writes."),
    changeRetention: z
      .string()
      .regex(DURATION_PATTERN, { error: "is not a duration" })
      .default("7d")
      .describe(
        "How long change-feed rows are kept; a follower offline longer re-reads everything.",
      ),
  })
  .superRefine((o, ctx) => {
    if (o.url === undefined) return;
    const fields = (["host", "port", "database", "user"] as const).filter(
      (f) => o[f] !== undefined,
    );
    if (fields.length > 0) {
      ctx.addIssue({
        code: "custom",
        path: [fields[0] as string],
        message: "is set together with url",
        params: { fix: "put the connection in url or in host/port/database/user, not both" },
      });
    }
    const problem = urlProblem(o.url);
    if (problem !== undefined) {
      ctx.addIssue({ code: "custom", path: ["url"], message: problem.message, params: problem });
    }
  });

export type PostgresOptions = z.output<typeof postgresOptions>;

/** Where the connection goes and how it authenticates; `location` and `passwordSource` are for messages. */
export interface PgTarget {
  host: string;
  port: number;
  database: string;
  user: string;
  schema: string;
  applicationName: string;
  /** postgres://user@host:port/database — never a password. */
  location: string;
  /** Which source supplied the password, or which were tried when none did. */
  passwordSource: string;
  sslmode: string;
  /** Options for pg.Client / pg.Pool, password included (as a function, so it is never logged). */
  clientConfig(applicationName: string): pg.ClientConfig;
}

interface UrlParts {
  host?: string;
  port?: number;
  database?: string;
  user?: string;
  sslmode?: string;
  sslrootcert?: string;
}

const URL_PARAMS = new Set(["sslmode", "sslrootcert", "host"]);

function urlProblem(url: string): { message: string; fix: string } | undefined {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Never echo the text: a malformed URL may still hold a password.
    return {
      message: "is not a valid URL",
      fix: "write postgres://user@host:5432/database",
    };
  }
  if (parsed.protocol !== "postgres:" && parsed.protocol !== "postgresql:") {
    return {
      message: "must start with postgres://",
      fix: "write postgres://user@host:5432/database",
    };
  }
  if (parsed.password !== "" || parsed.searchParams.has("password")) {
    return {
      message: "holds a password",
      fix: "remove it from the config; set PGPASSWORD, a ~/.pgpass line, or an environment variable named by passwordEnv",
    };
  }
  for (const key of parsed.searchParams.keys()) {
    if (!URL_PARAMS.has(key)) {
      return {
        message: `has the parameter ${JSON.stringify(key.slice(0, 40))}, which keyward does not read`,
        fix: "keyward reads host, sslmode and sslrootcert from the URL; set the rest as store: options",
      };
    }
  }
  return undefined;
}

function parseUrl(url: string): UrlParts {
  const problem = urlProblem(url);
  if (problem !== undefined) {
    throw new KeywardError("config_invalid", `the store url ${problem.message}`, problem.fix);
  }
  const u = new URL(url);
  const parts: UrlParts = {};
  const socketHost = u.searchParams.get("host");
  const host = socketHost ?? decodeURIComponent(u.hostname).replace(/^\[(.*)\]$/, "$1");
  if (host !== "") parts.host = host;
  if (u.port !== "") parts.port = Number(u.port);
  const database = decodeURIComponent(u.pathname.replace(/^\//, ""));
  if (database !== "") parts.database = database;
  if (u.username !== "") parts.user = decodeURIComponent(u.username);
  const sslmode = u.searchParams.get("sslmode");
  if (sslmode !== null) parts.sslmode = sslmode;
  const sslrootcert = u.searchParams.get("sslrootcert");
  if (sslrootcert !== null) parts.sslrootcert = sslrootcert;
  return parts;
}

/** Resolves options and environment into a connection target, as libpq would. */
export function resolveTarget(options: PostgresOptions, env: NodeJS.ProcessEnv): PgTarget {
  const fromUrl = options.url === undefined ? {} : parseUrl(options.url);
  const host = options.host ?? fromUrl.host ?? (env.PGHOST || "localhost");
  const portText = options.port ?? fromUrl.port ?? (env.PGPORT || "5432");
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new KeywardError(
      "config_invalid",
      `the PostgreSQL port ${JSON.stringify(String(portText).slice(0, 20))} (from PGPORT) is not a port number`,
      "set PGPORT or the store's port to a number between 1 and 65535",
    );
  }
  const user = options.user ?? fromUrl.user ?? (env.PGUSER || osUser());
  const database = options.database ?? fromUrl.database ?? (env.PGDATABASE || user);
  const sslmode = options.sslmode ?? fromUrl.sslmode ?? (env.PGSSLMODE || "disable");
  const rootCert = options.sslRootCert ?? fromUrl.sslrootcert ?? env.PGSSLROOTCERT;
  const ssl = sslConfig(sslmode, rootCert);
  const location = `postgres://${encodeURIComponent(user)}@${host.includes(":") ? `[${host}]` : host}:${port}/${encodeURIComponent(database)}`;
  const found = findPassword(options.passwordEnv, env, { host, port, database, user });
  return {
    host,
    port,
    database,
    user,
    schema: options.schema,
    applicationName: options.applicationName,
    location,
    passwordSource: found.source,
    sslmode,
    clientConfig: (applicationName) => ({
      host,
      port,
      database,
      user,
      ssl,
      application_name: applicationName,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      keepAlive: true,
      // Asked only when the server wants a password; none found is a clear error, not an empty one.
      password: async () => {
        if (found.password === undefined) {
          throw new KeywardError(
            "upstream_unauthorized",
            `PostgreSQL at ${location} asked for a password and none was found (${found.source})`,
            "set PGPASSWORD, add a ~/.pgpass line for this server, or name an environment variable with the store's passwordEnv",
          );
        }
        return found.password;
      },
    }),
  };
}

/** How the store authenticates, for `keyward status`: user, password source, TLS; never the password. */
export function authSummary(options: PostgresOptions, env: NodeJS.ProcessEnv): string {
  try {
    const t = resolveTarget(options, env);
    return `PostgreSQL user ${t.user} at ${t.location}; ${t.passwordSource}; sslmode ${t.sslmode}`;
  } catch (e) {
    return `PostgreSQL connection not resolvable: ${e instanceof Error ? e.message : String(e)}`;
  }
}

function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "postgres";
  }
}

function sslConfig(mode: string, rootCert: string | undefined): pg.ClientConfig["ssl"] {
  const ca = (): { ca?: string } => {
    if (rootCert === undefined) return {};
    try {
      return { ca: readFileSync(rootCert, "utf8") };
    } catch (e) {
      throw new KeywardError(
        "config_invalid",
        `the PostgreSQL CA certificate ${rootCert} could not be read (${(e as NodeJS.ErrnoException).code ?? "error"})`,
        "point sslRootCert (or PGSSLROOTCERT) at a readable PEM file",
      );
    }
  };
  switch (mode) {
    case "disable":
      return false;
    case "require":
      return { rejectUnauthorized: false };
    case "verify-ca":
      // The chain is checked, the host name is not: libpq's verify-ca.
      return { ...ca(), rejectUnauthorized: true, checkServerIdentity: () => undefined };
    case "verify-full":
      return { ...ca(), rejectUnauthorized: true };
    default:
      throw new KeywardError(
        "config_invalid",
        `sslmode ${JSON.stringify(mode.slice(0, 20))} is not supported`,
        "use disable, require, verify-ca or verify-full",
      );
  }
}

interface PasswordFound {
  password?: string;
  source: string;
}

/**
 * The password, from the first source that has one: the variable named by passwordEnv,
 * PGPASSWORD, then the password file (PGPASSFILE or ~/.pgpass), as libpq orders them.
 */
function findPassword(
  passwordEnv: string | undefined,
  env: NodeJS.ProcessEnv,
  target: { host: string; port: number; database: string; user: string },
): PasswordFound {
  const tried: string[] = [];
  if (passwordEnv !== undefined) {
    const value = env[passwordEnv];
    if (value) return { password: value, source: `password from ${passwordEnv} (passwordEnv)` };
    tried.push(`${passwordEnv} (passwordEnv) is not set`);
  }
  if (env.PGPASSWORD) return { password: env.PGPASSWORD, source: "password from PGPASSWORD" };
  tried.push("PGPASSWORD is not set");
  const file = env.PGPASSFILE || join(env.HOME || homedir(), ".pgpass");
  const fromFile = readPgpass(file, target);
  if (fromFile.password !== undefined) {
    return { password: fromFile.password, source: `password from ${file} line ${fromFile.line}` };
  }
  tried.push(fromFile.why);
  return { source: `tried: ${tried.join("; ")}` };
}

/**
 * Looks the target up in a libpq password file. Hand-written because the `pgpass` package pg
 * falls back on reads process.env rather than the environment keyward was given, and is not
 * one of keyward's declared dependencies.
 */
export function readPgpass(
  file: string,
  target: { host: string; port: number; database: string; user: string },
): { password: string; line: number } | { password?: undefined; why: string } {
  let text: string;
  try {
    const mode = statSync(file).mode;
    // libpq ignores a password file that group or others can read.
    if ((mode & 0o077) !== 0) {
      return { why: `${file} is readable by group or others, so it is ignored (chmod 600 it)` };
    }
    text = readFileSync(file, "utf8");
  } catch {
    return { why: `${file} does not exist or cannot be read` };
  }
  // A Unix socket folder matches the host field "localhost", as in libpq.
  const host = target.host.startsWith("/") ? "localhost" : target.host;
  const wanted = [host, String(target.port), target.database, target.user];
  const lines = text.split(/\r?\n/);
  for (const [i, line] of lines.entries()) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const fields = splitPgpassLine(line);
    if (fields.length !== 5) continue;
    if (wanted.every((w, k) => fields[k] === "*" || fields[k] === w)) {
      return { password: fields[4] ?? "", line: i + 1 };
    }
  }
  return {
    why: `${file} has no line for ${host}:${target.port}:${target.database}:${target.user}`,
  };
}

/** host:port:database:user:password with `\:` and `\\` escapes; the password is the rest. */
function splitPgpassLine(line: string): string[] {
  const fields: string[] = [];
  let field = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === "\\" && i + 1 < line.length) {
      field += line[++i];
    } else if (c === ":" && fields.length < 4) {
      fields.push(field);
      field = "";
    } else {
      field += c;
    }
  }
  fields.push(field);
  return fields;
}

// ---- failures -------------------------------------------------------------------------------

const SOCKET_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
]);

/** pg's own messages for a connection that failed or dropped (it gives them no code). */
const PG_CONNECTION_MESSAGES =
  /Connection terminated|not queryable|connection timeout|timeout exceeded when trying to connect|Client was closed/i;

function sqlState(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : undefined;
}

/**
 * True when the failure is the connection's, not the statement's: the server went away, refused
 * a new connection for now, or is restarting. A transaction that failed this way before COMMIT
 * was sent was rolled back by the server, so it is safe to run again.
 */
export function isConnectionFailure(e: unknown): boolean {
  if (e instanceof KeywardError) return false;
  const code = sqlState(e);
  if (code !== undefined) {
    if (SOCKET_CODES.has(code)) return true;
    // 08: connection exception; 57P01–57P03: shutting down or starting up; 53300: too many connections.
    if (code.startsWith("08") || /^57P0[123]$/.test(code) || code === "53300") return true;
  }
  return e instanceof Error && PG_CONNECTION_MESSAGES.test(e.message);
}

/** 40001 serialization failure, 40P01 deadlock: the server rolled the transaction back. */
export function isTransactionRetryable(e: unknown): boolean {
  const code = sqlState(e);
  return code === "40001" || code === "40P01";
}

/**
 * A PostgreSQL or socket failure as a KeywardError naming the server, database and user (and,
 * for authentication, the password source tried). Server messages never carry our parameters,
 * and ciphertexts are the only values ever sent, so the message is safe to show.
 */
export function translatePgError(e: unknown, target: PgTarget): unknown {
  if (e instanceof KeywardError) return e;
  const code = sqlState(e);
  const message = e instanceof Error ? e.message : String(e);
  const at = `PostgreSQL at ${target.location}`;
  const hostFix = `check that the server is running and that host and port (the store's url/host/port, or PGHOST/PGPORT) point at it`;
  switch (code) {
    case "ECONNREFUSED":
      return new KeywardError("upstream_unavailable", `${at} refused the connection`, hostFix);
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return new KeywardError(
        "upstream_unavailable",
        `${at}: the host name ${target.host} could not be resolved`,
        hostFix,
      );
    case "ETIMEDOUT":
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return new KeywardError("upstream_timeout", `${at} could not be reached (${code})`, hostFix);
    case "28P01":
      return new KeywardError(
        "upstream_unauthorized",
        `${at} rejected the password for user ${target.user} (${target.passwordSource})`,
        "correct the password in that source, or point passwordEnv / PGPASSWORD / ~/.pgpass at the right one",
      );
    case "28000":
      return new KeywardError(
        "upstream_unauthorized",
        `${at} refused user ${target.user}: ${message}`,
        "check the user name and the server's pg_hba.conf rules for this host",
      );
    case "3D000":
      return new KeywardError(
        "config_invalid",
        `${at}: database ${target.database} does not exist`,
        `create it (createdb ${target.database}) or set the store's database (or PGDATABASE) to an existing one`,
      );
    case "42501":
      return new KeywardError(
        "upstream_forbidden",
        `${at}: user ${target.user} lacks a privilege on schema ${target.schema}: ${message}`,
        `grant the user USAGE and CREATE on the database and ownership of schema ${target.schema}`,
      );
    case "53300":
      return new KeywardError(
        "upstream_unavailable",
        `${at} has no free connection slots (max_connections reached)`,
        "retry later, lower the store's poolSize on busy hosts, or raise max_connections",
      );
    case "57P01":
    case "57P02":
    case "57P03":
      return new KeywardError(
        "upstream_unavailable",
        `${at} is shutting down or starting up (${code})`,
        "retry once the server is back",
      );
  }
  if (isConnectionFailure(e)) {
    return new KeywardError(
      "upstream_unavailable",
      `${at}: the connection failed (${code ?? message})`,
      hostFix,
    );
  }
  if (code === "3F000" || code === "42P01") {
    return new KeywardError(
      "not_initialized",
      `there is no keyward store in schema ${target.schema} of ${target.location} (it was dropped or never created)`,
      "run `keyward init` with this store: section, or restore the schema from a backup",
    );
  }
  return new KeywardError(
    "io",
    `${at}, schema ${target.schema}: ${message}${code === undefined ? "" : ` (SQLSTATE ${code})`}`,
    "retry; if it persists, check the server log for this error",
  );
}
