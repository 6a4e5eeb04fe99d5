import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { encodedForms } from "../testing/cli.js";
import { notificationEvent } from "./events.js";
import { type NotificationTarget, Notifier } from "./notifier.js";
import { type Receiver, webhookReceiver as receiver } from "./testing/webhook-receiver.js";

const target = (extra: Partial<NotificationTarget>): NotificationTarget => ({
  name: "test",
  events: ["rotation.succeeded", "rotation.failed", "revocation"],
  timeoutMs: 2000,
  attempts: 3,
  ...extra,
});

describe("Notifier", () => {
  let hook: Receiver;
  let dir: string;
  const leakedValue = `kwcanary_${randomBytes(24).toString("base64url")}`;
  const hookToken = `kwhook_${randomBytes(24).toString("base64url")}`;
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };
  const readSecret = async (name: string) => {
    assert.equal(name, "ops/hook-token");
    return hookToken;
  };

  before(async () => {
    hook = await receiver();
    dir = mkdtempSync(join(tmpdir(), "keyward-notify-"));
  });
  after(async () => {
    await hook.close();
    rmSync(dir, { recursive: true, force: true });
  });

  // The payload is keyward's own JSON; a receiver sees it as the POST body (Slack-style webhooks,
  // PagerDuty Events v2 relays and the like take any JSON and route on it).
  it("POSTs the event as JSON with headers filled from the store, retrying a 5xx, never sending a value", async () => {
    hook.requests.length = 0;
    hook.script = [503, 500];
    sleeps.length = 0;
    const notifier = new Notifier(
      [
        target({
          url: `${hook.url}/hooks/{{secret:ops/hook-token}}`,
          headers: { Authorization: "Bearer {{secret:ops/hook-token}}" },
        }),
      ],
      { readSecret, sleep },
    );
    const event = notificationEvent("revocation", "github/pat", {
      version: 3,
      // A reason someone pasted the value into: scrubbed before it leaves.
      reason: `found ${leakedValue} in a log`,
    });
    const [delivery] = await notifier.send(event, [leakedValue]);
    assert.equal(delivery?.ok, true);
    assert.equal(delivery?.attempts, 3, "two 5xx answers, then success");
    assert.deepEqual(sleeps, [500, 1000], "bounded, growing back-off");
    assert.equal(hook.requests.length, 3);
    const last = hook.requests[2]!;
    assert.equal(last.headers.authorization, `Bearer ${hookToken}`);
    assert.equal(last.path, `/hooks/${hookToken}`, "the url template is filled too");
    assert.equal(last.headers["content-type"], "application/json");
    const body = JSON.parse(last.body);
    assert.equal(body.event, "revocation");
    assert.equal(body.secret, "github/pat");
    for (const form of encodedForms(leakedValue)) assert.ok(!last.body.includes(form));
    for (const form of encodedForms(hookToken)) assert.ok(!last.body.includes(form));
    assert.match(body.details.reason, /\[REDACTED:value\]/);
  });

  it("does not retry a 4xx, never follows a redirect, and names only the origin in errors", async () => {
    hook.requests.length = 0;
    hook.script = [401];
    const notifier = new Notifier(
      [target({ url: `${hook.url}/hooks/{{secret:ops/hook-token}}` })],
      { readSecret, sleep },
    );
    const event = notificationEvent("rotation.failed", "slack/bot", {});
    const [refused] = await notifier.send(event);
    assert.equal(refused?.ok, false);
    assert.equal(refused?.attempts, 1);
    assert.equal(refused?.status, 401);
    assert.equal(refused?.error, `POST ${hook.url} answered 401`);
    hook.script = [302];
    const [redirected] = await notifier.send(event);
    assert.equal(redirected?.ok, false);
    assert.match(redirected?.error ?? "", /redirect: keyward does not follow them/);
    assert.equal(hook.requests.length, 2, "the redirect was not followed");
  });

  it("sends only the events a target asked for, and a dead endpoint fails after its attempts", async () => {
    const closed = await receiver();
    await closed.close(); // its port now refuses connections
    const notifier = new Notifier(
      [target({ url: `${closed.url}/`, events: ["rotation.failed"], attempts: 2 })],
      { readSecret, sleep },
    );
    assert.deepEqual(await notifier.send(notificationEvent("revocation", "a/b", {})), []);
    const [down] = await notifier.send(notificationEvent("rotation.failed", "a/b", {}));
    assert.equal(down?.ok, false);
    assert.equal(down?.attempts, 2);
    assert.match(down?.error ?? "", /ECONNREFUSED/);
  });

  it("runs a command with the payload on stdin (never argv) and without keyward's environment", async () => {
    const out = join(dir, "received");
    const script = join(dir, "hook.sh");
    writeFileSync(
      script,
      [
        "#!/bin/sh",
        `cat > "${out}.stdin"`,
        `printf '%s\\n' "$@" > "${out}.argv"`,
        `env > "${out}.env"`,
        "",
      ].join("\n"),
    );
    chmodSync(script, 0o700);
    const notifier = new Notifier([target({ command: [script, "--severity", "high"], cwd: dir })], {
      readSecret,
      sleep,
      env: { PATH: process.env.PATH, KEYWARD_MASTER_KEY: "aa".repeat(32), KEEP: "yes" },
    });
    const event = notificationEvent("revocation", "github/pat", { reason: leakedValue });
    const [delivery] = await notifier.send(event, [leakedValue]);
    assert.equal(delivery?.ok, true, delivery?.error);
    const stdin = readFileSync(`${out}.stdin`, "utf8");
    assert.equal(JSON.parse(stdin).secret, "github/pat");
    for (const form of encodedForms(leakedValue)) assert.ok(!stdin.includes(form));
    assert.equal(readFileSync(`${out}.argv`, "utf8"), "--severity\nhigh\n");
    const env = readFileSync(`${out}.env`, "utf8");
    assert.match(env, /^KEEP=yes$/m);
    assert.match(env, /^KEYWARD_EVENT=revocation$/m);
    assert.match(env, /^KEYWARD_SECRET_NAME=github\/pat$/m);
    assert.doesNotMatch(env, /KEYWARD_MASTER_KEY/);
  });

  it("retries a failing command, kills one that hangs, and scrubs its stderr", async () => {
    const failing = join(dir, "fail.sh");
    writeFileSync(
      failing,
      `#!/bin/sh\ncat >/dev/null\necho "could not page: ${leakedValue}" >&2\nexit 3\n`,
    );
    chmodSync(failing, 0o700);
    const hanging = join(dir, "hang.sh");
    writeFileSync(hanging, "#!/bin/sh\nsleep 30\n");
    chmodSync(hanging, 0o700);
    const notifier = new Notifier(
      [
        target({ name: "failing", command: [failing], attempts: 2 }),
        target({ name: "hanging", command: [hanging], attempts: 1, timeoutMs: 200 }),
      ],
      { readSecret, sleep },
    );
    const results = await notifier.send(notificationEvent("revocation", "a/b", {}), [leakedValue]);
    const byName = Object.fromEntries(results.map((d) => [d.target, d]));
    assert.equal(byName.failing?.ok, false);
    assert.equal(byName.failing?.attempts, 2);
    assert.equal(byName.failing?.status, 3);
    assert.match(
      byName.failing?.error ?? "",
      /exited with status 3: could not page: \[REDACTED:value\]/,
    );
    assert.equal(byName.hanging?.ok, false);
    assert.match(byName.hanging?.error ?? "", /did not finish within 200 ms/);
  });
});
