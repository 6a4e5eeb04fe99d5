import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, test } from "node:test";
import { BASE62 } from "../detect/checksum.js";
import { withClassicChecksum } from "../detect/index.js";
import { git } from "../testing/git.js";
import { audit } from "./audit.js";
import { IGNORE_FILE, loadExcludes } from "./exclude.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tree(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "keyward-exclude-"));
  temps.push(root);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return root;
}

/** A checksum-valid classic GitHub token, made at run time so none is ever stored. */
function githubToken(): string {
  const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
  return withClassicChecksum(`${"gh"}p_`, body);
}

describe("loadExcludes", () => {
  test(".keywardignore and patterns in .gitignore syntax: directories, globs, negation, comments", () => {
    const root = tree({
      [IGNORE_FILE]: "# vendored code\nvendor/\n*.fixture.ts\n!vendor/keep.ts\n\n/top.txt\n",
    });
    const excluded = loadExcludes(root, ["docs/**/*.md"]);
    assert.ok(excluded);
    for (const path of ["vendor/a.ts", "src/x.fixture.ts", "top.txt", "docs/a/b.md"])
      assert.equal(excluded(path), true, path);
    // `!vendor/keep.ts` cannot re-include a file inside an excluded directory (git's rule).
    assert.equal(excluded("vendor/keep.ts"), true);
    for (const path of ["src/a.ts", "sub/top.txt", "docs.md", ""])
      assert.equal(excluded(path), false, path);
  });

  test("nothing to exclude: no filter; a root that is a file reads only the patterns", () => {
    assert.equal(loadExcludes(tree({ "a.ts": "" })), undefined);
    assert.equal(loadExcludes(tree({ [IGNORE_FILE]: "# only a comment\n\n" })), undefined);
    const root = tree({ "a.ts": "" });
    const single = loadExcludes(join(root, "a.ts"), ["*.ts"]);
    assert.equal(single?.(""), false, "the audited file itself is never excluded");
  });
});

describe("audit with excludes", () => {
  test("excluded files are not read or reported, and the report counts them", async () => {
    const token = () => `export const t = "${githubToken()}";\n`;
    const root = tree({
      [IGNORE_FILE]: "vendor/\n*.fixture.ts\n",
      "src/real.ts": token(),
      "vendor/lib.ts": token(),
      "test/a.fixture.ts": token(),
      "test/b.fixture.ts": token(),
    });
    const report = await audit({ root, workers: 1 });
    assert.deepEqual(
      report.findings.map((f) => f.location.path),
      ["src/real.ts"],
    );
    assert.equal(report.stats.excluded, 3);
    assert.equal(report.stats.files, 2, "src/real.ts and .keywardignore");

    const none = await audit({ root, workers: 1, exclude: ["src/"] });
    assert.deepEqual(none.findings, []);
    assert.equal(none.stats.excluded, 4);
  });

  test("history leaves out excluded paths too", async () => {
    const root = tree({ [IGNORE_FILE]: "fixtures/\n" });
    git(root, "init", "-q");
    writeFileSync(join(root, "kept.ts"), `export const t = "${githubToken()}";\n`);
    mkdirSync(join(root, "fixtures"));
    writeFileSync(join(root, "fixtures", "fake.ts"), `export const t = "${githubToken()}";\n`);
    git(root, "add", ".");
    git(root, "commit", "-qm", "both");
    git(root, "rm", "-q", "kept.ts", "fixtures/fake.ts");
    git(root, "commit", "-qm", "gone");
    const report = await audit({ root, history: true, workers: 1 });
    assert.deepEqual(
      report.findings.filter((f) => f.kind === "secret").map((f) => f.location.path),
      ["kept.ts"],
    );
  });
});
