/**
 * bench/revoke: how fast `keyward revoke` gets a leaked key out of use. Every figure is measured
 * from spawning `keyward revoke` (as a person or a script would run it), each beside a baseline
 * measured in the same run, rounds interleaved, medians reported.
 *  (a) until the store refuses the value, seen by another process reading it every millisecond.
 *      Target ≤ 100 ms, set where `node -e 0` took 41 ms. Baselines: `keyward secret disable`
 *      spawned the same way, `node -e 0` (the floor of any Node CLI: what keyward adds to it is
 *      what keyward can change; on a busy machine ratios to it shrink, so compare builds in one
 *      run), and the bare store write (SqliteStore.setVersionState) in process.
 *  (b) until all 10 running `keyward run` proxies answer from a new server holding the new
 *      value. Target ≤ 2 s. Baselines: one bare server start, and 10 bare servers started at once.
 *  (c) until the history search of a generated 10,000-commit repository is done (the command
 *      has written its report and exited). Target ≤ 30 s. Baseline: `git log -p --all` alone.
 * Run: npm run bench -- revoke   or   node --import tsx bench/revoke.ts [a|b|c…]
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { listProxySockets } from "../src/control/paths.js";
import { findValueInHistory } from "../src/revocation/history.js";
import { SecretService } from "../src/secrets/service.js";
import { Session } from "../src/secrets/session.js";
import { KEYWARD_BIN } from "../src/testing/bin.js";
import { type TestHome, testHome } from "../src/testing/cli.js";
import { generateRepo } from "./lib/gitrepo.js";
import { RpcClient, servedBy } from "./lib/rpc-client.js";
import { percentile } from "./lib/stats.js";

const PROXIES = 10;
const ROUNDS = { a: 7, b: 5, c: 3 };
const COMMITS = 10_000;
const TARGET_MS = { a: 100, b: 2000, c: 30_000 };

const ext = extname(fileURLToPath(import.meta.url));
const script = (path: string): string => fileURLToPath(new URL(`${path}${ext}`, import.meta.url));
const SERVER = script("./lib/mcp-server");
const WATCHER = script("./lib/refusal-watcher");
const BIN = KEYWARD_BIN;
const node = (path: string, ...args: string[]): string[] => [...process.execArgv, path, ...args];

const newValue = (): string => `kwbench_${randomBytes(24).toString("base64url")}`;
const epochMs = (): number => performance.timeOrigin + performance.now();
const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const ms = (x: number): string =>
  x >= 1000 ? `${(x / 1000).toFixed(2)} s`.padStart(9) : `${x.toFixed(1)} ms`.padStart(9);
const ratio = (a: number, b: number): string => `${(a / b).toFixed(2)}×`;
const verdict = (value: number, target: number): string =>
  value <= target ? `target ≤ ${ms(target).trim()}: met` : `target ≤ ${ms(target).trim()}: MISSED`;

interface Fixture {
  t: TestHome;
  config: string;
  session: Session;
  service: SecretService;
  /**
   * A generated COMMITS-commit repository holding `leaked` (bench/leaked) in its history; only
   * (b) and (c) search it, and generating it takes minutes, so (a) alone skips it.
   */
  repo: string;
  leaked: string;
}

async function fixture(withHistory: boolean): Promise<Fixture> {
  const t = testHome();
  const ok = (r: { code: number; stderr: string }): void => assert.equal(r.code, 0, r.stderr);
  ok(await t.run(["init"]));
  ok(await t.run(["secret", "set", "bench/key"], { stdin: newValue() }));
  const config = join(t.home, "keyward.yaml");
  writeFileSync(
    config,
    [
      "version: 1",
      "secrets:",
      "  bench/key: {}",
      "  bench/leaked: {}",
      "profiles:",
      ...Array.from({ length: PROXIES }, (_, i) => [
        `  bench-${i}:`,
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify(node(SERVER))}`,
        "    env: { KEY: bench/key }",
      ]).flat(),
      "",
    ].join("\n"),
  );
  const session = await Session.open({
    home: t.env.KEYWARD_HOME as string,
    env: t.env,
    cwd: t.home,
    configPath: config,
    command: "bench",
  });
  const service = new SecretService(session);
  const leaked = newValue();
  await service.set("bench/leaked", leaked);
  const repo = join(t.home, "history-repo");
  mkdirSync(repo);
  if (withHistory) {
    const started = performance.now();
    generateRepo(repo, COMMITS, 20240601, [
      { at: 3000, removeAt: 3040, path: "deploy/leaked.env", content: `API_KEY=${leaked}\n` },
    ]);
    console.log(
      `generated a ${COMMITS}-commit repository in ${ms(performance.now() - started).trim()}`,
    );
  }
  return { t, config, session, service, repo, leaked };
}

/** Spawns `keyward …` in the fixture's home (not a git repository) and resolves with its exit and stdout. */
function keyward(fx: Fixture, args: string[]): { done: Promise<{ code: number; stdout: string }> } {
  const child = spawn(process.execPath, node(BIN, "--config", fx.config, ...args), {
    cwd: fx.t.home,
    env: fx.t.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on("data", (c: Buffer) => out.push(c));
  child.stderr.on("data", (c: Buffer) => err.push(c));
  return {
    done: new Promise((resolve, reject) =>
      child.on("exit", (code) => {
        const stdout = Buffer.concat(out).toString("utf8");
        if (code !== 0 && code !== 1)
          reject(new Error(`keyward ${args.join(" ")} exited ${code}: ${Buffer.concat(err)}`));
        else resolve({ code: code ?? 1, stdout });
      }),
    ),
  };
}

/**
 * A process reading `bench/key` version `version` every millisecond, once it reads it; `refused`
 * resolves with the epoch time it was refused (wrapped: an async function would flatten it).
 */
async function watch(fx: Fixture, version: number): Promise<{ refused: Promise<number> }> {
  const child = spawn(
    process.execPath,
    node(WATCHER, fx.t.env.KEYWARD_HOME as string, "bench/key", String(version)),
    { env: fx.t.env, stdio: ["ignore", "pipe", "inherit"] },
  );
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  assert.equal((await lines.next()).value, "ready");
  return { refused: lines.next().then((r) => Number(r.value)) };
}

async function freshVersion(fx: Fixture): Promise<number> {
  return (await fx.service.set("bench/key", newValue())).version;
}

// ---- (a) -------------------------------------------------------------------------------

async function refusal(fx: Fixture): Promise<void> {
  console.log(
    `\n(a) keyward revoke spawned → the store refuses the value (another process reads it every ms), ${ROUNDS.a} rounds`,
  );
  const revoke: number[] = [];
  const runbook: number[] = [];
  const disable: number[] = [];
  const bare: number[] = [];
  const floor: number[] = [];
  for (let round = 0; round < ROUNDS.a; round++) {
    {
      const t0 = epochMs();
      spawnSync(process.execPath, ["-e", "0"], { stdio: "ignore" });
      floor.push(epochMs() - t0);
    }
    {
      const version = await freshVersion(fx);
      const { refused } = await watch(fx, version);
      const t0 = epochMs();
      const run = keyward(fx, [
        "revoke",
        "bench/key",
        "--reason",
        "bench",
        "--no-rotate",
        "--no-scan",
        "--json",
      ]);
      const at = await refused;
      const report = JSON.parse((await run.done).stdout);
      revoke.push(at - t0);
      runbook.push(at - Date.parse(report.startedAt));
    }
    {
      const version = await freshVersion(fx);
      const { refused } = await watch(fx, version);
      const t0 = epochMs();
      const run = keyward(fx, ["secret", "disable", "bench/key"]);
      disable.push((await refused) - t0);
      await run.done;
    }
    {
      const version = await freshVersion(fx);
      const record = (await fx.session.store.get("bench/key"))!;
      const t0 = performance.now();
      await fx.session.store.setVersionState("bench/key", version, "disabled", {
        expectedRevision: record.revision,
        compromised: true,
      });
      bare.push(performance.now() - t0);
    }
  }
  const a = median(revoke);
  console.log(`   keyward revoke, spawn → refused          ${ms(a)}   ${verdict(a, TARGET_MS.a)}`);
  console.log(
    `   baseline: keyward secret disable, spawn → refused  ${ms(median(disable))}   revoke / disable: ${ratio(a, median(disable))}`,
  );
  console.log(
    `   baseline: node -e 0, spawn → exit                 ${ms(median(floor))}   revoke / node: ${ratio(a, median(floor))}   keyward adds ${ms(a - median(floor)).trim()}`,
  );
  console.log(
    `   of which the runbook (its start → refused)   ${ms(median(runbook))}   (ms resolution)`,
  );
  console.log(
    `   baseline: the bare store write (setVersionState)  ${ms(median(bare))}   runbook / write: ${ratio(median(runbook), median(bare))}`,
  );
}

// ---- (b) -------------------------------------------------------------------------------

async function reload(fx: Fixture): Promise<void> {
  console.log(
    `\n(b) keyward revoke spawned → all ${PROXIES} running keyward run proxies answer from a new server with the new value, ${ROUNDS.b} rounds`,
  );
  await freshVersion(fx); // (a) left the current version disabled
  const clients = Array.from(
    { length: PROXIES },
    (_, i) =>
      new RpcClient(
        process.execPath,
        node(BIN, "--config", fx.config, "run", `bench-${i}`, "--poll", "60000"),
        fx.t.env,
      ),
  );
  const parallelStart: number[] = [];
  const singleStart: number[] = [];
  const total: number[] = [];
  const steps1to4: number[] = [];
  const withScan: number[] = [];
  /** One revocation: spawn → every client answered by a new server; with or without step 5. */
  const revokeRound = async (scan: boolean): Promise<{ all: number; steps: number }> => {
    const before = await Promise.all(
      clients.map(async (c) => servedBy(await c.callTool("echo", { text: "pid" })).pid),
    );
    const t0 = performance.now();
    const run = keyward(fx, [
      "revoke",
      "bench/key",
      "--reason",
      "bench",
      "--generate",
      "--json",
      ...(scan ? ["--repo", fx.repo] : ["--no-scan"]),
    ]);
    const answered = await Promise.all(
      clients.map(async (c, i) => {
        for (;;) {
          const answer = await c.callTool("echo", { text: "pid" });
          if (!answer.isError && servedBy(answer).pid !== before[i]) return answer.at - t0;
          await sleep(1);
        }
      }),
    );
    const report = JSON.parse((await run.done).stdout);
    assert.equal(report.proxies.length, PROXIES);
    assert.ok(report.proxies.every((p: { ok: boolean; running: boolean }) => p.ok && p.running));
    return { all: Math.max(...answered), steps: report.budget.steps1to4Ms };
  };
  try {
    await Promise.all(clients.map((c) => c.initialize()));
    for (let i = 0; i < 400; i++) {
      const registered = new Set(
        listProxySockets(fx.t.env.KEYWARD_HOME as string).map((s) => s.pid),
      );
      if (clients.every((c) => registered.has(c.pid))) break;
      await sleep(25);
    }
    for (let round = 0; round < ROUNDS.b; round++) {
      const plain = await revokeRound(false);
      total.push(plain.all);
      steps1to4.push(plain.steps);
      withScan.push((await revokeRound(true)).all);
      {
        // Baseline: the same number of bare servers started at once, until all have answered.
        const t0 = performance.now();
        const bare = Array.from(
          { length: PROXIES },
          () => new RpcClient(process.execPath, node(SERVER)),
        );
        const at = await Promise.all(bare.map(async (c) => (await c.initialize()).at - t0));
        parallelStart.push(Math.max(...at));
        await Promise.all(bare.map((c) => c.close()));
        const t1 = performance.now();
        const one = new RpcClient(process.execPath, node(SERVER));
        singleStart.push((await one.initialize()).at - t1);
        await one.close();
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.close()));
  }
  const b = median(total);
  console.log(
    `   keyward revoke, spawn → all ${PROXIES} serve the new value ${ms(b)}   ${verdict(b, TARGET_MS.b)}`,
  );
  console.log(`     of which steps 1–4 inside the command        ${ms(median(steps1to4))}`);
  console.log(
    `   the same with the ${COMMITS}-commit history search beside it   ${ms(median(withScan))}   with / without: ${ratio(median(withScan), b)}`,
  );
  console.log(
    `   baseline: ${PROXIES} bare servers started at once → all answered  ${ms(median(parallelStart))}   revoke / that: ${ratio(b, median(parallelStart))}`,
  );
  console.log(
    `   baseline: one bare server start → answers      ${ms(median(singleStart))}   revoke / that: ${ratio(b, median(singleStart))}`,
  );
}

// ---- (c) -------------------------------------------------------------------------------

async function history(fx: Fixture): Promise<void> {
  const { repo, leaked } = fx;
  console.log(
    `\n(c) history search of the generated ${COMMITS}-commit repository, ${ROUNDS.c} rounds`,
  );
  const gitLog: number[] = [];
  const scan: number[] = [];
  const revoke: number[] = [];
  for (let round = 0; round < ROUNDS.c; round++) {
    {
      const t0 = performance.now();
      const git = spawn("git", ["log", "-p", "--all"], {
        cwd: repo,
        stdio: ["ignore", "pipe", "ignore"],
      });
      git.stdout.resume();
      await new Promise((resolve) => git.on("close", resolve));
      gitLog.push(performance.now() - t0);
    }
    {
      const t0 = performance.now();
      const result = await findValueInHistory(repo, leaked);
      scan.push(performance.now() - t0);
      assert.equal(result.sightings.length, 1, "the planted value is found");
      assert.equal(result.sightings[0]?.presentInTree, false);
    }
    {
      // A fresh version holding the same value, so each round has something to revoke.
      await fx.service.set("bench/leaked", leaked);
      const t0 = performance.now();
      const run = keyward(fx, [
        "revoke",
        "bench/leaked",
        "--reason",
        "bench",
        "--no-rotate",
        "--repo",
        repo,
        "--json",
      ]);
      const report = JSON.parse((await run.done).stdout);
      revoke.push(performance.now() - t0);
      assert.equal(report.git[0].sightings.length, 1);
    }
  }
  const c = median(revoke);
  console.log(
    `   keyward revoke --repo, spawn → report written   ${ms(c)}   ${verdict(c, TARGET_MS.c)}`,
  );
  console.log(`     of which the search (findValueInHistory)      ${ms(median(scan))}`);
  console.log(
    `   baseline: git log -p --all alone                ${ms(median(gitLog))}   search / git log: ${ratio(median(scan), median(gitLog))}; revoke / git log: ${ratio(c, median(gitLog))}`,
  );
}

async function main(): Promise<void> {
  const started = performance.now();
  const sections = process.argv.slice(2);
  const run = (name: string) => sections.length === 0 || sections.includes(name);
  const fx = await fixture(run("b") || run("c"));
  try {
    console.log(
      `bench/revoke: keyward revoke spawned as a CLI; ${PROXIES} keyward run proxies on bench/lib/mcp-server; medians`,
    );
    if (run("a")) await refusal(fx);
    if (run("b")) await reload(fx);
    if (run("c")) await history(fx);
    console.log(`\nTotal ${((performance.now() - started) / 1000).toFixed(0)} s.`);
  } finally {
    await fx.session.close();
    fx.t.cleanup();
  }
}

await main();
