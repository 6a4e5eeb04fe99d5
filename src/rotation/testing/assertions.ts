/** Invariants every rotation test checks after every run, crashed or not. */
import assert from "node:assert/strict";
import type { SecretStore } from "../../store/types.js";
import type { FakeUpstream } from "./fake-providers.js";

/**
 * No secret lost and nothing revoked too early: exactly one current version, its value and its
 * companions' values live upstream, and every revoke call made while another (live) value was
 * current in the store.
 */
export async function assertRotationInvariants(
  store: SecretStore,
  upstream: FakeUpstream,
  name: string,
): Promise<void> {
  const record = await store.get(name);
  assert.ok(record !== undefined, `${name} exists`);
  const currents = record.versions.filter((v) => v.stages.includes("current"));
  assert.equal(currents.length, 1, `${name} has exactly one current version`);
  const current = (await store.read(name)).value;
  assert.equal(upstream.stateOf(current), "live", `${name}'s current value works upstream`);
  for (const companion of await store.list(`${name}.`)) {
    const value = (await store.read(companion.name)).value;
    assert.equal(upstream.stateOf(value), "live", `${companion.name} works upstream`);
  }
  for (const call of upstream.calls().filter((c) => c.op === "revoke")) {
    assert.ok(call.storeCurrent !== undefined, "a value was current when revoke ran");
    assert.notEqual(call.storeCurrent, call.value, "revoke never hit the current value");
    assert.equal(call.storeCurrentState, "live", "the value current at revoke worked upstream");
  }
}

/** Fails if any of `values` appears in `thing` serialised (records, outcomes, log entries). */
export function assertNoValues(thing: unknown, values: Iterable<string>): void {
  const text = JSON.stringify(thing);
  for (const value of values) {
    assert.ok(!text.includes(value), `a value leaked into ${text.slice(0, 200)}`);
  }
}
