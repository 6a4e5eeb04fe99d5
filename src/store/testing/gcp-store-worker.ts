/**
 * A child process that drives a GcpSecretManagerStore for the multi-process tests in
 * ../gcp.test.ts (races on etags, SIGKILL in the middle of multi-call writes). Commands arrive
 * over the IPC channel; each gets one reply with the same id, except the loops, which reply after
 * their first write and then keep writing until the process is killed.
 */
import { isKeywardError } from "../../core/errors.js";
import { GcpSecretManagerStore } from "../gcp.js";
import type { VersionWrite } from "../types.js";
import { loopValue } from "./loop-value.js";

/** Small enough to keep a test quick, large enough to be a realistic token bundle. */
export const LOOP_BYTES = 2048;

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
  /** putVersions of loopValue(i) to every name, i = firstIndex, firstIndex + 1, … until killed. */
  | { id: number; op: "pair-loop"; names: string[]; firstIndex: number };

export type GcpWorkerReply =
  | { id: number; ok: true; revision?: number; version?: number }
  | { id: number; ok: false; code: string; message: string };

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
export type GcpWorkerCommand = WithoutId<GcpWorkerRequest>;

let store: GcpSecretManagerStore | undefined;

function opened(): GcpSecretManagerStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

async function handle(req: GcpWorkerRequest): Promise<WithoutId<GcpWorkerReply>> {
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
    case "pair-loop": {
      const s = opened();
      for (let index = req.firstIndex; ; index++) {
        const writes: VersionWrite[] = [];
        for (const name of req.names) {
          const revision = (await s.get(name))?.revision ?? 0;
          writes.push({ name, value: loopValue(index, LOOP_BYTES), expectedRevision: revision });
        }
        await s.putVersions(writes);
        if (index === req.firstIndex) send({ id: req.id, ok: true });
      }
    }
  }
}

function send(reply: GcpWorkerReply): void {
  process.send?.(reply);
}

process.on("message", (req: GcpWorkerRequest) => {
  handle(req).then(
    (reply) => {
      if (req.op !== "pair-loop") send({ id: req.id, ...reply });
    },
    (e: unknown) =>
      send({
        id: req.id,
        ok: false,
        code: isKeywardError(e) ? e.code : "crash",
        message: e instanceof Error ? e.message : String(e),
      }),
  );
});
process.on("disconnect", () => {
  void store?.close();
  process.exit(0);
});
