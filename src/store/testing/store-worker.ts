/**
 * A child process that drives a store for the multi-process tests in ../sqlite.test.ts and
 * ../postgres.test.ts, through serveCommands (child.ts): commands arrive over the IPC channel
 * (never argv, so the test master key stays out of `ps`); each gets one reply with the same id.
 */
import { Envelope } from "../../crypto/envelope.js";
import type { PostgresOptions } from "../postgres-connect.js";
import { SqliteStore } from "../sqlite.js";
import type { EnvelopeStore } from "../types.js";
import { serveCommands, type WithoutId, type WorkerOutcome } from "./child.js";
import { writeLoop } from "./loop-value.js";

export type WorkerRequest =
  | { id: number; op: "open"; home: string; keyHex: string }
  | { id: number; op: "open-postgres"; options: PostgresOptions; keyHex: string }
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  /** writeLoop of `bytes`-long values until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number; bytes: number };

export type WorkerReply = WorkerOutcome & { id: number };
export type WorkerCommand = WithoutId<WorkerRequest>;

let store: EnvelopeStore | undefined;

function openedStore(): EnvelopeStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

serveCommands<WorkerRequest>(
  async (req, reply) => {
    switch (req.op) {
      case "open": {
        const master = Buffer.from(req.keyHex, "hex");
        store = await SqliteStore.open(req.home, async (header) =>
          Envelope.unlock(master, header, "test key"),
        );
        return { ok: true };
      }
      case "open-postgres": {
        const master = Buffer.from(req.keyHex, "hex");
        const { PostgresStore } = await import("../postgres.js");
        store = await PostgresStore.open(req.options, { HOME: "/nonexistent" }, async (header) =>
          Envelope.unlock(master, header, "test key"),
        );
        return { ok: true };
      }
      case "revision": {
        const record = await openedStore().get(req.name);
        return { ok: true, revision: record?.revision ?? 0 };
      }
      case "put": {
        const put = await openedStore().putVersion(req.name, req.value, {
          expectedRevision: req.expectedRevision,
        });
        return { ok: true, revision: put.record.revision, version: put.version.version };
      }
      case "write-loop":
        return writeLoop(openedStore(), req.name, req.firstIndex, req.bytes, (revision) =>
          reply({ ok: true, revision }),
        );
    }
  },
  // The parent is done (or gone): close cleanly so the WAL is checkpointed.
  () => store?.close(),
);
