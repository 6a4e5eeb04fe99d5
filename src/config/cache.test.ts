import assert from "node:assert/strict";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { exampleChars } from "../detect/rules/examples.js";
import { CONFIG_CACHE_FILE, ConfigCache } from "./cache.js";
import { loadConfig, validateConfig } from "./load.js";
import type { LoadedConfig } from "./loaded.js";

const root = mkdtempSync(join(tmpdir(), "keyward-config-cache-"));
after(() => rmSync(root, { recursive: true, force: true }));
const example = readFileSync(
  fileURLToPath(new URL("../../../src/config/example.keyward.yaml", import.meta.url)),
  "utf8",
);

const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const slackWebhook = `https://hooks.slack.com/services/T${exampleChars("cache/t", 10, UPPER)}/B${exampleChars("cache/b", 10, UPPER)}/${exampleChars("cache/secret", 24)}`;

let counter = 0;
/** A private home and a config file beside it. */
function setup(text: string): { home: string; path: string } {
  const dir = join(root, `case-${++counter}`);
  const home = join(dir, "kw");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const path = join(dir, "keyward.yaml");
  writeFileSync(path, text);
  chmodSync(path, 0o644);
  return { home, path };
}

/** As loadOptionalConfig (src/secrets/session.ts) does: the cache, else validate and keep. */
async function load(home: string, path: string): Promise<{ config: LoadedConfig; hit: boolean }> {
  const cache = new ConfigCache(home, path);
  const hit = cache.hit();
  if (hit !== undefined) return { config: hit, hit: true };
  const validated = validateConfig(path, cache.text as string);
  await cache.save(validated.cacheable);
  return { config: validated.loaded, hit: false };
}

/** Everything a command can see of a loaded config. */
function seen(c: LoadedConfig) {
  return {
    path: c.path,
    config: c.config,
    secrets: [...c.secrets],
    warnings: c.warnings,
    store: c.storeOptions(undefined),
    profile: c.profile("github"),
    missing: (() => {
      try {
        c.profile("githb");
      } catch (e) {
        return String(e);
      }
    })(),
  };
}

describe("the config cache", () => {
  it("gives what validating the file gives, warnings about its mode included", async () => {
    const { home, path } = setup(example);
    const first = await load(home, path);
    assert.equal(first.hit, false);
    const second = await load(home, path);
    assert.equal(second.hit, true);
    assert.deepStrictEqual(seen(second.config), seen(first.config));
    assert.deepStrictEqual(seen(second.config), seen(loadConfig(path)));
    assert.equal(readFileSync(join(home, CONFIG_CACHE_FILE)).length > 0, true);
    chmodSync(path, 0o666);
    const open = await load(home, path);
    assert.equal(open.hit, true);
    assert.equal(open.config.warnings.length, 1);
    assert.deepStrictEqual(seen(open.config), seen(loadConfig(path)));
  });

  it("misses when the text changes, and never keeps an invalid file", async () => {
    const { home, path } = setup(example);
    await load(home, path);
    writeFileSync(path, example.replace("sensitivity: high", "sensitivity: standard"));
    const changed = await load(home, path);
    assert.equal(changed.hit, false);
    assert.deepStrictEqual(seen(changed.config), seen(loadConfig(path)));
    writeFileSync(path, `${example}\nbogus: 1\n`);
    const cache = new ConfigCache(home, path);
    assert.equal(cache.hit(), undefined);
    assert.throws(() => validateConfig(path, cache.text as string), /bogus/);
    assert.equal(new ConfigCache(home, path).hit(), undefined);
  });

  it("keeps one entry per config file, so switching between files keeps hitting", async () => {
    const { home, path } = setup(example);
    const other = join(home, "..", "other.yaml");
    writeFileSync(other, `${example}\n# another project\n`);
    assert.equal((await load(home, path)).hit, false);
    assert.equal((await load(home, other)).hit, false);
    for (const file of [path, other, path, other]) {
      const again = await load(home, file);
      assert.equal(again.hit, true, file);
      assert.deepStrictEqual(seen(again.config), seen(loadConfig(file)));
    }
    // An edit replaces that file's entry and leaves the other's.
    writeFileSync(path, example.replace("sensitivity: high", "sensitivity: standard"));
    assert.equal((await load(home, path)).hit, false);
    assert.equal((await load(home, path)).hit, true);
    assert.equal((await load(home, other)).hit, true);
    const kept = JSON.parse(readFileSync(join(home, CONFIG_CACHE_FILE), "utf8")) as unknown[];
    assert.equal(kept.length, 2, "one entry per file");
  });

  it("keeps at most eight files, the most recently validated", async () => {
    const { home, path } = setup(example);
    const files = [path];
    for (let i = 1; i <= 8; i++) {
      const file = join(home, "..", `more-${i}.yaml`);
      writeFileSync(file, example);
      files.push(file);
    }
    for (const file of files) await load(home, file);
    assert.equal((await load(home, path)).hit, false, "the oldest of nine fell out");
    assert.equal((await load(home, files[8] as string)).hit, true);
  });

  it("keeps neither a config with warnings, nor one with another store, nor one holding a token", async () => {
    for (const text of [
      "version: 1\nprofiles:\n  p: { command: node, env: { K: not/declared } }\n",
      "version: 1\nstore: { backend: vault, mount: secret }\n",
      // A token no config warning looks for: a Slack webhook written into a notification url.
      `version: 1\nnotifications:\n  - { events: [revocation], url: "${slackWebhook}" }\n`,
    ]) {
      const { home, path } = setup(text);
      const cache = new ConfigCache(home, path);
      await cache.save(validateConfig(path, cache.text as string).cacheable);
      assert.equal(existsSync(join(home, CONFIG_CACHE_FILE)), false, text);
    }
  });

  it("ignores a cache file that others can read or write", async () => {
    const { home, path } = setup(example);
    await load(home, path);
    chmodSync(join(home, CONFIG_CACHE_FILE), 0o644);
    assert.equal((await load(home, path)).hit, false);
  });

  it("writes nothing when the home does not exist yet", async () => {
    const { home, path } = setup(example);
    rmSync(home, { recursive: true });
    assert.equal((await load(home, path)).hit, false);
    assert.equal(existsSync(home), false);
  });
});
