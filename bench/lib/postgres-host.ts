/**
 * One simulated host of bench/postgres.ts: opens the PostgreSQL store, follows it through
 * changes() as `keyward run` and `keyward daemon` will, and on every change to the followed
 * secret re-reads its record and its current value. It tells the parent (over IPC, with its own
 * clock: performance.timeOrigin + now, comparable across processes on one machine) whether it
 * is serving that version or refusing it. Commands come over IPC, never argv, so the test key
 * stays out of `ps`.
 */
import { isKeywardError } from "../../src/core/errors.js";
import { currentVersion } from "../../src/core/types.js";
import { Envelope } from "../../src/crypto/envelope.js";
import { type PostgresOptions, PostgresStore } from "../../src/store/postgres.js";

export type HostCommand =
  | { op: "open"; options: PostgresOptions; keyHex: string; secret: string }
  | { op: "ping"; round: number };

export type HostReport =
  | { type: "ready" }
  | { type: "serving"; version: number; at: number }
  /** `heardAt`: when the feed delivered the change that led to this check. */
  | { type: "refused"; version: number; at: number; heardAt: number }
  | { type: "pong"; round: number; at: number }
  | { type: "error"; code: string };

const now = () => performance.timeOrigin + performance.now();
const send = (report: HostReport) => process.send?.(report);

let store: PostgresStore | undefined;
let close: (() => Promise<void>) | undefined;

async function follow(options: PostgresOptions, keyHex: string, secret: string): Promise<void> {
  const master = Buffer.from(keyHex, "hex");
  const opened = await PostgresStore.open(options, process.env, async (header) =>
    Envelope.unlock(master, header, "bench key"),
  );
  store = opened;
  const check = async (heardAt: number) => {
    const record = await opened.get(secret);
    const version = record === undefined ? undefined : currentVersion(record)?.version;
    if (version === undefined) return;
    try {
      const read = await opened.read(secret);
      send({ type: "serving", version: read.version.version, at: now() });
    } catch (e) {
      if (!isKeywardError(e) || e.code !== "disabled") throw e;
      send({ type: "refused", version, at: now(), heardAt });
    }
  };
  // From 0 (the bench's store is young): calling head() first would open a pool connection.
  const sub = await opened.changes().subscribe(
    0,
    (change) => {
      if (change.secret !== secret) return;
      check(now()).catch((e: unknown) =>
        send({ type: "error", code: isKeywardError(e) ? e.code : String(e) }),
      );
    },
    (e) => send({ type: "error", code: isKeywardError(e) ? e.code : String(e) }),
  );
  close = () => sub.close();
  await check(now());
  send({ type: "ready" });
}

process.on("message", (command: HostCommand) => {
  if (command.op === "ping") {
    send({ type: "pong", round: command.round, at: now() });
    return;
  }
  follow(command.options, command.keyHex, command.secret).catch((e: unknown) =>
    send({ type: "error", code: isKeywardError(e) ? `${e.code}: ${e.message}` : String(e) }),
  );
});

process.on("disconnect", () => {
  void (async () => {
    await close?.();
    await store?.close();
    process.exit(0);
  })();
});
