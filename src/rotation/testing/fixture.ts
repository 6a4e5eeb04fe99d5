/**
 * Shared set-up for the rotation tests and their child-process worker: real SQLite stores in
 * temp folders, secrets seeded against a fake upstream, and the provider lookup by
 * `metadata.provider` ("fake-api", "fake-mint", …).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { defaultMetadata, type SecretMetadata, type SecretRecord } from "../../core/types.js";
import { Envelope } from "../../crypto/envelope.js";
import type { ProviderContext } from "../../providers/types.js";
import { ensurePrivateDir } from "../../store/fsperm.js";
import { SqliteStore } from "../../store/sqlite.js";
import type { SecretStore } from "../../store/types.js";
import { companionName } from "../companions.js";
import type { RotationMethod } from "../rotate.js";
import {
  FAKE_KINDS,
  type FakeKind,
  type FakeOptions,
  FakeUpstream,
  fakeProvider,
  seedFake,
} from "./fake-providers.js";

export interface StoreHome {
  /** The temp folder to remove afterwards. */
  dir: string;
  home: string;
  master: Buffer;
}

export async function newStoreHome(): Promise<StoreHome> {
  const dir = mkdtempSync(join(tmpdir(), "keyward-rotation-"));
  const home = join(dir, "home");
  ensurePrivateDir(home);
  const master = randomBytes(32);
  const { envelope, header } = Envelope.create(master, "raw", "env");
  await SqliteStore.create(home, envelope, header).close();
  return { dir, home, master };
}

export function openStore(home: string, master: Buffer): Promise<SqliteStore> {
  return SqliteStore.open(home, async (header) => Envelope.unlock(master, header, "test key"));
}

/** The fake upstream file of one secret (one per secret, so parallel workers never share one). */
export function upstreamFor(dir: string, secret: string): FakeUpstream {
  return new FakeUpstream(join(dir, `upstream-${secret.replaceAll("/", "_")}.json`));
}

/** Creates `name` with a live fake credential of `kind` and its companions. */
export async function seedSecret(
  store: SecretStore,
  dir: string,
  name: string,
  kind: FakeKind,
  metadata: Partial<SecretMetadata> = {},
): Promise<{ value: string; companions: Record<string, string> }> {
  const seeded = seedFake(kind, upstreamFor(dir, name));
  await store.create(
    name,
    { ...defaultMetadata(), provider: `fake-${kind}`, ...metadata },
    seeded.value,
  );
  for (const [key, value] of Object.entries(seeded.companions)) {
    await store.create(companionName(name, key), defaultMetadata(), value);
  }
  return seeded;
}

/** The rotation method for a secret seeded above: its fake provider, reading `store` for the record. */
export function fakeMethodFor(
  store: SecretStore,
  dir: string,
  options: Partial<Omit<FakeOptions, "upstream" | "storeCurrent">> = {},
): (record: SecretRecord) => RotationMethod {
  return (record) => {
    const kind = record.metadata.provider?.replace(/^fake-/, "") as FakeKind | undefined;
    if (kind === undefined || !FAKE_KINDS.includes(kind)) return { provider: undefined };
    const provider = fakeProvider(kind, {
      ...options,
      upstream: upstreamFor(dir, record.name),
      // Undefined when nothing readable is current (none, or disabled).
      storeCurrent: () =>
        store.read(record.name).then(
          (read) => read.value,
          () => undefined,
        ),
    });
    return { provider };
  };
}

export function testContext(now: () => Date): ProviderContext {
  return {
    settings: {},
    fetch: () => Promise.reject(new Error("the rotation tests make no network calls")),
    timeoutMs: 1000,
    now,
  };
}
