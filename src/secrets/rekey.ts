import { existsSync, renameSync, rmSync } from "node:fs";
import { Envelope, type MasterKeySourceKind } from "../crypto/envelope.js";
import {
  ENV_KEY_FILE,
  ENV_MASTER_KEY,
  ENV_PASSPHRASE,
  keyFilePath,
  newMasterKey,
} from "../crypto/masterkey.js";
import type { Session, SessionOptions } from "./session.js";

export interface RekeyResult {
  rewrapped: number;
  source: MasterKeySourceKind;
  label: string;
  warnings: string[];
  nextSteps: string[];
}

/**
 * Rewraps every data key (and the access-log key) under a new master key. A new key file is
 * written beside the old one first and renamed over it only after the store committed, so an
 * interruption leaves either the old key working or the new key in `<key file>.new`.
 */
export async function rekeySession(
  session: Session,
  requested: MasterKeySourceKind | undefined,
  opts: SessionOptions,
): Promise<RekeyResult> {
  const oldHeader = session.keys.keyHeader();
  const source = requested ?? oldHeader.preferredSource;
  const liveKeyFile = keyFilePath({ home: opts.home, env: opts.env });
  const stagedKeyFile = `${liveKeyFile}.new`;
  if (existsSync(stagedKeyFile)) rmSync(stagedKeyFile);
  // The new key comes from the KEYWARD_NEW_* variables so the old ones can still open the store.
  const newEnv: NodeJS.ProcessEnv = { ...opts.env, [ENV_KEY_FILE]: stagedKeyFile };
  delete newEnv[ENV_MASTER_KEY];
  delete newEnv[ENV_PASSPHRASE];
  if (opts.env.KEYWARD_NEW_MASTER_KEY) newEnv[ENV_MASTER_KEY] = opts.env.KEYWARD_NEW_MASTER_KEY;
  if (opts.env.KEYWARD_NEW_PASSPHRASE) newEnv[ENV_PASSPHRASE] = opts.env.KEYWARD_NEW_PASSPHRASE;
  const master = await newMasterKey(source, {
    home: opts.home,
    env: newEnv,
    ...(opts.prompt ? { prompt: opts.prompt } : {}),
  });
  const { envelope, header } = Envelope.create(master.key, master.kind, master.source, {
    storeId: oldHeader.storeId,
    ...(master.kdf ? { kdf: master.kdf } : {}),
  });
  if (master.source === "key-file") master.persist(oldHeader.storeId);
  const old = session.envelope;
  const rewrap = (wrapped: Buffer, aad: string) =>
    envelope.wrapDataKey(old.unwrapDataKey(wrapped, aad), aad);
  // Log key first (staged beside the old wrapping), then the store in one transaction, then the
  // log drops the old wrapping: an interruption anywhere leaves a log the winning key opens.
  session.log.stageRekey(rewrap);
  const rewrapped = await session.keys.rekey(header, rewrap);
  session.log.commitRekey();
  const nextSteps: string[] = [];
  if (master.source === "key-file") renameSync(stagedKeyFile, liveKeyFile);
  else master.persist(oldHeader.storeId);
  if (master.source === "env")
    nextSteps.push(
      `set ${ENV_MASTER_KEY} to the value of KEYWARD_NEW_MASTER_KEY wherever keyward runs`,
    );
  if (
    oldHeader.preferredSource === "key-file" &&
    master.source !== "key-file" &&
    existsSync(liveKeyFile)
  ) {
    nextSteps.push(`the old key file ${liveKeyFile} no longer opens this store; delete it`);
  }
  session.log.append({
    actor: session.actor,
    action: "rekey",
    outcome: "ok",
    detail: `new key source ${master.source}`,
  });
  return {
    rewrapped,
    source: master.source,
    label: master.label,
    warnings: master.warnings,
    nextSteps,
  };
}
