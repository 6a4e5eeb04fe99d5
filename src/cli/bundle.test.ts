import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";
import { audit } from "../scan/index.js";
import { KEYWARD_BIN } from "../testing/bin.js";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const IDLE_CORES = pathToFileURL(
  fileURLToPath(new URL("../scan/testing/idle-cores.js", import.meta.url)),
).href;

/**
 * The bundle `npm run build` makes (dist/bundle, scripts/bundle.mjs), which package.json's bin
 * runs: what it finds by path (package.json, the audit's worker script, the Python grammar, the
 * bin itself for `keyward run`) is still found. The other CLI tests spawn it too.
 */
describe("the bundled CLI", () => {
  const dir = mkdtempSync(join(tmpdir(), "keyward-bundle-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const run = (args: string[], opts: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {}) =>
    spawnSync(process.execPath, [...(opts.execArgv ?? []), KEYWARD_BIN, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH, HOME: dir, NO_COLOR: "1", ...opts.env },
      encoding: "utf8",
    });

  it("is what package.json's bin names, and reports package.json's version", () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.equal(join(root, pkg.bin.keyward), KEYWARD_BIN);
    const r = run(["--version"]);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), pkg.version);
  });

  it("audits with worker threads and the Python grammar, as the audit does in process", async () => {
    const tree = join(dir, "tree");
    const write = (path: string, text: string) => {
      mkdirSync(dirname(join(tree, path)), { recursive: true });
      writeFileSync(join(tree, path), text);
    };
    write("server.py", 'import os\nTOKEN = os.environ["GITHUB_TOKEN"]\nprint(TOKEN)\n');
    write("src/a.ts", "export const a = process.env.API_TOKEN;\nconsole.log(a);\n");
    // Enough files that the audit hands them to worker threads.
    for (let i = 0; i < 420; i++) write(`pkg/m${i}.js`, `export const v${i} = ${i};\n`);
    const r = run(["audit", tree, "--format", "json"], { execArgv: ["--import", IDLE_CORES] });
    assert.ok(r.status === 0 || r.status === 1, r.stderr);
    const workers = r.stderr.match(/^worker .*$/gm) ?? [];
    assert.ok(workers.length > 0, `no worker thread started: ${r.stderr}`);
    for (const w of workers)
      assert.equal(w, `worker ${pathToFileURL(join(dirname(KEYWARD_BIN), "file-worker.js"))}`);
    const fromCli = JSON.parse(r.stdout);
    const inProcess = JSON.parse(JSON.stringify(await audit({ root: tree, workers: 1 })));
    for (const report of [fromCli, inProcess]) report.stats.durationMs = 0;
    assert.ok(
      inProcess.findings.some(
        (f: { location: { path: string } }) => f.location.path === "server.py",
      ),
    );
    assert.deepEqual(fromCli, inProcess);
  });

  it("runs the demo, whose MCP client starts keyward run from the bundle", () => {
    const r = run(["demo"]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /skipping keyward run/);
    assert.match(r.stdout, /\(keyward run pid \d+\)\s+read/);
  });
});
