import { KeywardError } from "../core/errors.js";
import type { StoreBackend } from "./backend.js";

/**
 * Every storage backend by its config name, loaded on demand: a backend's client library (pg, the
 * AWS SDK, the Google client) is only loaded by the commands that open that backend. Adding a
 * backend is one file and one line here.
 */
// biome-ignore lint/suspicious/noExplicitAny: each backend has its own options type, checked by its own schema
export type AnyBackend = StoreBackend<any>;
const LOADERS: Record<string, () => Promise<AnyBackend>> = {
  sqlite: async () => (await import("./sqlite-backend.js")).sqliteBackend,
  aws: async () => (await import("./aws.js")).awsBackend,
  gcp: async () => (await import("./gcp.js")).gcpBackend,
  postgres: async () => (await import("./postgres.js")).postgresBackend,
  vault: async () => (await import("./vault.js")).vaultBackend,
};

export const BACKEND_NAMES = Object.keys(LOADERS);
/** The store used when the config has no store: section, or there is no config file. */
export const DEFAULT_BACKEND = "sqlite";

export async function loadBackend(name: string): Promise<AnyBackend> {
  const load = LOADERS[name];
  if (load === undefined) {
    throw new KeywardError(
      "usage",
      `there is no store backend called ${name}`,
      `use one of ${BACKEND_NAMES.join(", ")} in the config's store.backend`,
    );
  }
  return load();
}
