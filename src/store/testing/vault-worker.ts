/**
 * A child process that drives a VaultStore for the multi-process tests in ../vault.test.ts
 * (two processes racing compare-and-set, SIGKILL in the middle of a multi-call write). Commands
 * arrive over the IPC channel (serveCommands, child.ts), never argv, so the test token stays out
 * of `ps`.
 */
import { VaultStore, VaultStoreOptionsSchema } from "../vault.js";
import { serveCommands, type WithoutId, type WorkerOutcome } from "./child.js";
import { pairLoop, writeLoop } from "./loop-value.js";

export type VaultWorkerRequest =
  | { id: number; op: "open"; address: string; token: string }
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  /** writeLoop of `bytes`-long values until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number; bytes: number }
  /** pairLoop: one putVersions to every name each round, until killed. */
  | { id: number; op: "pair-loop"; names: string[]; firstIndex: number; bytes: number };

export type VaultWorkerReply = WorkerOutcome & { id: number };
export type VaultWorkerCommand = WithoutId<VaultWorkerRequest>;

let store: VaultStore | undefined;

function opened(): VaultStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

serveCommands<VaultWorkerRequest>(
  async (req, reply) => {
    switch (req.op) {
      case "open":
        store = await VaultStore.open(VaultStoreOptionsSchema.parse({}), {
          VAULT_ADDR: req.address,
          VAULT_TOKEN: req.token,
        });
        return { ok: true };
      case "revision":
        return { ok: true, revision: (await opened().get(req.name))?.revision ?? 0 };
      case "put": {
        const put = await opened().putVersion(req.name, req.value, {
          expectedRevision: req.expectedRevision,
        });
        return { ok: true, revision: put.record.revision, version: put.version.version };
      }
      case "write-loop":
        return writeLoop(opened(), req.name, req.firstIndex, req.bytes, (revision) =>
          reply({ ok: true, revision }),
        );
      case "pair-loop":
        return pairLoop(opened(), req.names, req.firstIndex, req.bytes, () => reply({ ok: true }));
    }
  },
  () => store?.close(),
);
