/**
 * A child process that drives a store for the multi-process tests in ../sqlite.test.ts and
 * ../postgres.test.ts.
 * Commands arrive over the IPC channel (never argv, so the test master key stays out of `ps`);
 * each gets one reply with the same id.
 */
import { isKeywardError } from "../../core/errors.js";
import { Envelope } from "../../crypto/envelope.js";
import type { PostgresOptions } from "../postgres-connect.js";
import { SqliteStore } from "../sqlite.js";
import type { EnvelopeStore } from "../types.js";
import { loopValue } from "./loop-value.js";

export type WorkerRequest =
  | { id: number; op: "open"; home: string; keyHex: string }
  | { id: number; op: "open-postgres"; options: PostgresOptions; keyHex: string }
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  /** Writes loopValue(1), loopValue(2), … as new current versions until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number };

export type WorkerReply =
  | { id: number; ok: true; revision?: number; version?: number }
  | { id: number; ok: false; code: string };

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
export type WorkerCommand = WithoutId<WorkerRequest>;

let store: EnvelopeStore | undefined;

function openedStore(): EnvelopeStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

async function handle(req: WorkerRequest): Promise<WithoutId<WorkerReply>> {
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
    case "write-loop": {
      const s = openedStore();
      let revision = (await s.get(req.name))?.revision ?? 0;
      for (let index = req.firstIndex; ; index++) {
        const put = await s.putVersion(req.name, loopValue(index), { expectedRevision: revision });
        revision = put.record.revision;
        if (index === req.firstIndex) send({ id: req.id, ok: true, revision });
      }
    }
  }
}

function send(reply: WorkerReply): void {
  process.send?.(reply);
}

process.on("message", (req: WorkerRequest) => {
  handle(req).then(
    (reply) => {
      if (req.op !== "write-loop") send({ id: req.id, ...reply });
    },
    (e: unknown) => send({ id: req.id, ok: false, code: isKeywardError(e) ? e.code : String(e) }),
  );
});
// The parent is done (or gone): close cleanly so the WAL is checkpointed, then leave.
process.on("disconnect", () => {
  void store?.close();
  process.exit(0);
});
