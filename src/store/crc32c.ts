/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum GCP Secret Manager puts in
 * `payload.dataCrc32c` on addVersion and access. Hand-written because neither Node 20 nor the
 * installed dependencies have CRC32C (zlib.crc32 is CRC-32/IEEE, and only from Node 22), and a
 * table and a loop beat a new dependency for payloads of at most 64 KiB.
 */
const TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** The CRC32C of `bytes` as an unsigned 32-bit integer. */
export function crc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}
