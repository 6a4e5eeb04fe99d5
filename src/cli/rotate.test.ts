import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodedForms, testHome } from "../testing/cli.js";

describe("keyward rotate from the CLI", () => {
  it("rotates a keyward-owned secret with --generate, keeps the old value as previous, and says when nothing is due", async () => {
    const t = testHome();
    try {
      await t.run(["init"]);
      const first = "first-internal-value-0123456789";
      await t.run(["secret", "set", "internal/hmac-key", "--ttl", "1s"], { stdin: first });
      const rotated = await t.run([
        "rotate",
        "internal/hmac-key",
        "--generate",
        "--grace",
        "1s",
        "--json",
      ]);
      assert.equal(rotated.code, 0, rotated.stderr);
      const outcome = JSON.parse(rotated.stdout);
      assert.equal(outcome.status, "rotated");
      assert.equal(outcome.version, 2);
      const current = (await t.run(["secret", "get", "internal/hmac-key"])).stdout;
      assert.notEqual(current, first);
      assert.ok(current.length >= 32);
      assert.equal(
        (await t.run(["secret", "get", "internal/hmac-key", "--stage", "previous"])).stdout,
        first,
      );
      for (const form of [...encodedForms(first), ...encodedForms(current)]) {
        assert.ok(
          !rotated.stdout.includes(form) && !rotated.stderr.includes(form),
          "the outcome carries a value",
        );
      }
      const log = JSON.parse((await t.run(["log", "--action", "rotate", "--json"])).stdout);
      assert.ok(log.length > 0, "rotation steps are in the access log");

      // A key only a person can rotate: a reminder with steps, not a failure.
      await t.run(["secret", "set", "atlassian/jira", "--provider", "atlassian", "--ttl", "1s"], {
        stdin: "ATATT-not-real-0123456789",
      });
      await new Promise((r) => setTimeout(r, 1100));
      const due = await t.run(["rotate", "--due", "--json"]);
      const summary = JSON.parse(due.stdout);
      assert.ok(summary.counts.dueManual >= 1, due.stderr);
      assert.equal(summary.ok, true, "manual reminders are not failures");
      assert.equal(due.code, 0);
      const manual = summary.items.find((i: { secret: string }) => i.secret === "atlassian/jira");
      assert.equal(manual.outcome.status, "manual");
      assert.ok(manual.outcome.reminder.steps.length > 0);
      const usage = await t.run(["rotate"]);
      assert.equal(usage.code, 2);
    } finally {
      t.cleanup();
    }
  });
});
