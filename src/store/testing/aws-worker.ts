/**
 * A child process that drives an AwsSecretsManagerStore (against the parent's fake Secrets
 * Manager) for the multi-process tests in ../aws.test.ts. Credentials arrive in the environment,
 * as the SDK's default chain reads them; commands arrive over IPC.
 */
import { isKeywardError } from "../../core/errors.js";
import { defaultMetadata } from "../../core/types.js";
import { AwsSecretsManagerStore, awsOptions } from "../aws.js";
import { loopValue } from "./loop-value.js";

export type AwsWorkerRequest =
  | { id: number; op: "open"; endpoint: string; region: string; prefix: string }
  | { id: number; op: "revision"; name: string }
  | { id: number; op: "put"; name: string; value: string; expectedRevision: number }
  | { id: number; op: "lock"; name: string; owner: string }
  /** Writes loopValue(i) as new current versions until killed; replies after the first commit. */
  | { id: number; op: "write-loop"; name: string; firstIndex: number }
  /** The same with one putVersions writing loopValue(i) to both secrets. */
  | { id: number; op: "pair-loop"; names: [string, string]; firstIndex: number };

export type AwsWorkerReply =
  | { id: number; ok: true; revision?: number; acquired?: boolean }
  | { id: number; ok: false; code: string };

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;
export type AwsWorkerCommand = WithoutId<AwsWorkerRequest>;

let store: AwsSecretsManagerStore | undefined;

function opened(): AwsSecretsManagerStore {
  if (store === undefined) throw new Error("send open first");
  return store;
}

async function revision(name: string): Promise<number> {
  return (await opened().get(name))?.revision ?? 0;
}

async function handle(req: AwsWorkerRequest): Promise<WithoutId<AwsWorkerReply> | undefined> {
  switch (req.op) {
    case "open":
      store = new AwsSecretsManagerStore(
        awsOptions.parse({ region: req.region, endpoint: req.endpoint, prefix: req.prefix }),
        { staleTxnMs: 300, txnWaitMs: 2000 },
      );
      return { ok: true };
    case "revision":
      return { ok: true, revision: await revision(req.name) };
    case "put": {
      const put = await opened().putVersion(req.name, req.value, {
        expectedRevision: req.expectedRevision,
      });
      return { ok: true, revision: put.record.revision };
    }
    case "lock":
      return { ok: true, acquired: await opened().acquireLock(req.name, req.owner, 60) };
    case "write-loop": {
      for (let index = req.firstIndex; ; index++) {
        const put = await opened().putVersion(req.name, loopValue(index, 1024), {
          expectedRevision: await revision(req.name),
        });
        if (index === req.firstIndex) send({ id: req.id, ok: true, revision: put.record.revision });
      }
    }
    case "pair-loop": {
      for (let index = req.firstIndex; ; index++) {
        const writes = [];
        for (const name of req.names) {
          const r = await revision(name);
          writes.push({
            name,
            value: loopValue(index, 1024),
            expectedRevision: r,
            ...(r === 0 ? { metadata: defaultMetadata() } : {}),
          });
        }
        await opened().putVersions(writes);
        if (index === req.firstIndex) send({ id: req.id, ok: true });
      }
    }
  }
}

function send(reply: AwsWorkerReply): void {
  process.send?.(reply);
}

process.on("message", (req: AwsWorkerRequest) => {
  handle(req).then(
    (reply) => {
      if (reply !== undefined) send({ id: req.id, ...reply });
    },
    (e: unknown) => send({ id: req.id, ok: false, code: isKeywardError(e) ? e.code : String(e) }),
  );
});
process.on("disconnect", () => process.exit(0));
