/**
 * bench/store: get and set latency of the SQLite store over 10,000 secrets, beside a raw
 * SQLite point read of a same-sized blob in the same process (the baseline).
 * Targets (issue #2): get p50 ≤ 50 µs and ≤ 5× the raw read.
 * Run: npm run bench -- store
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { AccessLog, currentActor } from "../src/accesslog/log.js";
import { defaultMetadata } from "../src/core/types.js";
import { Envelope } from "../src/crypto/envelope.js";
import { SqliteStore } from "../src/store/sqlite.js";
import { fmtStats, measure } from "./lib/stats.js";

const SECRETS = 10_000;
const READS = 20_000;
const WRITES = 2_000;

async function main(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), "keyward-bench-"));
  try {
    const { envelope, header } = Envelope.create(randomBytes(32), "raw", "env");
    const store = SqliteStore.create(home, envelope, header);
    const value = () => randomBytes(30).toString("base64url");
    const names = Array.from({ length: SECRETS }, (_, i) => `bench/service-${i % 100}/key-${i}`);
    for (const name of names) await store.create(name, defaultMetadata(), value());

    // Baseline: a raw point read of a 40-byte blob by primary key, in its own SQLite file, same settings.
    const raw = new Database(join(home, "raw.db"));
    raw.pragma("journal_mode = WAL");
    raw.pragma("synchronous = NORMAL");
    raw.exec("create table kv (k text primary key, v blob not null)");
    const insert = raw.prepare("insert into kv (k, v) values (?, ?)");
    raw.transaction(() => {
      for (const name of names) insert.run(name, randomBytes(40));
    })();
    const rawGet = raw.prepare("select v from kv where k = ?");

    const pick = (i: number) => names[(i * 7919) % SECRETS]!;
    // Warm both paths equally before measuring.
    for (let i = 0; i < 2000; i++) {
      rawGet.get(pick(i));
      await store.read(pick(i));
    }
    const rawStats = await measure(READS, (i) => rawGet.get(pick(i)));
    const getStats = await measure(READS, (i) => store.read(pick(i)));

    const log = AccessLog.create(home, envelope);
    const actor = currentActor("bench", undefined);
    const loggedGet = await measure(READS, async (i) => {
      const name = pick(i);
      const r = await store.read(name);
      log.append({
        actor,
        action: "read",
        secret: name,
        version: r.version.version,
        outcome: "ok",
        value: r.value,
      });
    });

    const revisions = new Map<string, number>();
    const setStats = await measure(WRITES, async (i) => {
      const name = pick(i);
      const rev = revisions.get(name) ?? (await store.get(name))!.revision;
      const r = await store.putVersion(name, value(), { expectedRevision: rev });
      revisions.set(name, r.record.revision);
    });

    console.log(
      `bench/store: ${SECRETS} secrets, ${READS} reads, ${WRITES} writes (SQLite WAL, AES-256-GCM envelope)`,
    );
    console.log(fmtStats("baseline: raw SQLite point read", rawStats));
    console.log(fmtStats("store.read (decrypt)", getStats));
    console.log(fmtStats("store.read + access-log append", loggedGet));
    console.log(fmtStats("store.putVersion (CAS, encrypt)", setStats));
    const ratio = getStats.p50 / rawStats.p50;
    console.log(
      `get p50 = ${getStats.p50.toFixed(1)} µs (target ≤ 50 µs: ${getStats.p50 <= 50 ? "met" : "MISSED"}); ` +
        `${ratio.toFixed(2)}× the raw read (target ≤ 5×: ${ratio <= 5 ? "met" : "MISSED"})`,
    );
    console.log(`logged get p50 = ${(loggedGet.p50 / rawStats.p50).toFixed(2)}× the raw read`);
    log.close();
    raw.close();
    await store.close();
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
}

await main();
