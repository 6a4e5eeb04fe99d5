/**
 * The Vault backend against a local fake of Vault's HTTP API (./testing/fake-vault.ts, which
 * cites the documents it follows: api-docs/index.mdx, secret/kv/kv-v2.mdx, the KV plugin's
 * handlers, auth/*.mdx, system/leases.mdx). Nothing here leaves 127.0.0.1.
 */
import { after } from "node:test";
import { runSecretStoreConformance } from "./conformance.js";
import { FakeVault } from "./testing/fake-vault.js";
import { VaultStore, VaultStoreOptionsSchema } from "./vault.js";

const fakes: FakeVault[] = [];
after(async () => {
  for (const fake of fakes) await fake.close();
});

const fastRetry = { attempts: 4, baseDelayMs: 1, maxDelayMs: 5 };

runSecretStoreConformance("vault", async () => {
  const fake = await FakeVault.start();
  fakes.push(fake);
  fake.addToken("root-token");
  const store = await VaultStore.open(
    VaultStoreOptionsSchema.parse({}),
    { VAULT_ADDR: fake.url, VAULT_TOKEN: "root-token" },
    { retry: fastRetry },
  );
  return {
    store,
    cleanup: async () => {
      await store.close();
      await fake.close();
      fakes.splice(fakes.indexOf(fake), 1);
    },
  };
});
