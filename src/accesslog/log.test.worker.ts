// Child process for log.test.ts: opens the log, says "ready", waits for a line on stdin, then
// appends so that two of these contend for the write lock.
import { AccessLog, currentActor } from "./log.js";

const [home, count, label] = process.argv.slice(2);
if (home === undefined || count === undefined || label === undefined) {
  throw new Error("usage: log.test.worker <home> <count> <label>");
}
const log = AccessLog.open(home);
const actor = currentActor(`test ${label}`);
process.stdout.write("ready\n");
process.stdin.once("data", async () => {
  for (let i = 0; i < Number(count); i++) {
    log.append({ actor, action: "read", secret: `worker/${label}`, version: i + 1, outcome: "ok" });
    // Yield between appends so the two processes take turns at the lock instead of one
    // finishing before the other starts.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  log.close();
  process.stdin.destroy();
});
