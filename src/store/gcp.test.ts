/**
 * The GCP Secret Manager backend against a local fake of the v1 REST API
 * (testing/fake-gcp-secret-manager.ts, which cites the documents it follows), driven through the
 * official client unchanged and authenticated by Application Default Credentials through a
 * workload identity federation file whose token exchange is served by the same fake.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { runSecretStoreConformance } from "./conformance.js";
import { GCP_MAX_VALUE_BYTES, GcpSecretManagerStore, type GcpTuning } from "./gcp.js";
import { FakeGcpSecretManager } from "./testing/fake-gcp-secret-manager.js";
import { type GcpTestEnv, gcpTestEnv } from "./testing/gcp-env.js";

const FAST: Partial<GcpTuning> = { baseDelayMs: 1, maxDelayMs: 5 };

let fake: FakeGcpSecretManager;
let adc: GcpTestEnv;

before(async () => {
  fake = await FakeGcpSecretManager.start();
  adc = gcpTestEnv(fake);
});
after(async () => {
  assert.equal(fake.metadataHits, 0, "no request went to the metadata server");
  await fake.close();
  adc.cleanup();
});

function openStore(
  tuning: Partial<GcpTuning> = FAST,
  prefix = `t${randomBytes(4).toString("hex")}-`,
) {
  return GcpSecretManagerStore.open(
    { project: fake.projectId, prefix, endpoint: fake.origin, timeoutSeconds: 5 },
    adc.env,
    tuning,
  );
}

describe("gcp store", () => {
  runSecretStoreConformance(
    "gcp",
    async () => {
      const store = openStore();
      return { store, cleanup: () => store.close() };
    },
    { maxValueBytes: GCP_MAX_VALUE_BYTES, emptyValues: false },
  );
});
