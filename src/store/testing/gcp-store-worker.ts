/**
 * A child process that drives a GcpSecretManagerStore for the multi-process tests in
 * ../gcp.test.ts (races on etags, SIGKILL in the middle of multi-call writes). Commands arrive
 * over the IPC channel (serveCommands, child.ts); each gets one reply with the same id, except
 * the loops, which reply after their first write and then keep writing until the process is
 * killed.
 */
import { GcpSecretManagerStore } from "../gcp.js";
import type { VersionWrite } from "../types.js";
import {
  runStoreCommand,
  type StoreCommand,
  serveCommands,
  type WithoutId,
  type WorkerOutcome,
} from "./child.js";

export type GcpWorkerRequest =
  | {
      id: number;
      op: "open";
      origin: string;
      project: string;
      prefix: string;
      credentialsFile: string;
      transactionTimeoutMs: number;
    }
  | { id: number; op: "put-versions"; writes: VersionWrite[] }
  | { id: number; op: "enable"; name: string; version: number; expectedRevision: number }
  | { id: number; op: "delete"; name: string; expectedRevision: number }
  | StoreCommand;

export type GcpWorkerReply = WorkerOutcome & { id: number };
export type GcpWorkerCommand = WithoutId<GcpWorkerRequest>;

let store: GcpSecretManagerStore | undefined;

function opened(): GcpSecretManagerStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

serveCommands<GcpWorkerRequest>(
  async (req, reply) => {
    switch (req.op) {
      case "open": {
        // The child's metadata requests, if any, land on the fake's counter too.
        process.env.GCE_METADATA_HOST = new URL(req.origin).host;
        store = GcpSecretManagerStore.open(
          { project: req.project, prefix: req.prefix, endpoint: req.origin, timeoutSeconds: 5 },
          { GOOGLE_APPLICATION_CREDENTIALS: req.credentialsFile, HOME: "/nonexistent" },
          { baseDelayMs: 1, maxDelayMs: 5, transactionTimeoutMs: req.transactionTimeoutMs },
        );
        return { ok: true };
      }
      case "put-versions": {
        const { results } = await opened().putVersions(req.writes);
        return { ok: true, version: results[0]?.version.version };
      }
      case "enable": {
        const record = await opened().setVersionState(req.name, req.version, "enabled", {
          expectedRevision: req.expectedRevision,
        });
        return { ok: true, revision: record.revision };
      }
      case "delete":
        await opened().delete(req.name, req.expectedRevision);
        return { ok: true };
      default:
        return runStoreCommand(opened(), req, reply);
    }
  },
  () => store?.close(),
);
