import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { KeywordSearch } from "../../detect/index.js";
import { docsTokenScopeAnalyzer } from "./config-docs.js";
import { configAnalyzers } from "./config-index.js";

function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    assert.notEqual(parent, dir, "package.json not found above the test file");
    dir = parent;
  }
  return dir;
}

const analyze = (text: string) => docsTokenScopeAnalyzer.analyze({ path: "README.md", text });

describe("docsTokenScopeAnalyzer", () => {
  it("does not flag the README that documents it, nor the other config analyzers on it", () => {
    const path = "src/scan/analyzers/README-config.md";
    const text = readFileSync(join(repoRoot(), path), "utf8");
    const findings = configAnalyzers
      .filter((a) => a.applies(path))
      .flatMap((a) => a.analyze({ path, text }));
    assert.deepEqual(findings, []);
  });

  it("reads scopes from a prefilled token form, URL-encoded commas included", () => {
    const [finding] = analyze(
      "Open https://github.com/settings/tokens/new?scopes=repo%2Cadmin:org",
    );
    assert.equal(finding?.severity, "medium");
    assert.match(finding?.message ?? "", /repo, admin:org/);
  });

  it("flags the repo scope only with a token-scope context, and respects negation", () => {
    assert.equal(analyze("Grant the token the `repo` scope.").length, 1);
    assert.equal(analyze("Clone the `repo` first.").length, 0);
    assert.equal(analyze("Your PAT must not have `delete_repo`.").length, 0);
    assert.equal(
      analyze("Use a classic PAT. Avoid `admin:org`; `delete_repo` is required.").length,
      1,
    );
  });

  it("reads a document line by line only when it names a token, a scope or a PAT", () => {
    const withHits = (text: string) =>
      docsTokenScopeAnalyzer.analyze(
        { path: "README.md", text },
        new KeywordSearch(docsTokenScopeAnalyzer.keywords ?? []).hits(text),
      ).length;
    assert.equal(withHits("Create a PAT with `repo` and `admin:org`."), 1);
    assert.equal(withHits("Open https://github.com/settings/tokens/new?scopes=repo"), 1);
    // `pat` inside other words (path, compatible) opens nothing.
    assert.equal(withHits("Set the path; you must have `repo` and `admin:org`, compatible."), 0);
  });

  it("names the least-privilege alternative in the fix", () => {
    const [finding] = analyze("Create a personal access token with `admin:org`.");
    assert.match(finding?.fix ?? "", /fine-grained/);
    assert.match(finding?.fix ?? "", /read:org/);
  });
});
