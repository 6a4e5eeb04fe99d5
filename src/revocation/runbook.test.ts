import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { AccessLog, currentActor } from "../accesslog/log.js";
import { notifyProxies } from "../control/notify.js";
import { isKeywardError, KeywardError } from "../core/errors.js";
import { defaultMetadata } from "../core/types.js";
import { Envelope } from "../crypto/envelope.js";
import type { RotateDeps } from "../rotation/rotate.js";
import { type FakeKind, fakeProvider } from "../rotation/testing/fake-providers.js";
import {
  newStoreHome,
  openStore,
  seedSecret,
  testContext,
  upstreamFor,
} from "../rotation/testing/fixture.js";
import { SqliteStore } from "../store/sqlite.js";
import type { SecretStore } from "../store/types.js";
import { encodedForms } from "../testing/cli.js";
import { type RevokeOptions, revokeSecret, type StepResult } from "./runbook.js";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

interface Fixture {
  dir: string;
  home: string;
  store: SqliteStore;
  log: AccessLog;
  close(): Promise<void>;
}

async function fixture(): Promise<Fixture> {
  const { dir, home, master } = await newStoreHome();
  dirs.push(dir);
  const store = await openStore(home, master);
  const header = SqliteStore.readHeader(home)!;
  const log = AccessLog.create(home, Envelope.unlock(master, header, "test key"));
  return {
    dir,
    home,
    store,
    log,
    async close() {
      log.close();
      await store.close();
    },
  };
}

/** The runbook's dependencies over a real store and log, with the fake provider of `kind`. */
function deps(fx: Fixture, name: string, kind: FakeKind | undefined, steps: StepResult[] = []) {
  const upstream = upstreamFor(fx.dir, name);
  const provider =
    kind === undefined
      ? undefined
      : fakeProvider(kind, {
          upstream,
          storeCurrent: () =>
            fx.store.read(name).then(
              (r) => r.value,
              () => undefined,
            ),
        });
  const ctx = testContext(() => new Date());
  const rotation: RotateDeps = {
    store: fx.store,
    log: fx.log,
    ctx,
    now: () => new Date(),
    owner: `test:${process.pid}:${randomBytes(4).toString("hex")}`,
    provider,
  };
  return {
    upstream,
    value: {
      store: fx.store as SecretStore,
      log: fx.log,
      actor: currentActor("revoke"),
      home: fx.home,
      now: () => new Date(),
      method: async () => ({ provider, providerCtx: ctx, rotation }),
      reloadProxies: (secrets: string[], timeoutMs: number) =>
        notifyProxies(fx.home, secrets, timeoutMs),
      onStep: (s: StepResult) => steps.push(s),
    },
  };
}

const options = (extra: Partial<RevokeOptions> = {}): RevokeOptions => ({
  reason: "leaked in a CI log",
  rotate: true,
  waitMs: 2000,
  repositories: [],
  ...extra,
});

/** Every file under `dir` as text, for canary searches. */
function allText(dir: string): string {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => readFileSync(join(e.parentPath, e.name)).toString("latin1"))
    .join("\n");
}

function assertNoValue(text: string, value: string, where: string): void {
  for (const form of encodedForms(value)) {
    assert.ok(!text.includes(form), `${where} holds the value (or an encoding of it)`);
  }
}

describe("revokeSecret: the runbook over a real SQLite store and fake providers", () => {
  it("disables at once, rotates then revokes upstream (--rotate-first), and reports without the value", async () => {
    const fx = await fixture();
    try {
      const seeded = await seedSecret(fx.store, fx.dir, "svc/api", "api");
      // Someone was served the value before the leak: the report must say who.
      fx.log.append({
        actor: currentActor("run", "billing"),
        action: "read",
        secret: "svc/api",
        version: 1,
        outcome: "ok",
        value: seeded.value,
      });
      const steps: StepResult[] = [];
      const d = deps(fx, "svc/api", "api", steps);
      const result = await revokeSecret(d.value, "svc/api", options({ rotateFirst: true }));

      await assert.rejects(
        () => fx.store.read("svc/api", { version: 1 }),
        (e) => isKeywardError(e) && e.code === "disabled",
        "the store refuses the revoked version",
      );
      const record = await fx.store.get("svc/api");
      assert.equal(record?.versions.find((v) => v.version === 1)?.compromised, true);
      const current = await fx.store.read("svc/api");
      assert.equal(current.version.version, 2, "a fresh value is current");
      assert.equal(d.upstream.stateOf(seeded.value), "revoked", "revoked at the source");
      assert.equal(d.upstream.stateOf(current.value), "live");
      const ops = d.upstream.calls().map((c) => c.op);
      assert.ok(ops.indexOf("rotate") < ops.indexOf("revoke"), "rotate-first: rotate, then revoke");

      assert.deepEqual(
        result.report.steps.map((s) => [s.id, s.status]),
        [
          ["disable", "done"],
          ["revoke-upstream", "done"],
          ["rotate", "done"],
          ["reload", "done"],
          ["history", "skipped"],
          ["report", "done"],
        ],
      );
      assert.equal(result.ok, true);
      assert.equal(result.report.newVersion, 2);
      assert.equal(result.report.valueHmac, fx.log.valueHmac(seeded.value));
      assert.deepEqual(
        result.report.servedTo.map((e) => [e.profile, e.version]),
        [["billing", 1]],
        "who was served the value, from the access log",
      );
      assert.equal(result.report.budget.limitSeconds, 300);
      assert.equal(
        result.report.budget.within,
        result.report.budget.steps1to4Ms <= 300_000,
        "the verdict follows the measured time",
      );
      assert.equal(steps.length, 6, "each step is reported as it ends");

      const incidents = join(fx.home, "incidents");
      assert.equal(statSync(incidents).mode & 0o777, 0o700);
      for (const file of [result.files.json, result.files.markdown]) {
        assert.equal(statSync(file).mode & 0o777, 0o600, `${file} is private`);
      }
      assert.deepEqual(JSON.parse(readFileSync(result.files.json, "utf8")).secret, "svc/api");
      assert.match(readFileSync(result.files.markdown, "utf8"), /## Who was served the value/);
      assertNoValue(allText(fx.home), seeded.value, "a file under the home");
      assertNoValue(allText(fx.home), current.value, "a file under the home");
      const revokeEntries = fx.log.findValue(seeded.value).filter((e) => e.action === "revoke");
      assert.equal(
        revokeEntries.length,
        1,
        "the revocation is in the log, tied to the value by HMAC",
      );
    } finally {
      await fx.close();
    }
  });

  it("in the guide's order a rotation that needs the old key fails after step 2 and says what to do", async () => {
    const fx = await fixture();
    try {
      await seedSecret(fx.store, fx.dir, "svc/api", "api");
      const result = await revokeSecret(deps(fx, "svc/api", "api").value, "svc/api", options());
      const rotate = result.report.steps.find((s) => s.id === "rotate");
      assert.equal(rotate?.status, "failed");
      assert.ok(rotate?.manual?.some((m) => m.includes("--rotate-first")));
      assert.equal(result.report.steps.find((s) => s.id === "revoke-upstream")?.status, "done");
      assert.equal(result.ok, false, "a failed step fails the command");
      const record = await fx.store.get("svc/api");
      assert.equal(
        record?.versions.find((v) => v.stages.includes("current"))?.state,
        "disabled",
        "nothing usable is current: running servers are stopped, not served the leaked value",
      );
    } finally {
      await fx.close();
    }
  });

  it("rotates a refresh-token key after revoking it (the rotation runs from the companion)", async () => {
    const fx = await fixture();
    try {
      const seeded = await seedSecret(fx.store, fx.dir, "slack/bot", "refresh");
      const d = deps(fx, "slack/bot", "refresh");
      const result = await revokeSecret(d.value, "slack/bot", options());
      assert.equal(result.ok, true, JSON.stringify(result.report.steps));
      assert.equal(d.upstream.stateOf(seeded.value), "revoked");
      assert.equal(d.upstream.stateOf((await fx.store.read("slack/bot")).value), "live");
    } finally {
      await fx.close();
    }
  });

  it("gives the manual steps when no provider can act, and scrubs the value from a pasted reason", async () => {
    const fx = await fixture();
    try {
      const value = `kwcanary_${randomBytes(24).toString("base64url")}`;
      await fx.store.create("team/webhook", defaultMetadata(), value);
      const reason = `found ${value} in a gist; base64 ${Buffer.from(value).toString("base64")}`;
      const result = await revokeSecret(
        deps(fx, "team/webhook", undefined).value,
        "team/webhook",
        options({ reason, rotate: false }),
      );
      const upstream = result.report.steps.find((s) => s.id === "revoke-upstream");
      assert.equal(upstream?.status, "manual");
      assert.ok(upstream?.manual?.[0]?.includes("where it was issued"));
      assert.equal(result.report.steps.find((s) => s.id === "rotate")?.status, "skipped");
      assert.match(result.report.reason, /\[REDACTED/);
      assertNoValue(JSON.stringify(result.report), value, "the report");
      assertNoValue(allText(fx.home), value, "a file under the home");
      assert.equal(result.ok, true, "manual steps are not failures");
    } finally {
      await fx.close();
    }
  });

  it("a version disabled before the revocation is marked compromised; the steps that need its value say so", async () => {
    const fx = await fixture();
    try {
      await seedSecret(fx.store, fx.dir, "svc/manual", "manual");
      const record = await fx.store.get("svc/manual");
      await fx.store.setVersionState("svc/manual", 1, "disabled", {
        expectedRevision: record!.revision,
      });
      const result = await revokeSecret(
        deps(fx, "svc/manual", "manual").value,
        "svc/manual",
        options({ repositories: [fx.dir] }),
      );
      assert.equal(
        (await fx.store.get("svc/manual"))?.versions[0]?.compromised,
        true,
        "marked compromised",
      );
      const byId = Object.fromEntries(result.report.steps.map((s) => [s.id, s]));
      assert.equal(byId["revoke-upstream"]?.status, "manual");
      assert.match(byId["revoke-upstream"]?.summary ?? "", /already disabled/);
      assert.equal(byId.rotate?.status, "manual", "a manual provider: the reminder's steps");
      assert.ok((byId.rotate?.manual ?? []).length > 0);
      assert.equal(byId.history?.status, "manual");
      assert.equal(result.report.masked, "(not readable)");
    } finally {
      await fx.close();
    }
  });

  it("a step that breaks unexpectedly is reported as failed and the report is still written", async () => {
    const fx = await fixture();
    try {
      await fx.store.create(
        "team/key",
        defaultMetadata(),
        `kwcanary_${randomBytes(24).toString("base64url")}`,
      );
      const result = await revokeSecret(
        {
          ...deps(fx, "team/key", undefined).value,
          reloadProxies: async () => {
            throw new KeywardError(
              "io",
              "the control folder cannot be read",
              "check its permissions",
            );
          },
        },
        "team/key",
        options({ rotate: false }),
      );
      const reload = result.report.steps.find((s) => s.id === "reload");
      assert.equal(reload?.status, "failed");
      assert.match(reload?.summary ?? "", /control folder/);
      assert.deepEqual(reload?.manual, ["check its permissions"]);
      assert.equal(result.ok, false);
      assert.ok(statSync(result.files.json).isFile(), "the report was written anyway");
    } finally {
      await fx.close();
    }
  });

  it("steps 1–4 never wait on the history search", async () => {
    const fx = await fixture();
    const repo = join(fx.dir, "repo");
    try {
      const value = `kwcanary_${randomBytes(24).toString("base64url")}`;
      await fx.store.create("team/key", defaultMetadata(), value);
      execFileSync("git", ["init", "-q", "-b", "main", repo]);
      writeFileSync(join(repo, "a.txt"), `${value}\n`);
      const git = (...args: string[]) =>
        execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
          cwd: repo,
        });
      git("add", "-A");
      git("commit", "-qm", "add");
      const d = deps(fx, "team/key", undefined);
      let spawned: (pid: number) => void = () => {};
      const gitPid = new Promise<number>((resolve) => {
        spawned = resolve;
      });
      let stepFourWhileStopped = false;
      const result = await revokeSecret(
        {
          ...d.value,
          // git is frozen as soon as it starts…
          onScanSpawn: (pid) => {
            process.kill(pid, "SIGSTOP");
            spawned(pid);
          },
          // …and step 4 only starts once it is: a runbook waiting on the search never gets here.
          reloadProxies: async (secrets, timeoutMs) => {
            await gitPid;
            return notifyProxies(fx.home, secrets, timeoutMs);
          },
          onStep: (step) => {
            if (step.id !== "reload") return;
            stepFourWhileStopped = true;
            void gitPid.then((pid) => process.kill(pid, "SIGCONT"));
          },
        },
        "team/key",
        options({ rotate: false, repositories: [repo] }),
      );
      assert.ok(stepFourWhileStopped, "step 4 ended while the history search was frozen");
      const history = result.report.steps.find((s) => s.id === "history");
      assert.equal(history?.status, "done");
      assert.equal(result.report.git[0]?.sightings[0]?.path, "a.txt");
      assert.equal(result.report.git[0]?.sightings[0]?.presentInTree, true);
    } finally {
      await fx.close();
    }
  });
});
