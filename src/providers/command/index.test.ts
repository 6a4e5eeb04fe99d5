/**
 * The command provider with real scripts written to a temp dir. The scripts keep their state in
 * files beside them (valid.txt, revoked.txt) and log their own argv and environment, so the
 * tests can check that the key never travels outside stdin.
 */
import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { isKeywardError, type KeywardError } from "../../core/errors.js";
import { exampleChars } from "../../detect/rules/examples.js";
import { assertNoLeak, leakForms, runProviderConformance, testContext } from "../conformance.js";
import type { ProviderCredential } from "../types.js";
import { commandProvider } from "./index.js";

const key = exampleChars("command-test/key", 40);
const revocable = exampleChars("command-test/revocable", 40);
let dir: string;

/** Reads one line from stdin with shell builtins only, so the key is never in a child's argv. */
const READ_KEY = `IFS= read -r v
printf '%s\\n' "$0" "$@" >> argv.log
env >> env.log
known() { while IFS= read -r k; do [ "$k" = "$1" ] && return 0; done < "$2"; return 1; }`;

const SCRIPTS: Record<string, string> = {
  "verify.sh": `${READ_KEY}
known "$v" valid.txt && ! known "$v" revoked.txt`,
  "revoke.sh": `${READ_KEY}
known "$v" valid.txt || { echo "no such key" >&2; exit 4; }
printf '%s\\n' "$v" >> revoked.txt`,
  "mint.sh": `${READ_KEY}
known "$v" valid.txt || exit 1
n=$(( $(wc -l < minted.txt) + 1 ))
new="minted-$n-${exampleChars("command-test/mint", 24)}"
printf '%s\\n' "$new" >> minted.txt
printf '%s\\n' "$new" >> valid.txt
printf '%s %s %s\\n' "$KEYWARD_SCOPE" "$KEYWARD_TTL_SECONDS" "$KEYWARD_RESOURCES" > mint-request.log
printf '{"value":"%s","expiresAt":"2030-01-01T00:00:00Z"}\\n' "$new"`,
  "rotate.sh": `${READ_KEY}
printf '\\n  rotated-${exampleChars("command-test/rotate", 24)}  \\n'`,
  "leaky.sh": `${READ_KEY}
echo "rejected key: $v" >&2
printf '%s' "$v" | base64 >&2
echo "done checking" >&2
exit 3`,
  "half-mint.sh": `${READ_KEY}
new="halfway-${exampleChars("command-test/half", 24)}"
printf '%s' "$new"
echo "upstream refused to activate $new" >&2
exit 2`,
  "hang.sh": `${READ_KEY}
sleep 300 &
echo $! > child.pid
echo $$ > self.pid
echo "waiting for approval" >&2
sleep 300`,
  "flood.sh": `${READ_KEY}
yes`,
  "bad-json.sh": `${READ_KEY}
echo '{"value": 12}'`,
  "empty.sh": `${READ_KEY}
echo "   "`,
  "echo-parent.sh": `${READ_KEY}
printf '%s\\n' "$v"`,
  "no-stdin.sh": "exit 0",
};

const settings = {
  verify: ["./verify.sh"],
  revoke: ["./revoke.sh", "--reason", "leak"],
  mint: ["./mint.sh"],
  rotate: ["./rotate.sh"],
};
const ctx = (extra: Record<string, unknown> = {}, timeoutMs = 10_000) =>
  testContext({ ...settings, cwd: dir, ...extra }, { timeoutMs });
const cred = (value: string, companions?: Record<string, string>): ProviderCredential => ({
  name: "internal/key",
  value,
  ...(companions ? { companions } : {}),
});
const read = (file: string) => readFileSync(join(dir, file), "utf8");

async function rejection(promise: Promise<unknown>, secrets: string[]): Promise<KeywardError> {
  try {
    await promise;
  } catch (e) {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assertNoLeak(e, secrets);
    return e;
  }
  assert.fail("expected a rejection");
}

/** Running, as opposed to gone or a zombie waiting for a (possibly slow) init to reap it. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return true;
  }
}

before(() => {
  dir = mkdtempSync(join(tmpdir(), "keyward-command-"));
  for (const [name, body] of Object.entries(SCRIPTS)) {
    writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`);
    chmodSync(join(dir, name), 0o755);
  }
  writeFileSync(join(dir, "not-executable.sh"), "#!/bin/sh\nexit 0\n");
});
after(() => rmSync(dir, { recursive: true, force: true }));
beforeEach(() => {
  writeFileSync(join(dir, "valid.txt"), `${key}\n${revocable}\n`);
  for (const file of ["revoked.txt", "minted.txt", "argv.log", "env.log"])
    writeFileSync(join(dir, file), "");
});

runProviderConformance(commandProvider, async () => ({
  validValue: key,
  malformedValue: `${key}\n`,
  rejectedValue: exampleChars("command-test/never-issued", 40),
  revocableValue: revocable,
  mint: { cred: { value: key }, request: { scope: ["read"], ttlSeconds: 900 } },
  settings: { ...settings, cwd: dir },
}));

describe("the key travels on stdin only", () => {
  test("verify, revoke, mint and rotate never put it in argv or the environment", async () => {
    assert.equal((await commandProvider.verify!(cred(key), ctx())).ok, true);
    await commandProvider.mint!(cred(key), { scope: ["read"] }, ctx());
    await commandProvider.rotate!(cred(key), ctx());
    assert.deepEqual(await commandProvider.revoke!(cred(key), ctx()), { revoked: true });
    const argv = read("argv.log");
    assert.match(argv, /^\.\/revoke\.sh\n--reason\nleak$/m, "the script's own argv was logged");
    const env = read("env.log");
    assert.match(env, /KEYWARD_SECRET_NAME=internal\/key/);
    for (const form of leakForms(key)) {
      assert.ok(!argv.includes(form), "the key appears in a script's argv");
      assert.ok(!env.includes(form), "the key appears in a script's environment");
    }
  });

  test("the script never gets keyward's own settings, the master key above all", async () => {
    const master = exampleChars("command-test/master", 64);
    const saved = { ...process.env };
    Object.assign(process.env, {
      KEYWARD_MASTER_KEY: master,
      KEYWARD_PASSPHRASE: `${master}-passphrase`,
      KEYWARD_HOME: dir,
    });
    try {
      assert.equal((await commandProvider.verify!(cred(key), ctx())).ok, true);
    } finally {
      for (const k of ["KEYWARD_MASTER_KEY", "KEYWARD_PASSPHRASE", "KEYWARD_HOME"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
    const env = read("env.log");
    assert.match(env, /^KEYWARD_ACTION=verify$/m, "keyward's own variables for the script stay");
    assert.match(env, /^PATH=/m, "the rest of the environment is passed on");
    assert.doesNotMatch(env, /KEYWARD_MASTER_KEY|KEYWARD_PASSPHRASE|KEYWARD_HOME/);
    assert.ok(!env.includes(master), "the master key reached a provider script");
  });
  test("a configured argument holding a template or the key is refused before anything runs", async () => {
    for (const verify of [
      ["./verify.sh", "{{value}}"],
      ["./verify.sh", `--key=${key}`],
    ]) {
      const e = await rejection(commandProvider.verify!(cred(key), ctx({ verify })), [key]);
      assert.equal(e.code, "config_invalid");
    }
    assert.equal(read("argv.log"), "");
  });

  test("a value with a line break is not given to the script", async () => {
    const e = await rejection(commandProvider.verify!(cred(`${key}\nsecond`), ctx()), [key]);
    assert.equal(e.code, "invalid_value");
    assert.equal(read("argv.log"), "");
  });

  test("a script that never reads stdin is fine", async () => {
    assert.equal(
      (await commandProvider.verify!(cred(key), ctx({ verify: ["./no-stdin.sh"] }))).ok,
      true,
    );
  });
});

describe("exit status and output", () => {
  test("exit 0 is ok, anything else is a failed verification or revocation", async () => {
    const other = exampleChars("command-test/other", 40);
    assert.deepEqual(await commandProvider.verify!(cred(other), ctx()), {
      ok: false,
      detail: "the verify script exited with status 1",
    });
    assert.deepEqual(await commandProvider.revoke!(cred(other), ctx()), {
      revoked: false,
      detail: "the revoke script exited with status 4: no such key",
    });
  });

  test("stderr is scrubbed of the key in every form before it reaches a message", async () => {
    const refresh = exampleChars("command-test/companion", 32);
    const result = await commandProvider.verify!(
      cred(key, { refresh }),
      ctx({ verify: ["./leaky.sh"] }),
    );
    assert.equal(result.ok, false);
    assertNoLeak(result, [key, refresh]);
    // The base64 line is scrubbed too (the redactor's own marker for it); assertNoLeak covers every form.
    assert.match(
      result.detail ?? "",
      /^the verify script exited with status 3: rejected key: \[REDACTED:internal\/key\] \| .* \| done checking$/,
    );
  });

  test("a value too short to scrub reliably keeps stderr out of messages", async () => {
    const short = "k3Y_7";
    const result = await commandProvider.verify!(cred(short), ctx({ verify: ["./leaky.sh"] }));
    assert.deepEqual(result, { ok: false, detail: "the verify script exited with status 3" });
  });

  test("mint reads JSON { value, expiresAt } and gets the request in its environment", async () => {
    const minted = await commandProvider.mint!(
      cred(key),
      { scope: ["issues:read", "repo:read"], resources: ["api"], ttlSeconds: 600 },
      ctx(),
    );
    assert.match(minted.value, /^minted-1-/);
    assert.equal(minted.expiresAt, "2030-01-01T00:00:00Z");
    assert.deepEqual(minted.scope, ["issues:read", "repo:read"]);
    assert.equal(read("mint-request.log"), "issues:read repo:read 600 api\n");
  });

  test("rotate reads a bare value, trimmed", async () => {
    const rotated = await commandProvider.rotate!(cred(key), ctx());
    assert.deepEqual(rotated, { value: `rotated-${exampleChars("command-test/rotate", 24)}` });
  });

  test("a failed mint scrubs the half-printed new value from stderr too", async () => {
    const e = await rejection(
      commandProvider.mint!(cred(key), { scope: [] }, ctx({ mint: ["./half-mint.sh"] })),
      [key, `halfway-${exampleChars("command-test/half", 24)}`],
    );
    assert.equal(e.code, "upstream_rejected");
    assert.match(
      e.message,
      /exited with status 2: upstream refused to activate \[REDACTED:internal\/key:new\]/,
    );
  });

  for (const [script, message] of [
    ["bad-json.sh", /printed JSON that is not/],
    ["empty.sh", /printed no value/],
    ["echo-parent.sh", /printed the same value it was given/],
  ] as const) {
    test(`mint output that is not a new value: ${script}`, async () => {
      const e = await rejection(
        commandProvider.mint!(cred(key), { scope: [] }, ctx({ mint: [`./${script}`] })),
        [key],
      );
      assert.equal(e.code, "upstream_rejected");
      assert.match(e.message, message);
    });
  }
});

describe("scripts that misbehave", () => {
  test("a hanging script is stopped with its whole process group", async () => {
    const e = await rejection(
      commandProvider.verify!(cred(key), ctx({ verify: ["./hang.sh"] }, 300)),
      [key],
    );
    assert.equal(e.code, "upstream_timeout");
    assert.match(
      e.message,
      /did not finish within 300 ms and was stopped with its child processes: waiting for approval/,
    );
    const pids = [Number(read("self.pid")), Number(read("child.pid"))];
    // Signals are asynchronous: give the kernel a moment to reap, without asserting how long.
    for (let i = 0; i < 250 && pids.some(alive); i++) await delay(20);
    assert.deepEqual(
      pids.map(alive),
      [false, false],
      "the script and its background child are gone",
    );
  });

  test("a script flooding stdout is stopped", async () => {
    const e = await rejection(
      commandProvider.mint!(cred(key), { scope: [] }, ctx({ mint: ["./flood.sh"] })),
      [key],
    );
    assert.equal(e.code, "upstream_rejected");
    assert.match(e.message, /printed more than 65536 bytes on stdout/);
  });

  test("a missing or non-executable script is a configuration error", async () => {
    const missing = await rejection(
      commandProvider.verify!(cred(key), ctx({ verify: ["./nope.sh"] })),
      [key],
    );
    assert.equal(missing.code, "config_invalid");
    assert.match(
      missing.message,
      /could not start the verify script of internal\/key \(\.\/nope\.sh\): ENOENT/,
    );
    const denied = await rejection(
      commandProvider.verify!(cred(key), ctx({ verify: ["./not-executable.sh"] })),
      [key],
    );
    assert.match(denied.message, /EACCES/);
  });

  test("no script configured is a refusal; malformed settings are a config error", async () => {
    const none = await rejection(commandProvider.revoke!(cred(key), testContext({ cwd: dir })), [
      key,
    ]);
    assert.equal(none.code, "refused");
    const shell = await rejection(
      commandProvider.verify!(cred(key), ctx({ verify: "./verify.sh && true" })),
      [key],
    );
    assert.equal(shell.code, "config_invalid");
    assert.match(shell.fix ?? "", /argv array without a shell/);
  });
});
