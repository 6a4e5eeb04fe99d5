import assert from "node:assert/strict";
import { chmodSync, existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { CONFIG_CACHE_FILE } from "../config/cache.js";
import { type TestHome, testHome } from "../testing/cli.js";

/** Commands run with the config validated (cache missed) and from the cache print the same. */
describe("commands with a cached config", () => {
  let t: TestHome;
  let config: string;
  let cacheFile: string;
  before(async () => {
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "a/b"], { stdin: "value-abcdefgh" })).code, 0);
    config = join(t.home, "keyward.yaml");
    cacheFile = join(t.env.KEYWARD_HOME as string, CONFIG_CACHE_FILE);
  });
  after(() => t.cleanup());

  const twice = async (argv: string[]) => {
    rmSync(cacheFile, { force: true });
    const missed = await t.run(argv);
    const cached = existsSync(cacheFile);
    const hit = await t.run(argv);
    return { missed, hit, cached };
  };

  it("secret ls, secret get and the access log", async () => {
    writeFileSync(config, "version: 1\nsecrets:\n  a/b: { sensitivity: high, scope: [repo] }\n");
    chmodSync(config, 0o600);
    for (const argv of [["secret", "ls", "--json"], ["secret", "get", "a/b"], ["status"]]) {
      const { missed, hit, cached } = await twice(argv);
      assert.ok(cached, argv.join(" "));
      assert.deepEqual(hit, missed);
      assert.equal(missed.code, 0, missed.stderr);
    }
    const log = JSON.parse((await t.run(["log", "--json"])).stdout) as { action: string }[];
    assert.deepEqual(
      log.slice(-2).map((e) => e.action),
      ["read", "read"],
    );
  });

  it("warns about a config that others can change, from the cache too", async () => {
    writeFileSync(config, "version: 1\nsecrets:\n  a/b: {}\n");
    chmodSync(config, 0o666);
    const { missed, hit } = await twice(["secret", "ls"]);
    assert.match(missed.stderr, /can be changed by group or others/);
    assert.deepEqual(hit, missed);
  });

  it("fails on a bad config every time, with its place in the file", async () => {
    writeFileSync(config, "version: 1\nsecrets:\n  a/b: { sensitivity: top }\n");
    chmodSync(config, 0o600);
    const { missed, hit, cached } = await twice(["revoke", "a/b", "--reason", "x"]);
    assert.equal(cached, false);
    assert.equal(missed.code, 2);
    assert.match(missed.stderr, /keyward\.yaml:3:\d+: secrets\.a\/b\.sensitivity/);
    assert.deepEqual(hit, missed);
  });
});
