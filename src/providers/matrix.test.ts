import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { githubInfo } from "./github/index.js";
import { capabilityMatrix, matrixJson, renderMatrixText } from "./matrix.js";
import { providers } from "./registry.js";
import type { ProviderInfo } from "./types.js";

const sample: ProviderInfo = {
  id: "acme",
  title: "Acme",
  capabilities: {
    "api-key": { identify: { level: "yes" }, rotate: { level: "no", note: "UI only" } },
  },
  manualRotation: ["Create a key in the Acme console."],
};

describe("capability matrix", () => {
  it("fills every capability, 'no' where the provider is silent", () => {
    const [acme] = capabilityMatrix([sample]);
    assert.deepEqual(acme!.kinds[0]!.capabilities.mint, { level: "no" });
    assert.deepEqual(acme!.kinds[0]!.capabilities.identify, { level: "yes" });
  });

  it("prints one row per provider and key kind, with aligned columns", () => {
    const text = renderMatrixText(capabilityMatrix([githubInfo]));
    const lines = text.split("\n");
    assert.match(
      lines[0]!,
      /^PROVIDER\s+KEY KIND\s+IDENTIFY\s+SCOPE\s+EXPIRY\s+VERIFY\s+MINT\s+ROTATE\s+REVOKE$/,
    );
    assert.match(text, /^github\s+classic-pat\s+yes\s+yes\s+yes\s+yes\s+no\s+no\s+yes$/m);
    assert.match(text, /^github\s+fine-grained-pat\s+yes\s+partial\s+yes\s+yes\s+no\s+no\s+yes$/m);
    assert.match(text, /^github\s+installation\s+yes\s+partial\s+yes\s+yes\s+yes\s+yes\s+yes$/m);
    const column = lines[0]!.indexOf("ROTATE");
    for (const line of lines.slice(1, 7)) assert.match(line.slice(column), /^(yes|no|partial)\s/);
  });

  it("with notes, prints each caveat and the manual rotation steps", () => {
    const text = renderMatrixText(capabilityMatrix([sample]), { notes: true });
    assert.match(text, /rotate: no \(UI only\)/);
    assert.match(text, /1\. Create a key in the Acme console\./);
  });

  it("has a JSON form holding the same facts", () => {
    const json = matrixJson(capabilityMatrix(providers.map((p) => p.info)));
    const github = json.providers.find((p) => p.id === "github")!;
    assert.equal(
      github.kinds.find((k) => k.kind === "installation")!.capabilities.mint.level,
      "yes",
    );
    assert.ok(github.manualRotation.length > 0);
    assert.deepEqual(JSON.parse(JSON.stringify(json)), json);
  });
});
