/**
 * Team mode across hosts: two keyward homes (two "hosts", each with its own access log and
 * control sockets) share one PostgreSQL store (the real server on 127.0.0.1:5432, a schema of
 * its own). A `keyward run` on host B polls only once a minute and host A's control sockets are
 * not B's, so what reaches B's proxy is the store's LISTEN/NOTIFY change feed.
 */
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { dropSchema, PG_TEST, PG_TEST_ENV, testSchema } from "../store/testing/postgres.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";
import { digestProfile, keyDigest, type RunningProxy, startProxy } from "../testing/proxies.js";

const sha = (value: string) => createHash("sha256").update(value).digest("hex");
const newValue = (tag: string) => `kw${tag}_${randomBytes(24).toString("base64url")}`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns true, for at most `ms`. */
async function eventually(check: () => Promise<boolean>, ms: number): Promise<boolean> {
  const until = Date.now() + ms;
  while (Date.now() < until) {
    if (await check()) return true;
    await sleep(50);
  }
  return false;
}

describe("a revocation on one host reaches a keyward run on another through postgres", () => {
  const schema = testSchema("cli_fleet");
  const homes: TestHome[] = [];
  const proxies: RunningProxy[] = [];
  after(async () => {
    for (const p of proxies) await p.client.close().catch(() => {});
    for (const h of homes) h.cleanup();
    await dropSchema(schema);
  });

  it("stops the server at once, restarts it when a new value is set, never shows a value", async () => {
    const masterKey = randomBytes(32).toString("hex");
    const host = () => {
      const h = testHome({ ...PG_TEST_ENV, KEYWARD_MASTER_KEY: masterKey });
      homes.push(h);
      const config = join(h.home, "keyward.yaml");
      writeFileSync(
        config,
        [
          "version: 1",
          `store: ${JSON.stringify({ backend: "postgres", ...PG_TEST, schema })}`,
          "profiles:",
          ...digestProfile("svc", "svc/key"),
          "",
        ].join("\n"),
      );
      return { h, config };
    };
    const a = host();
    const b = host();
    const leaked = newValue("leak");
    assert.equal((await a.h.run(["--config", a.config, "init"])).code, 0);
    const set = await a.h.run(["--config", a.config, "secret", "set", "svc/key"], {
      stdin: leaked,
    });
    assert.equal(set.code, 0, set.stderr);
    assert.equal((await b.h.run(["--config", b.config, "init"])).code, 0);

    const proxy = await startProxy(b.h.env, b.config, "svc");
    proxies.push(proxy);
    assert.equal((await keyDigest(proxy)).sha256, sha(leaked));

    const revoke = await a.h.run([
      "--config",
      a.config,
      "revoke",
      "svc/key",
      "--reason",
      "leaked in a log",
      "--no-rotate",
      "--json",
    ]);
    // Host A has no proxy of its own to reload; B's is reached by the feed, not by A.
    assert.ok([0, 1].includes(revoke.code), revoke.stderr);
    const stopped = await eventually(async () => {
      try {
        await keyDigest(proxy);
        return false;
      } catch {
        return true;
      }
    }, 10_000);
    assert.ok(stopped, "host B's server was stopped by the revocation on host A");

    const fresh = newValue("fresh");
    const rotate = await a.h.run(["--config", a.config, "secret", "set", "svc/key"], {
      stdin: fresh,
    });
    assert.equal(rotate.code, 0, rotate.stderr);
    const restarted = await eventually(async () => {
      try {
        return (await keyDigest(proxy)).sha256 === sha(fresh);
      } catch {
        return false;
      }
    }, 10_000);
    assert.ok(restarted, "host B's server came back with the new value");

    const seen = [revoke.stdout, revoke.stderr, proxy.stderr.join("")].join("\n");
    for (const v of [leaked, fresh]) {
      for (const form of encodedForms(v)) assert.ok(!seen.includes(form), "a value was shown");
    }
  });
});
