import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { crc32c } from "./crc32c.js";

// Check values from RFC 3720 (iSCSI) appendix B.4 and the CRC catalogue's CRC-32/ISCSI entry.
describe("crc32c", () => {
  it("matches the published check values", () => {
    assert.equal(crc32c(Buffer.from("123456789")), 0xe3069283);
    assert.equal(crc32c(new Uint8Array(32)), 0x8a9136aa);
    assert.equal(crc32c(new Uint8Array(32).fill(0xff)), 0x62a8ab43);
    assert.equal(crc32c(Uint8Array.from({ length: 32 }, (_, i) => i)), 0x46dd794e);
    assert.equal(crc32c(new Uint8Array(0)), 0);
  });

  it("changes when one bit of the payload changes", () => {
    const a = Buffer.from("a payload of some length");
    const b = Buffer.from(a);
    b[3] = (b[3] as number) ^ 1;
    assert.notEqual(crc32c(a), crc32c(b));
  });
});
