/**
 * bench/startup: what a fresh `keyward` process costs before and while it does a small job, beside
 * `node -e 0` (the floor any Node CLI pays) spawned the same way in the same run. Commands run in a
 * temporary home (sqlite store, KEYWARD_MASTER_KEY set, no config file unless said): --version,
 * secret ls / get / disable, revoke --no-rotate (a secret without a provider), audit of an empty
 * folder, and secret ls with a keyward.yaml (the path that loads the YAML parser and the config
 * schema). Each round spawns every command once in turn (interleaved); a fresh version is stored
 * in-process before each round for the commands that disable one. Reported per command: median
 * wall time from spawn to exit, median CPU time (user+sys, from /proc/self/stat's counters of
 * waited-for children, 10 ms ticks), each as a ratio to `node -e 0`, and what keyward adds to it.
 * The CLI spawned is the one package.json's `bin` names: what users run. Other entry points given
 * after the round count (another build of the CLI) are timed beside it, command by command.
 * Run: npm run bench -- startup   or   node dist/bench/startup.js [rounds [other/bin.js…]]
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join, relative, resolve } from "node:path";
import { SecretService } from "../src/secrets/service.js";
import { Session } from "../src/secrets/session.js";
import { testHome } from "../src/testing/cli.js";
import { repoRoot } from "./lib/corpus.js";
import { percentile } from "./lib/stats.js";

const ROUNDS = Number(process.argv[2] ?? 15);
const root = repoRoot();
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
  bin: { keyward: string };
};
const BINS = [pkg.bin.keyward, ...process.argv.slice(3)].map((bin) => resolve(root, bin));

const t = testHome();
const ok = (r: { code: number; stderr: string }): void => assert.equal(r.code, 0, r.stderr);
ok(await t.run(["init"]));
const newValue = (): string => `kwbench_${randomBytes(24).toString("base64url")}`;
for (const name of ["bench/key", "bench/disable", "bench/revoke"])
  ok(await t.run(["secret", "set", name], { stdin: newValue() }));
const empty = join(t.home, "empty");
mkdirSync(empty);
const configDir = join(t.home, "with-config");
mkdirSync(configDir);
writeFileSync(
  join(configDir, "keyward.yaml"),
  [
    "version: 1",
    "secrets:",
    "  bench/key: { sensitivity: high, rotation: { ttl: 30d } }",
    "profiles:",
    "  svc: { command: node, args: [server.js], env: { KEY: bench/key } }",
    "",
  ].join("\n"),
);

const session = await Session.open({
  home: t.env.KEYWARD_HOME as string,
  env: t.env,
  cwd: t.home,
  command: "bench",
});
const service = new SecretService(session);

interface Case {
  label: string;
  argv: string[];
  cwd?: string;
  before?: () => Promise<unknown>;
}
const commands: Case[] = [
  { label: "--version", argv: ["--version"] },
  { label: "secret ls", argv: ["secret", "ls"] },
  { label: "secret get", argv: ["secret", "get", "bench/key"] },
  {
    label: "secret disable",
    argv: ["secret", "disable", "bench/disable"],
    before: () => service.set("bench/disable", newValue()),
  },
  {
    label: "revoke --no-rotate",
    argv: ["revoke", "bench/revoke", "--reason", "bench", "--no-rotate"],
    before: () => service.set("bench/revoke", newValue()),
  },
  { label: "audit <empty folder>", argv: ["audit", empty] },
  { label: "secret ls (keyward.yaml)", argv: ["secret", "ls"], cwd: configDir },
];
const cases: Case[] = [
  { label: "node -e 0 (baseline)", argv: ["-e", "0"] },
  ...commands.flatMap((c) =>
    BINS.map((bin, i) => ({
      ...c,
      label: `keyward ${c.label}${i === 0 ? "" : ` [${i}]`}`,
      argv: [bin, ...c.argv],
    })),
  ),
];

/** CPU milliseconds of this process's waited-for children so far (cutime + cstime). */
const childCpuMs = (): number => {
  const fields = readFileSync("/proc/self/stat", "utf8").split(") ")[1]!.split(" ");
  // After "pid (comm) ": field 3 is index 0, so cutime (16) and cstime (17) are 13 and 14.
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100;
};

const wall = cases.map((): number[] => []);
const cpu = cases.map((): number[] => []);
console.log(
  `${ROUNDS} rounds, ${cases.length} processes each, interleaved; load average ${loadavg()[0]!.toFixed(2)}`,
);
for (const [i, bin] of BINS.entries())
  console.log(
    `CLI ${i === 0 ? "" : `[${i}] `}${relative(root, bin)}${i === 0 ? " (package.json bin)" : ""}`,
  );
for (let round = 0; round < ROUNDS; round++) {
  for (const [k, c] of cases.entries()) {
    await c.before?.();
    const cpu0 = childCpuMs();
    const t0 = performance.now();
    const r = spawnSync(process.execPath, c.argv, {
      cwd: c.cwd ?? t.home,
      env: t.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    wall[k]!.push(performance.now() - t0);
    cpu[k]!.push(childCpuMs() - cpu0);
    // audit exits 1 when it grades below its threshold; anything else is a broken run.
    assert.ok(
      r.status === 0 || (r.status === 1 && c.argv[1] === "audit"),
      `${c.label} exited ${r.status}: ${r.stderr}`,
    );
  }
}
await session.close();
t.cleanup();

const median = (xs: number[]): number =>
  percentile(
    [...xs].sort((a, b) => a - b),
    0.5,
  );
const baseWall = median(wall[0]!);
const baseCpu = median(cpu[0]!);
const ms = (x: number): string => `${x.toFixed(0)} ms`.padStart(7);
console.log(
  `${"".padEnd(38)} ${"wall".padStart(7)} ${"ratio".padStart(6)} ${"+wall".padStart(7)}   ${"cpu".padStart(7)} ${"ratio".padStart(6)}`,
);
for (const [k, c] of cases.entries()) {
  const w = median(wall[k]!);
  const u = median(cpu[k]!);
  console.log(
    `${c.label.padEnd(38)} ${ms(w)} ${`${(w / baseWall).toFixed(2)}×`.padStart(6)} ${ms(w - baseWall)}   ${ms(u)} ${`${(u / baseCpu).toFixed(2)}×`.padStart(6)}`,
  );
}
console.log(`load average at the end ${loadavg()[0]!.toFixed(2)}`);
