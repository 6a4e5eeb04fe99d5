/**
 * The GCP Secret Manager backend against a local fake of the v1 REST API
 * (testing/fake-gcp-secret-manager.ts, which cites the documents it follows: service.proto and
 * resources.proto of google/cloud/secretmanager/v1, cloud.google.com/secret-manager/docs/etags,
 * /docs/filtering, /docs/data-integrity, and the STS token exchange), driven through the official
 * client unchanged and authenticated by Application Default Credentials through a workload
 * identity federation file whose token exchange the same fake serves. Nothing leaves 127.0.0.1:
 * the metadata server is pointed at the fake too, and the fake counts any request to it.
 */
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import dns from "node:dns";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { SecretManagerServiceClient } from "@google-cloud/secret-manager";
import { isKeywardError } from "../core/errors.js";
import { defaultMetadata, type SecretMetadata } from "../core/types.js";
import { encodedForms } from "../testing/cli.js";
import { rejectsWithFix as rejectsWith, runSecretStoreConformance } from "./conformance.js";
import { crc32c } from "./crc32c.js";
import { GCP_MAX_VALUE_BYTES, GcpSecretManagerStore, type GcpTuning, gcpBackend } from "./gcp.js";
import {
  assertRaceKept,
  ChildWorker,
  expectOk,
  killLoopingWriters,
  raceRounds,
} from "./testing/child.js";
import { FakeGcpSecretManager, type Rpc, type Seen } from "./testing/fake-gcp-secret-manager.js";
import { type GcpTestEnv, gcpTestEnv } from "./testing/gcp-env.js";
import type { GcpWorkerCommand, GcpWorkerReply } from "./testing/gcp-store-worker.js";
import { loopIndex, loopValue, pairSurvivor } from "./testing/loop-value.js";

const FAST: Partial<GcpTuning> = { baseDelayMs: 1, maxDelayMs: 5 };
/** How long a killed writer's marks stand before another process may roll them back. */
const WORKER_TXN_MS = 800;

let fake: FakeGcpSecretManager;
let adc: GcpTestEnv;
/** Every host name this process resolved: any would be traffic meant for somewhere else. */
const lookedUp: string[] = [];
const realLookup = dns.lookup;

before(async () => {
  fake = await FakeGcpSecretManager.start();
  adc = gcpTestEnv(fake);
  // HTTP clients resolve names through dns.lookup; the fake is reached by IP, so none should run.
  Object.assign(dns, {
    lookup(this: unknown, host: string, ...rest: unknown[]) {
      if (host !== "127.0.0.1") lookedUp.push(host);
      return (realLookup as (...args: unknown[]) => unknown).call(this, host, ...rest);
    },
  });
});
after(async () => {
  Object.assign(dns, { lookup: realLookup });
  await fake.close();
  adc.cleanup();
  assert.equal(fake.metadataHits, 0, "no request went to the metadata server");
  assert.deepEqual(lookedUp, [], "no host name was resolved (nothing left 127.0.0.1)");
});

function newPrefix(): string {
  return `t${randomBytes(4).toString("hex")}-`;
}

function openStore(
  options: {
    prefix?: string;
    timeoutSeconds?: number;
    location?: string;
    replicas?: string[];
  } = {},
  tuning: Partial<GcpTuning> = FAST,
  on: { fake: FakeGcpSecretManager; env: NodeJS.ProcessEnv } = { fake, env: adc.env },
): GcpSecretManagerStore {
  return GcpSecretManagerStore.open(
    {
      project: on.fake.projectId,
      prefix: options.prefix ?? newPrefix(),
      endpoint: on.fake.origin,
      timeoutSeconds: options.timeoutSeconds ?? 5,
      ...(options.location === undefined ? {} : { location: options.location }),
      ...(options.replicas === undefined ? {} : { replicas: options.replicas }),
    },
    on.env,
    tuning,
  );
}

/** Another tool using the same project through the official client (not keyward). */
function otherTool(): SecretManagerServiceClient {
  return new SecretManagerServiceClient({
    fallback: true,
    apiEndpoint: "127.0.0.1",
    port: Number(new URL(fake.origin).port),
    protocol: "http",
    keyFilename: adc.credentialsFile,
  });
}

function on(rpc: Rpc, secretId: string, extra: (c: Seen) => boolean = () => true) {
  return (c: Seen) => c.rpc === rpc && c.secretId === secretId && extra(c);
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

describe("gcp store: keyward's record on GCP resources", () => {
  it("versions are GCP versions, stages are aliases, the record is in annotations", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}github_2fprod-token`;
    try {
      await store.create("github/prod-token", defaultMetadata("high"), "one");
      const two = await store.putVersion("github/prod-token", "two", { expectedRevision: 1 });
      assert.equal(two.version.version, 2);
      assert.deepEqual(fake.aliases(id), { current: 2, previous: 1 });
      assert.deepEqual(fake.labels(id), { "keyward-kind": "secret", "keyward-state": "live" });
      const annotations = fake.annotations(id) ?? {};
      assert.equal(annotations["keyward.name"], "github/prod-token");
      assert.equal(annotations["keyward.revision"], "2");
      assert.equal(annotations["keyward.versions"], "1-2");
      assert.deepEqual(
        JSON.parse(annotations["keyward.metadata"] ?? "{}"),
        defaultMetadata("high"),
      );

      await store.setVersionState("github/prod-token", 1, "disabled", {
        expectedRevision: 2,
        compromised: true,
      });
      assert.deepEqual(fake.versionStates(id), [
        { number: 1, state: "DISABLED" },
        { number: 2, state: "ENABLED" },
      ]);
      assert.equal(fake.annotations(id)?.["keyward.compromised"], "1");
      await store.destroyVersion("github/prod-token", 1, 3);
      assert.equal(fake.versionStates(id)[0]?.state, "DESTROYED");
      assert.deepEqual(fake.aliases(id), { current: 2 }, "the destroyed version lost its stage");

      // Deleting leaves an empty tombstone, so GCP's counter goes on for a re-created secret.
      await store.delete("github/prod-token", 4);
      assert.equal(fake.labels(id)?.["keyward-state"], "deleted");
      assert.deepEqual(
        fake.versionStates(id).map((v) => v.state),
        ["DESTROYED", "DESTROYED"],
      );
      assert.deepEqual(fake.aliases(id), {});
      assert.deepEqual(Object.keys(fake.annotations(id) ?? {}).sort(), [
        "keyward.name",
        "keyward.write",
      ]);
      const again = await store.create("github/prod-token", defaultMetadata(), "three");
      assert.deepEqual(
        again.versions.map((v) => v.version),
        [3],
      );
      assert.deepEqual(fake.aliases(id), { current: 3 });
    } finally {
      await store.close();
    }
  });

  it("keeps labels, annotations and aliases that other tools set", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const tool = otherTool();
    try {
      await store.create("shared", defaultMetadata(), "one");
      const path = `projects/${fake.projectId}/secrets/${prefix}shared`;
      const [secret] = await tool.getSecret({ name: path });
      await tool.updateSecret({
        secret: {
          name: path,
          etag: secret.etag ?? null,
          labels: { ...secret.labels, team: "payments" },
          annotations: { ...secret.annotations, "owner.example.com": "ops" },
          versionAliases: { ...secret.versionAliases, prod: 1 },
        },
        updateMask: { paths: ["labels", "annotations", "version_aliases"] },
      });
      await store.putVersion("shared", "two", { expectedRevision: 1 });
      await store.updateMetadata("shared", defaultMetadata("high"), 2);
      const id = `${prefix}shared`;
      assert.equal(fake.labels(id)?.team, "payments");
      assert.equal(fake.annotations(id)?.["owner.example.com"], "ops");
      assert.deepEqual(fake.aliases(id), { prod: 1, current: 2, previous: 1 });
      assert.equal((await store.get("shared"))?.revision, 3);
    } finally {
      await tool.close();
      await store.close();
    }
  });

  it("refuses metadata too large for GCP's annotations and writes nothing", async () => {
    const store = openStore();
    try {
      await store.create("big-meta", defaultMetadata(), "v");
      const huge = { ...defaultMetadata(), description: "d".repeat(17_000) };
      await rejectsWith(
        store.updateMetadata("big-meta", huge, 1),
        "invalid_value",
        "big-meta",
        "16384",
      );
      await rejectsWith(store.create("big-meta-2", huge, "v"), "invalid_value", "big-meta-2");
      assert.equal((await store.get("big-meta"))?.revision, 1);
      assert.equal(await store.get("big-meta-2"), undefined);
    } finally {
      await store.close();
    }
  });

  it("lists only its own secrets and never takes over a GCP secret it did not create", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const tool = otherTool();
    try {
      await tool.createSecret({
        parent: `projects/${fake.projectId}`,
        secretId: `${prefix}foreign`,
        secret: { replication: { automatic: {} } },
      });
      await store.create("mine", defaultMetadata(), "v");
      assert.deepEqual(
        (await store.list()).map((r) => r.name),
        ["mine"],
      );
      assert.equal(await store.get("foreign"), undefined);
      await rejectsWith(
        store.create("foreign", defaultMetadata(), "v"),
        "already_exists",
        `${prefix}foreign`,
        "not keyward's",
      );
      assert.deepEqual(fake.versionStates(`${prefix}foreign`), []);
    } finally {
      await tool.close();
      await store.close();
    }
  });

  it("maps long and unusual names to valid, distinct secret ids", async () => {
    const store = openStore();
    try {
      // "a_2fb" is what "a/b" escapes to: the ids must still differ. The last two are too long
      // for a readable id (their escapes pass 255 characters) and fall back to a hash.
      const names = ["a.b_c@d+e=f-g", "a/b", "a_2fb", "x".repeat(200)];
      names.push(`${"s/".repeat(99)}z`, `${"t/".repeat(99)}z`);
      for (const [i, name] of names.entries()) await store.create(name, defaultMetadata(), `v${i}`);
      for (const [i, name] of names.entries())
        assert.equal((await store.read(name)).value, `v${i}`);
      assert.deepEqual(
        (await store.list()).map((r) => r.name),
        [...names].sort(),
      );
    } finally {
      await store.close();
    }
  });

  it("regional secrets live under the location, without replication", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix, location: "europe-west1" });
    try {
      await store.create("regional", defaultMetadata(), "v");
      assert.equal((await store.read("regional")).value, "v");
      const create = fake.requests.find((r) => r.rpc === "CreateSecret" && r.url.includes(prefix));
      assert.ok(
        create?.url.startsWith(`/v1/projects/${fake.projectId}/locations/europe-west1/secrets?`),
      );
      assert.equal(JSON.parse(create?.body ?? "{}").replication, undefined);
      assert.equal(store.describe().details?.location, "europe-west1");
    } finally {
      await store.close();
    }
  });

  it("user-managed replication names the replica regions", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix, replicas: ["europe-west1", "europe-west4"] });
    try {
      await store.create("replicated", defaultMetadata(), "v");
      const create = fake.requests.find((r) => r.rpc === "CreateSecret" && r.url.includes(prefix));
      assert.deepEqual(JSON.parse(create?.body ?? "{}").replication, {
        userManaged: { replicas: [{ location: "europe-west1" }, { location: "europe-west4" }] },
      });
    } finally {
      await store.close();
    }
  });
});

describe("gcp store: Application Default Credentials", () => {
  it("exchanges the workload's OIDC token at STS and sends the access token as a bearer", async () => {
    const prefix = newPrefix();
    const tokensBefore = fake.count("Token");
    const store = openStore({ prefix });
    try {
      await store.create("auth/check", defaultMetadata(), "v");
      assert.ok(fake.count("Token") > tokensBefore, "a token exchange happened");
      const exchange = fake.requests.filter((r) => r.rpc === "Token").at(-1);
      const form = new URLSearchParams(exchange?.body);
      assert.equal(form.get("subject_token"), fake.subjectToken);
      assert.equal(form.get("audience"), fake.audience);
      const calls = fake.requests.filter((r) => r.url.includes(prefix));
      assert.ok(calls.length > 0);
      for (const r of calls) assert.match(r.headers.authorization ?? "", /^Bearer ya29\.fake-/);
    } finally {
      await store.close();
    }
  });

  it("a token STS refuses: upstream_unauthorized naming the ADC source, never the token", async () => {
    const wrong = gcpTestEnv(fake, "not-the-oidc-token-7c1e");
    const store = openStore({}, FAST, { fake, env: wrong.env });
    try {
      const e = await rejectsWith(
        store.get("anything"),
        "upstream_unauthorized",
        "workload identity federation",
        `GOOGLE_APPLICATION_CREDENTIALS (${wrong.credentialsFile})`,
      );
      assert.ok(!JSON.stringify(e).includes("not-the-oidc-token"));
      assert.ok(!String(e.stack).includes("not-the-oidc-token"));
    } finally {
      await store.close();
      wrong.cleanup();
    }
  });

  it("credentials the API rejects (401): names the ADC source that was tried", async () => {
    const other = await FakeGcpSecretManager.start();
    const env = gcpTestEnv(other);
    other.rejectAllTokens();
    const store = openStore({}, FAST, { fake: other, env: env.env });
    try {
      await rejectsWith(
        store.list(),
        "upstream_unauthorized",
        "401 UNAUTHENTICATED",
        "workload identity federation",
        env.credentialsFile,
      );
      assert.equal(other.metadataHits, 0);
    } finally {
      await store.close();
      await other.close();
      env.cleanup();
    }
  });

  it("a missing IAM permission (403): names the permission, the project and the ADC source", async () => {
    const other = await FakeGcpSecretManager.start();
    const env = gcpTestEnv(other);
    const store = openStore({}, FAST, { fake: other, env: env.env });
    try {
      await store.create("locked-down", defaultMetadata(), "v");
      other.deny("secretmanager.versions.access");
      const e = await rejectsWith(
        store.read("locked-down"),
        "upstream_forbidden",
        "secretmanager.versions.access",
        `project ${other.projectId}`,
        env.credentialsFile,
      );
      assert.match(e.fix ?? "", /roles\/secretmanager/);
    } finally {
      await store.close();
      await other.close();
      env.cleanup();
    }
  });

  it("a GOOGLE_APPLICATION_CREDENTIALS file that does not exist: says so and names it", async () => {
    const missing = join(adc.dir, "nope", "adc.json");
    const store = openStore({}, FAST, { fake, env: { GOOGLE_APPLICATION_CREDENTIALS: missing } });
    try {
      await rejectsWith(
        store.get("anything"),
        "upstream_unauthorized",
        "does not exist",
        `GOOGLE_APPLICATION_CREDENTIALS (${missing})`,
      );
    } finally {
      await store.close();
    }
  });

  it("facts() and describe() come from config and environment alone, without a request", async () => {
    const before = fake.requests.length;
    const options = gcpBackend.options!.parse({
      project: "my-project-1",
      location: "europe-west1",
    });
    const facts = gcpBackend.facts(options, { env: adc.env });
    assert.equal(facts.grade, "A");
    assert.equal(
      facts.audit,
      "Cloud Audit Logs (Admin Activity always; Data Access reads off by default)",
    );
    assert.match(facts.auth, /workload identity federation from GOOGLE_APPLICATION_CREDENTIALS/);

    const home = join(adc.dir, "home");
    mkdirSync(join(home, ".config", "gcloud"), { recursive: true });
    writeFileSync(
      join(home, ".config", "gcloud", "application_default_credentials.json"),
      JSON.stringify({
        type: "authorized_user",
        client_id: "x",
        client_secret: "y",
        refresh_token: "z",
      }),
    );
    const gcloud = gcpBackend.facts(options, { env: { HOME: home } }).auth;
    assert.match(gcloud, /gcloud user credentials from gcloud application-default login/);
    assert.ok(!gcloud.includes("refresh_token") && !gcloud.includes('"z"'));
    assert.match(
      gcpBackend.facts(options, { env: { HOME: join(adc.dir, "empty-home") } }).auth,
      /metadata server/,
    );

    const store = GcpSecretManagerStore.open(options, adc.env);
    const described = store.describe();
    await store.close();
    assert.deepEqual(described.details, {
      project: "my-project-1",
      location: "europe-west1",
      prefix: "keyward-",
    });
    assert.equal(fake.requests.length, before, "no request was sent");
  });

  it("the options schema refuses credentials, unknown keys and plain http off this machine", () => {
    const parse = (o: unknown) => gcpBackend.options!.safeParse(o).success;
    assert.equal(parse({ project: "my-project-1" }), true);
    assert.equal(parse({ project: "my-project-1", credentials: "{}" }), false);
    assert.equal(parse({ project: "my-project-1", keyFile: "/k.json" }), false);
    assert.equal(parse({ project: "my-project-1", endpoint: "http://example.com" }), false);
    assert.equal(parse({ project: "my-project-1", endpoint: "http://127.0.0.1:8085" }), true);
    assert.equal(parse({ project: "my-project-1", endpoint: "https://sm.p.googleapis.com" }), true);
    assert.equal(parse({ project: "Bad Project" }), false);
    assert.equal(parse({ project: "123456789012", prefix: "has space" }), false);
  });
});

describe("gcp store: faults (bounded retries, nothing written twice)", () => {
  it("retries a read that gets 503 and 429, within a bounded number of tries", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}flaky`;
    try {
      await store.create("flaky", defaultMetadata(), "v");
      fake.inject(on("GetSecret", id), { kind: "status", status: 503 }, 2);
      fake.inject(on("AccessSecretVersion", id), { kind: "status", status: 429 }, 1);
      const before = fake.count("GetSecret", id);
      assert.equal((await store.read("flaky")).value, "v");
      assert.equal(fake.count("GetSecret", id) - before, 3);

      fake.inject(on("GetSecret", id), { kind: "status", status: 503 }, 100);
      const start = fake.count("GetSecret", id);
      await rejectsWith(store.get("flaky"), "upstream_unavailable", "flaky", "4 attempts");
      assert.equal(fake.count("GetSecret", id) - start, 4, "stops after 4 tries");
    } finally {
      await store.close();
    }
  });

  it("an addVersion whose answer is lost does not create a second version", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}lost-add`;
    try {
      await store.create("lost-add", defaultMetadata(), "one");
      fake.inject(on("AddSecretVersion", id), { kind: "drop-after" });
      const put = await store.putVersion("lost-add", "two", { expectedRevision: 1 });
      assert.equal(put.version.version, 2);
      assert.equal(fake.count("AddSecretVersion", id), 2, "one for create, one for the put");
      assert.deepEqual(fake.versionStates(id), [
        { number: 1, state: "ENABLED" },
        { number: 2, state: "ENABLED" },
      ]);
      assert.equal((await store.read("lost-add")).value, "two");
    } finally {
      await store.close();
    }
  });

  it("an addVersion answered 503 before it was applied is sent again, once", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}refused-add`;
    try {
      await store.create("refused-add", defaultMetadata(), "one");
      fake.inject(on("AddSecretVersion", id), { kind: "status", status: 503 });
      const put = await store.putVersion("refused-add", "two", { expectedRevision: 1 });
      assert.equal(put.version.version, 2);
      assert.equal(fake.count("AddSecretVersion", id), 3);
      assert.equal(fake.versionStates(id).length, 2);
    } finally {
      await store.close();
    }
  });

  it("writes refused with 429 are sent again after a pause: once applied, not twice", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}throttled`;
    try {
      await store.create("throttled", defaultMetadata(), "one");
      fake.inject(on("AddSecretVersion", id), { kind: "status", status: 429 }, 2);
      fake.inject(on("UpdateSecret", id), { kind: "status", status: 429 }, 1);
      const put = await store.putVersion("throttled", "two", { expectedRevision: 1 });
      assert.equal(put.version.version, 2);
      assert.equal(put.record.revision, 2);
      assert.equal(fake.versionStates(id).length, 2);
      fake.inject(on("AddSecretVersion", id), { kind: "status", status: 429 }, 10);
      await rejectsWith(
        store.putVersion("throttled", "three", { expectedRevision: 2 }),
        "upstream_rate_limited",
        "throttled",
      );
      assert.equal((await store.get("throttled"))?.revision, 2);
    } finally {
      await store.close();
    }
  });

  it("an addVersion slower than the timeout is found, not repeated", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix, timeoutSeconds: 0.5 });
    const id = `${prefix}slow-add`;
    try {
      await store.create("slow-add", defaultMetadata(), "one");
      fake.inject(on("AddSecretVersion", id), { kind: "delay-after", ms: 1500 });
      const put = await store.putVersion("slow-add", "two", { expectedRevision: 1 });
      assert.equal(put.version.version, 2);
      assert.equal(fake.versionStates(id).length, 2);
      assert.equal((await store.get("slow-add"))?.revision, 2);
    } finally {
      await store.close();
    }
  });

  it("a commit whose answer is lost is recognised, not applied twice", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}lost-commit`;
    try {
      await store.create("lost-commit", defaultMetadata(), "one");
      fake.inject(on("UpdateSecret", id), { kind: "drop-after" });
      const before = fake.count("UpdateSecret", id);
      const put = await store.putVersion("lost-commit", "two", { expectedRevision: 1 });
      assert.equal(put.record.revision, 2);
      assert.equal(fake.count("UpdateSecret", id) - before, 1, "the commit was not sent again");
      assert.equal((await store.get("lost-commit"))?.revision, 2);
    } finally {
      await store.close();
    }
  });

  it("a commit dropped before it reached GCP is sent again", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}dropped-commit`;
    try {
      await store.create("dropped-commit", defaultMetadata(), "one");
      fake.inject(on("UpdateSecret", id), { kind: "drop-before" });
      const before = fake.count("UpdateSecret", id);
      const moved = await store.moveStage("dropped-commit", "previous", 1, 1);
      assert.equal(moved.revision, 2);
      assert.equal(fake.count("UpdateSecret", id) - before, 2);
    } finally {
      await store.close();
    }
  });

  it("a create and a disable whose answers are lost each happen once", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}lost-create`;
    try {
      fake.inject(on("CreateSecret", id), { kind: "drop-after" });
      const created = await store.create("lost-create", defaultMetadata(), "one");
      assert.equal(created.revision, 1);
      assert.equal(fake.secretIds().filter((s) => s === id).length, 1);
      assert.equal(fake.versionStates(id).length, 1);
      fake.inject(on("DisableSecretVersion", id), { kind: "drop-after" });
      const disabled = await store.setVersionState("lost-create", 1, "disabled", {
        expectedRevision: 1,
      });
      assert.equal(disabled.revision, 2);
      assert.deepEqual(fake.versionStates(id), [{ number: 1, state: "DISABLED" }]);
    } finally {
      await store.close();
    }
  });

  it("a multi-secret commit that landed but could not be confirmed is completed, not undone", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const a = `${prefix}pair_2fa`;
    try {
      await store.create("pair/a", defaultMetadata(), "a1");
      await store.create("pair/b", defaultMetadata(), "b1");
      // The coordinator's commit lands, its answer is lost, and GCP then stays unreachable for
      // the reads that would confirm it (4 tries after the commit, 4 more while cancelling).
      let committed = false;
      const commit = (c: Seen) => {
        if (c.body.includes("keyward.txn-done")) committed = true;
        return committed;
      };
      fake.inject(on("UpdateSecret", a, commit), { kind: "drop-after" });
      fake.inject(
        on("GetSecret", a, () => committed),
        { kind: "status", status: 503 },
        8,
      );
      await rejectsWith(
        store.putVersions([
          { name: "pair/a", value: "a2", expectedRevision: 1 },
          { name: "pair/b", value: "b2", expectedRevision: 1 },
        ]),
        "upstream_unavailable",
        "pair/a",
      );
      // It did commit: readers see both halves, and the next write to b finishes b's half.
      assert.equal((await store.read("pair/a")).value, "a2");
      assert.equal((await store.read("pair/b")).value, "b2");
      const b = await store.updateMetadata("pair/b", defaultMetadata("high"), 2);
      assert.equal(b.revision, 3);
      assert.equal(fake.annotations(`${prefix}pair_2fb`)?.["keyward.txn"], undefined);
    } finally {
      await store.close();
    }
  });

  it("a GCP that never answers fails with upstream_timeout after bounded tries", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix, timeoutSeconds: 0.3 });
    const id = `${prefix}silent`;
    try {
      await store.create("silent", defaultMetadata(), "v");
      fake.inject(on("GetSecret", id), { kind: "delay-after", ms: 1000 }, 4);
      await rejectsWith(store.get("silent"), "upstream_timeout", "0.3 s", "silent");
    } finally {
      await store.close();
    }
  });

  it("sends a CRC32C with every value and refuses a payload that fails it on the way back", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}crc`;
    try {
      await store.create("crc", defaultMetadata(), "value");
      const add = fake.requests.find((r) => r.rpc === "AddSecretVersion" && r.secretId === id);
      const payload = JSON.parse(add?.body ?? "{}").payload;
      assert.equal(payload.dataCrc32c, String(crc32c(Buffer.from("value"))));
      fake.inject(on("AccessSecretVersion", id), { kind: "corrupt" });
      await rejectsWith(store.read("crc"), "tampered", "crc", "CRC32C");
      assert.equal((await store.read("crc")).value, "value");
    } finally {
      await store.close();
    }
  });
});

describe("gcp store: no value leaves in clear", () => {
  it("values appear only in addVersion payloads: never in URLs, headers, other bodies or errors", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix, timeoutSeconds: 1 });
    const canaries = [1, 2, 3, 4].map((i) => `kw-canary-${i}-${randomBytes(9).toString("hex")}`);
    const errors: unknown[] = [];
    const attempt = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        errors.push(e);
      }
    };
    const id = `${prefix}leak_2ftest`;
    try {
      await store.create("leak/test", defaultMetadata(), canaries[0]);
      await store.putVersion("leak/test", canaries[1] as string, { expectedRevision: 1 });
      await store.putVersions([
        {
          name: "leak/test",
          value: canaries[2] as string,
          expectedRevision: 2,
          stages: ["pending"],
        },
        {
          name: "leak/other",
          value: canaries[3] as string,
          expectedRevision: 0,
          metadata: defaultMetadata(),
        },
      ]);
      await store.read("leak/test", { stage: "pending" });
      await attempt(store.putVersion("leak/test", canaries[1] as string, { expectedRevision: 1 }));
      await store.setVersionState("leak/test", 1, "disabled", { expectedRevision: 3 });
      await attempt(store.read("leak/test", { version: 1 }));
      await attempt(store.create("leak/test", defaultMetadata(), canaries[0]));
      fake.inject(on("AddSecretVersion", id), { kind: "status", status: 500 }, 10);
      await attempt(store.putVersion("leak/test", canaries[2] as string, { expectedRevision: 4 }));
      fake.inject(on("AccessSecretVersion", id), { kind: "status", status: 503 }, 10);
      await attempt(store.read("leak/test"));
      await attempt(
        store.putVersion("leak/test", `${canaries[3]}${"x".repeat(GCP_MAX_VALUE_BYTES)}`, {
          expectedRevision: 4,
        }),
      );
      assert.ok(errors.length >= 5, `expected the failing calls to fail, got ${errors.length}`);

      const forms = canaries.flatMap((c) => encodedForms(c));
      for (const e of errors) {
        assert.ok(isKeywardError(e), String(e));
        const text = `${e.message}\n${e.fix}\n${JSON.stringify(e)}\n${e.stack}`;
        for (const form of forms)
          assert.ok(!text.includes(form), `an error contains a value form: ${e.message}`);
      }
      const mine = fake.requests.filter((r) => r.url.includes(prefix));
      assert.ok(mine.length > 10);
      for (const r of mine) {
        const where = `${r.method} ${r.url}\n${JSON.stringify(r.headers)}`;
        for (const form of forms)
          assert.ok(!where.includes(form), `a URL or header holds a value: ${r.rpc}`);
        if (r.rpc === "AddSecretVersion") {
          const { payload, ...rest } = JSON.parse(r.body) as { payload: { data: string } };
          for (const form of forms) assert.ok(!JSON.stringify(rest).includes(form));
          assert.ok(
            canaries.some((c) => Buffer.from(payload.data, "base64").toString().startsWith(c)),
          );
        } else {
          for (const form of forms)
            assert.ok(!r.body.includes(form), `a ${r.rpc} body holds a value`);
        }
      }
    } finally {
      await store.close();
    }
  });
});

// ---- several processes ---------------------------------------------------------------------------

function openCommand(prefix: string): GcpWorkerCommand {
  return {
    op: "open",
    origin: fake.origin,
    project: fake.projectId,
    prefix,
    credentialsFile: adc.credentialsFile,
    transactionTimeoutMs: WORKER_TXN_MS,
  };
}

class Worker extends ChildWorker<GcpWorkerCommand, GcpWorkerReply> {
  constructor() {
    super("gcp-store-worker");
  }

  async open(prefix: string): Promise<void> {
    expectOk(await this.request(openCommand(prefix)));
  }
}

/** Small enough to keep a test quick, large enough to be a realistic token bundle. */
const LOOP_BYTES = 2048;

/** Runs `write` until it stops failing with `conflict` (a killed writer's marks expire first). */
async function whenSettled<T>(write: () => Promise<T>): Promise<T> {
  for (let round = 0; ; round++) {
    try {
      return await write();
    } catch (e) {
      if (!isKeywardError(e) || e.code !== "conflict" || round > 100) throw e;
      await sleep(WORKER_TXN_MS / 4);
    }
  }
}

const metadata: SecretMetadata = defaultMetadata();

describe("gcp store: processes racing and dying", () => {
  it("two processes racing on the same revision: exactly one wins each round", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const name = "race/target";
    const id = `${prefix}race_2ftarget`;
    await store.create(name, metadata);
    const workers = [new Worker(), new Worker()];
    try {
      for (const w of workers) await w.open(prefix);
      const winners = await raceRounds(workers, name, 8);
      await assertRaceKept(store, name, winners);
      // Losers' versions never became visible; every one below the last commit is destroyed.
      const committed = new Set(winners.map((w) => w.version));
      const last = winners.at(-1)?.version ?? 0;
      for (const v of fake.versionStates(id)) {
        if (!committed.has(v.number) && v.number < last)
          assert.equal(v.state, "DESTROYED", `v${v.number}`);
      }
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await store.close();
    }
  });

  it("SIGKILL between addVersion and the commit: nothing shows, the next write cleans up", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}crash-put`;
    await store.create("crash-put", metadata, "one");
    const worker = new Worker();
    await worker.open(prefix);
    const hold = fake.hold(on("UpdateSecret", id), false);
    void worker
      .request({ op: "put", name: "crash-put", value: "never-committed", expectedRevision: 1 })
      .catch(() => undefined);
    await hold.reached;
    assert.equal(await worker.kill(), "SIGKILL");
    hold.release();
    try {
      const read = await store.read("crash-put");
      assert.equal(read.value, "one");
      assert.equal(read.record.revision, 1);
      assert.deepEqual(
        read.record.versions.map((v) => v.version),
        [1],
      );
      assert.deepEqual(
        fake.versionStates(id).map((v) => v.state),
        ["ENABLED", "ENABLED"],
      );
      await rejectsWith(store.read("crash-put", { version: 2 }), "not_found");
      const next = await store.putVersion("crash-put", "three", { expectedRevision: 1 });
      assert.equal(next.version.version, 3);
      assert.deepEqual(fake.versionStates(id), [
        { number: 1, state: "ENABLED" },
        { number: 2, state: "DESTROYED" },
        { number: 3, state: "ENABLED" },
      ]);
    } finally {
      await store.close();
    }
  });

  it("SIGKILL in a multi-secret write before its commit: nothing applies, marks expire", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    await store.create("pair/a", metadata, "a1");
    await store.create("pair/b", metadata, "b1");
    const worker = new Worker();
    await worker.open(prefix);
    // The coordinator's commit is the update that carries the list of the other changes.
    const hold = fake.hold(
      on("UpdateSecret", `${prefix}pair_2fa`, (c) => c.body.includes("keyward.txn-done")),
      false,
    );
    void worker
      .request({
        op: "put-versions",
        writes: [
          { name: "pair/a", value: "a2", expectedRevision: 1 },
          { name: "pair/b", value: "b2", expectedRevision: 1 },
          { name: "pair/c", value: "c1", expectedRevision: 0, metadata },
        ],
      })
      .catch(() => undefined);
    await hold.reached;
    assert.equal(await worker.kill(), "SIGKILL");
    hold.release();
    try {
      assert.equal((await store.read("pair/a")).value, "a1");
      assert.equal((await store.read("pair/b")).value, "b1");
      assert.equal(await store.get("pair/c"), undefined);
      assert.deepEqual(
        (await store.list("pair/")).map((r) => [r.name, r.revision]),
        [
          ["pair/a", 1],
          ["pair/b", 1],
        ],
      );
      // Writes wait for the dead writer's marks to expire, then roll them back and go on.
      const b = await whenSettled(() =>
        store.putVersion("pair/b", "b-next", { expectedRevision: 1 }),
      );
      assert.equal(b.record.revision, 2);
      const c = await whenSettled(() => store.create("pair/c", metadata, "c-fresh"));
      assert.equal(c.revision, 1);
      const a = await whenSettled(() =>
        store.putVersion("pair/a", "a-next", { expectedRevision: 1 }),
      );
      assert.equal(a.record.revision, 2);
      assert.equal((await store.read("pair/c")).value, "c-fresh");
      for (const id of ["pair_2fa", "pair_2fb"]) {
        const states = fake.versionStates(`${prefix}${id}`);
        assert.deepEqual(
          states.map((s) => s.state),
          ["ENABLED", "DESTROYED", "ENABLED"],
          id,
        );
        assert.equal(fake.annotations(`${prefix}${id}`)?.["keyward.txn"], undefined);
      }
    } finally {
      await store.close();
    }
  });

  it("SIGKILL after the commit, before the other secrets got it: readers already see it", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    await store.create("pair/a", metadata, "a1");
    await store.create("pair/b", metadata, "b1");
    const worker = new Worker();
    await worker.open(prefix);
    // Hold b's apply: the update of b that removes the write's mark.
    const hold = fake.hold(
      on("UpdateSecret", `${prefix}pair_2fb`, (c) => !c.body.includes('"keyward.txn"')),
      false,
    );
    void worker
      .request({
        op: "put-versions",
        writes: [
          { name: "pair/a", value: "a2", expectedRevision: 1 },
          { name: "pair/b", value: "b2", expectedRevision: 1, stages: ["pending"] },
        ],
      })
      .catch(() => undefined);
    await hold.reached;
    assert.equal(await worker.kill(), "SIGKILL");
    hold.release();
    try {
      assert.ok(fake.annotations(`${prefix}pair_2fb`)?.["keyward.txn"], "b still carries the mark");
      assert.equal((await store.read("pair/a")).value, "a2");
      const pending = await store.read("pair/b", { stage: "pending" });
      assert.equal(pending.value, "b2");
      assert.equal(pending.record.revision, 2);
      assert.equal((await store.read("pair/b")).value, "b1");
      // A write rolls the committed change forward first, then applies its own.
      const next = await store.moveStage("pair/b", "current", pending.version.version, 2);
      assert.equal(next.revision, 3);
      assert.equal((await store.read("pair/b")).value, "b2");
      assert.equal(fake.annotations(`${prefix}pair_2fb`)?.["keyward.txn"], undefined);
      // The dead writer's list of changes stays on the coordinator until its next write.
      assert.ok(fake.annotations(`${prefix}pair_2fa`)?.["keyward.txn-done"]);
      await store.updateMetadata("pair/a", defaultMetadata("high"), 2);
      assert.equal(fake.annotations(`${prefix}pair_2fa`)?.["keyward.txn-done"], undefined);
    } finally {
      await store.close();
    }
  });

  it("SIGKILL at random in a loop of two-secret writes: both secrets always agree", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const names = ["loop/access", "loop/refresh"];
    for (const n of names) await store.create(n, metadata, loopValue(0, LOOP_BYTES));
    try {
      await killLoopingWriters({
        rounds: 4,
        maxPauseMs: 120,
        spawn: () => new Worker(),
        open: openCommand(prefix),
        loop: (firstIndex) => ({ op: "pair-loop", names, firstIndex, bytes: LOOP_BYTES }),
        survivor: async (firstIndex) => {
          const { index, reads } = await pairSurvivor(store, names, LOOP_BYTES);
          assert.ok(index >= firstIndex, "the secrets hold a value this round's writer wrote");
          assert.equal(reads[0]?.record.revision, reads[1]?.record.revision);
          // Settle whatever the kill left (waiting out an uncommitted write's marks), then go on.
          const next = index + 1;
          await whenSettled(async () => {
            const fresh = await Promise.all(
              names.map(async (n) => (await store.get(n))?.revision ?? 0),
            );
            return store.putVersions(
              names.map((n, i) => ({
                name: n,
                value: loopValue(next, LOOP_BYTES),
                expectedRevision: fresh[i] ?? 0,
              })),
            );
          });
          for (const n of names)
            assert.equal(loopIndex((await store.read(n)).value, LOOP_BYTES), next);
          return next;
        },
      });
    } finally {
      await store.close();
    }
  });

  it("SIGKILL between committing an enable and applying it in GCP: the next read applies it", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}drift`;
    await store.create("drift", metadata, "value");
    await store.setVersionState("drift", 1, "disabled", { expectedRevision: 1 });
    const worker = new Worker();
    await worker.open(prefix);
    const hold = fake.hold(on("EnableSecretVersion", id), false);
    void worker
      .request({ op: "enable", name: "drift", version: 1, expectedRevision: 2 })
      .catch(() => undefined);
    await hold.reached;
    assert.equal(await worker.kill(), "SIGKILL");
    hold.release();
    try {
      assert.deepEqual(fake.versionStates(id), [{ number: 1, state: "DISABLED" }]);
      const read = await store.read("drift");
      assert.equal(read.value, "value");
      assert.equal(read.record.revision, 3);
      assert.deepEqual(fake.versionStates(id), [{ number: 1, state: "ENABLED" }]);
    } finally {
      await store.close();
    }
  });

  it("SIGKILL between a delete's commit and its destroys: gone for keyward, destroyed on re-create", async () => {
    const prefix = newPrefix();
    const store = openStore({ prefix });
    const id = `${prefix}half-deleted`;
    await store.create("half-deleted", metadata, "old-value");
    const worker = new Worker();
    await worker.open(prefix);
    const hold = fake.hold(on("DestroySecretVersion", id), false);
    void worker
      .request({ op: "delete", name: "half-deleted", expectedRevision: 1 })
      .catch(() => undefined);
    await hold.reached;
    assert.equal(await worker.kill(), "SIGKILL");
    hold.release();
    try {
      assert.equal(await store.get("half-deleted"), undefined);
      await rejectsWith(store.read("half-deleted"), "not_found");
      assert.deepEqual(fake.versionStates(id), [{ number: 1, state: "ENABLED" }]);
      const again = await store.create("half-deleted", metadata, "new-value");
      assert.deepEqual(
        again.versions.map((v) => v.version),
        [2],
      );
      assert.deepEqual(fake.versionStates(id), [
        { number: 1, state: "DESTROYED" },
        { number: 2, state: "ENABLED" },
      ]);
    } finally {
      await store.close();
    }
  });
});
