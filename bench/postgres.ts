/**
 * bench/postgres: the PostgreSQL backend on the local server (127.0.0.1:5432, database `test`,
 * or PGHOST/PGPORT/PGUSER/PGDATABASE), each part in a schema of its own, dropped afterwards.
 *  1. Reads: store.read (one query + AES-GCM open) beside a raw SELECT of the same ciphertext
 *     row on a plain connection, interleaved in the same run.
 *  2. Fleet fan-out: 50 child processes (simulated hosts) follow the store through changes();
 *     one host marks the current version compromised and disabled (the revoke runbook's step 1);
 *     measured from just before that write to every host having re-read the record and refused
 *     the value, over 20 revocations. Baseline: the same 50 processes answering an IPC ping,
 *     interleaved with the revocations. Target: p99 ≤ 250 ms.
 * Run: npm run bench -- postgres
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { loadavg } from "node:os";
import pg from "pg";
import { defaultMetadata } from "../src/core/types.js";
import { Envelope } from "../src/crypto/envelope.js";
import { type PostgresOptions, PostgresStore, postgresOptions } from "../src/store/postgres.js";
import type { HostCommand, HostReport } from "./lib/postgres-host.js";
import { fmtStats, measureInterleaved, percentile } from "./lib/stats.js";

const SECRETS = 2_000;
const READS = 5_000;
const HOSTS = 50;
const REVOCATIONS = 20;
const WARMUP_REVOCATIONS = 2;
const TARGET_P99_MS = 250;

const server = {
  host: process.env.PGHOST || "127.0.0.1",
  port: Number(process.env.PGPORT || 5432),
  user: process.env.PGUSER || "postgres",
  database: process.env.PGDATABASE || "test",
};

function benchOptions(tag: string, applicationName: string): PostgresOptions {
  const schema = `kwbench_${tag}_${randomBytes(5).toString("hex")}`;
  return postgresOptions.parse({ ...server, schema, applicationName });
}

async function dropSchema(schema: string): Promise<void> {
  const admin = new pg.Client(server);
  await admin.connect();
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  await admin.end();
}

async function reads(): Promise<void> {
  const options = benchOptions("reads", "kwbench-reads");
  const { envelope, header } = Envelope.create(randomBytes(32), "raw", "env");
  const store = await PostgresStore.create(options, process.env, envelope, header);
  const raw = new pg.Client({ ...server, application_name: "kwbench-raw" });
  try {
    const names = Array.from({ length: SECRETS }, (_, i) => `bench/service-${i % 100}/key-${i}`);
    for (const name of names) {
      await store.create(name, defaultMetadata(), randomBytes(30).toString("base64url"));
    }
    await raw.connect();
    const ids = new Map<string, number>();
    const { rows } = await raw.query<{ id: number; name: string }>(
      `SELECT id, name FROM "${options.schema}".secrets`,
    );
    for (const r of rows) ids.set(r.name, r.id);
    const pick = (i: number) => names[(i * 7919) % SECRETS]!;
    // The same row the store reads: the current version's ciphertext, by primary key.
    const rawRead = (i: number) =>
      raw.query({
        name: "raw-read",
        text: `SELECT ciphertext FROM "${options.schema}".secret_values WHERE secret_id = $1 AND version = 1`,
        values: [ids.get(pick(i))],
      });
    for (let i = 0; i < 1000; i++) {
      await rawRead(i);
      await store.read(pick(i));
    }
    const [rawStats, getStats] = await measureInterleaved(READS, [
      rawRead,
      (i) => store.read(pick(i)),
    ]);
    console.log(`reads: ${SECRETS} secrets, ${READS} reads each, interleaved`);
    console.log(fmtStats("baseline: raw SELECT of the row", rawStats!));
    console.log(fmtStats("store.read (query + decrypt)", getStats!));
    console.log(
      `get p50 = ${getStats!.p50.toFixed(0)} µs, ${(getStats!.p50 / rawStats!.p50).toFixed(2)}× the raw SELECT; ` +
        `p99 = ${getStats!.p99.toFixed(0)} µs, ${(getStats!.p99 / rawStats!.p99).toFixed(2)}× the raw SELECT's p99`,
    );
  } finally {
    await raw.end().catch(() => {});
    await store.close();
    await dropSchema(options.schema);
  }
}

/** A simulated host: a child process with its reports queued until the parent waits for them. */
class Host {
  readonly child: ChildProcess;
  private readonly reports: HostReport[] = [];
  private wake: (() => void) | undefined;

  constructor() {
    this.child = fork(new URL("./lib/postgres-host.js", import.meta.url), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.child.on("message", (r: HostReport) => {
      if (r.type === "error") {
        console.error(`host ${this.child.pid}: ${r.code}`);
        process.exitCode = 1;
      }
      this.reports.push(r);
      this.wake?.();
    });
  }

  send(command: HostCommand): void {
    this.child.send(command);
  }

  /** Waits for the first report matching `want`, dropping earlier ones. */
  async next<T extends HostReport>(want: (r: HostReport) => r is T): Promise<T> {
    for (;;) {
      const index = this.reports.findIndex(want);
      if (index !== -1) {
        const [found] = this.reports.splice(0, index + 1).slice(-1);
        return found as T;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  stop(): Promise<void> {
    return new Promise((resolve) => {
      if (this.child.exitCode !== null) return resolve();
      this.child.once("exit", () => resolve());
      this.child.disconnect();
    });
  }
}

const at = () => performance.timeOrigin + performance.now();

function summary(label: string, samples: number[]): { p50: number; p99: number } {
  const sorted = [...samples].sort((a, b) => a - b);
  const p50 = percentile(sorted, 0.5);
  const p99 = percentile(sorted, 0.99);
  console.log(
    `${label.padEnd(48)} p50 ${p50.toFixed(1).padStart(7)} ms   p99 ${p99.toFixed(1).padStart(7)} ms   max ${sorted.at(-1)?.toFixed(1).padStart(7)} ms   (n=${samples.length})`,
  );
  return { p50, p99 };
}

async function fanOut(): Promise<void> {
  const options = benchOptions("fleet", "kwbench-writer");
  const master = randomBytes(32);
  const { envelope, header } = Envelope.create(master, "raw", "env");
  const writer = await PostgresStore.create(options, process.env, envelope, header);
  const secret = "fleet/token";
  const hosts: Host[] = [];
  try {
    let record = await writer.create(secret, defaultMetadata(), randomBytes(24).toString("hex"));
    // Started a few at a time: 50 node processes importing at once would only measure the loader.
    for (let i = 0; i < HOSTS; i += 10) {
      const batch = Array.from({ length: Math.min(10, HOSTS - i) }, () => new Host());
      for (const [k, host] of batch.entries()) {
        host.send({
          op: "open",
          options: { ...options, applicationName: `kwbench-host-${i + k}` },
          keyHex: master.toString("hex"),
          secret,
        });
      }
      await Promise.all(batch.map((h) => h.next((r): r is HostReport => r.type === "ready")));
      hosts.push(...batch);
    }
    const connections = await countConnections();
    const loadBefore = loadavg()[0] ?? 0;
    const worst: number[] = [];
    const everyHost: number[] = [];
    const writes: number[] = [];
    const heard: number[] = [];
    const handled: number[] = [];
    const pingWorst: number[] = [];
    const pingEvery: number[] = [];
    for (let round = 0; round < WARMUP_REVOCATIONS + REVOCATIONS; round++) {
      const counted = round >= WARMUP_REVOCATIONS;
      // A fresh current version every host is serving, so there is something to revoke.
      const put = await writer.putVersion(secret, randomBytes(24).toString("hex"), {
        expectedRevision: record.revision,
      });
      record = put.record;
      const version = put.version.version;
      await Promise.all(
        hosts.map((h) =>
          h.next(
            (r): r is Extract<HostReport, { type: "serving" }> =>
              r.type === "serving" && r.version === version,
          ),
        ),
      );
      // Baseline: the same processes woken by an IPC message instead of by the database.
      const p0 = at();
      for (const h of hosts) h.send({ op: "ping", round });
      const pongs = await Promise.all(
        hosts.map((h) =>
          h.next(
            (r): r is Extract<HostReport, { type: "pong" }> =>
              r.type === "pong" && r.round === round,
          ),
        ),
      );
      // The revocation: runbook step 1, one write on this host.
      const t0 = at();
      record = await writer.setVersionState(secret, version, "disabled", {
        expectedRevision: record.revision,
        compromised: true,
      });
      const written = at();
      const refusals = await Promise.all(
        hosts.map((h) =>
          h.next(
            (r): r is Extract<HostReport, { type: "refused" }> =>
              r.type === "refused" && r.version === version,
          ),
        ),
      );
      if (!counted) continue;
      const latencies = refusals.map((r) => r.at - t0);
      worst.push(Math.max(...latencies));
      everyHost.push(...latencies);
      writes.push(written - t0);
      heard.push(...refusals.map((r) => r.heardAt - written));
      handled.push(...refusals.map((r) => r.at - r.heardAt));
      const pingLatencies = pongs.map((p) => p.at - p0);
      pingWorst.push(Math.max(...pingLatencies));
      pingEvery.push(...pingLatencies);
    }
    console.log(
      `\nfleet fan-out: ${HOSTS} host processes following changes(), ${REVOCATIONS} revocations (after ${WARMUP_REVOCATIONS} warm-up); ` +
        `${connections} server connections for the whole fleet while idle; ` +
        `1-minute load average ${loadBefore.toFixed(1)} before, ${(loadavg()[0] ?? 0).toFixed(1)} after (on this machine's 2 cores, shared)`,
    );
    const ping = summary("baseline: IPC ping, until every host answered", pingWorst);
    summary("baseline: IPC ping, each host", pingEvery);
    summary("revocation write (mark compromised + disabled)", writes);
    summary("  commit → host's feed delivered the change", heard);
    summary("  delivered → host re-read record, refused value", handled);
    const fleet = summary("revocation, until every host refused the value", worst);
    summary("revocation, each host", everyHost);
    console.log(
      `revocation → every host refusing: p50 ${fleet.p50.toFixed(1)} ms (${(fleet.p50 / ping.p50).toFixed(1)}× the IPC ping to every host), ` +
        `p99 ${fleet.p99.toFixed(1)} ms (target ≤ ${TARGET_P99_MS} ms: ${fleet.p99 <= TARGET_P99_MS ? "met" : "MISSED"})`,
    );
  } finally {
    await Promise.all(hosts.map((h) => h.stop()));
    await writer.close();
    await dropSchema(options.schema);
  }
}

/** Connections the fleet holds: every session whose application_name is a bench host's. */
async function countConnections(): Promise<number> {
  const admin = new pg.Client(server);
  await admin.connect();
  const { rows } = await admin.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'kwbench-host-%'",
  );
  await admin.end();
  return rows[0]?.n ?? 0;
}

await reads();
await fanOut();
