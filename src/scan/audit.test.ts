import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { BASE62 } from "../detect/checksum.js";
import { mask, withClassicChecksum } from "../detect/index.js";
import { git } from "../testing/git.js";
import { secretsAnalyzer } from "./analyzers/secrets.js";
import { audit, freeCores } from "./audit.js";
import { writeBaseline } from "./ignore.js";
import type { Analyzer, Finding } from "./types.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-audit-"));
  temps.push(dir);
  return dir;
}

function write(root: string, path: string, content: string | Buffer): void {
  const full = join(root, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, content);
}

function commitAll(root: string, message: string): string {
  git(root, "add", "-A");
  git(root, "commit", "-q", "-m", message);
  return git(root, "rev-parse", "HEAD");
}

function githubToken(): string {
  const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
  return withClassicChecksum(`${"gh"}p_`, body);
}

describe("audit", () => {
  test("scans the tree, grades, and reports every skip", async () => {
    const root = tempDir();
    const token = githubToken();
    write(root, "src/client.ts", `export const token = "${token}";\n`);
    write(root, "logo.png", Buffer.from([0x89, 0x50, 0x00, 0x01]));
    write(root, "dump.sql", "x".repeat(4096));
    write(root, "clean.md", "# nothing here\n");
    const progress: Array<{ files: number; commits?: number }> = [];
    const report = await audit({ root, maxFileBytes: 1024, onProgress: (p) => progress.push(p) });
    assert.equal(report.root, root);
    assert.equal(report.grades.security, "F");
    assert.equal(report.grades.exposure, "A");
    assert.deepEqual(
      report.findings.map((f) => [f.ruleId, f.location.path, f.location.line]),
      [["secret/github-pat", "src/client.ts", 1]],
    );
    assert.deepEqual(
      report.skipped.map((s) => [s.path, s.code]),
      [
        ["dump.sql", "too-large"],
        ["logo.png", "binary"],
      ],
    );
    assert.equal(report.stats.files, 2);
    assert.equal(report.stats.commits, undefined);
    assert.deepEqual(progress.at(-1), { files: 2 });
    assert.deepEqual(report.rules, [
      { id: "secret/github-pat", title: "Hard-coded GitHub personal access token (classic)" },
    ]);
  });

  test("inline ignores and the baseline suppress findings and count them", async () => {
    const root = tempDir();
    write(root, "a.ts", `const a = "${githubToken()}"; // keyward:ignore\n`);
    write(
      root,
      "b.ts",
      `const b = "${githubToken()}"; // keyward:ignore secret/generic-password\n`,
    );
    write(root, "c.yaml", "password: hunter2hunter2 # gitleaks:allow\n");
    const first = await audit({ root });
    assert.equal(first.suppressed, 2);
    assert.deepEqual(
      first.findings.map((f) => f.location.path),
      ["b.ts"],
    );

    const baseline = join(tempDir(), "baseline.json");
    await writeBaseline(first, baseline);
    const second = await audit({ root, baseline });
    assert.deepEqual(second.findings, []);
    assert.equal(second.suppressed, 3);
    assert.deepEqual(second.baselined, [first.findings[0]?.fingerprint]);
    assert.deepEqual([second.grades.exposure, second.grades.security], ["A", "A"]);

    // Rewriting the baseline from a baselined run keeps what it held.
    await writeBaseline(second, baseline);
    assert.equal((await audit({ root, baseline })).findings.length, 0);
  });

  test("runs only the analyzers that apply, and a failing analyzer becomes a skip", async () => {
    const root = tempDir();
    write(root, "mcp.json", '{"mcpServers":{}}\n');
    write(root, "notes.txt", "hello\n");
    const seen: string[] = [];
    const jsonOnly: Analyzer = {
      id: "json-only",
      applies: (path) => path.endsWith(".json"),
      analyze: (file) => {
        seen.push(file.path);
        return [];
      },
    };
    const broken: Analyzer = {
      id: "broken",
      applies: (path) => path.endsWith(".txt"),
      analyze: () => {
        throw new TypeError("cannot parse 'hunter2hunter2'");
      },
    };
    const report = await audit({ root, analyzers: [jsonOnly, broken] });
    assert.deepEqual(seen, ["mcp.json"]);
    assert.deepEqual(report.skipped, [
      {
        path: "notes.txt",
        code: "analyzer-error",
        reason: 'analyzer "broken" failed on this file (TypeError)',
      },
    ]);
    assert.ok(!JSON.stringify(report).includes("hunter2"));
  });

  test("an analyzer that leaves a file out says why; the others still read it", async () => {
    const root = tempDir();
    const token = githubToken();
    const bundle = `// src/index.ts\nconst t = "${token}";\n// src/a.ts\na();\n// src/b.ts\nb();\n`;
    write(root, "build/index.js", bundle);
    write(root, "src/index.js", "console.log(process.env.GITHUB_TOKEN);\n");
    const report = await audit({ root });
    assert.deepEqual(report.skipped, [
      {
        path: "build/index.js",
        code: "partly-analysed",
        reason: "bundled build output (esbuild module comments): not analysed for credential flows",
      },
    ]);
    assert.deepEqual(
      report.findings.map((f) => [f.ruleId, f.location.path]),
      [
        ["secret/github-pat", "build/index.js"],
        ["flow/log", "src/index.js"],
      ],
    );
  });

  test("two analyzers reporting the same literal on the same line are listed once, most severe first", async () => {
    const root = tempDir();
    const token = githubToken();
    write(root, ".env", `GITHUB_TOKEN=${token}\n`);
    const duplicate: Analyzer = {
      id: "config-like",
      applies: (path) => path === ".env",
      analyze: (file): Finding[] => [
        {
          ruleId: "config/dotenv-literal",
          kind: "config",
          axis: "security",
          severity: "high",
          message: "literal credential in .env",
          why: "w",
          fix: "f",
          location: { path: file.path, line: 1 },
          masked: mask(token),
          fingerprint: "f".repeat(64),
        },
      ],
    };
    const report = await audit({ root, analyzers: [secretsAnalyzer, duplicate] });
    assert.deepEqual(
      report.findings.map((f) => f.ruleId),
      ["secret/github-pat"],
    );
  });

  test("with history: deleted secrets come from history, live ones are dated by their commit", async () => {
    const root = tempDir();
    git(root, "init", "-q", "-b", "main");
    const live = githubToken();
    const gone = githubToken();
    write(root, "live.ts", `export const t = "${live}";\n`);
    write(root, "old.ts", `export const t = "${gone}";\n`);
    const added = commitAll(root, "add both");
    rmSync(join(root, "old.ts"));
    commitAll(root, "remove one");
    const progress: Array<{ files: number; commits?: number }> = [];
    const report = await audit({ root, history: true, onProgress: (p) => progress.push(p) });
    assert.equal(report.stats.commits, 2);
    assert.deepEqual(progress.at(-1), { files: 1, commits: 2 });
    assert.deepEqual(
      report.findings.map((f) => [f.location.path, f.location.commit, f.location.presentInTree]),
      [
        ["live.ts", added, true],
        ["old.ts", added, false],
      ],
    );
    assert.equal(report.grades.security, "F");
  });

  test("a secret ignored inline in the tree stays suppressed in history", async () => {
    const root = tempDir();
    git(root, "init", "-q", "-b", "main");
    const token = githubToken();
    write(root, "fixture.ts", `export const t = "${token}";\n`);
    commitAll(root, "fixture");
    write(root, "fixture.ts", `export const t = "${token}"; // keyward:ignore test fixture\n`);
    commitAll(root, "mark it");
    const report = await audit({ root, history: true });
    assert.deepEqual(report.findings, []);
    assert.equal(report.suppressed, 1);
  });

  test("follows imports to the files they resolve to, as Node and Python do", async () => {
    const root = tempDir();
    // `./config.js` is config.ts (TypeScript's import style), `./lib` is lib/index.ts; a file of
    // another kind by the same name (config.json) or outside the root is not what they resolve to.
    write(
      root,
      "src/server.ts",
      [
        'import { token } from "./config.js";',
        'import { client } from "./lib";',
        'import { other } from "../../outside";',
        "console.log(token);",
        "console.log(client.key);",
        "console.log(other);",
      ].join("\n"),
    );
    write(root, "src/config.json", '{ "token": "not a credential" }\n');
    write(root, "src/config.ts", "export const token = process.env.GITHUB_TOKEN;\n");
    write(root, "src/lib/index.ts", "export const client = { key: process.env.API_KEY };\n");
    write(root, "app/__init__.py", "");
    write(root, "app/settings.py", 'import os\nSECRET = os.environ["API_TOKEN"]\n');
    write(root, "app/main.py", "from .settings import SECRET\nprint(SECRET)\n");
    const report = await audit({ root, workers: 1 });
    assert.deepEqual(
      report.findings.map((f) => [f.ruleId, f.location.path, f.location.line]),
      [
        ["flow/log", "app/main.py", 2],
        ["flow/log", "src/server.ts", 4],
        ["flow/log", "src/server.ts", 5],
      ],
    );
  });

  test("history on a directory outside git fails before scanning, with a usage error", async () => {
    await assert.rejects(audit({ root: tempDir(), history: true }), (error) => {
      assert.ok(isKeywardError(error));
      assert.equal(error.code, "usage");
      return true;
    });
  });

  test("a missing root is not_found", async () => {
    await assert.rejects(audit({ root: join(tempDir(), "nope") }), (error) => {
      assert.ok(isKeywardError(error));
      assert.equal(error.code, "not_found");
      return true;
    });
  });
});

describe("freeCores (how many threads an audit starts)", () => {
  const reading = (busy: number, total: number) => ({ busy, total });
  const start = reading(1000, 5000);

  test("this process's own threads never count as load, however busy", () => {
    // 2 cores, 100 ms each: this thread kept one busy and V8's compiler and collector threads
    // 60 ms of the other; all of it is this process's own time.
    assert.equal(freeCores(start, reading(1160, 5200), 160, 2), 2);
  });

  test("a core another process keeps busy is not free", () => {
    assert.equal(freeCores(start, reading(1200, 5200), 100, 2), 1);
    assert.equal(freeCores(start, reading(1000 + 100 + 260, 5400), 100, 4), 1);
  });

  test("a short blip of another process (a git child) leaves the core free", () => {
    assert.equal(freeCores(start, reading(1120, 5200), 100, 2), 2);
  });

  test("a window too short to tell load from a tick leaves every core free", () => {
    assert.equal(freeCores(start, start, 3, 2), 2);
    // one 10 ms tick counted busy in a 10 ms window on 2 cores, 4 ms of it this process's
    assert.equal(freeCores(start, reading(1010, 5020), 4, 2), 2);
    // ticks are coarse: this process's time can exceed the busy time counted
    assert.equal(freeCores(start, reading(1090, 5200), 105, 2), 2);
  });

  test("always at least one thread", () => {
    assert.equal(freeCores(start, reading(1400, 5200), 0, 2), 1);
  });

  test("the audit's own git listing a work tree is not another process's load", () => {
    // git ls-files kept a core busy through the window: a child of this process, not load
    assert.equal(freeCores(start, reading(1200, 5200), 100, 2, { gitListing: true }), 2);
    assert.equal(freeCores(start, reading(1200, 5200), 100, 2, { gitListing: false }), 1);
  });
});

describe("audit in worker threads", () => {
  test("gives the report a single thread gives: same findings, skips and order", async () => {
    const root = tempDir();
    const token = githubToken();
    // Credential flow across files, an import cycle (walk order decides where it is cut), a
    // Python flow, literal secrets (one suppressed inline), configs, a bundle, a binary file
    // and one over the size limit; filler files so the work spreads over every worker.
    write(
      root,
      "src/a.js",
      'import { b } from "./b.js";\nexport const a = process.env.API_TOKEN;\nconsole.log(b);\n',
    );
    write(
      root,
      "src/b.js",
      'import { a } from "./a.js";\nexport const b = a;\nconsole.error(a);\n',
    );
    write(
      root,
      "src/client.ts",
      'import { a } from "./a.js";\nfetch("https://api.example.invalid/?key=" + a);\n',
    );
    write(root, "server.py", 'import os\nTOKEN = os.environ["GITHUB_TOKEN"]\nprint(TOKEN)\n');
    write(root, "config.ts", `export const t = "${token}";\n`);
    write(root, "ignored.ts", `export const t = "${githubToken()}"; // keyward:ignore\n`);
    write(root, ".env", `GITHUB_TOKEN=${githubToken()}\n`);
    write(root, ".github/workflows/ci.yml", "permissions: write-all\non: push\njobs: {}\n");
    write(
      root,
      "dist/bundle.js",
      "// src/a.ts\na();\n// src/b.ts\nb();\n// src/c.ts\nconsole.log(process.env.GITHUB_TOKEN);\n",
    );
    write(root, "logo.png", Buffer.from([0x89, 0x50, 0x00, 0x01]));
    write(root, "big.txt", "x".repeat(5000));
    for (let i = 0; i < 60; i++) {
      write(root, `pkg/m${i}.js`, `import { a } from "../src/a.js";\nexport const v${i} = ${i};\n`);
    }
    const single = await audit({ root, maxFileBytes: 4096, workers: 1 });
    const threaded = await audit({ root, maxFileBytes: 4096, workers: 3 });
    const comparable = (report: typeof single) => ({
      ...report,
      stats: { ...report.stats, durationMs: 0 },
    });
    assert.ok(single.findings.some((f) => f.ruleId.startsWith("flow/")));
    assert.ok(single.findings.some((f) => f.location.path === "server.py"));
    assert.ok(single.findings.some((f) => f.ruleId === "secret/github-pat"));
    assert.ok(single.skipped.some((s) => s.code === "partly-analysed"));
    assert.ok(single.skipped.some((s) => s.code === "binary"));
    assert.ok(single.skipped.some((s) => s.code === "too-large"));
    assert.equal(single.suppressed, 1);
    assert.deepEqual(comparable(threaded), comparable(single));
  });
});
