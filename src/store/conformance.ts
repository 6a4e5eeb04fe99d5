/**
 * The one test suite every SecretStore backend runs (the way Vault tests every physical
 * backend with one suite). A backend's test file calls runSecretStoreConformance with a
 * factory that makes a fresh, empty store and a cleanup that closes and removes it.
 * It asserts behaviour through the interface only, never a backend's internals.
 */
import assert from "node:assert/strict";
import { afterEach, beforeEach, describe, it } from "node:test";
import { type ErrorCode, isKeywardError, type KeywardError } from "../core/errors.js";
import {
  defaultMetadata,
  type SecretMetadata,
  type SecretRecord,
  type Stage,
} from "../core/types.js";
import {
  MAX_VALUE_BYTES,
  type RotationRecordInput,
  type RotationStep,
  type SecretStore,
} from "./types.js";

export type MakeStore = () => Promise<{ store: SecretStore; cleanup: () => Promise<void> }>;

/**
 * What an engine genuinely cannot do, stated narrowly so every other assertion still runs. The
 * defaults are the strict behaviour (sqlite runs with none); a backend that sets one documents
 * the limit in docs/backends/<backend>.md, and the suite asserts the honest alternative.
 */
export interface StoreCapabilities {
  /** The largest value in UTF-8 bytes (default MAX_VALUE_BYTES, 1 MiB); larger is `invalid_value`. */
  maxValueBytes?: number;
  /** Whether "" can be stored (default true); if not, storing it is `invalid_value` and writes nothing. */
  emptyValues?: boolean;
}

/**
 * Fails unless `action` rejects with a KeywardError of `code` whose message contains every
 * `mentions`; returns the error for further checks.
 */
export async function rejectsWith(
  action: Promise<unknown>,
  code: ErrorCode,
  ...mentions: string[]
): Promise<KeywardError> {
  let caught: unknown;
  await assert.rejects(action, (e: unknown) => {
    caught = e;
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assert.equal(e.code, code, `expected ${code}, got ${e.code}: ${e.message}`);
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" lacks "${m}"`);
    return true;
  });
  return caught as KeywardError;
}

/** rejectsWith, and the error says what to do: every error a user of a backend meets has a fix. */
export async function rejectsWithFix(
  action: Promise<unknown>,
  code: ErrorCode,
  ...mentions: string[]
): Promise<KeywardError> {
  const e = await rejectsWith(action, code, ...mentions);
  assert.ok(e.fix !== undefined && e.fix.length > 0, "every store error carries a fix");
  return e;
}

/** Which version holds each stage; fails if a stage has two holders or a destroyed version holds one. */
function stageHolders(record: SecretRecord): Partial<Record<Stage, number>> {
  const holders: Partial<Record<Stage, number>> = {};
  for (const v of record.versions) {
    if (v.state === "destroyed")
      assert.deepEqual(v.stages, [], `destroyed v${v.version} holds a stage`);
    for (const stage of v.stages) {
      assert.equal(
        holders[stage],
        undefined,
        `${stage} held by v${holders[stage]} and v${v.version}`,
      );
      holders[stage] = v.version;
    }
  }
  return holders;
}

function versionNumbers(record: SecretRecord): number[] {
  return record.versions.map((v) => v.version);
}

function isIsoTime(s: string | undefined): boolean {
  return typeof s === "string" && !Number.isNaN(Date.parse(s)) && s.includes("T");
}

const fullMetadata: SecretMetadata = {
  provider: "github",
  scope: ["repo:read", "read:org"],
  sensitivity: "high",
  rotation: { ttlSeconds: 30 * 86400, graceSeconds: 3600 },
  owner: "platform-team",
  description: "token used by the issues MCP server",
  tags: { env: "prod", team: "platform" },
  expiresAt: "2027-01-01T00:00:00.000Z",
};

const invalidNames = [
  "",
  "..",
  "a/../b",
  "/abs",
  "trailing/",
  "a//b",
  "has space",
  "ctrl\u0001char",
  "new\nline",
  "x".repeat(201),
];

function rotationRecord(
  secret: string,
  step: RotationStep,
  rotationId = "rot-1",
): RotationRecordInput {
  return {
    rotationId,
    secret,
    step,
    attempts: 0,
    startedAt: "2030-01-01T00:00:00.000Z",
    updatedAt: "2030-01-01T00:00:00.000Z",
  };
}

/**
 * Two handles on one store (two processes, or two hosts of a shared store): each sees the
 * other's writes, deletes and re-creates at once, and a write based on a stale read is a
 * conflict. For backends whose tests can open a second handle on the same store.
 */
export async function assertHandlesShareWrites(a: SecretStore, b: SecretStore): Promise<void> {
  await a.create("s", defaultMetadata(), "one");
  assert.equal((await b.read("s")).value, "one");
  await b.putVersion("s", "two", { expectedRevision: 1 });
  const seen = await a.read("s");
  assert.equal(seen.value, "two");
  assert.equal(seen.record.revision, 2);
  await rejectsWithFix(a.putVersion("s", "stale", { expectedRevision: 1 }), "conflict", "s");
  await b.delete("s", 2);
  await rejectsWithFix(a.read("s"), "not_found", "s");
  await b.create("s", defaultMetadata(), "reborn");
  const reborn = await a.read("s");
  assert.equal(reborn.value, "reborn");
  assert.equal(reborn.record.revision, 1);
  assert.equal(reborn.version.version, 3, "version numbers continue across delete");
}

export function runSecretStoreConformance(
  name: string,
  makeStore: MakeStore,
  capabilities: StoreCapabilities = {},
): void {
  const maxBytes = capabilities.maxValueBytes ?? MAX_VALUE_BYTES;
  const emptyValues = capabilities.emptyValues ?? true;
  describe(`SecretStore conformance: ${name}`, () => {
    let store: SecretStore;
    let cleanup: () => Promise<void>;

    beforeEach(async () => {
      ({ store, cleanup } = await makeStore());
    });
    afterEach(async () => {
      await cleanup();
    });

    describe("create, get and list", () => {
      it("describes itself", () => {
        const d = store.describe();
        assert.ok(d.backend.length > 0 && d.location.length > 0 && d.encryption.length > 0);
      });

      it("creates a secret with a value as revision 1, version 1 current", async () => {
        const record = await store.create("github/token", defaultMetadata(), "value-one");
        assert.equal(record.name, "github/token");
        assert.equal(record.revision, 1);
        assert.deepEqual(record.metadata, defaultMetadata());
        assert.equal(record.versions.length, 1);
        const [v1] = record.versions;
        assert.deepEqual(
          { version: v1?.version, stages: v1?.stages, state: v1?.state },
          { version: 1, stages: ["current"], state: "enabled" },
        );
        assert.equal(v1?.compromised, undefined);
        assert.ok(isIsoTime(record.createdAt) && isIsoTime(record.updatedAt));
        assert.ok(isIsoTime(v1?.createdAt));
        assert.ok(isIsoTime(record.rotatedAt), "rotatedAt is set when version 1 becomes current");
        assert.deepEqual(await store.get("github/token"), record);
        const read = await store.read("github/token");
        assert.equal(read.value, "value-one");
        assert.equal(read.version.version, 1);
        assert.deepEqual(read.record, record);
      });

      it("creates a secret without a value: no versions, nothing to read", async () => {
        const record = await store.create("slack/bot", defaultMetadata());
        assert.equal(record.revision, 1);
        assert.deepEqual(record.versions, []);
        assert.equal(record.rotatedAt, undefined);
        await rejectsWith(store.read("slack/bot"), "not_found", "slack/bot", "current");
        const put = await store.putVersion("slack/bot", "first", { expectedRevision: 1 });
        assert.equal(put.version.version, 1);
        assert.deepEqual(put.version.stages, ["current"]);
        assert.equal(put.record.revision, 2);
      });

      it("refuses to create a secret twice and leaves the first untouched", async () => {
        const first = await store.create("dup", defaultMetadata(), "original");
        await rejectsWith(
          store.create("dup", defaultMetadata("high"), "other"),
          "already_exists",
          "dup",
        );
        assert.deepEqual(await store.get("dup"), first);
        assert.equal((await store.read("dup")).value, "original");
      });

      it("returns undefined from get for a missing secret", async () => {
        assert.equal(await store.get("missing"), undefined);
      });

      it("lists secrets sorted by name, filtered by prefix", async () => {
        for (const n of ["zeta", "github/b", "github/a", "githubx", "alpha", "github/a/deep"]) {
          await store.create(n, defaultMetadata(), `v-${n}`);
        }
        const names = async (prefix?: string) => (await store.list(prefix)).map((r) => r.name);
        assert.deepEqual(await names(), [
          "alpha",
          "github/a",
          "github/a/deep",
          "github/b",
          "githubx",
          "zeta",
        ]);
        assert.deepEqual(await names("github/"), ["github/a", "github/a/deep", "github/b"]);
        assert.deepEqual(await names("github"), [
          "github/a",
          "github/a/deep",
          "github/b",
          "githubx",
        ]);
        assert.deepEqual(await names("nothing"), []);
        assert.deepEqual(await names(""), await names());
        const listed = (await store.list("alpha"))[0];
        assert.deepEqual(listed, await store.get("alpha"));
      });

      it("never puts a value in a record", async () => {
        const value = "never-in-a-record-6f1d";
        await store.create("quiet", defaultMetadata(), value);
        await store.putVersion("quiet", `${value}-2`, { expectedRevision: 1 });
        for (const record of [await store.get("quiet"), ...(await store.list())]) {
          assert.ok(!JSON.stringify(record).includes(value));
        }
      });

      it("lists an empty store as empty", async () => {
        assert.deepEqual(await store.list(), []);
      });
    });

    describe("values", () => {
      it("round-trips unicode, empty, multi-line and largest-allowed values", async () => {
        const values = [
          ...(emptyValues ? [""] : []),
          "línea 1\nline 2\r\n\ttabbed",
          "emoji 🔑 and 中文",
          "x".repeat(maxBytes),
          `${"é".repeat(maxBytes / 2 - 1)}ab`,
        ];
        await store.create("values", defaultMetadata());
        let revision = 1;
        for (const value of values) {
          const put = await store.putVersion("values", value, { expectedRevision: revision });
          revision = put.record.revision;
          assert.equal((await store.read("values")).value, value);
          assert.equal((await store.read("values", { version: put.version.version })).value, value);
        }
      });

      it("rejects a value over the limit on create and writes nothing", async () => {
        const tooBig = "x".repeat(maxBytes + 1);
        await rejectsWith(
          store.create("big", defaultMetadata(), tooBig),
          "invalid_value",
          "big",
          String(maxBytes + 1),
          String(maxBytes),
        );
        assert.equal(await store.get("big"), undefined);
      });

      if (!emptyValues) {
        it("refuses an empty value and writes nothing", async () => {
          await rejectsWith(store.create("empty", defaultMetadata(), ""), "invalid_value", "empty");
          assert.equal(await store.get("empty"), undefined);
          await store.create("empty", defaultMetadata(), "one");
          await rejectsWith(
            store.putVersion("empty", "", { expectedRevision: 1 }),
            "invalid_value",
            "empty",
          );
          assert.equal((await store.get("empty"))?.revision, 1);
        });
      }

      it("counts UTF-8 bytes, not characters, against the limit", async () => {
        await store.create("big", defaultMetadata(), "small");
        const wide = "é".repeat(maxBytes / 2 + 1); // fewer characters than the limit, more bytes
        await rejectsWith(
          store.putVersion("big", wide, { expectedRevision: 1 }),
          "invalid_value",
          String(maxBytes + 2),
        );
        const record = await store.get("big");
        assert.equal(record?.revision, 1);
        assert.deepEqual(versionNumbers(record!), [1]);
        assert.equal((await store.read("big")).value, "small");
      });
    });

    describe("versions and stages", () => {
      it("putVersion makes the new version current and the old current previous", async () => {
        await store.create("s", defaultMetadata(), "one");
        const two = await store.putVersion("s", "two", { expectedRevision: 1 });
        assert.equal(two.version.version, 2);
        assert.deepEqual(two.version.stages, ["current"]);
        assert.equal(two.value, "two");
        assert.equal(two.record.revision, 2);
        assert.deepEqual(stageHolders(two.record), { current: 2, previous: 1 });

        const three = await store.putVersion("s", "three", { expectedRevision: 2 });
        assert.deepEqual(stageHolders(three.record), { current: 3, previous: 2 });
        assert.deepEqual(three.record.versions.find((v) => v.version === 1)?.stages, []);

        assert.equal((await store.read("s")).value, "three");
        assert.equal((await store.read("s", { stage: "current" })).value, "three");
        assert.equal((await store.read("s", { stage: "previous" })).value, "two");
        assert.equal((await store.read("s", { version: 1 })).value, "one");
        const byVersion = await store.read("s", { version: 2 });
        assert.equal(byVersion.version.version, 2);
        assert.deepEqual(byVersion.version.stages, ["previous"]);
      });

      it("a pending version leaves current alone; a newer pending takes the label", async () => {
        await store.create("s", defaultMetadata(), "one");
        const p2 = await store.putVersion("s", "two", { expectedRevision: 1, stages: ["pending"] });
        assert.deepEqual(stageHolders(p2.record), { current: 1, pending: 2 });
        assert.equal((await store.read("s")).value, "one");
        assert.equal((await store.read("s", { stage: "pending" })).value, "two");
        const p3 = await store.putVersion("s", "three", {
          expectedRevision: 2,
          stages: ["pending"],
        });
        assert.deepEqual(stageHolders(p3.record), { current: 1, pending: 3 });
      });

      it("a version put with no stages holds none", async () => {
        await store.create("s", defaultMetadata(), "one");
        const put = await store.putVersion("s", "two", { expectedRevision: 1, stages: [] });
        assert.deepEqual(put.version.stages, []);
        assert.deepEqual(stageHolders(put.record), { current: 1 });
        assert.equal((await store.read("s", { version: 2 })).value, "two");
      });

      it("moveStage current promotes pending and demotes the old current to previous", async () => {
        const created = await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1, stages: ["pending"] });
        const moved = await store.moveStage("s", "current", 2, 2);
        assert.equal(moved.revision, 3);
        const holders = stageHolders(moved);
        assert.equal(holders.current, 2);
        assert.equal(holders.previous, 1);
        assert.ok(isIsoTime(moved.rotatedAt));
        assert.ok(moved.rotatedAt! >= created.rotatedAt!);
        assert.equal((await store.read("s")).value, "two");
        assert.equal((await store.read("s", { stage: "previous" })).value, "one");
      });

      it("moving current back to the previous version swaps the two labels", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1 });
        const rolledBack = await store.moveStage("s", "current", 1, 2);
        assert.deepEqual(stageHolders(rolledBack), { current: 1, previous: 2 });
        assert.equal((await store.read("s")).value, "one");
      });

      it("moveStage with null removes the stage; reading it is not_found", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1, stages: ["pending"] });
        const removed = await store.moveStage("s", "pending", null, 2);
        assert.deepEqual(stageHolders(removed), { current: 1 });
        assert.equal(removed.revision, 3);
        await rejectsWith(store.read("s", { stage: "pending" }), "not_found", "s", "pending");
        const noCurrent = await store.moveStage("s", "current", null, 3);
        assert.deepEqual(stageHolders(noCurrent), {});
        await rejectsWith(store.read("s"), "not_found", "current");
        assert.equal((await store.read("s", { version: 1 })).value, "one");
      });

      it("moveStage of a non-current stage moves only that label", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1 });
        await store.putVersion("s", "three", { expectedRevision: 2 });
        const moved = await store.moveStage("s", "previous", 1, 3);
        assert.deepEqual(stageHolders(moved), { current: 3, previous: 1 });
      });

      it("moveStage to a missing version is not_found and changes nothing", async () => {
        await store.create("s", defaultMetadata(), "one");
        await rejectsWith(store.moveStage("s", "current", 7, 1), "not_found", "s", "7");
        assert.equal((await store.get("s"))?.revision, 1);
      });

      it("keeps at most one holder per stage through a long sequence of writes", async () => {
        let record = await store.create("s", defaultMetadata(), "v1");
        const steps: Array<(r: SecretRecord) => Promise<SecretRecord>> = [
          async (r) => (await store.putVersion("s", "v2", { expectedRevision: r.revision })).record,
          async (r) =>
            (
              await store.putVersion("s", "v3", {
                expectedRevision: r.revision,
                stages: ["pending"],
              })
            ).record,
          (r) => store.moveStage("s", "current", 3, r.revision),
          (r) => store.moveStage("s", "pending", 1, r.revision),
          (r) => store.moveStage("s", "previous", 1, r.revision),
          (r) => store.moveStage("s", "current", 1, r.revision),
          (r) => store.destroyVersion("s", 2, r.revision),
          async (r) =>
            (
              await store.putVersion("s", "v4", {
                expectedRevision: r.revision,
                stages: ["current", "pending"],
              })
            ).record,
          (r) => store.setVersionState("s", 1, "disabled", { expectedRevision: r.revision }),
        ];
        for (const step of steps) {
          const before = record.revision;
          record = await step(record);
          assert.equal(record.revision, before + 1, "every write increments the revision by one");
          stageHolders(record);
          assert.deepEqual(await store.get("s"), record);
        }
        assert.deepEqual(stageHolders(record), { current: 4, pending: 4, previous: 1 });
      });

      it("rejects unknown stages", async () => {
        await store.create("s", defaultMetadata(), "one");
        const bogus = "staging" as Stage;
        await assert.rejects(store.read("s", { stage: bogus }), isKeywardError);
        await assert.rejects(store.moveStage("s", bogus, 1, 1), isKeywardError);
        await assert.rejects(
          store.putVersion("s", "two", { expectedRevision: 1, stages: [bogus] }),
          isKeywardError,
        );
        assert.equal((await store.get("s"))?.revision, 1);
      });

      it("never reuses a version number, even after destroy or delete", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1 });
        await store.destroyVersion("s", 2, 2);
        const three = await store.putVersion("s", "three", { expectedRevision: 3 });
        assert.equal(three.version.version, 3);
        assert.deepEqual(versionNumbers(three.record), [1, 2, 3]);

        await store.delete("s", three.record.revision);
        const again = await store.create("s", defaultMetadata(), "reborn");
        const [first] = again.versions;
        assert.ok(first !== undefined && first.version > 3, `got version ${first?.version}`);
        await rejectsWith(store.read("s", { version: 1 }), "not_found");
        assert.equal((await store.read("s")).value, "reborn");
      });
    });

    describe("disable, enable, compromise, destroy", () => {
      it("a disabled version cannot be read until enabled again", async () => {
        await store.create("s", defaultMetadata(), "one");
        const disabled = await store.setVersionState("s", 1, "disabled", { expectedRevision: 1 });
        assert.equal(disabled.revision, 2);
        assert.equal(disabled.versions[0]?.state, "disabled");
        assert.deepEqual(disabled.versions[0]?.stages, ["current"], "disabling keeps stages");
        await rejectsWith(store.read("s"), "disabled", "s");
        await rejectsWith(store.read("s", { version: 1 }), "disabled", "s");
        const enabled = await store.setVersionState("s", 1, "enabled", { expectedRevision: 2 });
        assert.equal(enabled.versions[0]?.state, "enabled");
        assert.equal((await store.read("s")).value, "one");
      });

      it("a compromised version stays disabled and flagged", async () => {
        await store.create("s", defaultMetadata(), "leaked");
        const flagged = await store.setVersionState("s", 1, "disabled", {
          expectedRevision: 1,
          compromised: true,
        });
        assert.equal(flagged.versions[0]?.compromised, true);
        await rejectsWith(
          store.setVersionState("s", 1, "enabled", { expectedRevision: 2 }),
          "refused",
          "s",
        );
        const after = await store.get("s");
        assert.equal(after?.revision, 2);
        assert.equal(after?.versions[0]?.state, "disabled");
        // Disabling again without the flag does not clear it.
        const again = await store.setVersionState("s", 1, "disabled", { expectedRevision: 2 });
        assert.equal(again.versions[0]?.compromised, true);
      });

      it("a new version can be put while the current one is disabled", async () => {
        await store.create("s", defaultMetadata(), "old");
        await store.setVersionState("s", 1, "disabled", { expectedRevision: 1, compromised: true });
        const put = await store.putVersion("s", "new", { expectedRevision: 2 });
        assert.deepEqual(stageHolders(put.record), { current: 2, previous: 1 });
        assert.equal((await store.read("s")).value, "new");
        await rejectsWith(store.read("s", { stage: "previous" }), "disabled");
      });

      it("refuses to move a stage onto a disabled or destroyed version", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1 });
        await store.putVersion("s", "three", { expectedRevision: 2 });
        await store.setVersionState("s", 1, "disabled", { expectedRevision: 3 });
        await store.destroyVersion("s", 2, 4);
        await rejectsWith(store.moveStage("s", "current", 1, 5), "disabled", "s");
        await rejectsWith(store.moveStage("s", "current", 2, 5), "destroyed", "s");
        assert.equal((await store.get("s"))?.revision, 5);
      });

      it("destroy erases the value, keeps the number and drops its stages", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putVersion("s", "two", { expectedRevision: 1 });
        const destroyed = await store.destroyVersion("s", 2, 2);
        assert.equal(destroyed.revision, 3);
        assert.deepEqual(versionNumbers(destroyed), [1, 2]);
        const v2 = destroyed.versions.find((v) => v.version === 2);
        assert.equal(v2?.state, "destroyed");
        assert.deepEqual(v2?.stages, []);
        assert.deepEqual(stageHolders(destroyed), { previous: 1 });
        await rejectsWith(store.read("s", { version: 2 }), "destroyed", "s");
        await rejectsWith(store.read("s"), "not_found", "current");
        assert.equal((await store.read("s", { version: 1 })).value, "one");
      });

      it("a destroyed version cannot be enabled or disabled", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.destroyVersion("s", 1, 1);
        await rejectsWith(
          store.setVersionState("s", 1, "enabled", { expectedRevision: 2 }),
          "destroyed",
        );
        await rejectsWith(
          store.setVersionState("s", 1, "disabled", { expectedRevision: 2 }),
          "destroyed",
        );
      });

      it("destroy and state changes on a missing version are not_found", async () => {
        await store.create("s", defaultMetadata(), "one");
        await rejectsWith(store.destroyVersion("s", 9, 1), "not_found", "s");
        await rejectsWith(
          store.setVersionState("s", 9, "disabled", { expectedRevision: 1 }),
          "not_found",
          "s",
        );
        assert.equal((await store.get("s"))?.revision, 1);
      });
    });

    describe("delete", () => {
      it("removes the secret and every version", async () => {
        await store.create("gone", defaultMetadata(), "one");
        await store.putVersion("gone", "two", { expectedRevision: 1 });
        await store.create("kept", defaultMetadata(), "stay");
        await store.delete("gone", 2);
        assert.equal(await store.get("gone"), undefined);
        await rejectsWith(store.read("gone"), "not_found", "gone");
        await rejectsWith(store.read("gone", { version: 1 }), "not_found", "gone");
        assert.deepEqual(
          (await store.list()).map((r) => r.name),
          ["kept"],
        );
        assert.equal((await store.read("kept")).value, "stay");
      });

      it("a re-created secret starts at revision 1 with new metadata", async () => {
        await store.create("s", fullMetadata, "one");
        await store.delete("s", 1);
        const again = await store.create("s", defaultMetadata());
        assert.equal(again.revision, 1);
        assert.deepEqual(again.metadata, defaultMetadata());
        assert.deepEqual(again.versions, []);
      });
    });

    describe("compare-and-set", () => {
      const stale = 1;
      const setup = async () => {
        await store.create("cas", defaultMetadata(), "one");
        return (await store.putVersion("cas", "two", { expectedRevision: 1 })).record;
      };
      const writes: Array<[string, (s: SecretStore) => Promise<unknown>]> = [
        [
          "putVersion",
          (s) => s.putVersion("cas", "lost-update-value", { expectedRevision: stale }),
        ],
        ["moveStage", (s) => s.moveStage("cas", "current", 1, stale)],
        ["moveStage(null)", (s) => s.moveStage("cas", "previous", null, stale)],
        [
          "setVersionState",
          (s) => s.setVersionState("cas", 1, "disabled", { expectedRevision: stale }),
        ],
        ["destroyVersion", (s) => s.destroyVersion("cas", 1, stale)],
        ["updateMetadata", (s) => s.updateMetadata("cas", fullMetadata, stale)],
        ["delete", (s) => s.delete("cas", stale)],
      ];
      for (const [method, write] of writes) {
        it(`${method} with a stale revision is a conflict and writes nothing`, async () => {
          const before = await setup();
          await assert.rejects(write(store), (e: unknown) => {
            assert.ok(isKeywardError(e));
            assert.equal(e.code, "conflict");
            assert.ok(e.message.includes("cas"), e.message);
            assert.ok(e.message.includes(String(stale)) && e.message.includes("2"), e.message);
            assert.ok(!e.message.includes("lost-update-value"));
            assert.ok(e.fix && e.fix.length > 0);
            return true;
          });
          assert.deepEqual(await store.get("cas"), before);
          assert.equal((await store.read("cas")).value, "two");
        });
      }

      it("a write with a revision from the future is a conflict too", async () => {
        await setup();
        await rejectsWith(store.putVersion("cas", "x", { expectedRevision: 99 }), "conflict", "99");
      });
    });

    describe("metadata", () => {
      it("round-trips every metadata field", async () => {
        const created = await store.create("m", fullMetadata, "v");
        assert.deepEqual(created.metadata, fullMetadata);
        assert.deepEqual((await store.get("m"))?.metadata, fullMetadata);
        assert.deepEqual((await store.list("m"))[0]?.metadata, fullMetadata);
        assert.deepEqual((await store.read("m")).record.metadata, fullMetadata);
      });

      it("updateMetadata replaces metadata, bumps the revision and leaves versions alone", async () => {
        const created = await store.create("m", defaultMetadata(), "v");
        const updated = await store.updateMetadata("m", fullMetadata, 1);
        assert.equal(updated.revision, 2);
        assert.deepEqual(updated.metadata, fullMetadata);
        assert.deepEqual(updated.versions, created.versions);
        assert.equal(updated.rotatedAt, created.rotatedAt);
        assert.ok(updated.updatedAt >= created.updatedAt);
        const back = await store.updateMetadata("m", defaultMetadata("agent-exposed"), 2);
        assert.deepEqual(back.metadata, defaultMetadata("agent-exposed"));
        assert.equal(back.metadata.provider, undefined);
        assert.equal((await store.read("m")).value, "v");
      });

      it("returns copies: editing a returned record changes nothing stored", async () => {
        const created = await store.create("m", fullMetadata, "v");
        created.metadata.tags.env = "edited";
        created.metadata.scope.push("admin:org");
        created.versions[0]?.stages.push("pending");
        const fresh = await store.get("m");
        assert.deepEqual(fresh?.metadata, fullMetadata);
        assert.deepEqual(fresh?.versions[0]?.stages, ["current"]);
      });
    });

    describe("putVersions", () => {
      it("writes versions of several secrets in one step, creating those at revision 0", async () => {
        await store.create("slack/bot", defaultMetadata(), "access-1");
        await store.create("slack/bot.refreshToken", defaultMetadata(), "refresh-1");
        const { results, rotation } = await store.putVersions([
          { name: "slack/bot", value: "access-2", stages: ["pending"], expectedRevision: 1 },
          { name: "slack/bot.refreshToken", value: "refresh-2", expectedRevision: 1 },
          { name: "slack/bot.extra", value: "new", expectedRevision: 0, metadata: fullMetadata },
        ]);
        assert.equal(rotation, undefined);
        assert.deepEqual(
          results.map((r) => [r.record.name, r.version.version, r.version.stages, r.value]),
          [
            ["slack/bot", 2, ["pending"], "access-2"],
            ["slack/bot.refreshToken", 2, ["current"], "refresh-2"],
            ["slack/bot.extra", 1, ["current"], "new"],
          ],
        );
        assert.deepEqual(stageHolders(results[0]!.record), { current: 1, pending: 2 });
        assert.deepEqual(stageHolders(results[1]!.record), { current: 2, previous: 1 });
        assert.equal(results[0]?.record.revision, 2);
        assert.equal(results[2]?.record.revision, 1);
        assert.deepEqual(results[2]?.record.metadata, fullMetadata);
        assert.deepEqual(await store.get("slack/bot"), results[0]?.record);
        assert.equal((await store.read("slack/bot", { stage: "pending" })).value, "access-2");
        assert.equal((await store.read("slack/bot.refreshToken")).value, "refresh-2");
        assert.equal((await store.read("slack/bot.extra")).value, "new");
      });

      it("one failing write leaves every secret as it was", async () => {
        await store.create("a", defaultMetadata(), "a1");
        await store.create("b", defaultMetadata(), "b1");
        const before = await store.list();
        await rejectsWith(
          store.putVersions([
            { name: "a", value: "a2", expectedRevision: 1 },
            { name: "c", value: "c1", expectedRevision: 0, metadata: defaultMetadata() },
            { name: "b", value: "b2", expectedRevision: 7 },
          ]),
          "conflict",
          "b",
        );
        assert.deepEqual(await store.list(), before);
        assert.equal((await store.read("a")).value, "a1");
        // The rolled-back create left nothing behind: creating it now works and reads back.
        await store.create("c", defaultMetadata(), "c-again");
        assert.equal((await store.read("c")).value, "c-again");
        await rejectsWith(
          store.putVersions([
            { name: "a", value: "a2", expectedRevision: 1 },
            { name: "b", value: "b2", expectedRevision: 0, metadata: defaultMetadata() },
          ]),
          "conflict",
          "b",
        );
        assert.equal((await store.get("a"))?.revision, 1);
      });

      it("refuses a secret named twice, a create without metadata and a missing secret", async () => {
        await store.create("a", defaultMetadata(), "a1");
        await rejectsWith(
          store.putVersions([
            { name: "a", value: "x", expectedRevision: 1 },
            { name: "a", value: "y", expectedRevision: 1 },
          ]),
          "usage",
          "a",
        );
        await rejectsWith(
          store.putVersions([{ name: "new", value: "x", expectedRevision: 0 }]),
          "usage",
          "new",
        );
        await rejectsWith(
          store.putVersions([{ name: "missing", value: "x", expectedRevision: 1 }]),
          "not_found",
          "missing",
        );
        await rejectsWith(
          store.putVersions([{ name: "bad name", value: "x", expectedRevision: 1 }]),
          "invalid_name",
        );
        assert.equal((await store.get("a"))?.revision, 1);
      });

      it("writes a rotation record in the same step, filling in the pending version", async () => {
        await store.create("s", defaultMetadata(), "one");
        const started = await store.putRotation(rotationRecord("s", "set"));
        const { results, rotation } = await store.putVersions(
          [{ name: "s", value: "two", stages: ["pending"], expectedRevision: 1 }],
          { record: { ...started, step: "test" }, expectedRevision: started.revision },
        );
        assert.equal(rotation?.pendingVersion, results[0]?.version.version);
        assert.equal(rotation?.step, "test");
        assert.equal(rotation?.revision, 2);
        assert.deepEqual(await store.getRotation("s"), rotation);
      });

      it("a stale rotation record rolls back the version writes too", async () => {
        await store.create("s", defaultMetadata(), "one");
        const started = await store.putRotation(rotationRecord("s", "set"));
        await rejectsWith(
          store.putVersions(
            [{ name: "s", value: "two", stages: ["pending"], expectedRevision: 1 }],
            { record: { ...started, step: "test" }, expectedRevision: started.revision + 1 },
          ),
          "conflict",
          "s",
        );
        const record = await store.get("s");
        assert.equal(record?.revision, 1);
        assert.deepEqual(versionNumbers(record!), [1]);
        assert.deepEqual(await store.getRotation("s"), started);
      });
    });

    describe("locks", () => {
      it("one owner at a time; the holder renews; release frees it", async () => {
        assert.equal(await store.acquireLock("rotation/s", "owner-a", 60), true);
        assert.equal(await store.acquireLock("rotation/s", "owner-b", 60), false);
        assert.equal(await store.acquireLock("rotation/s", "owner-a", 60), true, "renewal");
        assert.equal(await store.acquireLock("rotation/other", "owner-b", 60), true);
        await store.releaseLock("rotation/s", "owner-b");
        assert.equal(await store.acquireLock("rotation/s", "owner-b", 60), false);
        await store.releaseLock("rotation/s", "owner-a");
        assert.equal(await store.acquireLock("rotation/s", "owner-b", 60), true);
      });

      it("an expired lock can be taken over", async () => {
        assert.equal(await store.acquireLock("rotation/s", "crashed", 0), true);
        assert.equal(await store.acquireLock("rotation/s", "next", 60), true);
        assert.equal(await store.acquireLock("rotation/s", "crashed", 60), false);
        // The old owner releasing after a takeover must not free the new owner's lock.
        await store.releaseLock("rotation/s", "crashed");
        assert.equal(await store.acquireLock("rotation/s", "third", 60), false);
      });

      it("rejects a negative or non-finite ttl and empty names", async () => {
        await rejectsWith(store.acquireLock("l", "o", -1), "usage");
        await rejectsWith(store.acquireLock("l", "o", Number.NaN), "usage");
        await rejectsWith(store.acquireLock("", "o", 1), "usage");
        await rejectsWith(store.acquireLock("l", "", 1), "usage");
        assert.equal(await store.acquireLock("l", "o", 60), true);
      });
    });

    describe("rotation records", () => {
      it("round-trips a record; absent is undefined; a missing secret is not_found", async () => {
        await store.create("s", defaultMetadata(), "one");
        assert.equal(await store.getRotation("s"), undefined);
        const input = {
          ...rotationRecord("s", "revoke-previous"),
          pendingVersion: 2,
          previousVersion: 1,
          pendingExpiresAt: "2030-01-01T00:00:00.000Z",
          attempts: 2,
          lastError: { code: "upstream_timeout", message: "the provider did not answer" },
          revokeAfter: "2030-01-01T01:00:00.000Z",
        };
        const stored = await store.putRotation(input);
        assert.deepEqual(stored, { ...input, revision: 1 });
        assert.deepEqual(await store.getRotation("s"), stored);
        await rejectsWith(store.getRotation("missing"), "not_found", "missing");
        await rejectsWith(store.putRotation(rotationRecord("missing", "create")), "not_found");
      });

      it("creating needs no record; updating needs the record's revision", async () => {
        await store.create("s", defaultMetadata(), "one");
        const first = await store.putRotation(rotationRecord("s", "create"));
        await rejectsWith(store.putRotation(rotationRecord("s", "create", "other-id")), "conflict");
        const second = await store.putRotation({ ...first, step: "set" }, first.revision);
        assert.equal(second.revision, 2);
        await rejectsWith(
          store.putRotation({ ...first, step: "test" }, first.revision),
          "conflict",
        );
        await rejectsWith(store.putRotation({ ...first, step: "test" }, 9), "conflict", "s");
        assert.deepEqual(await store.getRotation("s"), second);
      });

      it("stores only the record's own fields", async () => {
        await store.create("s", defaultMetadata(), "one");
        const sneaky = { ...rotationRecord("s", "create"), value: "must-not-be-stored" };
        const stored = await store.putRotation(sneaky);
        assert.ok(!JSON.stringify(stored).includes("must-not-be-stored"));
        assert.ok(!JSON.stringify(await store.getRotation("s")).includes("must-not-be-stored"));
        await rejectsWith(
          store.putRotation({ ...rotationRecord("s", "create"), attempts: -1 }, 1),
          "usage",
        );
        await rejectsWith(
          store.putRotation({ ...rotationRecord("s", "create"), step: "bogus" as never }, 1),
          "usage",
        );
      });

      it("clearRotation deletes only the named rotation", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putRotation(rotationRecord("s", "done"));
        assert.equal(await store.clearRotation("s", "not-this-one"), false);
        assert.notEqual(await store.getRotation("s"), undefined);
        assert.equal(await store.clearRotation("s", "rot-1"), true);
        assert.equal(await store.getRotation("s"), undefined);
        assert.equal(await store.clearRotation("s", "rot-1"), false);
        assert.equal(await store.clearRotation("missing", "rot-1"), false);
      });

      it("deleting a secret deletes its record; a re-created secret has none", async () => {
        await store.create("s", defaultMetadata(), "one");
        await store.putRotation(rotationRecord("s", "test"));
        await store.delete("s", 1);
        await store.create("s", defaultMetadata(), "again");
        assert.equal(await store.getRotation("s"), undefined);
      });

      it("rotation writes leave the secret's revision alone", async () => {
        const created = await store.create("s", defaultMetadata(), "one");
        await store.putRotation(rotationRecord("s", "create"));
        assert.equal((await store.get("s"))?.revision, created.revision);
      });
    });

    describe("missing secrets and invalid names", () => {
      it("every operation on a missing secret is not_found naming it", async () => {
        const n = "no/such-secret";
        await rejectsWith(store.read(n), "not_found", n);
        await rejectsWith(store.read(n, { version: 1 }), "not_found", n);
        await rejectsWith(store.putVersion(n, "v", { expectedRevision: 1 }), "not_found", n);
        await rejectsWith(store.moveStage(n, "current", 1, 1), "not_found", n);
        await rejectsWith(
          store.setVersionState(n, 1, "disabled", { expectedRevision: 1 }),
          "not_found",
          n,
        );
        await rejectsWith(store.destroyVersion(n, 1, 1), "not_found", n);
        await rejectsWith(store.updateMetadata(n, defaultMetadata(), 1), "not_found", n);
        await rejectsWith(store.delete(n, 1), "not_found", n);
        assert.deepEqual(await store.list(), []);
      });

      it("reading a missing version or an unheld stage is not_found", async () => {
        await store.create("s", defaultMetadata(), "one");
        await rejectsWith(store.read("s", { version: 2 }), "not_found", "s", "2");
        await rejectsWith(store.read("s", { stage: "pending" }), "not_found", "s", "pending");
        await rejectsWith(store.read("s", { stage: "previous" }), "not_found", "s", "previous");
      });

      for (const bad of invalidNames) {
        it(`rejects the name ${JSON.stringify(bad.length > 20 ? `${bad.slice(0, 8)}…(${bad.length})` : bad)} everywhere`, async () => {
          await rejectsWith(store.create(bad, defaultMetadata(), "v"), "invalid_name");
          await rejectsWith(store.get(bad), "invalid_name");
          await rejectsWith(store.read(bad), "invalid_name");
          await rejectsWith(store.putVersion(bad, "v", { expectedRevision: 1 }), "invalid_name");
          await rejectsWith(store.moveStage(bad, "current", 1, 1), "invalid_name");
          await rejectsWith(
            store.setVersionState(bad, 1, "disabled", { expectedRevision: 1 }),
            "invalid_name",
          );
          await rejectsWith(store.destroyVersion(bad, 1, 1), "invalid_name");
          await rejectsWith(store.updateMetadata(bad, defaultMetadata(), 1), "invalid_name");
          await rejectsWith(store.delete(bad, 1), "invalid_name");
          await rejectsWith(store.getRotation(bad), "invalid_name");
          await rejectsWith(store.putRotation(rotationRecord(bad, "create")), "invalid_name");
          await rejectsWith(store.clearRotation(bad, "rot-1"), "invalid_name");
          assert.deepEqual(await store.list(), []);
        });
      }

      it("accepts the longest valid name and path-like names", async () => {
        for (const good of ["x".repeat(200), "github/org/prod-token", "a.b_c@d+e=f-g"]) {
          await store.create(good, defaultMetadata(), "v");
          assert.equal((await store.read(good)).value, "v");
        }
      });
    });
  });
}
