import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type Receiver, webhookReceiver } from "../notify/testing/webhook-receiver.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";
import { digestProfile, keyDigest, type RunningProxy, startProxy } from "../testing/proxies.js";

const sha = (value: string) => createHash("sha256").update(value).digest("hex");
const newValue = (tag: string) => `kw${tag}_${randomBytes(24).toString("base64url")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `keyward revoke` end to end with real parts: real `keyward run` processes wrapping a real MCP
 * server (the SDK's McpServer), driven by the SDK's Client; the command provider running real
 * scripts for revoke and rotate; a local webhook and a real notification command; a real git
 * repository holding the leaked value in its history. Proxies poll the store only once a
 * minute, so what reloads them within the test is the control socket.
 */
describe("keyward revoke with running servers", () => {
  let t: TestHome;
  let hook: Receiver;
  let config: string;
  const proxies: RunningProxy[] = [];
  const extra: ChildProcess[] = [];
  const leaked = newValue("canary");
  const other = newValue("other");
  const hookToken = newValue("hook");
  const repo = () => join(t.home, "repo");

  before(async () => {
    t = testHome();
    hook = await webhookReceiver();
    const ok = (r: { code: number; stderr: string }) => assert.equal(r.code, 0, r.stderr);
    ok(await t.run(["init"]));
    ok(await t.run(["secret", "set", "svc/key", "--provider", "command"], { stdin: leaked }));
    ok(await t.run(["secret", "set", "other/key"], { stdin: other }));
    ok(await t.run(["secret", "set", "ops/hook"], { stdin: hookToken }));
    const script = (name: string, body: string) => {
      const path = join(t.home, name);
      writeFileSync(path, `#!/bin/sh\n${body}\n`);
      chmodSync(path, 0o700);
      return path;
    };
    // The command provider's scripts (src/providers/command/README.md): the key on stdin.
    const revoke = script(
      "revoke.sh",
      `IFS= read -r key\nprintf '%s' "$key" | sha256sum | cut -d' ' -f1 >> "${t.home}/revoked.sha"`,
    );
    const rotate = script(
      "rotate.sh",
      `cat >/dev/null\nprintf 'kwnew_%s' "$(head -c 24 /dev/urandom | base64 | tr -d '/+=\\n')"`,
    );
    const verify = script("verify.sh", "cat >/dev/null");
    const notify = script("notify.sh", `cat > "${t.home}/notified.json"`);
    const profiles = ["svc-1", "svc-2", "svc-3", "svc-4", "svc-5", "svc-6"].map((p) => [
      p,
      "svc/key",
    ]);
    profiles.push(["other-1", "other/key"]);
    config = join(t.home, "keyward.yaml");
    writeFileSync(
      config,
      [
        "version: 1",
        "secrets:",
        "  svc/key: { provider: command }",
        "  other/key: {}",
        "  ops/hook: {}",
        "providers:",
        `  command: { revoke: [${JSON.stringify(revoke)}], rotate: [${JSON.stringify(rotate)}], verify: [${JSON.stringify(verify)}] }`,
        "notifications:",
        "  - name: hook",
        `    url: ${hook.url}/keyward`,
        '    headers: { Authorization: "Bearer {{secret:ops/hook}}" }',
        "    events: [revocation]",
        "  - name: script",
        `    command: [${JSON.stringify(notify)}]`,
        "revocation:",
        `  repositories: [${JSON.stringify(repo())}]`,
        "  wait: 20s",
        "profiles:",
        ...profiles.flatMap(([profile, secret]) => digestProfile(profile!, secret!)),
        "",
      ].join("\n"),
    );
    // A repository where the key was committed and later deleted.
    execFileSync("git", ["init", "-q", "-b", "main", repo()]);
    const git = (...args: string[]) =>
      execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.invalid", ...args], {
        cwd: repo(),
      });
    writeFileSync(join(repo(), ".env"), `SERVICE_KEY=${leaked}\n`);
    git("add", "-A");
    git("commit", "-qm", "config");
    git("rm", "-q", ".env");
    git("commit", "-qm", "oops, remove the key");
  });

  after(async () => {
    for (const p of proxies) await p.client.close().catch(() => {});
    for (const child of extra) child.kill("SIGKILL");
    await hook.close();
    t.cleanup();
  });

  const start = async (profile: string): Promise<RunningProxy> => {
    const proxy = await startProxy(t.env, config, profile);
    proxies.push(proxy);
    return proxy;
  };
  const digest = keyDigest;

  const assertNoLeak = (text: string, where: string, values: string[]) => {
    for (const v of values)
      for (const form of encodedForms(v)) assert.ok(!text.includes(form), `${where} leaks a value`);
  };

  it("disables, revokes at the source, rotates, reloads 5 running servers, finds the key in history and reports", async () => {
    const svc = await Promise.all(["svc-1", "svc-2", "svc-3", "svc-4", "svc-5"].map(start));
    const unrelated = await start("other-1");
    for (const p of svc) assert.equal((await digest(p)).sha256, sha(leaked));
    const unrelatedBefore = await digest(unrelated);
    // A keyward run killed without a chance to clean up: its registration stays behind.
    const killed = await start("svc-6");
    process.kill(killed.pid, "SIGKILL");
    await sleep(100);
    assert.ok(existsSync(join(t.env.KEYWARD_HOME as string, "control", `run-${killed.pid}.sock`)));

    const run = await t.run([
      "--config",
      config,
      "revoke",
      "svc/key",
      "--reason",
      "posted in a public gist",
      "--json",
    ]);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    const status = Object.fromEntries(
      report.steps.map((s: { id: string; status: string }) => [s.id, s.status]),
    );
    assert.deepEqual(status, {
      disable: "done",
      "revoke-upstream": "done",
      rotate: "done",
      reload: "done",
      history: "done",
      report: "done",
    });
    // Step 2 ran the revoke script with the leaked key on its stdin.
    assert.equal(readFileSync(join(t.home, "revoked.sha"), "utf8").trim(), sha(leaked));
    // The store refuses the leaked version.
    const refused = await t.run(["secret", "get", "svc/key", "--version", "1"]);
    assert.equal(refused.code, 4);
    const fresh = (await t.run(["--config", config, "secret", "get", "svc/key"])).stdout;
    assert.match(fresh, /^kwnew_/);

    // Step 4: every proxy using the key answered, restarted with the new version.
    assert.deepEqual(
      report.proxies.map((p: { pid: number }) => p.pid).sort(),
      svc.map((p) => p.pid).sort(),
    );
    for (const p of report.proxies) {
      assert.equal(p.ok, true);
      assert.equal(p.running, true);
      assert.equal(p.version, 2);
    }
    assert.deepEqual(
      report.staleRegistrations,
      [killed.pid],
      "the dead registration was cleaned up",
    );
    for (const p of svc)
      assert.equal((await digest(p)).sha256, sha(fresh), `${p.profile} serves the new value`);
    assert.deepEqual(
      await digest(unrelated),
      unrelatedBefore,
      "a server not using the key was left alone",
    );

    // Step 5: committed and later deleted.
    const sighting = report.git[0].sightings[0];
    assert.equal(sighting.path, ".env");
    assert.equal(sighting.presentInTree, false);
    assert.ok(sighting.deletedIn);

    // Notifications: the webhook (with its header filled from the store) and the command.
    const posted = hook.requests.find((r) => r.path === "/keyward");
    assert.ok(posted, "the webhook was called");
    assert.equal(posted.headers.authorization, `Bearer ${hookToken}`);
    assert.equal(JSON.parse(posted.body).event, "revocation");
    const notified = readFileSync(join(t.home, "notified.json"), "utf8");
    assert.equal(JSON.parse(notified).secret, "svc/key");
    assert.deepEqual(
      report.notifications.map((n: { target: string; ok: boolean }) => [n.target, n.ok]).sort(),
      [
        ["hook", true],
        ["script", true],
      ],
    );

    // No value anywhere: outputs, report files, payloads, the servers' stderr.
    const incidents = join(t.env.KEYWARD_HOME as string, "incidents");
    const files = readdirSync(incidents).map((f) => readFileSync(join(incidents, f), "utf8"));
    assert.equal(files.length, 2);
    const everything = [
      run.stdout,
      run.stderr,
      ...files,
      posted.body,
      notified,
      ...svc.flatMap((p) => p.stderr),
    ].join("\n");
    assertNoLeak(everything, "an output", [leaked, fresh, hookToken]);
  });

  it("with --no-rotate stops the servers that use the key; the text output times each step", async () => {
    const p = await start("other-1");
    await digest(p);
    const run = await t.run([
      "--config",
      config,
      "revoke",
      "other/key",
      "--reason",
      "test",
      "--no-rotate",
      "--no-scan",
    ]);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /✓ 1 disable and mark compromised +\d+ ms/);
    assert.match(run.stderr, /- 3 rotate to a fresh value .*--no-rotate/);
    assert.match(run.stderr, /✓ 4 reload running servers .* stopped/);
    assert.match(run.stderr, /steps 1–4: .* of the 5-minute budget/);
    assert.match(run.stdout, /incident report: .*\.md/);
    await assert.rejects(() => digest(p), /other\/key/, "calls fail once the key is revoked");
  });

  it("names a proxy that does not answer, and fails once the wait is over", async () => {
    await t.run(["secret", "set", "svc/key"], { stdin: newValue("again") });
    const p = await start("svc-1");
    await digest(p);
    process.kill(p.pid, "SIGSTOP");
    try {
      const run = await t.run([
        "--config",
        config,
        "revoke",
        "svc/key",
        "--reason",
        "test",
        "--generate",
        "--no-scan",
        "--wait",
        "1s",
        "--json",
      ]);
      assert.equal(run.code, 1, "a silent proxy is a problem to report");
      const report = JSON.parse(run.stdout);
      assert.ok(report.silentProxies.some((s: { pid: number }) => s.pid === p.pid));
      assert.equal(report.steps.find((s: { id: string }) => s.id === "reload").status, "partial");
    } finally {
      process.kill(p.pid, "SIGCONT");
    }
  });

  it("with keyward daemon up, proxies subscribe and stop polling; a change reaches them through the daemon", async () => {
    const daemon = spawn(
      process.execPath,
      [...process.execArgv, KEYWARD_BIN, "--config", config, "daemon", "--interval", "1h"],
      {
        env: t.env,
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    extra.push(daemon);
    const daemonLog: string[] = [];
    daemon.stderr?.on("data", (c: Buffer) => daemonLog.push(c.toString()));
    for (let i = 0; i < 200 && !daemonLog.join("").includes("listening on"); i++) await sleep(25);
    const p = await start("svc-2");
    let status = { subscribers: [] as Array<{ pid: number }> };
    for (let i = 0; i < 200; i++) {
      const r = await t.run(["daemon", "status", "--json"]);
      if (r.code === 0) {
        status = JSON.parse(r.stdout);
        if (status.subscribers.some((s) => s.pid === p.pid)) break;
      }
      await sleep(25);
    }
    assert.ok(
      status.subscribers.some((s) => s.pid === p.pid),
      "the proxy subscribed to the daemon",
    );
    const before = await digest(p);
    // A plain write, not a revoke: only the daemon's watch can tell the proxy (it polls once a minute).
    const next = newValue("daemon");
    await t.run(["secret", "set", "svc/key"], { stdin: next });
    let after = before;
    for (let i = 0; i < 200 && after.sha256 !== sha(next); i++) {
      await sleep(25);
      after = await digest(p).catch(() => after);
    }
    assert.equal(after.sha256, sha(next), "restarted through the daemon's push");
    daemon.kill("SIGTERM");
    await new Promise((resolve) => daemon.once("exit", resolve));
    assert.ok(
      !existsSync(join(t.env.KEYWARD_HOME as string, "control", "daemon.sock")),
      "socket removed",
    );
    assert.equal((await t.run(["daemon", "status"])).code, 3);
    assertNoLeak(daemonLog.join(""), "the daemon's log", [next]);
  });
});
