/**
 * A child process that drives a VaultStore for the multi-process tests in ../vault.test.ts
 * (two processes racing compare-and-set, SIGKILL in the middle of a multi-call write). Commands
 * arrive over the IPC channel, never argv, so the test token stays out of `ps`.
 */
import { isKeywardError } from "../../core/errors.js";
import { VaultStore, VaultStoreOptionsSchema } from "../vault.js";
import { loopValue } from "./loop-value.js";

export type VaultWorkerRequest =
  | { id: number; op: "open"; address: string; token: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  /** putVersion of loopValue(i) for i = firstIndex, … until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number }
  /** putVersions of loopValue(i) to both names at once, until killed; replies after the first commit. */
  | { id: number; op: "pair-loop"; names: [string, string]; firstIndex: number };

export type VaultWorkerReply =
  | { id: number; ok: true; revision?: number; version?: number }
  | { id: number; ok: false; code: string; message: string };

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
export type VaultWorkerCommand = WithoutId<VaultWorkerRequest>;

const VALUE_BYTES = 16 * 1024;
let store: VaultStore | undefined;

function opened(): VaultStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

async function handle(req: VaultWorkerRequest): Promise<WithoutId<VaultWorkerReply> | undefined> {
  switch (req.op) {
    case "open":
      store = await VaultStore.open(VaultStoreOptionsSchema.parse({}), {
        VAULT_ADDR: req.address,
        VAULT_TOKEN: req.token,
      });
      return { ok: true };
    case "put": {
      const put = await opened().putVersion(req.name, req.value, {
        expectedRevision: req.expectedRevision,
      });
      return { ok: true, revision: put.record.revision, version: put.version.version };
    }
    case "write-loop": {
      const s = opened();
      let revision = (await s.get(req.name))?.revision ?? 0;
      for (let index = req.firstIndex; ; index++) {
        const put = await s.putVersion(req.name, loopValue(index, VALUE_BYTES), {
          expectedRevision: revision,
        });
        revision = put.record.revision;
        if (index === req.firstIndex) send({ id: req.id, ok: true, revision });
      }
    }
    case "pair-loop": {
      const s = opened();
      const revisions = await Promise.all(
        req.names.map(async (n) => (await s.get(n))?.revision ?? 0),
      );
      for (let index = req.firstIndex; ; index++) {
        const { results } = await s.putVersions(
          req.names.map((name, i) => ({
            name,
            value: loopValue(index, VALUE_BYTES),
            expectedRevision: revisions[i]!,
          })),
        );
        results.forEach((r, i) => {
          revisions[i] = r.record.revision;
        });
        if (index === req.firstIndex) send({ id: req.id, ok: true });
      }
    }
  }
}

function send(reply: VaultWorkerReply): void {
  process.send?.(reply);
}

process.on("message", (req: VaultWorkerRequest) => {
  handle(req).then(
    (reply) => {
      if (reply !== undefined) send({ id: req.id, ...reply });
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
