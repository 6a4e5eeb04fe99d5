import { existsSync, renameSync, rmSync } from "node:fs";
import { KeywardError } from "../core/errors.js";
import { Envelope, type MasterKeySourceKind } from "../crypto/envelope.js";
import {
  ENV_KEY_FILE,
  ENV_MASTER_KEY,
  ENV_PASSPHRASE,
  keyFilePath,
  newMasterKey,
} from "../crypto/masterkey.js";
import { masterKeyOptions, type Session, type SessionOptions } from "./session.js";

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
  const master = await newMasterKey(
    source,
    masterKeyOptions({ ...opts, env: newEnv }, session.config),
    oldHeader.storeId,
  );
  const { envelope, header } = Envelope.create(master.key, master.kind, master.source, {
    storeId: oldHeader.storeId,
    ...(master.kdf ? { kdf: master.kdf } : {}),
    ...(master.wrapped ? { wrapped: master.wrapped } : {}),
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

export interface RewrapResult {
  source: MasterKeySourceKind;
  label: string;
  /** The transit key version the stored ciphertext now names (`v3`). */
  version: string;
}

/**
 * `keyward rekey --rewrap`: after a Vault transit key rotation, the same master key re-encrypted
 * under the newest key version (transit `rewrap`: Vault never returns the key), so that
 * min_decryption_version can then be raised. Data keys and values are not touched; the header is
 * replaced through the store's own rekey, with every data key left as it is.
 */
export async function rewrapMasterKey(
  session: Session,
  opts: SessionOptions,
): Promise<RewrapResult> {
  const header = session.keys.keyHeader();
  if (header.wrapped === undefined) {
    throw new KeywardError(
      "usage",
      `this store's master key is not kept by a KMS (it comes from ${session.keySource.label}), so there is nothing to rewrap`,
      "use `keyward rekey --key-source vault-transit` to move it to Vault transit",
    );
  }
  const { kms } = masterKeyOptions(opts, session.config);
  const wrapper = await kms.open(header.wrapped.source, header.wrapped);
  try {
    if (wrapper.rewrap === undefined) {
      throw new KeywardError(
        "usage",
        `${header.wrapped.source} has no rewrap: it keeps every version of a rotated key able to decrypt`,
        "nothing to do; `keyward rekey` makes a new master key if that is what you want",
      );
    }
    const wrapped = await wrapper.rewrap(header.wrapped, header.storeId);
    await session.keys.rekey({ ...header, wrapped }, (dataKey) => dataKey);
    session.log.append({
      actor: session.actor,
      action: "rekey",
      outcome: "ok",
      detail: `master key rewrapped by ${wrapped.source}`,
    });
    return {
      source: wrapped.source,
      label: wrapper.label,
      version: /^vault:(v\d+):/.exec(wrapped.ciphertext)?.[1] ?? "",
    };
  } finally {
    wrapper.close();
  }
}
