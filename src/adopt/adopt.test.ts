/**
 * adopt against client files shaped as each client writes them (src/mcp/clients/fixtures):
 * plan, apply, byte-exact expected output, backup, idempotence, undo. Run with
 * KEYWARD_RECORD_FIXTURES=1 to (re)write expected.json and profiles.json after a deliberate
 * change, then review the diff.
 */
import assert from "node:assert/strict";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type FixtureCase,
  fillMarkers,
  fixtureCases,
  fixtureValues,
} from "../mcp/clients/fixtures.js";
import { applyAdopt } from "./apply.js";
import { listBackups } from "./files.js";
import { adoptTable, planAdopt } from "./plan.js";
import { sandbox } from "./testing.js";
import { undoAdopt } from "./undo.js";

const RECORD = process.env.KEYWARD_RECORD_FIXTURES === "1";

/** Puts markers back in place of values, for recording. */
function toMarkers(text: string, values: Record<string, string>): string {
  let out = text;
  for (const [marker, value] of Object.entries(values))
    out = out.split(value).join(`@@${marker}@@`);
  return out;
}

function assertNoValues(label: string, text: string, values: Record<string, string>): void {
  for (const [marker, value] of Object.entries(values)) {
    assert.ok(!text.includes(value), `${label} contains the value of ${marker}`);
  }
}

function serverActions(c: FixtureCase, plan: Awaited<ReturnType<typeof planAdopt>>) {
  const actual: Record<string, string[]> = {};
  for (const server of plan.files.flatMap((f) => f.servers)) {
    actual[server.name] = [...(actual[server.name] ?? []), server.action];
  }
  const expected: Record<string, string[]> = {};
  for (const [name, action] of Object.entries(c.servers)) {
    expected[name] = Array.isArray(action) ? action : [action];
  }
  return { actual, expected };
}

for (const c of fixtureCases()) {
  describe(`adopt ${c.client}/${c.name}`, () => {
    it(c.description, async () => {
      const box = sandbox(c.platform);
      try {
        const values = fixtureValues(c);
        const original = fillMarkers(c.input, values);
        const path = box.place(c.file, original, 0o640);
        const opts = box.options({ clients: [c.client] });

        // Dry run: the plan names every server's fate and holds no value.
        const plan = await planAdopt(opts);
        assert.equal(plan.files.length, 1);
        assert.equal(plan.files[0]?.path, path);
        const { actual, expected } = serverActions(c, plan);
        assert.deepEqual(actual, expected);
        assertNoValues("plan", JSON.stringify(plan), values);
        for (const w of c.warnings ?? []) {
          assert.ok(
            plan.files[0]?.warnings.some((x) => x.includes(w)),
            `no warning mentioning "${w}"`,
          );
        }
        const rows = adoptTable(plan);
        assert.ok(rows.length > 0);
        for (const row of rows) {
          assert.ok(row.secret.startsWith(`${c.client}/`), row.secret);
          assert.ok(row.profile.startsWith(`${c.client}-`), row.profile);
        }
        assert.equal(readFileSync(path, "utf8"), original, "planning changed the file");
        assert.equal(box.store.values.size, 0);

        // Apply: values stored under the planned names, file rewritten, backup kept.
        const result = await applyAdopt(plan, opts);
        assertNoValues("result", JSON.stringify(result), values);
        for (const row of rows) {
          const stored = box.store.current(row.secret);
          assert.ok(stored !== undefined, `${row.secret} not stored`);
          assert.ok(
            Object.values(values).includes(stored),
            `${row.secret} holds something other than a fixture value`,
          );
          assert.ok(original.includes(stored));
        }
        const rewritten = readFileSync(path, "utf8");
        // A file that was strict JSON (all but VS Code's) stays strict JSON.
        let strict = true;
        try {
          JSON.parse(original);
        } catch {
          strict = false;
        }
        if (strict) JSON.parse(rewritten);
        assert.equal(statSync(path).mode & 0o777, 0o640, "the file's mode changed");
        const [backup, ...more] = listBackups(path);
        assert.equal(more.length, 0);
        assert.ok(backup !== undefined && result.files[0]?.backup === backup);
        assert.equal(statSync(backup).mode & 0o777, 0o600);
        assert.equal(readFileSync(backup, "utf8"), original);
        assert.ok(result.warnings.some((w) => w.includes(backup) && w.includes("plain text")));

        if (RECORD) {
          writeFileSync(join(c.dir, "expected.json"), toMarkers(rewritten, values));
          writeFileSync(
            join(c.dir, "profiles.json"),
            `${JSON.stringify(box.profiles.saved, null, 2)}\n`,
          );
        } else {
          assert.ok(c.expected !== undefined, "no expected.json: record it");
          assert.equal(rewritten, fillMarkers(c.expected, values));
          assert.deepEqual(box.profiles.saved, c.profiles);
        }
        // Secrets that were not moved (skipped entries) are the only values left in the file.
        for (const row of rows) {
          const value = box.store.current(row.secret) ?? "";
          const movedEverywhere = !plan.files[0]?.servers.some(
            (s) => s.action === "skip" && s.items.some((i) => i.class === "secret"),
          );
          if (movedEverywhere)
            assert.ok(!rewritten.includes(value), `${row.secret} still in the file`);
        }

        // Idempotent: a second adopt finds nothing to do and makes no backup.
        const again = await planAdopt(opts);
        assert.equal(again.empty, true);
        assert.ok(
          again.files[0]?.servers.every((s) => s.action !== "adopt"),
          "an adopted entry is planned again",
        );
        await applyAdopt(again, opts);
        assert.equal(readFileSync(path, "utf8"), rewritten);
        assert.equal(listBackups(path).length, 1);

        // Undo: the original, byte for byte, and the backup is gone.
        const undo = await undoAdopt({ ...opts, clients: [c.client] });
        assert.deepEqual(
          undo.restored.map((r) => r.path),
          [path],
        );
        assert.equal(readFileSync(path, "utf8"), original);
        assert.equal(statSync(path).mode & 0o777, 0o640);
        assert.equal(listBackups(path).length, 0);
      } finally {
        box.cleanup();
      }
    });
  });
}
