import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { findConfigPath } from "./find.js";

const root = mkdtempSync(join(tmpdir(), "keyward-config-find-"));
after(() => rmSync(root, { recursive: true, force: true }));

describe("findConfigPath", () => {
  const setup = (files: string[]) => {
    const dir = mkdtempSync(join(root, "find-"));
    const cwd = join(dir, "project");
    const home = join(dir, "home");
    mkdirSync(cwd, { recursive: true });
    mkdirSync(home, { recursive: true });
    for (const f of files) writeFileSync(join(dir, f), "version: 1\n");
    return { cwd, home };
  };

  it("prefers --config, then KEYWARD_CONFIG, then the current folder, then the home folder", () => {
    const { cwd, home } = setup(["project/keyward.yaml", "home/config.yaml"]);
    assert.equal(
      findConfigPath({ explicit: "other.yaml", env: { KEYWARD_CONFIG: "/env.yaml" }, cwd, home }),
      join(cwd, "other.yaml"),
    );
    assert.equal(
      findConfigPath({ env: { KEYWARD_CONFIG: "/etc/keyward.yaml" }, cwd, home }),
      "/etc/keyward.yaml",
    );
    assert.equal(
      findConfigPath({ env: { KEYWARD_CONFIG: "" }, cwd, home }),
      join(cwd, "keyward.yaml"),
    );
    assert.equal(findConfigPath({ env: {}, cwd: home, home }), join(home, "config.yaml"));
  });

  it("finds keyward.yml and keyward.json in the current folder", () => {
    for (const name of ["keyward.yml", "keyward.json"]) {
      const { cwd, home } = setup([`project/${name}`, "home/config.yaml"]);
      assert.equal(findConfigPath({ env: {}, cwd, home }), join(cwd, name));
    }
  });

  it("falls back to the home folder, then to nothing", () => {
    const withHome = setup(["home/config.yaml"]);
    assert.equal(findConfigPath({ env: {}, ...withHome }), join(withHome.home, "config.yaml"));
    assert.equal(findConfigPath({ env: {}, ...setup([]) }), undefined);
  });

  it("returns an explicit path even when it does not exist, so loading reports it", () => {
    const { cwd, home } = setup(["project/keyward.yaml"]);
    assert.equal(
      findConfigPath({ explicit: "missing.yaml", env: {}, cwd, home }),
      join(cwd, "missing.yaml"),
    );
  });

  it("refuses to guess between two config files in one folder", () => {
    const { cwd, home } = setup(["project/keyward.yaml", "project/keyward.json"]);
    assert.throws(
      () => findConfigPath({ env: {}, cwd, home }),
      (e) =>
        isKeywardError(e) &&
        e.code === "config_invalid" &&
        e.message.includes("keyward.yaml, keyward.json") &&
        (e.fix ?? "").includes("--config"),
    );
  });
});
