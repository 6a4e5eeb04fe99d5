/**
 * A child process that drives a VaultStore for the multi-process tests in ../vault.test.ts
 * (two processes racing compare-and-set, SIGKILL in the middle of a multi-call write). Commands
 * arrive over the IPC channel (serveCommands, child.ts), never argv, so the test token stays out
 * of `ps`.
 */
import { VaultStore, VaultStoreOptionsSchema } from "../vault.js";
import {
  runStoreCommand,
  type StoreCommand,
  serveCommands,
  type WithoutId,
  type WorkerOutcome,
} from "./child.js";

export type VaultWorkerRequest =
  | { id: number; op: "open"; address: string; token: string }
  | StoreCommand;

export type VaultWorkerReply = WorkerOutcome & { id: number };
export type VaultWorkerCommand = WithoutId<VaultWorkerRequest>;

let store: VaultStore | undefined;

serveCommands<VaultWorkerRequest>(
  async (req, reply) => {
    if (req.op === "open") {
      store = await VaultStore.open(VaultStoreOptionsSchema.parse({}), {
        VAULT_ADDR: req.address,
        VAULT_TOKEN: req.token,
      });
      return { ok: true };
    }
    if (store === undefined) throw new Error("send open first");
    return runStoreCommand(store, req, reply);
  },
  () => store?.close(),
);
