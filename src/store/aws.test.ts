/**
 * The AWS Secrets Manager backend against a local Secrets Manager (testing/fake-aws-secrets-manager.ts,
 * which follows /work/shared/reference/rotation-and-backends.md §1 and the AWS API reference
 * pages it cites), driven through @aws-sdk/client-secrets-manager unchanged and the SDK's
 * default credential chain fed by environment variables. No request leaves 127.0.0.1.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { defaultMetadata } from "../core/types.js";
import { encodedForms } from "../testing/cli.js";
import {
  AWS_MAX_VALUE_BYTES,
  type AwsOptions,
  AwsSecretsManagerStore,
  awsBackend,
  awsOptions,
  LAST_WRITE_LABEL,
  versionId,
} from "./aws.js";
import { rejectsWithFix as rejectsWith, runSecretStoreConformance } from "./conformance.js";
import type { AwsWorkerCommand, AwsWorkerReply } from "./testing/aws-worker.js";
import {
  assertRaceKept,
  ChildWorker,
  expectOk,
  killLoopingWriters,
  raceRounds,
} from "./testing/child.js";
import { FakeAwsSecretsManager, type FakeCredential } from "./testing/fake-aws-secrets-manager.js";
import { loopSurvivor, pairSurvivor } from "./testing/loop-value.js";

const fake = new FakeAwsSecretsManager();
const dir = mkdtempSync(join(tmpdir(), "keyward-aws-"));
let user: FakeCredential;
let stores = 0;

/** The SDK reads process.env: this file's process holds only what the test sets. */
function resetEnv(extra: NodeJS.ProcessEnv = {}): void {
  for (const key of Object.keys(process.env)) {
    if (key.startsWith("AWS_")) delete process.env[key];
  }
  Object.assign(process.env, {
    // The SDK's notice that its 2027 releases need Node 22 says nothing about this code.
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
    AWS_EC2_METADATA_DISABLED: "true",
    AWS_CONFIG_FILE: join(dir, "no-config"),
    AWS_SHARED_CREDENTIALS_FILE: join(dir, "no-credentials"),
    ...extra,
  });
}

function useKeys(credential: FakeCredential): void {
  resetEnv({
    AWS_ACCESS_KEY_ID: credential.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credential.secretAccessKey,
  });
}

function options(extra: Partial<AwsOptions> = {}): AwsOptions {
  return awsOptions.parse({
    region: fake.region,
    endpoint: fake.baseUrl,
    prefix: `t${++stores}/`,
    timeoutSeconds: 2,
    ...extra,
  });
}

function newStore(extra: Partial<AwsOptions> = {}, internals = {}): AwsSecretsManagerStore {
  return new AwsSecretsManagerStore(options(extra), { env: process.env, ...internals });
}

before(async () => {
  await fake.start();
  user = fake.addUser("keyward-ci");
  useKeys(user);
});
after(async () => {
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

runSecretStoreConformance(
  "aws",
  async () => {
    const store = newStore();
    return { store, cleanup: () => store.close() };
  },
  { maxValueBytes: AWS_MAX_VALUE_BYTES },
);

describe("aws store: the layout in Secrets Manager", () => {
  it("keeps values natively under AWSCURRENT/AWSPREVIOUS/AWSPENDING and state in a control secret", async () => {
    const store = newStore();
    await store.create("github/token", defaultMetadata(), "value-one");
    await store.putVersion("github/token", "value-two", { expectedRevision: 1 });
    await store.putVersion("github/token", "value-three", {
      expectedRevision: 2,
      stages: ["pending"],
    });
    const value = fake.secret(store.valueSecretName("github/token"));
    assert.ok(value);
    const labels = Object.fromEntries(value.versions.map((v) => [v.id, v.stages.sort()]));
    assert.deepEqual(labels, {
      [versionId(1)]: ["AWSPREVIOUS"],
      [versionId(2)]: ["AWSCURRENT"],
      [versionId(3)]: ["AWSPENDING", LAST_WRITE_LABEL],
    });
    assert.equal(value.versions.find((v) => v.id === versionId(2))?.string, "value-two");
    const control = fake.secret(store.controlSecretName("github/token"));
    assert.ok(control);
    const doc = control.versions.find((v) => v.stages.includes("AWSCURRENT"))?.string ?? "";
    assert.ok(!doc.includes("value-"), "the control record never holds a value");
    assert.equal(JSON.parse(doc).secret.revision, 3);
    await store.close();
  });

  it("stores an empty value as a one-byte SecretBinary, since AWS keeps no empty string", async () => {
    const store = newStore();
    await store.create("empty", defaultMetadata(), "");
    const v = fake.secret(store.valueSecretName("empty"))?.versions[0];
    assert.equal(v?.string, undefined);
    assert.deepEqual([...(v?.binary ?? [])], [0]);
    assert.equal((await store.read("empty")).value, "");
    await store.close();
  });

  it("destroy strips every label, but AWS keeps the value (documented limit)", async () => {
    const store = newStore();
    await store.create("leaky", defaultMetadata(), "leaked-value");
    await store.putVersion("leaky", "fresh-value", { expectedRevision: 1 });
    await store.destroyVersion("leaky", 1, 2);
    const old = fake
      .secret(store.valueSecretName("leaky"))
      ?.versions.find((v) => v.id === versionId(1));
    assert.deepEqual(old?.stages, [], "deprecated: no AWSPREVIOUS, no keyward label");
    assert.equal(old?.string, "leaked-value", "Secrets Manager has no per-version erase");
    await rejectsWith(store.read("leaky", { version: 1 }), "destroyed", "leaky");
    await store.close();
  });

  it("destroying the current version leaves AWSCURRENT where AWS refuses to strip it", async () => {
    const store = newStore();
    fake.allowRemovingCurrent = false;
    try {
      await store.create("sticky", defaultMetadata(), "only");
      const record = await store.destroyVersion("sticky", 1, 1);
      assert.deepEqual(record.versions[0]?.stages, []);
      await rejectsWith(store.read("sticky"), "not_found", "current");
      const stages = fake.secret(store.valueSecretName("sticky"))?.versions[0]?.stages;
      assert.deepEqual(stages, ["AWSCURRENT"]);
    } finally {
      fake.allowRemovingCurrent = true;
      await store.close();
    }
  });

  it("delete force-deletes the value secret and keeps a tombstone control record", async () => {
    const store = newStore();
    await store.create("gone", defaultMetadata(), "bye");
    await store.delete("gone", 1);
    assert.equal(fake.secret(store.valueSecretName("gone")), undefined);
    const control = fake.secret(store.controlSecretName("gone"));
    const doc = JSON.parse(
      control?.versions.find((v) => v.stages.includes("AWSCURRENT"))?.string ?? "{}",
    );
    assert.equal(doc.secret, null);
    assert.equal(doc.lastVersion, 1);
    await store.close();
  });

  it("with a recovery window, AWS keeps the name: re-creating it is refused with a fix", async () => {
    const store = newStore({ recoveryWindowDays: 7 });
    await store.create("windowed", defaultMetadata(), "v");
    await store.delete("windowed", 1);
    assert.ok(fake.secret(store.valueSecretName("windowed"))?.deletionDate !== undefined);
    await rejectsWith(
      store.create("windowed", defaultMetadata(), "again"),
      "refused",
      "recovery window",
    );
    assert.equal(await store.get("windowed"), undefined);
    await store.close();
  });

  it("a value secret left behind by an interrupted delete is deleted before the name is reused", async () => {
    const store = newStore();
    await store.create("half", defaultMetadata(), "old-life");
    fake.inject("DeleteSecret", { kind: "error", status: 400, type: "AccessDeniedException" });
    await rejectsWith(
      store.delete("half", 1),
      "upstream_forbidden",
      "half",
      "is deleted in keyward",
    );
    assert.equal(await store.get("half"), undefined);
    assert.ok(fake.secret(store.valueSecretName("half")), "the old values are still in AWS");
    const again = await store.create("half", defaultMetadata(), "new-life");
    assert.equal(again.versions[0]?.version, 2);
    const versions = fake.secret(store.valueSecretName("half"))?.versions ?? [];
    assert.deepEqual(
      versions.map((v) => v.string),
      ["new-life"],
    );
    await store.close();
  });

  it("lists through paged BatchGetSecretValue, skipping tombstones and other prefixes", async () => {
    const store = newStore();
    const other = newStore();
    fake.pageSize = 2;
    try {
      for (const n of ["c", "a", "b/x", "d", "e"]) await store.create(n, defaultMetadata(), n);
      await other.create("a", defaultMetadata(), "other");
      await store.delete("d", 1);
      assert.deepEqual(
        (await store.list()).map((r) => r.name),
        ["a", "b/x", "c", "e"],
      );
      assert.ok(fake.calls("BatchGetSecretValue").length >= 3);
    } finally {
      fake.pageSize = 100;
      await store.close();
      await other.close();
    }
  });

  it("a version AWS removed (beyond ~100, over 24 h old) reads as not_found, saying why", async () => {
    const store = newStore();
    let record = await store.create("busy", defaultMetadata(), "v-1");
    for (let i = 2; i <= 101; i++) {
      record = (await store.putVersion("busy", `v-${i}`, { expectedRevision: record.revision }))
        .record;
    }
    fake.clockOffsetMs = 25 * 3600_000;
    try {
      await store.putVersion("busy", "v-102", { expectedRevision: record.revision });
      assert.equal(fake.secret(store.valueSecretName("busy"))?.versions.length, 100);
      await rejectsWith(store.read("busy", { version: 1 }), "not_found", "no longer in AWS");
      assert.equal((await store.read("busy", { version: 100 })).value, "v-100");
      assert.equal((await store.read("busy")).value, "v-102");
    } finally {
      fake.clockOffsetMs = 0;
      await store.close();
    }
  });

  it("describes region, prefix and KMS key, never a credential", () => {
    const store = newStore({ kmsKeyId: "alias/keyward" });
    const d = store.describe();
    assert.equal(d.backend, "aws");
    assert.match(d.encryption, /alias\/keyward/);
    assert.equal(d.details?.region, fake.region);
    assert.ok(!JSON.stringify(d).includes(user.secretAccessKey));
    assert.ok(!JSON.stringify(d).includes(user.accessKeyId));
  });
});

describe("aws store: retries without double writes", () => {
  it("a PutSecretValue applied but unanswered is retried with its token: one version, one commit", async () => {
    const store = newStore();
    await store.create("retry", defaultMetadata(), "one");
    fake.inject("PutSecretValue", { kind: "drop-after-apply" });
    const before = fake.calls("PutSecretValue").length;
    const put = await store.putVersion("retry", "two", { expectedRevision: 1 });
    assert.equal(put.version.version, 2);
    assert.equal(put.record.revision, 2);
    const versions = fake.secret(store.valueSecretName("retry"))?.versions ?? [];
    assert.deepEqual(
      versions.map((v) => v.string),
      ["one", "two"],
    );
    // value (dropped + retried) and control record: three requests, two stored versions.
    assert.equal(fake.calls("PutSecretValue").length - before, 3);
    assert.equal((await store.read("retry")).value, "two");
    await store.close();
  });

  it("a control-record write applied but unanswered still counts once", async () => {
    const store = newStore();
    await store.create("retry2", defaultMetadata(), "one");
    const controlBefore = fake.secret(store.controlSecretName("retry2"))?.versions.length ?? 0;
    // The first PutSecretValue of a write is the value, the second the control record.
    fake.inject("PutSecretValue", { kind: "pass" }, { kind: "drop-after-apply" });
    const put = await store.putVersion("retry2", "two", { expectedRevision: 1 });
    assert.equal(put.record.revision, 2);
    assert.equal(
      (fake.secret(store.controlSecretName("retry2"))?.versions.length ?? 0) - controlBefore,
      1,
      "one new generation",
    );
    assert.deepEqual(
      fake.secret(store.valueSecretName("retry2"))?.versions.map((v) => v.string),
      ["one", "two"],
    );
    assert.equal((await store.get("retry2"))?.revision, 2);
    await store.close();
  });

  it("5xx and throttling are retried up to maxAttempts, then a clear error and nothing written", async () => {
    const store = newStore({ maxAttempts: 3 });
    await store.create("flaky", defaultMetadata(), "one");
    fake.inject(
      "PutSecretValue",
      { kind: "error", status: 500, type: "InternalServiceError", message: "boom" },
      { kind: "error", status: 400, type: "ThrottlingException", message: "Rate exceeded" },
    );
    const put = await store.putVersion("flaky", "two", { expectedRevision: 1 });
    assert.equal(put.version.version, 2, "a 500 then a throttle, both retried");

    const before = fake.calls("PutSecretValue").length;
    const failure = { kind: "error", status: 500, type: "InternalServiceError" } as const;
    fake.inject("PutSecretValue", failure, failure, failure);
    await rejectsWith(
      store.putVersion("flaky", "three", { expectedRevision: 2 }),
      "upstream_unavailable",
      "flaky",
      "PutSecretValue",
      "3 attempt",
    );
    assert.equal(fake.calls("PutSecretValue").length - before, 3, "bounded by maxAttempts");
    assert.equal((await store.get("flaky"))?.revision, 2);
    assert.equal((await store.read("flaky")).value, "two");
    await store.close();
  });

  it("a hung call times out, is retried, and ends in upstream_timeout", async () => {
    const store = newStore({ maxAttempts: 2, timeoutSeconds: 0.3 });
    await store.create("slow", defaultMetadata(), "one");
    fake.inject("GetSecretValue", { kind: "hang" }, { kind: "hang" });
    await rejectsWith(store.read("slow"), "upstream_timeout", "slow", "GetSecretValue");
    assert.equal((await store.read("slow")).value, "one");
    await store.close();
  });
});

describe("aws store: credentials from the SDK default chain", () => {
  it("facts name the chain source from the environment, CloudTrail and grade A", () => {
    const env = {
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_CONFIG_FILE: join(dir, "none"),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, "none"),
    };
    const facts = (extra: NodeJS.ProcessEnv, profile?: string) =>
      awsBackend.facts(options(profile === undefined ? {} : { profile }), {
        env: { ...env, ...extra },
      });
    assert.deepEqual(facts({ AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" }), {
      auth: "SDK default chain: environment (AWS_ACCESS_KEY_ID)",
      audit: "CloudTrail (GetSecretValue logged without the value)",
      grade: "A",
    });
    assert.match(
      facts({ AWS_WEB_IDENTITY_TOKEN_FILE: "/t", AWS_ROLE_ARN: "arn:aws:iam::1:role/ci" }).auth,
      /web identity \/ OIDC .*role arn:aws:iam::1:role\/ci/,
    );
    assert.match(facts({ AWS_CONTAINER_CREDENTIALS_RELATIVE_URI: "/v2/c" }).auth, /container/);
    assert.match(facts({ AWS_EC2_METADATA_DISABLED: "false" }).auth, /instance metadata/);
    assert.match(facts({}).auth, /no source/);

    const config = join(dir, "config");
    writeFileSync(
      config,
      [
        "[profile dev]",
        "sso_session = corp",
        "[profile deploy]",
        "role_arn = arn:aws:iam::1:role/deploy",
        "source_profile = dev",
        "[profile tool]",
        "credential_process = /bin/true",
      ].join("\n"),
    );
    assert.match(
      facts({ AWS_CONFIG_FILE: config }, "dev").auth,
      /profile dev \(IAM Identity Center/,
    );
    assert.match(facts({ AWS_CONFIG_FILE: config, AWS_PROFILE: "deploy" }).auth, /assume role/);
    assert.match(facts({ AWS_CONFIG_FILE: config }, "tool").auth, /credential_process/);
    assert.match(facts({ AWS_CONFIG_FILE: config }, "missing").auth, /not found/);
    // A profile wins over environment keys, as the SDK's chain decides.
    assert.match(
      facts({ AWS_CONFIG_FILE: config, AWS_ACCESS_KEY_ID: "x", AWS_SECRET_ACCESS_KEY: "y" }, "dev")
        .auth,
      /profile dev/,
    );
  });

  it("the options take no credential field", () => {
    const bad = awsOptions.safeParse({
      region: "us-east-1",
      accessKeyId: user.accessKeyId,
    });
    assert.equal(bad.success, false);
    assert.equal(awsOptions.safeParse({ region: "mars" }).success, false);
  });

  it("an unknown access key is refused, naming the environment as the source tried", async () => {
    useKeys(fake.unknownUser());
    const store = newStore();
    try {
      await rejectsWith(
        store.get("anything"),
        "upstream_unauthorized",
        "environment (AWS_ACCESS_KEY_ID)",
        "UnrecognizedClientException",
      );
    } finally {
      useKeys(user);
      await store.close();
    }
  });

  it("a wrong secret key fails the signature check (InvalidSignatureException)", async () => {
    useKeys({ ...user, secretAccessKey: `${user.secretAccessKey}x` });
    const store = newStore();
    try {
      await rejectsWith(
        store.get("anything"),
        "upstream_unauthorized",
        "InvalidSignatureException",
      );
    } finally {
      useKeys(user);
      await store.close();
    }
  });

  it("no source at all is a clear error listing what the chain tried", async () => {
    resetEnv();
    const store = newStore();
    try {
      await rejectsWith(store.get("anything"), "upstream_unauthorized", "no source");
    } finally {
      useKeys(user);
      await store.close();
    }
  });

  it("web identity: the OIDC token file is exchanged at STS, and the session signs the calls", async () => {
    const roleArn = `arn:aws:iam::${"123456789012"}:role/keyward-ci`;
    const tokenFile = join(dir, "oidc-token");
    writeFileSync(tokenFile, "eyJ.fake-oidc-token.sig");
    fake.allowWebIdentity(roleArn, "eyJ.fake-oidc-token.sig", "role/keyward-ci");
    resetEnv({
      AWS_WEB_IDENTITY_TOKEN_FILE: tokenFile,
      AWS_ROLE_ARN: roleArn,
      AWS_ENDPOINT_URL_STS: fake.baseUrl,
    });
    const store = newStore();
    try {
      await store.create("oidc/secret", defaultMetadata(), "via-role");
      assert.equal((await store.read("oidc/secret")).value, "via-role");
      assert.equal(fake.requests.filter((r) => r.op === "sts.AssumeRoleWithWebIdentity").length, 1);
      const signed = fake.calls("GetSecretValue").at(-1);
      assert.equal(signed?.principal, "role/keyward-ci");
      assert.ok(signed?.headers["x-amz-security-token"], "session credentials carry a token");
    } finally {
      await store.close();
    }

    writeFileSync(tokenFile, "eyJ.someone-elses-token.sig");
    const refused = newStore();
    try {
      await rejectsWith(
        refused.get("oidc/secret"),
        "upstream_unauthorized",
        "web identity / OIDC",
        roleArn,
      );
    } finally {
      useKeys(user);
      await refused.close();
    }
  });
});

describe("aws store: a multi-secret write interrupted between its calls", () => {
  it("undecided: readers see the old state, writers wait, then abort it once it is stale", async () => {
    const coordinator = newStore({ maxAttempts: 1, timeoutSeconds: 0.5 });
    const prefix = coordinator.describe().details?.prefix ?? "";
    const other = newStore({ prefix }, { staleTxnMs: 1500, txnWaitMs: 200 });
    const a = await coordinator.create("pair/a", defaultMetadata(), "a1");
    const b = await coordinator.create("pair/b", defaultMetadata(), "b1");
    // PutSecretValue order: value a, value b, prepare b, commit a (never answered, not applied).
    fake.inject(
      "PutSecretValue",
      { kind: "pass" },
      { kind: "pass" },
      { kind: "pass" },
      { kind: "hang" },
    );
    await rejectsWith(
      coordinator.putVersions([
        { name: "pair/a", value: "a2", expectedRevision: a.revision },
        { name: "pair/b", value: "b2", expectedRevision: b.revision },
      ]),
      "upstream_timeout",
    );
    assert.equal((await other.read("pair/b")).value, "b1");
    assert.equal((await other.read("pair/a")).value, "a1");
    await rejectsWith(
      other.putVersion("pair/b", "b-other", { expectedRevision: 1 }),
      "conflict",
      "pair/b",
      "pair/a",
    );
    await new Promise((r) => setTimeout(r, 1600));
    const put = await other.putVersion("pair/b", "b-other", { expectedRevision: 1 });
    assert.equal(put.record.revision, 2);
    assert.equal((await other.read("pair/a")).value, "a1", "the abandoned write never lands");
    await coordinator.close();
    await other.close();
  });

  it("decided: the commit landed but its answer was lost; others roll the second secret forward", async () => {
    const coordinator = newStore({ maxAttempts: 1 });
    const prefix = coordinator.describe().details?.prefix ?? "";
    const other = newStore({ prefix }, { staleTxnMs: 60_000 });
    const a = await coordinator.create("pair/a", defaultMetadata(), "a1");
    const b = await coordinator.create("pair/b", defaultMetadata(), "b1");
    fake.inject(
      "PutSecretValue",
      { kind: "pass" },
      { kind: "pass" },
      { kind: "pass" },
      { kind: "drop-after-apply" },
    );
    await assert.rejects(
      coordinator.putVersions([
        { name: "pair/a", value: "a2", expectedRevision: a.revision },
        { name: "pair/b", value: "b2", expectedRevision: b.revision },
      ]),
    );
    assert.equal((await other.read("pair/a")).value, "a2");
    assert.equal((await other.read("pair/b")).value, "b2", "read through the decision");
    const listed = await other.list("pair/");
    assert.deepEqual(
      listed.map((r) => r.revision),
      [2, 2],
    );
    const put = await other.putVersion("pair/b", "b3", { expectedRevision: 2 });
    assert.equal(put.version.version, 3);
    assert.equal((await other.read("pair/b", { stage: "previous" })).value, "b2");
    await coordinator.close();
    await other.close();
  });
});

class Worker extends ChildWorker<AwsWorkerCommand, AwsWorkerReply> {
  constructor() {
    super("aws-worker");
  }
}

/** Values the crash tests' writer stores: the fake's latency, not their size, spreads the kills. */
const LOOP_BYTES = 1024;

describe("aws store: crashes and concurrent processes", () => {
  const openCommand = (prefix: string): AwsWorkerCommand => ({
    op: "open",
    endpoint: fake.baseUrl,
    region: fake.region,
    prefix,
  });

  it("two processes racing compare-and-set: exactly one wins each round, the other gets conflict", async () => {
    const store = newStore();
    const prefix = store.describe().details?.prefix ?? "";
    await store.create("race", defaultMetadata());
    const workers = [new Worker(), new Worker()];
    try {
      for (const w of workers) expectOk(await w.request(openCommand(prefix)));
      const winners = await raceRounds(workers, "race", 8);
      await assertRaceKept(store, "race", winners);

      const locks = [];
      for (let round = 0; round < 6; round++) {
        const replies = await Promise.all(
          workers.map((w, i) =>
            w.request({ op: "lock", name: `race/lock-${round}`, owner: `w${i}` }),
          ),
        );
        locks.push(replies.filter((r) => expectOk(r).acquired === true).length);
      }
      assert.deepEqual(locks, [1, 1, 1, 1, 1, 1], "one lock holder per round");
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await store.close();
    }
  });

  it("survives SIGKILL mid-write: the current value is exactly one written, labels repaired", async () => {
    const store = newStore();
    const prefix = store.describe().details?.prefix ?? "";
    await store.create("crash", defaultMetadata());
    fake.latencyMs = 2;
    try {
      await killLoopingWriters({
        rounds: 5,
        maxPauseMs: 60,
        spawn: () => new Worker(),
        open: openCommand(prefix),
        loop: (firstIndex) => ({ op: "write-loop", name: "crash", firstIndex, bytes: LOOP_BYTES }),
        // A lost race for a version number skips it, so numbers ascend but may have gaps.
        survivor: async () => (await loopSurvivor(store, "crash", LOOP_BYTES, false)).index,
      });
    } finally {
      fake.latencyMs = 0;
    }
    const last = await store.get("crash");
    const put = await store.putVersion("crash", "after", { expectedRevision: last?.revision ?? 0 });
    const labels = fake
      .secret(store.valueSecretName("crash"))
      ?.versions.filter((v) => v.stages.some((s) => s.startsWith("AWS")));
    assert.deepEqual(
      labels?.map((v) => [v.id, v.stages.filter((s) => s.startsWith("AWS"))]),
      [
        [versionId(put.record.versions.at(-2)?.version ?? 0), ["AWSPREVIOUS"]],
        [versionId(put.version.version), ["AWSCURRENT"]],
      ],
    );
    await store.close();
  });

  it("survives SIGKILL mid-putVersions over two secrets: both land or neither", async () => {
    const store = newStore({}, { staleTxnMs: 300 });
    const prefix = store.describe().details?.prefix ?? "";
    fake.latencyMs = 2;
    const names = ["slack/bot", "slack/bot.refreshToken"];
    try {
      await killLoopingWriters({
        rounds: 6,
        maxPauseMs: 80,
        spawn: () => new Worker(),
        open: openCommand(prefix),
        loop: (firstIndex) => ({ op: "pair-loop", names, firstIndex, bytes: LOOP_BYTES }),
        survivor: async () => (await pairSurvivor(store, names, LOOP_BYTES)).index,
      });
    } finally {
      fake.latencyMs = 0;
    }
    await store.close();
  });
});

describe("aws store: no value leaves in clear", () => {
  it("values appear only in the SecretString of their own write, never in errors, URLs or headers", async () => {
    const canary = `CANARY-${Math.random().toString(36).slice(2)}-aws`;
    const canary2 = `${canary}-two`;
    const store = newStore();
    const from = fake.requests.length;
    const errors: string[] = [];
    const attempt = async (p: Promise<unknown>) => {
      try {
        await p;
      } catch (e) {
        errors.push(JSON.stringify(e), String((e as Error).stack));
      }
    };
    await store.create("leak/one", defaultMetadata(), canary);
    await store.putVersion("leak/one", canary2, { expectedRevision: 1, stages: ["pending"] });
    await attempt(store.putVersion("leak/one", canary, { expectedRevision: 1 }));
    await attempt(store.create("leak/one", defaultMetadata(), canary));
    await attempt(
      store.putVersion("leak/one", canary.repeat(AWS_MAX_VALUE_BYTES), { expectedRevision: 2 }),
    );
    await store.read("leak/one");
    await store.read("leak/one", { stage: "pending" });
    await store.putVersions(
      [
        { name: "leak/one", value: `${canary}-3`, expectedRevision: 2 },
        { name: "leak/two", value: canary2, expectedRevision: 0, metadata: defaultMetadata() },
      ],
      {
        record: {
          rotationId: "r1",
          secret: "leak/one",
          step: "test",
          attempts: 0,
          startedAt: "2030-01-01T00:00:00.000Z",
          updatedAt: "2030-01-01T00:00:00.000Z",
        },
      },
    );
    await store.list();
    await store.setVersionState("leak/one", 1, "disabled", {
      expectedRevision: 3,
      compromised: true,
    });
    await attempt(store.read("leak/one", { version: 1 }));
    await store.destroyVersion("leak/one", 1, 4);
    fake.inject("GetSecretValue", { kind: "error", status: 500, type: "InternalServiceError" });
    fake.inject("GetSecretValue", { kind: "error", status: 500, type: "InternalServiceError" });
    fake.inject("GetSecretValue", { kind: "error", status: 500, type: "InternalServiceError" });
    await attempt(store.read("leak/two"));
    await store.delete("leak/two", 1);
    await store.close();
    assert.ok(errors.length >= 5, "the failures happened");

    const forms = [...encodedForms(canary), ...encodedForms(canary2)];
    const valueNames = new Set(["leak/one", "leak/two"].map((n) => store.valueSecretName(n)));
    const requests = fake.requests.slice(from);
    assert.ok(requests.length > 20);
    for (const r of requests) {
      const body = JSON.parse(r.body === "" ? "{}" : r.body) as Record<string, unknown>;
      const target = String(body.SecretId ?? body.Name ?? "");
      if (valueNames.has(target) && /PutSecretValue|CreateSecret/.test(r.op)) {
        delete body.SecretString;
        delete body.SecretBinary;
      }
      const seen = JSON.stringify([r.url, r.headers, body]);
      for (const f of forms)
        assert.ok(!seen.includes(f), `${r.op} carries a value outside its value field`);
    }
    for (const text of errors) {
      for (const f of forms) assert.ok(!text.includes(f), "an error carries a value");
    }
  });
});
