/**
 * A child process that drives an AwsSecretsManagerStore (against the parent's fake Secrets
 * Manager) for the multi-process tests in ../aws.test.ts. Credentials arrive in the environment,
 * as the SDK's default chain reads them; commands arrive over IPC (serveCommands, child.ts).
 */
import { AwsSecretsManagerStore, awsOptions } from "../aws.js";
import { runStoreCommand, type StoreCommand, serveCommands, type WithoutId } from "./child.js";

export type AwsWorkerRequest =
  | { id: number; op: "open"; endpoint: string; region: string; prefix: string }
  | { id: number; op: "lock"; name: string; owner: string }
  | StoreCommand;

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
    case "lock":
      return { ok: true, acquired: await opened().acquireLock(req.name, req.owner, 60) };
    default:
      return runStoreCommand(opened(), req, reply);
  }
});
