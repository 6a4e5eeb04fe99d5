/**
 * Companions are the other secrets a provider needs beside the key itself (a Slack refresh token
 * and client secret, a GitHub App's private key). By convention companion `<key>` of secret
 * `<name>` is the secret `<name>.<key>`, e.g. `slack/bot.refreshToken`: the provider sees it as
 * `cred.companions.refreshToken`, and a rotation that returns a new one stores it there.
 */
import type { SecretStore } from "../store/types.js";

/** Companion keys are the providers' field names: camelCase words such as refreshToken. */
const COMPANION_KEY = /^[a-z][A-Za-z0-9]*$/;

export function companionName(secret: string, key: string): string {
  return `${secret}.${key}`;
}

/** The parent whose companion `name` is, among `names`; undefined when it is nobody's. */
export function companionParent(name: string, names: ReadonlySet<string>): string | undefined {
  const dot = name.lastIndexOf(".");
  if (dot <= 0 || !COMPANION_KEY.test(name.slice(dot + 1))) return undefined;
  const parent = name.slice(0, dot);
  return names.has(parent) ? parent : undefined;
}

export interface Companions {
  values: Record<string, string>;
  /** Each companion secret's revision, for the compare-and-set write of new ones. */
  revisions: Record<string, number>;
}

/** The current values of `secret`'s companions. */
export async function readCompanions(store: SecretStore, secret: string): Promise<Companions> {
  const companions: Companions = { values: {}, revisions: {} };
  const prefix = `${secret}.`;
  for (const record of await store.list(prefix)) {
    const key = record.name.slice(prefix.length);
    if (!COMPANION_KEY.test(key)) continue;
    if (!record.versions.some((v) => v.stages.includes("current") && v.state === "enabled")) {
      continue;
    }
    const read = await store.read(record.name);
    companions.values[key] = read.value;
    companions.revisions[key] = read.record.revision;
  }
  return companions;
}
