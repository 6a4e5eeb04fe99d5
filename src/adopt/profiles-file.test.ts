import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import { loadConfig } from "../config/load.js";
import { isKeywardError } from "../core/errors.js";
import { ProfilesFile } from "./profiles-file.js";

describe("ProfilesFile", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "keyward-profiles-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("adds profiles to keyward.yaml and keeps its comments and order", () => {
    const path = join(dir, "keyward.yaml");
    const before = [
      "# keyward config for ada's laptop",
      "version: 1",
      "secrets:",
      "  # the org-wide one",
      "  github/prod-token:",
      "    provider: github # issued by the org",
      "profiles:",
      "  github:",
      "    command: docker # hand-written",
      "",
    ].join("\n");
    writeFileSync(path, before);
    const file = ProfilesFile.open(path);
    file.upsert("cursor-github", {
      command: "npx",
      args: ["-y", "@modelcontextprotocol/server-github"],
      env: { GITHUB_PERSONAL_ACCESS_TOKEN: "cursor/github/GITHUB_PERSONAL_ACCESS_TOKEN" },
      passEnv: ["GITHUB_TOOLSETS"],
    });
    file.upsert("windsurf-github", {
      url: "https://api.githubcopilot.com/mcp/",
      headers: { Authorization: "Bearer {{secret:windsurf/github/Authorization}}" },
    });
    file.save();
    const after = readFileSync(path, "utf8");
    assert.ok(after.startsWith(before.trimEnd()), after);
    assert.match(after, /args: \[ -y, "@modelcontextprotocol\/server-github" \]/);
    const loaded = loadConfig(path);
    assert.equal(loaded.profile("cursor-github").command, "npx");
    assert.equal(loaded.profile("windsurf-github").url, "https://api.githubcopilot.com/mcp/");
  });

  it("starts a new file with version 1, and replaces a profile of the same name", () => {
    const path = join(dir, "keyward.yaml");
    const file = ProfilesFile.open(path);
    file.upsert("p", { command: "a" });
    file.upsert("p", { command: "b" });
    file.save();
    assert.equal(readFileSync(path, "utf8"), "version: 1\nprofiles:\n  p:\n    command: b\n");
  });

  it("writes keyward.json back as JSON", () => {
    const path = join(dir, "keyward.json");
    writeFileSync(path, '{ "version": 1 }');
    const file = ProfilesFile.open(path);
    file.upsert("p", { command: "a" });
    file.save();
    assert.deepEqual(JSON.parse(readFileSync(path, "utf8")), {
      version: 1,
      profiles: { p: { command: "a" } },
    });
  });

  it("refuses to write a profile the schema would reject", () => {
    const path = join(dir, "keyward.yaml");
    const file = ProfilesFile.open(path);
    file.upsert("p", { command: "a", env: { X: "../escape" } });
    assert.throws(
      () => file.save(),
      (e: unknown) => isKeywardError(e) && e.code === "config_invalid",
    );
    assert.throws(() => readFileSync(path));
  });
});
