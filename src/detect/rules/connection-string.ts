import type { TokenCategory, TokenRule } from "../types.js";
import { exampleChars } from "./examples.js";

/** Default and sample passwords of local databases and brokers: dev fixtures, not leaks. */
const DEFAULT_PASSWORDS = [
  "postgres",
  "mysql",
  "root",
  "admin",
  "guest",
  "redis",
  "mongo",
  "mongodb",
  "rabbitmq",
  "user",
  "username",
  "pass123",
  "password123",
];

/** Hosts reserved for documentation (RFC 2606): credentials shown with them are examples. */
const DOCUMENTATION_HOST = String.raw`(?:[A-Za-z0-9-]{1,63}\.){0,8}(?:example\.(?:com|net|org)|example|invalid)(?![A-Za-z0-9.-])`;

/**
 * `scheme[+driver]://[user]:password@host`, unless the password is the user name (`ml:ml@`, a
 * local development default) (SQLAlchemy names the driver: `postgresql+psycopg2`).
 * The password (capture group 1) is the secret: the rest of the URL stays readable after redaction. A raw `@`, `/`, `?` or `#` cannot sit in a URL password
 * (they must be percent-encoded), so each class stops at the next delimiter without backtracking.
 */
function urlPasswordPattern(schemes: string): RegExp {
  return new RegExp(
    `(?<![A-Za-z0-9+.-])(?:${schemes})(?:\\+[A-Za-z0-9_]{1,24})?://([^\\s:/?#@'"\`<>]{0,128}):(?!\\1@)([^\\s/?#@'"\`<>]{1,256})@(?=[A-Za-z0-9_\\[-])(?!${DOCUMENTATION_HOST})`,
    "gi",
  );
}

/** Longest scheme (`mongodb+srv`) and driver (`+` and up to 24 characters) before `://`. */
const MAX_SCHEME_CHARS = 11 + 25;

/** A character of a scheme or driver name, or one the pattern's look-behind forbids before it. */
function inSchemeRun(code: number): boolean {
  return (
    (code >= 0x61 && code <= 0x7a) || // a-z
    (code >= 0x41 && code <= 0x5a) || // A-Z
    (code >= 0x30 && code <= 0x39) || // 0-9
    code === 0x2b || // +
    code === 0x2e || // .
    code === 0x2d || // -
    code === 0x5f // _
  );
}

/**
 * Where a URL whose `://` is at `at` can start: at the start of the run of scheme-like
 * characters before it, or just after an underscore in that run (the look-behind allows both),
 * no further back than a scheme and driver reach.
 */
function urlStarts(text: string, at: number): number[] {
  const limit = Math.max(0, at - MAX_SCHEME_CHARS);
  let runStart = at;
  while (runStart > limit && inSchemeRun(text.charCodeAt(runStart - 1))) runStart--;
  const starts: number[] = [];
  for (let start = runStart; start < at; start++) {
    const before = start === 0 ? 0 : text.charCodeAt(start - 1);
    if (start === runStart ? !inSchemeRun(before) || before === 0x5f : before === 0x5f)
      starts.push(start);
  }
  return starts;
}

interface UrlRuleSpec {
  id: string;
  title: string;
  provider: string;
  category: TokenCategory;
  schemes: string;
  keywords: string[];
  /** a URL of this kind with `PASSWORD` where the password goes */
  example: string;
  /** the same with a SQLAlchemy driver in the scheme, where the database has one */
  driverExample?: string;
}

function urlPasswordRule(spec: UrlRuleSpec): TokenRule {
  const password = exampleChars(spec.id, 20);
  const url = spec.example.replace("PASSWORD", password);
  return {
    id: spec.id,
    title: spec.title,
    provider: spec.provider,
    category: spec.category,
    pattern: urlPasswordPattern(spec.schemes),
    anchor: { text: "://", starts: urlStarts },
    secretGroup: 2,
    keywords: spec.keywords,
    stopwords: DEFAULT_PASSWORDS,
    truePositives: [
      `DATABASE_URL=${url}`,
      `{"url":"${url}"}`,
      `url = '${spec.example.replace("PASSWORD", "s3cr%40t-Pa55")}'`,
      ...(spec.driverExample
        ? [`sql_alchemy_conn = ${spec.driverExample.replace("PASSWORD", password)}`]
        : []),
    ],
    falsePositives: [
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference is the example
      `DATABASE_URL=${spec.example.replace("PASSWORD", "${DB_PASSWORD}")}`,
      `DATABASE_URL=${spec.example.replace("PASSWORD", "<password>")}`,
      `DATABASE_URL=${spec.example.replace("PASSWORD", "password")}`,
      `DATABASE_URL=${spec.example.replace("PASSWORD", "****")}`,
      `DATABASE_URL=${spec.example.replace(":PASSWORD@", "@")}`,
      `DATABASE_URL=${spec.example.replace(/\/\/[^:]*:PASSWORD@/, "//devuser:devuser@")}`,
      `DATABASE_URL=${spec.example.replace("PASSWORD", "Zm9vYmFy7q").replace(/@[^:/]+/, "@db.example.com")}`,
    ],
  };
}

export const connectionStringRules: TokenRule[] = [
  urlPasswordRule({
    id: "postgres-connection-string",
    title: "PostgreSQL connection string with a password",
    provider: "postgres",
    category: "connection-string",
    schemes: "postgres|postgresql",
    keywords: ["postgres"],
    example: "postgres://app:PASSWORD@db.internal:5432/app?sslmode=require",
    driverExample: "postgresql+psycopg2://airflow:PASSWORD@airflow-db.internal/airflow",
  }),
  urlPasswordRule({
    id: "mysql-connection-string",
    title: "MySQL or MariaDB connection string with a password",
    provider: "mysql",
    category: "connection-string",
    schemes: "mysql|mysqlx|mariadb",
    keywords: ["mysql", "mariadb"],
    example: "mysql://app:PASSWORD@10.0.0.5:3306/shop",
    driverExample: "mysql+pymysql://app:PASSWORD@10.0.0.5:3306/shop",
  }),
  urlPasswordRule({
    id: "mongodb-connection-string",
    title: "MongoDB connection string with a password",
    provider: "mongodb",
    category: "connection-string",
    schemes: "mongodb|mongodb\\+srv",
    keywords: ["mongodb"],
    example: "mongodb+srv://app:PASSWORD@cluster0.abcde.mongodb.net/?retryWrites=true",
  }),
  urlPasswordRule({
    id: "redis-connection-string",
    title: "Redis connection string with a password",
    provider: "redis",
    category: "connection-string",
    schemes: "redis|rediss",
    keywords: ["redis"],
    example: "rediss://:PASSWORD@cache.internal:6380/0",
  }),
  urlPasswordRule({
    id: "amqp-connection-string",
    title: "AMQP (RabbitMQ) connection string with a password",
    provider: "amqp",
    category: "connection-string",
    schemes: "amqp|amqps",
    keywords: ["amqp"],
    example: "amqps://worker:PASSWORD@mq.internal:5671/vhost",
  }),
  urlPasswordRule({
    id: "url-basic-auth",
    title: "Password in an HTTP(S) URL",
    provider: "http",
    category: "url-credential",
    schemes: "https?",
    keywords: ["http"],
    example: "https://deploy:PASSWORD@registry.internal/v2/",
  }),
];
