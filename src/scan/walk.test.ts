import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import type { Skip } from "./types.js";
import { isMinified, readSource, type WalkEntry, type WalkRecord, walk } from "./walk.js";

const temps: string[] = [];
after(() => {
  for (const dir of temps) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "keyward-walk-"));
  temps.push(dir);
  return dir;
}

function write(root: string, path: string, content: string | Buffer): void {
  const full = join(root, path);
  mkdirSync(join(full, ".."), { recursive: true });
  writeFileSync(full, content);
}

function git(root: string, ...args: string[]): void {
  execFileSync("git", args, { cwd: root, stdio: "ignore" });
}

async function collect(root: string): Promise<{ files: string[]; skips: Skip[] }> {
  const entries: WalkEntry[] = [];
  for await (const batch of walk(root)) entries.push(...batch);
  return {
    files: entries.flatMap((e) => (e.kind === "file" ? [e.path] : [])).sort(),
    skips: entries.flatMap((e) => (e.kind === "skip" ? [e.skip] : [])),
  };
}

describe("walk: file system", () => {
  test("lists every file with forward slashes, skipping only .git/", async () => {
    const root = tempDir();
    write(root, "a.txt", "a");
    write(root, "src/b.ts", "b");
    write(root, "node_modules/pkg/index.js", "c");
    write(root, ".git/config", "[core]");
    const { files, skips } = await collect(root);
    assert.deepEqual(files, ["a.txt", "node_modules/pkg/index.js", "src/b.ts"]);
    assert.deepEqual(skips, []);
  });

  test("a symlink loop, a dangling link and a link leaving the root are skipped with a note", async () => {
    const root = tempDir();
    const outside = tempDir();
    write(outside, "secret.txt", "x");
    write(root, "real.txt", "r");
    symlinkSync("loop", join(root, "loop"));
    symlinkSync("nowhere", join(root, "dangling"));
    symlinkSync(join(outside, "secret.txt"), join(root, "outside"));
    symlinkSync("real.txt", join(root, "inside"));
    symlinkSync(".", join(root, "self-dir"));
    const { files, skips } = await collect(root);
    assert.deepEqual(files, ["real.txt"]);
    const byPath = Object.fromEntries(skips.map((s) => [s.path, s.code]));
    assert.deepEqual(byPath, {
      dangling: "broken-symlink",
      loop: "symlink-loop",
      outside: "symlink-outside",
    });
  });

  test("a FIFO is not read (it would block) and is reported", async (t) => {
    const root = tempDir();
    if (spawnSync("mkfifo", [join(root, "pipe")]).status !== 0)
      return t.skip("mkfifo not available");
    const { files, skips } = await collect(root);
    assert.deepEqual(files, []);
    assert.deepEqual(
      skips.map((s) => [s.path, s.code]),
      [["pipe", "not-regular"]],
    );
  });

  test("an unreadable directory is skipped with a note", async (t) => {
    if (process.getuid?.() === 0) return t.skip("root reads everything");
    const root = tempDir();
    write(root, "locked/a.txt", "a");
    chmodSync(join(root, "locked"), 0o000);
    try {
      const { skips } = await collect(root);
      assert.deepEqual(
        skips.map((s) => [s.path, s.code]),
        [["locked", "unreadable"]],
      );
    } finally {
      chmodSync(join(root, "locked"), 0o700);
    }
  });
});

describe("walk: git work tree", () => {
  test("honours .gitignore and lists untracked files", async () => {
    const root = tempDir();
    git(root, "init", "-q");
    write(root, ".gitignore", "dist/\n*.log\n");
    write(root, "src/index.ts", "x");
    write(root, "dist/bundle.js", "x");
    write(root, "debug.log", "x");
    git(root, "add", "src/index.ts");
    write(root, "untracked.md", "x");
    const { files } = await collect(root);
    assert.deepEqual(files, [".gitignore", "src/index.ts", "untracked.md"]);
  });

  test("says how it listed: git in a work tree, the file system elsewhere (with listings)", async () => {
    const root = tempDir();
    git(root, "init", "-q");
    write(root, ".gitignore", "vendor/\n");
    write(root, "src/index.ts", "x");
    write(root, "vendor/lib/util.js", "x");
    const inGit: WalkRecord = { listings: new Map() };
    for await (const _ of walk(root, inGit));
    assert.equal(inGit.gitListing, true);
    assert.equal(inGit.listings.size, 0);
    const outside: WalkRecord = { listings: new Map() };
    for await (const _ of walk(join(root, "vendor"), outside));
    assert.equal(outside.gitListing, false);
    assert.deepEqual([...(outside.listings.get("")?.dirs ?? [])], ["lib"]);
    assert.deepEqual([...(outside.listings.get("lib")?.files ?? [])], ["util.js"]);
  });

  test("an ignored directory that is itself the target is walked in full", async () => {
    const root = tempDir();
    git(root, "init", "-q");
    write(root, ".gitignore", "node_modules/\n");
    write(root, "node_modules/server/index.js", "x");
    write(root, "node_modules/server/lib/util.js", "x");
    const { files } = await collect(join(root, "node_modules", "server"));
    assert.deepEqual(files, ["index.js", "lib/util.js"]);
  });

  test("a tracked file deleted from the working tree is reported, not read", async () => {
    const root = tempDir();
    git(root, "init", "-q");
    write(root, "gone.txt", "x");
    git(root, "add", "gone.txt");
    rmSync(join(root, "gone.txt"));
    const { skips } = await collect(root);
    assert.deepEqual(
      skips.map((s) => [s.path, s.code]),
      [["gone.txt", "missing"]],
    );
  });
});

describe("readSource", () => {
  test("a NUL byte in the first 8 KiB makes a file binary", async () => {
    const root = tempDir();
    write(root, "image.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]));
    const result = await readSource(root, "image.png");
    assert.equal(result.kind, "skip");
    assert.equal(result.kind === "skip" && result.skip.code, "binary");
  });

  test("files over the size limit are skipped with the limit in the note", async () => {
    const root = tempDir();
    write(root, "big.txt", "x".repeat(2048));
    const result = await readSource(root, "big.txt", 1024);
    assert.equal(result.kind, "skip");
    if (result.kind === "skip") {
      assert.equal(result.skip.code, "too-large");
      assert.match(result.skip.reason, /2048 bytes, over the 1024 bytes size limit/);
    }
  });

  test("files read one after another keep their own text (the read buffer is reused)", async () => {
    const root = tempDir();
    const large = `${"é".repeat(70_000)}\nend`;
    write(root, "large.txt", large);
    write(root, "small.txt", "short\n");
    write(root, "ascii.txt", "a".repeat(100_000));
    const texts: string[] = [];
    for (const path of ["large.txt", "small.txt", "ascii.txt", "small.txt", "large.txt"]) {
      const result = await readSource(root, path);
      assert.equal(result.kind, "file", path);
      if (result.kind === "file") texts.push(result.file.text);
    }
    assert.deepEqual(texts, [large, "short\n", "a".repeat(100_000), "short\n", large]);
  });

  test("invalid UTF-8 decodes with replacement characters instead of failing", async () => {
    const root = tempDir();
    write(root, "latin1.txt", Buffer.from([0x70, 0x61, 0x73, 0x73, 0xe9, 0xff, 0x0a]));
    const result = await readSource(root, "latin1.txt");
    assert.equal(result.kind, "file");
    if (result.kind === "file") assert.equal(result.file.text, "pass\ufffd\ufffd\n");
  });

  test("a UTF-16 file with a byte-order mark is decoded, not taken for binary", async () => {
    const root = tempDir();
    write(
      root,
      "win.ini",
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("key=value\r\n", "utf16le")]),
    );
    const result = await readSource(root, "win.ini");
    assert.equal(result.kind === "file" && result.file.text, "key=value\r\n");
  });

  test("a file whose read fails is skipped with the error code, not thrown", async (t) => {
    // /proc/self/mem is a regular file that fails every read at offset 0 (EIO), even for root.
    if (process.platform !== "linux") return t.skip("needs Linux /proc");
    const result = await readSource("/proc/self", "mem");
    assert.deepEqual(result, {
      kind: "skip",
      skip: { path: "mem", code: "unreadable", reason: "cannot be read (EIO)" },
    });
  });

  test("a single-file root is read under its own name", async () => {
    const root = tempDir();
    write(root, "app.env", "A=1\n");
    const entries: WalkEntry[] = [];
    for await (const batch of walk(join(root, "app.env"))) entries.push(...batch);
    assert.deepEqual(entries, [{ kind: "file", path: "" }]);
    const result = await readSource(join(root, "app.env"), "");
    assert.equal(result.kind === "file" && result.file.path, "app.env");
  });

  test("minified bundles are marked, ordinary files are not", async () => {
    const root = tempDir();
    write(root, "bundle.min.js", `${"var a=1;".repeat(1000)}\n`);
    write(root, "long-but-normal.md", `${"x".repeat(6000)}\n${"line\n".repeat(2000)}`);
    const bundle = await readSource(root, "bundle.min.js");
    assert.equal(bundle.kind === "file" && bundle.file.minified, true);
    assert.equal(isMinified(`${"x".repeat(6000)}\n${"line\n".repeat(2000)}`), false);
  });
});
