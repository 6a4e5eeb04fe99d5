/**
 * A child process that drives a GcpSecretManagerStore for the multi-process tests in
 * ../gcp.test.ts (races on etags, SIGKILL in the middle of multi-call writes). Commands arrive
 * over the IPC channel (serveCommands, child.ts); each gets one reply with the same id, except
 * the loop, which replies after its first write and then keeps writing until the process is
 * killed.
 */
import { GcpSecretManagerStore } from "../gcp.js";
import type { VersionWrite } from "../types.js";
import { serveCommands, type WithoutId, type WorkerOutcome } from "./child.js";
import { pairLoop } from "./loop-value.js";

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
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  | { id: number; op: "put-versions"; writes: VersionWrite[] }
  | { id: number; op: "enable"; name: string; version: number; expectedRevision: number }
  | { id: number; op: "delete"; name: string; expectedRevision: number }
  /** pairLoop: one putVersions of `bytes`-long values to every name each round, until killed. */
  | { id: number; op: "pair-loop"; names: string[]; firstIndex: number; bytes: number };

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
      case "revision":
        return { ok: true, revision: (await opened().get(req.name))?.revision ?? 0 };
      case "put": {
        const put = await opened().putVersion(req.name, req.value, {
          expectedRevision: req.expectedRevision,
        });
        return { ok: true, revision: put.record.revision, version: put.version.version };
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
      case "pair-loop":
        return pairLoop(opened(), req.names, req.firstIndex, req.bytes, () => reply({ ok: true }));
    }
  },
  () => store?.close(),
);
