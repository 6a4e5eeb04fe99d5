/**
 * A child process that drives a store for the multi-process tests in ../sqlite.test.ts and
 * ../postgres.test.ts, through serveCommands (child.ts): commands arrive over the IPC channel
 * (never argv, so the test master key stays out of `ps`); each gets one reply with the same id.
 */
import { Envelope } from "../../crypto/envelope.js";
import type { PostgresOptions } from "../postgres-connect.js";
import { SqliteStore } from "../sqlite.js";
import type { EnvelopeStore } from "../types.js";
import {
  runStoreCommand,
  type StoreCommand,
  serveCommands,
  type WithoutId,
  type WorkerOutcome,
} from "./child.js";

export type WorkerRequest =
  | { id: number; op: "open"; home: string; keyHex: string }
  | { id: number; op: "open-postgres"; options: PostgresOptions; keyHex: string }
  | StoreCommand;

export type WorkerReply = WorkerOutcome & { id: number };
export type WorkerCommand = WithoutId<WorkerRequest>;

let store: EnvelopeStore | undefined;

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
      default:
        if (store === undefined) throw new Error("send open first");
        return runStoreCommand(store, req, reply);
    }
  },
  // The parent is done (or gone): close cleanly so the WAL is checkpointed.
  () => store?.close(),
);
