/**
 * For bench/revoke: reads one version of one secret from its own process, in a loop (every
 * millisecond), until the store refuses it; prints `ready` once the first read works, then the
 * epoch time (ms, fractional) of the first refusal. Usage: refusal-watcher <home> <secret> <version>
 * with the master key in KEYWARD_MASTER_KEY (hex).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { isKeywardError } from "../../src/core/errors.js";
import { Envelope } from "../../src/crypto/envelope.js";
import { SqliteStore } from "../../src/store/sqlite.js";

const [home, secret, version] = process.argv.slice(2) as [string, string, string];
const master = Buffer.from(process.env.KEYWARD_MASTER_KEY ?? "", "hex");
const store = await SqliteStore.open(home, async (header) =>
  Envelope.unlock(master, header, "bench"),
);
let ready = false;
for (;;) {
  try {
    await store.read(secret, { version: Number(version) });
    if (!ready) {
      ready = true;
      process.stdout.write("ready\n");
    }
  } catch (e) {
    if (!isKeywardError(e) || e.code !== "disabled") throw e;
    process.stdout.write(`${performance.timeOrigin + performance.now()}\n`);
    break;
  }
  await sleep(1);
}
await store.close();
