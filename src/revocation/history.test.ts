import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { git } from "../testing/git.js";
import { findValueInHistory } from "./history.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function repo(): string {
  const root = mkdtempSync(join(tmpdir(), "keyward-revoke-history-"));
  temps.push(root);
  git(root, "init", "-q", "-b", "main");
  return root;
}

function write(root: string, path: string, content: string): void {
  mkdirSync(join(root, path, ".."), { recursive: true });
  writeFileSync(join(root, path), content);
}

function commit(root: string, message: string): string {
  git(root, "add", "-A");
  git(root, "commit", "-q", "--allow-empty", "-m", message);
  return git(root, "rev-parse", "HEAD");
}

const leaked = () => `kwleak_${randomBytes(24).toString("base64url")}`;

describe("findValueInHistory: a leaked value in a real git repository", () => {
  it("finds a value committed and later deleted, at the commit that added it, history only", async () => {
    const root = repo();
    const value = leaked();
    write(root, "README.md", "# app\n");
    commit(root, "init");
    write(root, "config/.env", `LOG_LEVEL=debug\nAPI_KEY=${value}\n`);
    const added = commit(root, "add env");
    write(root, "src/app.ts", "export const x = 1;\n");
    commit(root, "unrelated");
    git(root, "rm", "-q", "config/.env");
    const deleted = commit(root, "remove env");

    const scan = await findValueInHistory(root, value);
    assert.equal(scan.error, undefined);
    assert.equal(scan.commits, 4);
    assert.equal(scan.sightings.length, 1);
    const s = scan.sightings[0]!;
    assert.equal(s.path, "config/.env");
    assert.equal(s.commit, added);
    assert.equal(s.line, 2);
    assert.deepEqual(s.forms, ["raw"]);
    assert.equal(s.presentInTree, false, "deleted since: history only");
    assert.equal(s.deletedIn?.commit, deleted);
    assert.ok(!JSON.stringify(scan).includes(value), "the result never holds the value");
  });

  it("finds its encodings, on other branches too, and says when it is still checked out", async () => {
    const root = repo();
    // With + and / so that its URL encoding differs from it.
    const value = `kwleak+/${randomBytes(24).toString("base64")}`;
    write(root, "a.txt", "nothing\n");
    commit(root, "init");
    write(root, "k8s/secret.yaml", `data:\n  token: ${Buffer.from(value).toString("base64")}\n`);
    write(root, "url.txt", `https://x.invalid/?k=${encodeURIComponent(value)}\n`);
    commit(root, "encoded");
    git(root, "checkout", "-q", "-b", "feature");
    write(root, "notes.json", `${JSON.stringify({ hex: Buffer.from(value).toString("hex") })}\n`);
    commit(root, "hex on a branch");
    git(root, "checkout", "-q", "main");

    const scan = await findValueInHistory(root, value);
    const byPath = Object.fromEntries(scan.sightings.map((s) => [s.path, s]));
    assert.deepEqual(byPath["k8s/secret.yaml"]?.forms, ["base64"]);
    assert.equal(byPath["k8s/secret.yaml"]?.presentInTree, true);
    assert.deepEqual(byPath["url.txt"]?.forms, ["url"]);
    assert.deepEqual(byPath["notes.json"]?.forms, ["hex"], "a commit only on another branch");
    assert.equal(byPath["notes.json"]?.presentInTree, false, "not in the checked-out branch");
    assert.equal(byPath["a.txt"], undefined);
  });

  it("reports a value too short to search, and a folder that is not a repository, without throwing", async () => {
    const short = await findValueInHistory(repo(), "abc");
    assert.equal(short.error?.code, "invalid_value");
    const plain = mkdtempSync(join(tmpdir(), "keyward-not-a-repo-"));
    temps.push(plain);
    const none = await findValueInHistory(plain, leaked());
    assert.equal(none.error?.code, "usage");
    assert.match(none.error?.message ?? "", /not inside a git work tree/);
  });
});
