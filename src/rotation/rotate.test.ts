import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, beforeEach, describe, it } from "node:test";
import type { AppendInput } from "../accesslog/log.js";
import { defaultMetadata, type SecretMetadata } from "../core/types.js";
import type { SqliteStore } from "../store/sqlite.js";
import type { RotationStep } from "../store/types.js";
import { companionName, companionParent } from "./companions.js";
import {
  MAX_STEP_ATTEMPTS,
  type RotateDeps,
  type RotateDueDeps,
  type RotationOutcome,
  randomSecretValue,
  revokePreviousDue,
  rotateDue,
  rotateSecret,
  rotationLockName,
} from "./rotate.js";
import { assertNoValues, assertRotationInvariants } from "./testing/assertions.js";
import type { FakeKind, FakeOptions, FakeUpstream } from "./testing/fake-providers.js";
import {
  fakeMethodFor,
  newStoreHome,
  openStore,
  type StoreHome,
  seedSecret,
  testContext,
  upstreamFor,
} from "./testing/fixture.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A clock the test moves; it starts at the real time so the store's own timestamps agree. */
class Clock {
  private ms = Date.now();
  now = (): Date => new Date(this.ms);
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
  /** Back to the real time, which the store uses for rotatedAt. */
  reset(): void {
    this.ms = Date.now();
  }
}

interface Harness {
  home: StoreHome;
  store: SqliteStore;
  clock: Clock;
  log: AppendInput[];
  deps(name: string, options?: FakeOptionsLite): Promise<RotateDeps>;
  dueDeps(options?: FakeOptionsLite): RotateDueDeps;
  upstream(name: string): FakeUpstream;
  seed(
    name: string,
    kind: FakeKind,
    metadata?: Partial<SecretMetadata>,
  ): Promise<{ value: string; companions: Record<string, string> }>;
}

type FakeOptionsLite = Partial<Omit<FakeOptions, "upstream" | "storeCurrent">> & {
  onStep?: RotateDeps["onStep"];
  owner?: string;
};

async function harness(): Promise<Harness> {
  const home = await newStoreHome();
  dirs.push(home.dir);
  const store = await openStore(home.home, home.master);
  const clock = new Clock();
  const log: AppendInput[] = [];
  const services = (options: FakeOptionsLite = {}) => {
    const { onStep, owner, ...fake } = options;
    return {
      base: {
        store,
        ctx: testContext(clock.now),
        now: clock.now,
        owner: owner ?? "test-owner",
        log: { append: (entry: AppendInput) => log.push(entry) },
        ...(onStep === undefined ? {} : { onStep }),
      },
      methodFor: fakeMethodFor(store, home.dir, fake),
    };
  };
  return {
    home,
    store,
    clock,
    log,
    async deps(name, options) {
      const { base, methodFor } = services(options);
      const record = await store.get(name);
      assert.ok(record !== undefined);
      return { ...base, ...methodFor(record) };
    },
    dueDeps(options) {
      const { base, methodFor } = services(options);
      return { ...base, methodFor };
    },
    upstream: (name) => upstreamFor(home.dir, name),
    seed: (name, kind, metadata) => seedSecret(store, home.dir, name, kind, metadata),
  };
}

function expectRotated(outcome: RotationOutcome): Extract<RotationOutcome, { status: "rotated" }> {
  assert.equal(outcome.status, "rotated", JSON.stringify(outcome));
  return outcome as Extract<RotationOutcome, { status: "rotated" }>;
}

function expectFailed(outcome: RotationOutcome): Extract<RotationOutcome, { status: "failed" }> {
  assert.equal(outcome.status, "failed", JSON.stringify(outcome));
  return outcome as Extract<RotationOutcome, { status: "failed" }>;
}

const noGrace = { rotation: { ttlSeconds: 90 * 86400, graceSeconds: 0 } };

describe("rotateSecret: the four steps", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  for (const kind of ["api", "mint", "refresh"] as const) {
    it(`${kind}: pending is created, tested, promoted; the previous value is revoked only after`, async () => {
      const seeded = await h.seed("svc/key", kind, noGrace);
      const outcome = expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
      assert.deepEqual(
        { version: outcome.version, previousVersion: outcome.previousVersion },
        { version: 2, previousVersion: 1 },
      );
      assert.equal(outcome.resumed, false);
      assert.equal(outcome.previous.state, "revoked");
      const upstream = h.upstream("svc/key");
      const current = (await h.store.read("svc/key")).value;
      assert.equal((await h.store.read("svc/key", { stage: "previous" })).value, seeded.value);
      assert.deepEqual(
        upstream.calls().map((c) => c.op),
        ["rotate", "verify", "revoke"],
      );
      const [rotate, verify, revoke] = upstream.calls();
      assert.equal(
        rotate?.storeCurrent,
        seeded.value,
        "rotate ran while the old value was current",
      );
      assert.equal(verify?.value, current, "the pending value was tested");
      assert.equal(verify?.storeCurrent, seeded.value, "…before it became current");
      assert.equal(revoke?.value, seeded.value);
      assert.equal(revoke?.storeCurrent, current, "revoke ran after the new value was current");
      assert.equal(upstream.stateOf(seeded.value), "revoked");
      await assertRotationInvariants(h.store, upstream, "svc/key");
      const record = await h.store.get("svc/key");
      assert.ok(!record?.versions.some((v) => v.stages.includes("pending")));
      const rotation = await h.store.getRotation("svc/key");
      assert.equal(rotation?.step, "done");
      assert.equal(rotation?.rotationId, outcome.rotationId);
      assertNoValues([outcome, rotation, record, h.log], [seeded.value, current]);
    });
  }

  it("refresh: the new refresh token is stored with the new value, the spent one replaced", async () => {
    const seeded = await h.seed("slack/bot", "refresh", noGrace);
    expectRotated(await rotateSecret(await h.deps("slack/bot"), "slack/bot"));
    const upstream = h.upstream("slack/bot");
    const refresh = await h.store.read(companionName("slack/bot", "refreshToken"));
    assert.notEqual(refresh.value, seeded.companions.refreshToken);
    assert.equal(upstream.stateOf(refresh.value), "live");
    assert.equal(upstream.stateOf(seeded.companions.refreshToken as string), "spent");
    // The second rotation must use the refresh token the first one stored.
    expectRotated(await rotateSecret(await h.deps("slack/bot"), "slack/bot"));
    await assertRotationInvariants(h.store, upstream, "slack/bot");
    const metadata = (await h.store.get("slack/bot"))?.metadata;
    assert.ok(metadata?.expiresAt !== undefined, "the new token's expiry is tracked");
  });

  it("mint: the new token's upstream expiry becomes the secret's expiresAt", async () => {
    await h.seed("github/app-token", "mint", noGrace);
    expectRotated(await rotateSecret(await h.deps("github/app-token"), "github/app-token"));
    const expiresAt = (await h.store.get("github/app-token"))?.metadata.expiresAt;
    assert.equal(expiresAt, new Date(h.clock.now().getTime() + 3600_000).toISOString());
  });

  it("a generated value: minted locally, tested by reading back, nothing upstream to revoke", async () => {
    await h.store.create("internal/webhook", { ...defaultMetadata(), ...noGrace }, "first");
    const deps: RotateDeps = {
      ...(await h.deps("internal/webhook")),
      provider: undefined,
      generate: randomSecretValue,
    };
    const outcome = expectRotated(await rotateSecret(deps, "internal/webhook"));
    assert.equal(outcome.previous.state, "not-revocable");
    const value = (await h.store.read("internal/webhook")).value;
    assert.notEqual(value, "first");
    assert.equal(Buffer.from(value, "base64url").length, 32);
  });

  it("a refresh-token key whose current version was disabled (emergency revoke) still rotates", async () => {
    await h.seed("slack/bot", "refresh", noGrace);
    const record = await h.store.get("slack/bot");
    await h.store.setVersionState("slack/bot", 1, "disabled", {
      expectedRevision: record?.revision as number,
      compromised: true,
    });
    const outcome = expectRotated(await rotateSecret(await h.deps("slack/bot"), "slack/bot"));
    assert.equal(outcome.previous.state, "not-revocable");
    assert.match(outcome.previous.detail ?? "", /v1 is disabled/);
    await assertRotationInvariants(h.store, h.upstream("slack/bot"), "slack/bot");
  });

  it("a generated value is tested by reading back even when the secret has a provider", async () => {
    await h.seed("svc/shared", "manual", noGrace);
    const deps: RotateDeps = { ...(await h.deps("svc/shared")), generate: randomSecretValue };
    const outcome = expectRotated(await rotateSecret(deps, "svc/shared"));
    assert.equal(outcome.previous.state, "not-revocable");
    assert.deepEqual(h.upstream("svc/shared").calls(), [], "the provider was never asked");
  });

  it("a key with no rotation API gets a manual reminder with its exact steps, and no record", async () => {
    await h.seed("github/pat", "manual");
    const outcome = await rotateSecret(await h.deps("github/pat"), "github/pat");
    assert.equal(outcome.status, "manual");
    if (outcome.status !== "manual") return;
    assert.equal(outcome.reminder.kind, "manual");
    assert.equal(outcome.reminder.provider, "fake-manual");
    assert.ok(
      outcome.reminder.steps.includes("Store it: keyward secret set github/pat (value on stdin)."),
    );
    assert.equal(await h.store.getRotation("github/pat"), undefined);
    assert.equal((await h.store.get("github/pat"))?.versions.length, 1);
    assert.deepEqual(h.upstream("github/pat").calls(), []);
  });

  it("with a grace period the previous value stays live until revokePreviousDue runs after it", async () => {
    const seeded = await h.seed("svc/key", "api", {
      rotation: { ttlSeconds: 86400, graceSeconds: 3600 },
    });
    const outcome = expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(outcome.previous.state, "scheduled");
    assert.equal(
      outcome.previous.revokeAfter,
      new Date(h.clock.now().getTime() + 3600_000).toISOString(),
    );
    const upstream = h.upstream("svc/key");
    assert.equal(upstream.stateOf(seeded.value), "live");

    h.clock.advance(1800);
    assert.deepEqual(await revokePreviousDue(h.dueDeps()), []);
    assert.equal(upstream.stateOf(seeded.value), "live");

    h.clock.advance(1800);
    const [revoked, ...rest] = await revokePreviousDue(h.dueDeps());
    assert.deepEqual(rest, []);
    assert.equal(revoked?.state, "revoked");
    assert.equal(revoked?.version, 1);
    assert.equal(upstream.stateOf(seeded.value), "revoked");
    assert.equal((await h.store.getRotation("svc/key"))?.step, "done");
    assert.deepEqual(await revokePreviousDue(h.dueDeps()), [], "revoked once");
    await assertRotationInvariants(h.store, upstream, "svc/key");
  });

  it("the grace override of the call wins over the secret's policy", async () => {
    await h.seed("svc/key", "api", { rotation: { ttlSeconds: 86400, graceSeconds: 3600 } });
    const outcome = expectRotated(
      await rotateSecret(await h.deps("svc/key"), "svc/key", { graceSeconds: 0 }),
    );
    assert.equal(outcome.previous.state, "revoked");
  });

  it("rotating again inside the grace period is refused unless forced, which revokes the previous now", async () => {
    const seeded = await h.seed("svc/key", "api", {
      rotation: { ttlSeconds: 86400, graceSeconds: 3600 },
    });
    expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    const refused = expectFailed(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(refused.error.code, "refused");
    assert.match(refused.error.fix ?? "", /--force/);
    assert.equal((await h.store.get("svc/key"))?.versions.length, 2);

    const forced = expectRotated(
      await rotateSecret(await h.deps("svc/key"), "svc/key", { force: true }),
    );
    assert.equal(forced.version, 3);
    const upstream = h.upstream("svc/key");
    assert.equal(upstream.stateOf(seeded.value), "revoked", "v1 revoked before v2 was pushed out");
    await assertRotationInvariants(h.store, upstream, "svc/key");
  });
});

describe("rotateSecret: failures roll back or resume", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await harness();
  });

  it("a rejected test removes pending, records failed, leaves current untouched", async () => {
    const seeded = await h.seed("svc/key", "api", noGrace);
    const outcome = expectFailed(
      await rotateSecret(await h.deps("svc/key", { verify: "reject" }), "svc/key"),
    );
    assert.equal(outcome.error.code, "test_failed");
    assert.equal(outcome.step, "test");
    assert.equal(outcome.rolledBack, true);
    assert.equal(outcome.willResume, false);
    const record = await h.store.get("svc/key");
    assert.equal((await h.store.read("svc/key")).value, seeded.value);
    assert.ok(!record?.versions.some((v) => v.stages.includes("pending")));
    const rotation = await h.store.getRotation("svc/key");
    assert.equal(rotation?.step, "failed");
    assert.equal(rotation?.lastError?.code, "test_failed");
    const upstream = h.upstream("svc/key");
    assert.equal(upstream.stateOf(seeded.value), "live", "the old value was not revoked");
    assertNoValues(
      [outcome, rotation, h.log],
      upstream.calls().flatMap((c) => [c.value, c.result ?? c.value]),
    );

    // The next run starts a fresh rotation and succeeds.
    const again = expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.notEqual(again.rotationId, outcome.rotationId);
    assert.equal(again.version, 3);
    await assertRotationInvariants(h.store, upstream, "svc/key");
  });

  it("a test that cannot run keeps pending and resumes there; after the limit it rolls back", async () => {
    await h.seed("svc/key", "api", noGrace);
    const first = expectFailed(
      await rotateSecret(await h.deps("svc/key", { verify: "throw" }), "svc/key"),
    );
    assert.equal(first.error.code, "upstream_unavailable");
    assert.equal(first.willResume, true);
    assert.equal((await h.store.getRotation("svc/key"))?.attempts, 1);
    assert.equal((await h.store.read("svc/key", { stage: "pending" })).version.version, 2);

    const resumed = expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(resumed.rotationId, first.rotationId);
    assert.equal(resumed.resumed, true);
    const upstream = h.upstream("svc/key");
    assert.equal(upstream.calls().filter((c) => c.op === "rotate").length, 1, "no second key made");
    await assertRotationInvariants(h.store, upstream, "svc/key");

    for (let i = 1; i < MAX_STEP_ATTEMPTS; i++) {
      const o = await rotateSecret(await h.deps("svc/key", { verify: "throw" }), "svc/key");
      assert.equal(expectFailed(o).willResume, true);
    }
    const last = expectFailed(
      await rotateSecret(await h.deps("svc/key", { verify: "throw" }), "svc/key"),
    );
    assert.equal(last.rolledBack, true);
    assert.equal((await h.store.getRotation("svc/key"))?.step, "failed");
    await assertRotationInvariants(h.store, upstream, "svc/key");
  });

  it("a failing upstream rotate leaves nothing pending and resumes at set", async () => {
    const seeded = await h.seed("svc/key", "api", noGrace);
    const failed = expectFailed(
      await rotateSecret(
        await h.deps("svc/key", { rotateError: "upstream_unavailable" }),
        "svc/key",
      ),
    );
    assert.equal(failed.step, "set");
    assert.equal(failed.willResume, true);
    assert.equal((await h.store.get("svc/key"))?.versions.length, 1);
    assert.equal((await h.store.read("svc/key")).value, seeded.value);
    const resumed = expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(resumed.rotationId, failed.rotationId);
  });

  it("a permanent refusal from the provider abandons at once", async () => {
    await h.seed("svc/key", "api", noGrace);
    const failed = expectFailed(
      await rotateSecret(await h.deps("svc/key", { rotateError: "refused" }), "svc/key"),
    );
    assert.equal(failed.willResume, false);
    assert.equal((await h.store.getRotation("svc/key"))?.step, "failed");
  });

  const boundaries: RotationStep[] = ["create", "set", "test", "finish", "revoke-previous", "done"];
  for (const kind of ["api", "mint", "refresh"] as const) {
    for (const boundary of boundaries) {
      it(`${kind}: a run that dies at ${boundary} is finished by the next run, with one upstream rotate`, async () => {
        const seeded = await h.seed("svc/key", kind, noGrace);
        const crash = new Error("simulated crash");
        const dying = await rotateSecret(
          await h.deps("svc/key", {
            owner: "dying-run",
            onStep: (step) => {
              if (step === boundary) throw crash;
            },
          }),
          "svc/key",
        );
        assert.equal(dying.status, "failed");
        // The crashed run still holds nothing: rotateSecret released the lock on its way out.
        const next = await rotateSecret(await h.deps("svc/key"), "svc/key");
        const upstream = h.upstream("svc/key");
        if (boundary === "done") {
          // Nothing was left to finish: the second run is a new rotation.
          assert.equal(expectRotated(next).resumed, false);
          assert.equal(upstream.calls().filter((c) => c.op === "rotate").length, 2);
        } else {
          const rotated = expectRotated(next);
          assert.equal(rotated.resumed, boundary !== "revoke-previous");
          assert.equal(
            upstream.calls().filter((c) => c.op === "rotate").length,
            boundary === "revoke-previous" ? 2 : 1,
          );
        }
        assert.equal(upstream.stateOf(seeded.value), "revoked");
        await assertRotationInvariants(h.store, upstream, "svc/key");
      });
    }
  }

  it("a run that died between promoting pending and recording it finishes cleanly", async () => {
    await h.seed("svc/key", "api", noGrace);
    await rotateSecret(
      await h.deps("svc/key", {
        onStep: (step) => {
          if (step === "finish") throw new Error("simulated crash");
        },
      }),
      "svc/key",
    );
    // Half of finish: current moved to the pending version, pending still on it.
    const record = await h.store.get("svc/key");
    await h.store.moveStage("svc/key", "current", 2, record?.revision as number);
    const resumed = expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(resumed.version, 2);
    const after = await h.store.get("svc/key");
    assert.deepEqual(
      after?.versions.map((v) => [v.version, v.stages]),
      [
        [1, ["previous"]],
        [2, ["current"]],
      ],
    );
    await assertRotationInvariants(h.store, h.upstream("svc/key"), "svc/key");
  });

  it("a value stored by hand during the rotation wins: the rotation is abandoned", async () => {
    await h.seed("svc/key", "api", noGrace);
    await rotateSecret(
      await h.deps("svc/key", {
        onStep: (step) => {
          if (step === "finish") throw new Error("simulated crash");
        },
      }),
      "svc/key",
    );
    const record = await h.store.get("svc/key");
    await h.store.putVersion("svc/key", "set-by-hand", {
      expectedRevision: record?.revision as number,
    });
    const outcome = expectFailed(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(outcome.error.code, "conflict");
    assert.equal(outcome.rolledBack, true);
    assert.equal((await h.store.read("svc/key")).value, "set-by-hand");
    const after = await h.store.get("svc/key");
    assert.ok(!after?.versions.some((v) => v.stages.includes("pending")));
    assert.ok(!JSON.stringify([outcome, h.log]).includes("set-by-hand"));
  });

  it("never revokes the value that is current, even if the record says it is previous", async () => {
    const seeded = await h.seed("svc/key", "api", {
      rotation: { ttlSeconds: 86400, graceSeconds: 60 },
    });
    expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    const record = await h.store.get("svc/key");
    await h.store.moveStage("svc/key", "current", 1, record?.revision as number); // rolled back by hand
    h.clock.advance(120);
    const [outcome] = await revokePreviousDue(h.dueDeps());
    assert.equal(outcome?.state, "failed");
    assert.equal(outcome?.error?.code, "refused");
    assert.equal(h.upstream("svc/key").stateOf(seeded.value), "live");
    assert.equal((await h.store.getRotation("svc/key"))?.step, "revoke-previous", "kept for retry");
  });

  it("an unconfirmed revoke is a failure that the next run retries", async () => {
    const seeded = await h.seed("svc/key", "api", {
      rotation: { ttlSeconds: 86400, graceSeconds: 60 },
    });
    expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    h.clock.advance(120);
    const [unconfirmed] = await revokePreviousDue(h.dueDeps({ revokeUnconfirmed: true }));
    assert.equal(unconfirmed?.state, "failed");
    assert.equal((await h.store.getRotation("svc/key"))?.attempts, 1);
    const [revoked] = await revokePreviousDue(h.dueDeps());
    assert.equal(revoked?.state, "revoked");
    assert.equal(h.upstream("svc/key").stateOf(seeded.value), "revoked");
  });

  it("refuses to adopt a pending version no rotation owns", async () => {
    await h.seed("svc/key", "api", noGrace);
    await h.store.putVersion("svc/key", "staged-by-hand", {
      expectedRevision: 1,
      stages: ["pending"],
    });
    const outcome = expectFailed(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.equal(outcome.error.code, "refused");
    assert.match(outcome.error.message, /pending version v2/);
    assert.equal(await h.store.getRotation("svc/key"), undefined);
  });

  it("a missing secret or one without a value fails without a record", async () => {
    const deps: RotateDeps = {
      ...(await h.dueDeps()),
      provider: undefined,
      generate: randomSecretValue,
    };
    assert.equal(expectFailed(await rotateSecret(deps, "nope")).error.code, "not_found");
    await h.store.create("empty", defaultMetadata());
    assert.equal(expectFailed(await rotateSecret(deps, "empty")).error.code, "not_found");
    assert.equal(expectFailed(await rotateSecret(deps, "bad name")).error.code, "invalid_name");
  });
});

describe("one rotation per secret", () => {
  it("a held lock makes a second run report locked and change nothing", async () => {
    const h = await harness();
    await h.seed("svc/key", "api", noGrace);
    assert.equal(await h.store.acquireLock(rotationLockName("svc/key"), "someone-else", 60), true);
    const outcome = await rotateSecret(await h.deps("svc/key"), "svc/key");
    assert.deepEqual(outcome, { status: "locked", secret: "svc/key" });
    assert.deepEqual(h.upstream("svc/key").calls(), []);
    assert.equal(h.log.at(-1)?.outcome, "denied");
  });

  it("two runs over two store handles at once: exactly one proceeds", async () => {
    const h = await harness();
    await h.seed("svc/key", "api", noGrace);
    const other = await openStore(h.home.home, h.home.master);
    const a = await h.deps("svc/key", { owner: "run-a" });
    const b: RotateDeps = { ...(await h.deps("svc/key", { owner: "run-b" })), store: other };
    const outcomes = await Promise.all([rotateSecret(a, "svc/key"), rotateSecret(b, "svc/key")]);
    await other.close();
    assert.deepEqual(outcomes.map((o) => o.status).sort(), ["locked", "rotated"]);
    const upstream = h.upstream("svc/key");
    assert.equal(upstream.calls().filter((c) => c.op === "rotate").length, 1);
    await assertRotationInvariants(h.store, upstream, "svc/key");
  });

  it("a lock left by a dead run is taken over once it expires", async () => {
    const h = await harness();
    await h.seed("svc/key", "api", noGrace);
    await h.store.acquireLock(rotationLockName("svc/key"), "dead-run", 0);
    expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
  });
});

describe("rotateDue", () => {
  it("rotates what is due, reminds about manual keys, resumes, skips companions, counts", async () => {
    const h = await harness();
    const day = 86400;
    await h.seed("due/api", "api", { rotation: { ttlSeconds: day, graceSeconds: 0 } });
    await h.seed("due/refresh", "refresh", { rotation: { ttlSeconds: day, graceSeconds: 0 } });
    await h.seed("due/pat", "manual", { rotation: { ttlSeconds: day } });
    await h.seed("fresh/api", "api", { rotation: { ttlSeconds: 30 * day } });
    // Due because it expired upstream (its TTL is far off).
    await h.seed("broken/api", "api", {
      rotation: { ttlSeconds: 30 * day, graceSeconds: 0 },
      expiresAt: new Date(Date.now() - 1000).toISOString(),
    });
    // An unfinished rotation of a secret that is not due is resumed anyway.
    await h.seed("unfinished/api", "api", { rotation: { ttlSeconds: 30 * day, graceSeconds: 0 } });
    await rotateSecret(
      await h.deps("unfinished/api", {
        onStep: (step) => {
          if (step === "test") throw new Error("simulated crash");
        },
      }),
      "unfinished/api",
    );
    h.clock.advance(3 * day);

    const deps = h.dueDeps();
    const methodFor = deps.methodFor;
    const summary = await rotateDue({
      ...deps,
      methodFor: (record) =>
        record.name === "broken/api"
          ? fakeMethodFor(h.store, h.home.dir, { rotateError: "refused" })(record)
          : methodFor(record),
    });
    assert.deepEqual(summary.counts, {
      rotated: 3,
      resumed: 1,
      revoked: 3,
      dueManual: 1,
      failed: 1,
      locked: 0,
      notDue: 1,
    });
    assert.equal(summary.ok, false);
    const byName = new Map(summary.items.map((i) => [i.secret, i]));
    assert.deepEqual([...byName.keys()].sort(), [
      "broken/api",
      "due/api",
      "due/pat",
      "due/refresh",
      "fresh/api",
      "unfinished/api",
    ]);
    assert.ok(companionParent("due/refresh.refreshToken", new Set(byName.keys())));
    const pat = byName.get("due/pat")?.outcome;
    assert.equal(pat?.status, "manual");
    if (pat?.status === "manual") {
      assert.equal(pat.reminder.status, "overdue");
      assert.ok(pat.reminder.steps.some((s) => s.includes("keyward secret set due/pat")));
    }
    assert.equal(byName.get("fresh/api")?.due.status, "not-due");
    assert.equal(byName.get("fresh/api")?.outcome, undefined);
    for (const name of ["due/api", "due/refresh", "unfinished/api"]) {
      await assertRotationInvariants(h.store, h.upstream(name), name);
    }
    const values = ["due/api", "due/refresh", "broken/api"].flatMap((n) =>
      h
        .upstream(n)
        .calls()
        .flatMap((c) => [c.value, c.result ?? c.value]),
    );
    assertNoValues([summary, h.log], values);

    // Back at the time the store stamped the rotations: only the expired key is due, and its
    // provider works now. Its new value has no known expiry, so the old one is cleared.
    h.clock.reset();
    const second = await rotateDue({ ...deps, methodFor: deps.methodFor });
    assert.deepEqual(
      second.items.filter((i) => i.outcome !== undefined).map((i) => [i.secret, i.outcome?.status]),
      [["broken/api", "rotated"]],
    );
    assert.equal(second.ok, true);
    assert.equal((await h.store.get("broken/api"))?.metadata.expiresAt, undefined);
  });

  it("an empty store is an empty, successful summary", async () => {
    const h = await harness();
    const summary = await rotateDue(h.dueDeps());
    assert.equal(summary.ok, true);
    assert.deepEqual(summary.items, []);
  });
});

describe("companions", () => {
  it("companionParent knows a companion only by an existing parent and a camelCase key", () => {
    const names = new Set(["slack/bot", "a.b"]);
    assert.equal(companionParent("slack/bot.refreshToken", names), "slack/bot");
    assert.equal(companionParent("slack/bot.Refresh", names), undefined);
    assert.equal(companionParent("slack/other.refreshToken", names), undefined);
    assert.equal(companionParent("a.b", names), undefined, "its parent `a` does not exist");
    assert.equal(companionParent("noDots", names), undefined);
  });
});

describe("the access log", () => {
  it("records start, promotion and revocation under action rotate, without values", async () => {
    const h = await harness();
    const seeded = await h.seed("svc/key", "api", noGrace);
    expectRotated(await rotateSecret(await h.deps("svc/key"), "svc/key"));
    assert.ok(h.log.every((e) => e.action === "rotate" && e.secret === "svc/key"));
    assert.deepEqual(
      h.log.map((e) => e.outcome),
      ["ok", "ok", "ok"],
    );
    assert.match(h.log[1]?.detail ?? "", /v2 is current, v1 is previous/);
    assert.match(h.log[2]?.detail ?? "", /previous v1 revoked upstream/);
    assert.ok(h.log.every((e) => e.value === undefined));
    assertNoValues(h.log, [seeded.value, (await h.store.read("svc/key")).value]);
  });
});
