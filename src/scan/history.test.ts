import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { BASE62 } from "../detect/checksum.js";
import { withClassicChecksum } from "../detect/index.js";
import { git } from "../testing/git.js";
import { diffHeaderPath, requireCommit, scanHistory } from "./history.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-history-"));
  temps.push(dir);
  return dir;
}

function repo(): string {
  const root = tempDir();
  git(root, "init", "-q", "-b", "main");
  return root;
}

function write(root: string, path: string, content: string): void {
  const full = join(root, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, content);
}

function commit(root: string, message: string): string {
  git(root, "add", "-A");
  git(root, "commit", "-q", "--allow-empty", "-m", message);
  return git(root, "rev-parse", "HEAD");
}

/** A checksum-valid classic GitHub token, made at run time so none is ever stored. */
function githubToken(): string {
  const body = Array.from(randomBytes(30), (b) => BASE62[b % 62]).join("");
  return withClassicChecksum(`${"gh"}p_`, body);
}

describe("scanHistory since a revision", () => {
  test("reads only the commits after it (a pull request's), whatever branch it is on", async () => {
    const root = repo();
    const before = githubToken();
    const after = githubToken();
    const elsewhere = githubToken();
    write(root, "old.ts", `export const t = "${before}";\n`);
    commit(root, "an old secret");
    write(root, "old.ts", "export const t = process.env.T;\n");
    const base = commit(root, "removed");
    git(root, "checkout", "-q", "-b", "feature");
    write(root, "new.ts", `export const t = "${after}";\n`);
    const added = commit(root, "a new secret");
    write(root, "new.ts", "export const t = process.env.T;\n");
    commit(root, "removed too");
    git(root, "checkout", "-q", "-b", "other", base);
    write(root, "other.ts", `export const t = "${elsewhere}";\n`);
    commit(root, "on another branch");
    git(root, "checkout", "-q", "feature");

    const all = await scanHistory(root);
    assert.equal(all.findings.length, 3, "every ref by default");
    const since = await scanHistory(root, { since: base });
    assert.deepEqual(
      since.findings.map((f) => [f.location.path, f.location.commit]),
      [["new.ts", added]],
    );
    assert.equal(since.commits, 2);
    assert.equal((await scanHistory(root, { since: "main" })).findings.length, 1);
  });

  test("a name that is not a commit, or that looks like an option, is a usage error", async () => {
    const root = repo();
    write(root, "a.txt", "a\n");
    commit(root, "init");
    await requireCommit(root, "main");
    for (const name of ["no-such-branch", "--output=/tmp/x", "HEAD~5"]) {
      await assert.rejects(
        requireCommit(root, name),
        (error) =>
          isKeywardError(error) && error.code === "usage" && /not a commit/.test(error.message),
        name,
      );
    }
  });
});

describe("scanHistory", () => {
  test("a secret added then deleted is found at the commit that added it, not present in the tree", async () => {
    const root = repo();
    const token = githubToken();
    write(root, "README.md", "# app\n");
    commit(root, "init");
    write(root, "src/config.ts", `// settings\n\nexport const token = "${token}";\n`);
    const added = commit(root, "add config");
    write(root, "src/config.ts", "// settings\n\nexport const token = process.env.GITHUB_TOKEN;\n");
    commit(root, "use env");

    const progress: number[] = [];
    const result = await scanHistory(root, { onProgress: (n) => progress.push(n) });
    assert.equal(result.commits, 3);
    assert.equal(progress.at(-1), 3);
    assert.equal(result.findings.length, 1);
    const [finding] = result.findings;
    assert.equal(finding?.ruleId, "secret/github-pat");
    assert.equal(finding?.severity, "critical");
    assert.deepEqual(
      { ...finding?.location, commitDate: undefined },
      {
        path: "src/config.ts",
        line: 3,
        column: 23,
        endLine: 3,
        endColumn: 23 + token.length,
        commit: added,
        commitDate: undefined,
        presentInTree: false,
      },
    );
    assert.match(finding?.location.commitDate ?? "", /^\d{4}-\d{2}-\d{2}T/);
    assert.match(finding?.message ?? "", /gone from the working tree/);
    assert.ok(!JSON.stringify(result).includes(token));
  });

  test("a secret still in the tree is reported as present, dated by its first commit", async () => {
    const root = repo();
    const token = githubToken();
    write(root, "app.env", `GITHUB_TOKEN=${token}\n`);
    const first = commit(root, "add");
    write(root, "app.env", `# tokens\nGITHUB_TOKEN=${token}\nOTHER=1\n`);
    commit(root, "edit around it");
    const { findings } = await scanHistory(root);
    assert.equal(findings.length, 1);
    assert.equal(findings[0]?.location.commit, first);
    assert.equal(findings[0]?.location.presentInTree, true);
  });

  test("the removed lines of a deleted file are scanned: content added by a merge shows only there", async () => {
    // git log -p shows no diff for merge commits, so a file a merge introduced and a later
    // commit deleted is visible only as the deletion's removed lines.
    const root = repo();
    write(root, "base.txt", "x\n");
    commit(root, "base");
    git(root, "checkout", "-q", "-b", "side");
    write(root, "side.txt", "s\n");
    commit(root, "side work");
    git(root, "checkout", "-q", "main");
    write(root, "main.txt", "m\n");
    commit(root, "main work");
    git(root, "merge", "-q", "--no-ff", "--no-commit", "side");
    write(root, "creds.yaml", "user: app\npassword: hunter2hunter2\n");
    commit(root, "merge side");
    git(root, "rm", "-q", "creds.yaml");
    const deletion = commit(root, "delete creds");
    const { findings } = await scanHistory(root);
    assert.deepEqual(
      findings.map((f) => [
        f.ruleId,
        f.location.path,
        f.location.line,
        f.location.commit,
        f.location.presentInTree,
      ]),
      [["secret/generic-password", "creds.yaml", 2, deletion, false]],
    );
  });

  test("inline ignores on the added line suppress the finding and are counted", async () => {
    const root = repo();
    write(root, "fixture.ts", `const t = "${githubToken()}"; // keyward:ignore\n`);
    commit(root, "fixture");
    const result = await scanHistory(root);
    assert.deepEqual(result.findings, []);
    assert.equal(result.suppressed.length, 1);
  });

  test("paths with spaces and quotes, and a subdirectory root, come out relative to the root", async () => {
    const root = repo();
    write(root, "svc/my config.env", `API_TOKEN=${githubToken()}\n`);
    write(root, 'svc/q"uote.env', `API_TOKEN=${githubToken()}\n`);
    write(root, "other/x.env", `API_TOKEN=${githubToken()}\n`);
    commit(root, "add");
    const { findings } = await scanHistory(join(root, "svc"));
    assert.deepEqual(findings.map((f) => f.location.path).sort(), ["my config.env", 'q"uote.env']);
  });

  test("an empty repository has no commits and no findings", async () => {
    const result = await scanHistory(repo());
    assert.deepEqual(result, { findings: [], commits: 0, suppressed: [] });
  });

  test("a directory outside git is a usage error that says so", async () => {
    await assert.rejects(scanHistory(tempDir()), (error) => {
      assert.ok(isKeywardError(error));
      assert.equal(error.code, "usage");
      assert.match(error.message, /not inside a git work tree/);
      return true;
    });
  });
});

describe("diffHeaderPath", () => {
  test("strips prefixes, the patch-compat tab and C quoting", () => {
    assert.equal(diffHeaderPath("b/src/a.ts"), "src/a.ts");
    assert.equal(diffHeaderPath("b/my file.txt\t"), "my file.txt");
    assert.equal(diffHeaderPath('"b/q\\"uote.txt"'), 'q"uote.txt');
    assert.equal(diffHeaderPath('"b/caf\\303\\251.txt"'), "café.txt");
    assert.equal(diffHeaderPath("/dev/null"), undefined);
  });
});
