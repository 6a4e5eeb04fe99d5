/**
 * A child process that drives an AwsSecretsManagerStore (against the parent's fake Secrets
 * Manager) for the multi-process tests in ../aws.test.ts. Credentials arrive in the environment,
 * as the SDK's default chain reads them; commands arrive over IPC (serveCommands, child.ts).
 */
import { AwsSecretsManagerStore, awsOptions } from "../aws.js";
import { serveCommands, type WithoutId } from "./child.js";
import { pairLoop, writeLoop } from "./loop-value.js";

export type AwsWorkerRequest =
  | { id: number; op: "open"; endpoint: string; region: string; prefix: string }
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  | { id: number; op: "lock"; name: string; owner: string }
  /** writeLoop of `bytes`-long values until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number; bytes: number }
  /** The same with pairLoop: one putVersions writing to both secrets each round. */
  | { id: number; op: "pair-loop"; names: string[]; firstIndex: number; bytes: number };

export type AwsWorkerReply = (
  | { ok: true; revision?: number; version?: number; acquired?: boolean }
  | { ok: false; code: string; message: string }
) & { id: number };
export type AwsWorkerCommand = WithoutId<AwsWorkerRequest>;

let store: AwsSecretsManagerStore | undefined;

function opened(): AwsSecretsManagerStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

serveCommands<AwsWorkerRequest>(async (req, reply) => {
  switch (req.op) {
    case "open":
      store = new AwsSecretsManagerStore(
        awsOptions.parse({ region: req.region, endpoint: req.endpoint, prefix: req.prefix }),
        { staleTxnMs: 300, txnWaitMs: 2000 },
      );
      return { ok: true };
    case "revision":
      return { ok: true, revision: (await opened().get(req.name))?.revision ?? 0 };
    case "put": {
      const put = await opened().putVersion(req.name, req.value, {
        expectedRevision: req.expectedRevision,
      });
      return { ok: true, revision: put.record.revision, version: put.version.version };
    }
    case "lock":
      return { ok: true, acquired: await opened().acquireLock(req.name, req.owner, 60) };
    case "write-loop":
      return writeLoop(opened(), req.name, req.firstIndex, req.bytes, (revision) =>
        reply({ ok: true, revision }),
      );
    case "pair-loop":
      return pairLoop(opened(), req.names, req.firstIndex, req.bytes, () => reply({ ok: true }));
  }
});
