import assert from "node:assert/strict";
import { randomInt } from "node:crypto";
import { test } from "node:test";
import { crc32 } from "node:zlib";
import {
  atlassianChecksum,
  awsAccountId,
  BASE62,
  classicChecksum,
  grafanaChecksum,
  toBase62,
  validateAtlassianToken,
  validateClassicToken,
  validateGrafanaToken,
  withClassicChecksum,
} from "./checksum.js";

function randomBase62(length: number): string {
  let out = "";
  for (let i = 0; i < length; i++) out += BASE62[randomInt(62)];
  return out;
}

/** A checksum-valid classic token, built at test time so none is ever stored. */
function randomClassicToken(prefix: string): string {
  return withClassicChecksum(prefix, randomBase62(30));
}

test("zlib.crc32 is CRC-32/IEEE (standard check value)", () => {
  assert.equal(crc32("123456789"), 0xcbf43926);
});

test("base62 uses 0-9A-Za-z, pads to width, and 6 digits hold any 32-bit value", () => {
  assert.equal(toBase62(0, 6), "000000");
  assert.equal(toBase62(61, 2), "0z");
  assert.equal(toBase62(0xffffffff, 6), "4gfFC3");
});

// Reference vectors (token-formats.md §1.1). Bodies and checksums are kept apart so no
// checksum-valid token is committed.
test("classic GitHub/npm checksum matches the published vectors", () => {
  assert.equal(crc32("zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ"), 0x2a95ee6d);
  assert.equal(classicChecksum("zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ"), "0mLq17");
  assert.equal(classicChecksum("a".repeat(30)), "1yLcDB");
  assert.equal(classicChecksum("0123456789abcdefghijABCDEFGHIJ"), "3mpbCX");
  assert.equal(
    validateClassicToken(withClassicChecksum("ghp_", "zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ")),
    "valid",
  );
  assert.equal(validateClassicToken(withClassicChecksum("npm_", "a".repeat(30))), "valid");
  assert.equal(validateClassicToken("ghp_zQWBuTSOoRi4A9spHcVY5ncnsDkxkJ0mLq18"), "invalid");
});

test("the prefix is not part of the classic checksum", () => {
  const body = randomBase62(30);
  assert.equal(
    withClassicChecksum("ghp_", body).slice(-6),
    withClassicChecksum("npm_", body).slice(-6),
  );
});

test("generated classic tokens validate, and any changed character breaks them", () => {
  for (let i = 0; i < 200; i++) {
    const token = randomClassicToken(
      ["ghp_", "gho_", "ghu_", "ghs_", "ghr_", "npm_"][i % 6] ?? "ghp_",
    );
    assert.equal(token.length, 40);
    assert.equal(validateClassicToken(token), "valid");
    // The first checksum digit of a 32-bit value is 0-4.
    assert.match(token[34] ?? "", /[0-4]/);
    const at = 4 + randomInt(36);
    const original = token[at] ?? "";
    const replacement = BASE62[(BASE62.indexOf(original) + 1 + randomInt(61)) % 62] ?? "";
    const broken = token.slice(0, at) + replacement + token.slice(at + 1);
    assert.equal(validateClassicToken(broken), "invalid");
  }
});

test("Grafana service-account checksum: CRC-32 of the first 37 chars, little-endian hex", () => {
  const head = "glsa_0123456789abcdefghijABCDEFGHIJkl";
  assert.equal(crc32(head), 0x44c01d18);
  assert.equal(grafanaChecksum(head), "181dc044");
  assert.equal(validateGrafanaToken(`${head}_181dc044`), "valid");
  assert.equal(validateGrafanaToken(`${head}_181DC044`), "valid");
  assert.equal(validateGrafanaToken(`${head}_441dc018`), "invalid");
});

test("Atlassian checksum: CRC-32 of everything before the last 8 hex chars, prefix included", () => {
  const head = "ATBB0123456789abcdefghijABCDEFGH";
  assert.equal(atlassianChecksum(head), "4F504185");
  assert.equal(validateAtlassianToken(`${head}4F504185`), "valid");
  assert.equal(validateAtlassianToken(`${head}4f504185`), "valid");
  assert.equal(validateAtlassianToken(`${head}4F504186`), "invalid");
  assert.equal(validateAtlassianToken(`${head}nothex!!`), "invalid");
});

test("Atlassian tokens are unescaped (\\=, %3D) before the checksum", () => {
  const head = `ATATT3${randomBase62(177)}=`;
  const token = head + atlassianChecksum(head);
  assert.equal(validateAtlassianToken(token), "valid");
  assert.equal(validateAtlassianToken(token.replace("=", "\\=")), "valid");
  assert.equal(validateAtlassianToken(token.replace("=", "%3D")), "valid");
  assert.equal(validateAtlassianToken(token.replace("=", "%3d")), "valid");
});

test("AWS access key ids decode to their account id", () => {
  assert.equal(awsAccountId("ASIAY34FZKBOKMUTVV7A"), "609629065308");
  assert.equal(awsAccountId("AKIAIOSFODNN7EXAMPLE"), "581039954779");
  assert.equal(awsAccountId("AKIA0000000000000000"), undefined);
  assert.equal(awsAccountId("AKIAIOSFODNN7EXAMPL"), undefined);
});
