import assert from "node:assert/strict";
import { Console } from "node:console";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { format, inspect } from "node:util";
import { isKeywardError, type KeywardError } from "../core/errors.js";
import { buildChildEnv } from "../run/env.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";
import { parseSecretMap, type SecretHandle, secret } from "./secret.js";

const tokenLike = () => `sdk-test-${randomBytes(16).toString("hex")}`;

function capture(): { console: Console; text: () => string } {
  let text = "";
  const sink = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { console: new Console({ stdout: sink, stderr: sink }), text: () => text };
}

/**
 * The handle's poll timer is unref'd (a server's stdio keeps it alive); the guard timer keeps
 * this test alive meanwhile, and fails it if the event never comes.
 */
function nextEvent<E extends "rotated" | "revoked">(handle: SecretHandle, event: E) {
  return new Promise<unknown>((resolve, reject) => {
    const guard = setTimeout(() => reject(new Error(`no ${event} event`)), 20_000);
    const listener = (e: unknown) => {
      clearTimeout(guard);
      handle.off(event, listener);
      resolve(e);
    };
    handle.on(event, listener);
  });
}

const keywardError =
  (code: string, ...about: RegExp[]) =>
  (e: unknown) => {
    assert.ok(isKeywardError(e), `expected a KeywardError, got ${String(e)}`);
    assert.equal((e as KeywardError).code, code);
    for (const re of about) assert.match(`${e.message} ${e.fix ?? ""}`, re);
    return true;
  };

describe("a SecretHandle never shows its value", () => {
  const value = tokenLike();
  let handle: SecretHandle;
  before(async () => {
    handle = await secret("github/pat", {
      processEnv: { KEYWARD_SECRET_MAP: "GITHUB_TOKEN=github/pat", GITHUB_TOKEN: value },
    });
  });

  it("prints, interpolates, inspects and serialises as [secret <name>]", () => {
    const out = capture();
    out.console.log(handle);
    out.console.log({ handle });
    out.console.log("%s %o %O %j", handle, handle, handle, handle);
    const renderings = [
      out.text(),
      String(handle),
      `${handle}`,
      // biome-ignore lint/style/useTemplate: string concatenation goes through toPrimitive too
      "" + handle,
      JSON.stringify({ h: handle }),
      JSON.stringify([handle]),
      inspect(handle),
      inspect({ nested: { handle } }, { depth: 10, showHidden: true }),
      format("%s %o %j", handle, { handle }, handle),
      JSON.stringify({ ...handle }),
      inspect(Object.assign({}, handle)),
    ];
    for (const rendering of renderings) {
      for (const form of encodedForms(value)) assert.ok(!rendering.includes(form), rendering);
    }
    assert.equal(String(handle), "[secret github/pat]");
    assert.equal(JSON.stringify({ h: handle }), '{"h":"[secret github/pat]"}');
    assert.equal(inspect(handle), "[secret github/pat]");
    assert.match(out.text(), /^\[secret github\/pat\]$/m);
  });

  it("gives the value only through value()", () => {
    assert.equal(handle.value(), value);
    assert.equal(handle.source, "env");
    assert.equal(handle.envVar, "GITHUB_TOKEN");
    assert.equal(handle.version(), undefined);
  });
});

describe("under keyward run (KEYWARD_SECRET_MAP)", () => {
  it("reads the variable buildChildEnv maps the secret to, and the map holds names only", async () => {
    const value = tokenLike();
    const other = tokenLike();
    const env = buildChildEnv({
      host: { PATH: "/usr/bin", KEYWARD_MASTER_KEY: "never-passed" },
      passEnv: [],
      setEnv: {},
      secrets: [
        { envVar: "GITHUB_TOKEN", name: "github/pat", value },
        { envVar: "WEIRD", name: "team=a/key@2", value: other },
      ],
    });
    assert.equal(env.KEYWARD_SECRET_MAP, "GITHUB_TOKEN=github/pat,WEIRD=team=a/key@2");
    assert.equal(env.KEYWARD_MASTER_KEY, undefined);
    const handle = await secret("github/pat", { processEnv: env });
    assert.equal(handle.value(), value);
    assert.equal((await secret("team=a/key@2", { processEnv: env })).value(), other);
    assert.deepEqual(
      [...(parseSecretMap(env.KEYWARD_SECRET_MAP) ?? [])],
      [
        ["github/pat", "GITHUB_TOKEN"],
        ["team=a/key@2", "WEIRD"],
      ],
    );
  });

  it("refuses a secret the profile does not inject, naming what it does inject", async () => {
    const value = tokenLike();
    const processEnv = { KEYWARD_SECRET_MAP: "GITHUB_TOKEN=github/pat", GITHUB_TOKEN: value };
    await assert.rejects(
      secret("slack/bot", { processEnv }),
      keywardError("not_found", /slack\/bot is not injected/, /github\/pat/, /env: \{/),
    );
    // An explicit variable is honoured when the profile maps the secret under it.
    const viaExplicit = await secret("slack/bot", {
      processEnv: { KEYWARD_SECRET_MAP: "SLACK_TOKEN=other/name", SLACK_TOKEN: value },
      env: "SLACK_TOKEN",
    });
    assert.equal(viaExplicit.value(), value);
  });

  it("never opens a store there, even when one is configured", async () => {
    await assert.rejects(
      secret("github/pat", {
        processEnv: { KEYWARD_SECRET_MAP: "", KEYWARD_HOME: "/nonexistent/keyward" },
      }),
      keywardError("not_found", /maps no secrets/),
    );
  });
});

describe("standalone, against a real store", () => {
  let t: TestHome;
  const first = tokenLike();
  before(async () => {
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "github/pat"], { stdin: first })).code, 0);
  });
  after(() => t.cleanup());

  it("reads the current version, logs the read, and follows a rotation", async () => {
    const handle = await secret("github/pat", { processEnv: t.env, cwd: t.home, pollMs: 10 });
    try {
      assert.equal(handle.source, "store");
      assert.equal(handle.value(), first);
      assert.equal(handle.version(), 1);

      const rotated = nextEvent(handle, "rotated");
      const second = tokenLike();
      assert.equal((await t.run(["secret", "set", "github/pat"], { stdin: second })).code, 0);
      assert.deepEqual(await rotated, { name: "github/pat", version: 2 });
      assert.equal(handle.value(), second);
      assert.equal(handle.version(), 2);

      const history = await t.run(["secret", "history", "github/pat", "--json"]);
      const entries = (
        JSON.parse(history.stdout) as {
          accessLog: Array<{ action: string; actor: { process: string }; version?: number }>;
        }
      ).accessLog.filter((e) => e.action === "read" && e.actor.process === "keyward sdk");
      assert.deepEqual(
        entries.map((e) => e.version),
        [1, 2],
      );
      for (const form of [...encodedForms(first), ...encodedForms(second)]) {
        assert.ok(!history.stdout.includes(form));
      }

      const revoked = nextEvent(handle, "revoked");
      assert.equal((await t.run(["secret", "disable", "github/pat"])).code, 0);
      assert.deepEqual(await revoked, { name: "github/pat", reason: "version 2 disabled" });
      assert.throws(() => handle.value(), keywardError("disabled", /github\/pat was revoked/));
      assert.equal((await t.run(["secret", "enable", "github/pat", "--version", "2"])).code, 0);
    } finally {
      await handle.close();
    }
  });

  it("shares one open store between handles and reads once without following", async () => {
    const a = await secret("github/pat", { processEnv: t.env, cwd: t.home });
    const b = await secret("github/pat", { processEnv: t.env, cwd: t.home, followRotation: false });
    assert.equal(a.value(), b.value());
    await a.close();
    await a.close();
    await b.close();
  });

  it("names the store when the secret is not there, or the master key is missing", async () => {
    await assert.rejects(
      secret("github/missing", { processEnv: t.env, cwd: t.home }),
      keywardError("not_found", /github\/missing/, /keyward store at /),
    );
    const { KEYWARD_MASTER_KEY: _, ...noKey } = t.env;
    await assert.rejects(secret("github/pat", { processEnv: noKey, cwd: t.home }), (e: unknown) => {
      assert.ok(isKeywardError(e));
      assert.match(e.message, /keyward store at /);
      assert.ok(!e.message.includes(String(t.env.KEYWARD_MASTER_KEY)));
      return true;
    });
  });
});

describe("with neither keyward run nor a store", () => {
  it("reads a plain variable when one is named (development)", async () => {
    const value = tokenLike();
    const handle = await secret("github/pat", {
      env: "GITHUB_TOKEN",
      processEnv: { KEYWARD_HOME: "/nonexistent/keyward", GITHUB_TOKEN: value },
    });
    assert.equal(handle.value(), value);
    assert.equal(handle.source, "env");
  });

  it("says where it looked", async () => {
    await assert.rejects(
      secret("github/pat", { env: "GITHUB_TOKEN", processEnv: { KEYWARD_HOME: "/nope/kw" } }),
      keywardError(
        "not_found",
        /not run by keyward run \(no KEYWARD_SECRET_MAP\)/,
        /no keyward store at \/nope\/kw/,
        /GITHUB_TOKEN is not set/,
      ),
    );
  });

  it("rejects an invalid name without touching anything", async () => {
    await assert.rejects(secret("../etc", { processEnv: {} }), keywardError("invalid_name"));
  });
});
