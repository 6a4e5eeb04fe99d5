/**
 * A generated git repository for history benchmarks: `commits` commits of source edits (functions
 * added, changed and removed in TypeScript and Python modules, new modules now and then) with a
 * few credentials added and later removed. Written with `git fast-import` — thousands of
 * `git commit` processes would take minutes — and deterministic for a given seed.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { withClassicChecksum } from "../../src/detect/index.js";
import { exampleChars } from "../../src/detect/rules/examples.js";

export interface GeneratedRepo {
  commits: number;
  /** credentials planted in history (counted, never printed) */
  planted: number;
}

/** mulberry32: a small seeded PRNG, so the repository is the same on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const NOUNS = [
  "order",
  "invoice",
  "customer",
  "shipment",
  "refund",
  "product",
  "account",
  "session",
  "report",
  "webhook",
  "subscription",
  "coupon",
];
const VERBS = [
  "get",
  "list",
  "create",
  "update",
  "archive",
  "sync",
  "validate",
  "export",
  "reconcile",
  "notify",
];
const TABLES = [
  "orders",
  "invoices",
  "customers",
  "shipments",
  "refunds",
  "products",
  "accounts",
  "audit_log",
];
const cap = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

function tsFunction(pick: <T>(xs: readonly T[]) => T, n: number): string {
  const noun = pick(NOUNS);
  const verb = pick(VERBS);
  const table = pick(TABLES);
  return [
    `export async function ${verb}${cap(noun)}${n}(input: ${cap(noun)}Input, ctx: Context): Promise<${cap(noun)}> {`,
    `  const started = performance.now();`,
    `  const rows = await ctx.db.query("SELECT * FROM ${table} WHERE tenant_id = $1 AND id = $2 LIMIT 1", [ctx.tenantId, input.id]);`,
    `  if (rows.length === 0) throw new NotFoundError(\`${noun} \${input.id} not found\`);`,
    `  const ${noun} = map${cap(noun)}(rows[0]);`,
    `  if (input.expectedVersion !== undefined && ${noun}.version !== input.expectedVersion) {`,
    `    throw new ConflictError("${noun} was changed by someone else; reload and retry");`,
    `  }`,
    `  ctx.metrics.histogram("${table}.${verb}.ms").record(performance.now() - started);`,
    `  ctx.logger.debug({ id: input.id, tenant: ctx.tenantId }, "${verb} ${noun}");`,
    `  return ${noun};`,
    `}`,
    ``,
  ].join("\n");
}

function pyFunction(pick: <T>(xs: readonly T[]) => T, n: number): string {
  const noun = pick(NOUNS);
  const verb = pick(VERBS);
  const table = pick(TABLES);
  return [
    `def ${verb}_${noun}_${n}(session: Session, tenant_id: int, ${noun}_id: int) -> ${cap(noun)}:`,
    `    """${cap(verb)} a ${noun} of the tenant, or raise NotFound."""`,
    `    row = session.execute(`,
    `        text("SELECT * FROM ${table} WHERE tenant_id = :tenant AND id = :id"),`,
    `        {"tenant": tenant_id, "id": ${noun}_id},`,
    `    ).first()`,
    `    if row is None:`,
    `        raise NotFound(f"${noun} {${noun}_id} not found")`,
    `    log.debug("${verb} ${noun} %s for tenant %s", ${noun}_id, tenant_id)`,
    `    return ${cap(noun)}.from_row(row)`,
    ``,
    ``,
  ].join("\n");
}

const TS_HEADER = `import type { Context } from "../context.js";\nimport { ConflictError, NotFoundError } from "../errors.js";\n\n`;
const PY_HEADER = `import logging\n\nfrom sqlalchemy import text\nfrom sqlalchemy.orm import Session\n\nfrom .errors import NotFound\n\nlog = logging.getLogger(__name__)\n\n\n`;

/** A file added at commit `at` and deleted at `removeAt` (Infinity: never). */
export interface Planted {
  at: number;
  path: string;
  content: string;
  removeAt: number;
}

/** Credentials planted along the history: (commit index, path, content). */
function plantedSecrets(): Planted[] {
  const ghp = withClassicChecksum("ghp_", exampleChars("history-bench-ghp", 30));
  return [
    {
      at: 150,
      removeAt: 151,
      path: "config/settings.py",
      content: `DATABASE_PASSWORD = "${exampleChars("history-db", 18)}"\n`,
    },
    { at: 700, removeAt: 720, path: ".env", content: `GITHUB_TOKEN=${ghp}\nLOG_LEVEL=info\n` },
    {
      at: 1200,
      removeAt: 1900,
      path: "src/integrations/keys.ts",
      content: `export const PARTNER_API_KEY = "${exampleChars("history-partner", 40)}";\n`,
    },
    {
      at: 1600,
      removeAt: Number.POSITIVE_INFINITY,
      path: "deploy/values.yaml",
      content: `image: ghcr.io/acme/app:1.4.2\ndb:\n  password: "${exampleChars("history-values", 20)}"\n`,
    },
  ];
}

/**
 * Creates the repository in `dir` (an empty directory) and returns what it holds; `extra` files
 * are planted beside the built-in credentials (bench/revoke plants the value it revokes).
 */
export function generateRepo(
  dir: string,
  commits = 2000,
  seed = 20240601,
  extra: readonly Planted[] = [],
): GeneratedRepo {
  mkdirSync(dir, { recursive: true });
  const git = (args: string[], input?: string): void => {
    const r = spawnSync("git", args, { cwd: dir, input, maxBuffer: 1 << 30, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`git ${args[0]} failed: ${r.stderr}`);
  };
  git(["init", "-q", "-b", "main"]);
  const random = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)] as T;
  const files = new Map<string, string[]>();
  const addModule = (i: number): string => {
    const ts = random() < 0.6;
    const path = ts ? `src/${pick(NOUNS)}s/module${i}.ts` : `app/${pick(NOUNS)}s/module_${i}.py`;
    const body = Array.from({ length: 4 + Math.floor(random() * 8) }, (_, k) =>
      ts ? tsFunction(pick, i * 100 + k) : pyFunction(pick, i * 100 + k),
    );
    files.set(path, [ts ? TS_HEADER : PY_HEADER, ...body]);
    return path;
  };
  for (let i = 0; i < 40; i++) addModule(i);
  const secrets = [...plantedSecrets(), ...extra];
  const chunks: string[] = [];
  let mark = 0;
  let fn = 10_000;
  for (let c = 0; c < commits; c++) {
    const changed = new Set<string>();
    const deleted: string[] = [];
    let message = "";
    if (c === 0) {
      for (const path of files.keys()) changed.add(path);
      message = "Initial import";
    } else if (random() < 0.04) {
      const path = addModule(100 + c);
      changed.add(path);
      message = `Add ${path.split("/")[1]} module`;
    } else {
      const paths = [...files.keys()].filter((p) => p.includes("/module"));
      for (let k = 0; k < 1 + Math.floor(random() * 3); k++) {
        const path = pick(paths);
        const parts = files.get(path) as string[];
        const r = random();
        if (r < 0.5 || parts.length < 4) {
          parts.splice(
            1 + Math.floor(random() * (parts.length - 1)),
            0,
            path.endsWith(".ts") ? tsFunction(pick, fn++) : pyFunction(pick, fn++),
          );
        } else if (r < 0.85) {
          const i = 1 + Math.floor(random() * (parts.length - 1));
          parts[i] = (parts[i] as string).replace(/LIMIT 1|debug|"(\w+) (\w+)"/, (m) =>
            m === "LIMIT 1" ? "LIMIT 1 FOR UPDATE" : m === "debug" ? "info" : m,
          );
        } else {
          parts.splice(1 + Math.floor(random() * (parts.length - 1)), 1);
        }
        changed.add(path);
      }
      message = `${pick(["Fix", "Refactor", "Speed up", "Handle errors in", "Add tests for", "Log"])} ${pick(NOUNS)} ${pick(VERBS)}`;
    }
    for (const s of secrets) {
      if (s.at === c) {
        files.set(s.path, [s.content]);
        changed.add(s.path);
      } else if (s.removeAt === c) {
        files.delete(s.path);
        changed.delete(s.path);
        deleted.push(s.path);
      }
    }
    const time = 1_700_000_000 + c * 3_600;
    chunks.push(
      `commit refs/heads/main\nmark :${++mark}\ncommitter Dev ${c % 7} <dev${c % 7}@acme.io> ${time} +0000\ndata ${Buffer.byteLength(message)}\n${message}\n`,
    );
    if (c > 0) chunks.push(`from :${mark - 1}\n`);
    for (const path of deleted) chunks.push(`D ${path}\n`);
    for (const path of changed) {
      const content = (files.get(path) as string[]).join("");
      chunks.push(`M 100644 inline ${path}\ndata ${Buffer.byteLength(content)}\n${content}\n`);
    }
    chunks.push("\n");
  }
  git(["fast-import", "--quiet"], chunks.join(""));
  git(["checkout", "-q", "-f", "main"]);
  return { commits, planted: secrets.length };
}
