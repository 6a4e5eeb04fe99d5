/**
 * Crash tests: the values a writer stores in a loop until it is killed, the loops themselves
 * (run inside the store test workers), and the checks of what a killed loop left behind.
 */
import assert from "node:assert/strict";
import { defaultMetadata } from "../../core/types.js";
import type { ReadResult, SecretStore, VersionWrite } from "../types.js";

/**
 * The value a crash-test writer stores on its `index`-th write: long enough that a SIGKILL often
 * lands mid-transaction, and fully determined by the index so the parent can check that what
 * survived is exactly one of the values written, not a torn mix.
 */
export function loopValue(index: number, bytes = 64 * 1024): string {
  const head = `write ${index}:`;
  const fill = `${index.toString(36)}-`.repeat(Math.ceil(bytes / 4));
  return (head + fill).slice(0, Math.max(bytes, head.length));
}

/** The write index a loopValue was made from, or undefined if `value` is not exactly one. */
export function loopIndex(value: string, bytes = 64 * 1024): number | undefined {
  const match = /^write (\d+):/.exec(value);
  if (match === null) return undefined;
  const index = Number(match[1]);
  return loopValue(index, bytes) === value ? index : undefined;
}

/**
 * The worker side of a crash test: puts loopValue(firstIndex), loopValue(firstIndex + 1), … as
 * new current versions of `name` until the process is killed; `started` runs after the first
 * commit (the worker's reply).
 */
export async function writeLoop(
  store: SecretStore,
  name: string,
  firstIndex: number,
  bytes: number,
  started: (revision: number) => void,
): Promise<never> {
  let revision = (await store.get(name))?.revision ?? 0;
  for (let index = firstIndex; ; index++) {
    const put = await store.putVersion(name, loopValue(index, bytes), {
      expectedRevision: revision,
    });
    revision = put.record.revision;
    if (index === firstIndex) started(revision);
  }
}

/**
 * writeLoop over several secrets at once: each round is one putVersions writing loopValue(i) to
 * every name (creating those that do not exist yet), so a kill must leave all or none of it.
 */
export async function pairLoop(
  store: SecretStore,
  names: string[],
  firstIndex: number,
  bytes: number,
  started: () => void,
): Promise<never> {
  let revisions = await Promise.all(names.map(async (n) => (await store.get(n))?.revision ?? 0));
  for (let index = firstIndex; ; index++) {
    const { results } = await store.putVersions(
      names.map((name, i) => {
        const expectedRevision = revisions[i] ?? 0;
        const write: VersionWrite = { name, value: loopValue(index, bytes), expectedRevision };
        if (expectedRevision === 0) write.metadata = defaultMetadata();
        return write;
      }),
    );
    revisions = results.map((r) => r.record.revision);
    if (index === firstIndex) started();
  }
}

/**
 * What a killed writeLoop left on `name`: the current value is exactly one loop value, held by
 * the newest version; versions ascend (and, with `contiguous`, run 1, 2, … with one revision per
 * version after the create); the previous version holds the value written just before. Returns
 * the current read and its loop index.
 */
export async function loopSurvivor(
  store: SecretStore,
  name: string,
  bytes: number,
  contiguous = true,
): Promise<{ index: number; current: ReadResult }> {
  const current = await store.read(name);
  const index = loopIndex(current.value, bytes);
  assert.ok(index !== undefined, "the current value is exactly one of the values written");
  const record = current.record;
  assert.equal(record.versions.filter((v) => v.stages.includes("current")).length, 1);
  const numbers = record.versions.map((v) => v.version);
  assert.deepEqual(
    numbers,
    [...numbers].sort((a, b) => a - b),
    "versions ascend",
  );
  assert.equal(current.version.version, numbers.at(-1), "the newest version is current");
  if (contiguous) {
    assert.deepEqual(
      numbers,
      numbers.map((_, i) => i + 1),
      "versions are contiguous",
    );
    assert.equal(record.revision, numbers.length + 1);
  }
  if (numbers.length > 1) {
    const previous = await store.read(name, { stage: "previous" });
    if (contiguous) assert.equal(previous.version.version, current.version.version - 1);
    assert.equal(loopIndex(previous.value, bytes), index - 1);
  }
  return { index, current };
}

/** What a killed pairLoop left: every secret holds the same loop value (all or nothing). */
export async function pairSurvivor(
  store: SecretStore,
  names: string[],
  bytes: number,
): Promise<{ index: number; reads: ReadResult[] }> {
  const reads = await Promise.all(names.map((n) => store.read(n)));
  const indexes = reads.map((r) => loopIndex(r.value, bytes));
  const index = indexes[0];
  assert.ok(index !== undefined, "the current value is exactly one of the values written");
  assert.deepEqual(
    indexes,
    names.map(() => index),
    "all or nothing across the secrets",
  );
  return { index, reads };
}
