/**
 * Multi-pattern exact search over bytes, built for many long, high-entropy needles.
 *
 * Written by hand because the JS multi-pattern packages (Aho–Corasick automata) step through
 * every byte and run near 100 MB/s; here the text is sampled instead. Every needle is at least
 * `window` bytes long, and only its first `window` bytes are indexed, as all the 4-byte grams
 * (q-grams) starting at offsets 0 … window−4. Reading one q-gram every `window − 3` bytes then
 * lands exactly once inside the indexed head of any occurrence. A bitset over hashed q-grams
 * rejects almost every sample; the rare survivors look up their exact q-gram and compare the
 * candidate needles byte by byte. Cost per byte ≈ 1/(window−3) bitset probes.
 */

const Q = 4;
/** Indexing more than this many head bytes per needle grows the tables without paying back. */
const MAX_WINDOW = 16;
const MIN_BITS_LOG2 = 16;
const MAX_BITS_LOG2 = 25;
/** Bitset bits per indexed q-gram: about 6% of probes pass when full; smaller stays in cache. */
const BITS_PER_ENTRY = 16;
/** An entry packs needle id and head offset; offsets are < MAX_WINDOW ≤ 2^OFFSET_BITS. */
const OFFSET_BITS = 5;
const OFFSET_MASK = (1 << OFFSET_BITS) - 1;

export const MIN_NEEDLE_LENGTH = Q;

/** The 4 bytes at `p` as an int (little-endian). */
function gramAt(buf: Uint8Array, p: number): number {
  return buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
}

/** Exact-map key: folds the gram into the small-integer range V8 hashes fastest. */
function keyOf(gram: number): number {
  return (gram & 0x3fffffff) ^ (gram >>> 30);
}

export class NeedleIndex {
  private readonly needles: Uint8Array[] = [];
  private window = MAX_WINDOW;
  private bitsLog2 = MIN_BITS_LOG2;
  private bits = new Int32Array(1 << (MIN_BITS_LOG2 - 5));
  private buckets = new Map<number, number[]>();
  private entries = 0;

  /** Adds a needle (≥ MIN_NEEDLE_LENGTH bytes) and returns its id. */
  add(bytes: Uint8Array): number {
    if (bytes.length < MIN_NEEDLE_LENGTH) {
      throw new RangeError(`needles must be at least ${MIN_NEEDLE_LENGTH} bytes`);
    }
    const id = this.needles.length;
    this.needles.push(bytes);
    if (bytes.length < this.window) {
      // A shorter head changes the sampling stride, so every needle is indexed again.
      this.window = bytes.length;
      this.rebuild();
    } else {
      this.index(id);
      this.growBitsIfFull();
    }
    return id;
  }

  /** Calls `onMatch(id, start)` for every occurrence of every needle wholly inside `buf`. */
  find(buf: Uint8Array, onMatch: (id: number, start: number) => void): void {
    if (this.needles.length === 0) return;
    const stride = this.window - Q + 1;
    const bits = this.bits;
    const shift = 32 - this.bitsLog2;
    const last = buf.length - Q;
    for (let p = 0; p <= last; p += stride) {
      const gram = buf[p]! | (buf[p + 1]! << 8) | (buf[p + 2]! << 16) | (buf[p + 3]! << 24);
      const h = Math.imul(gram, 0x9e3779b1) >>> shift;
      if ((bits[h >>> 5]! & (1 << (h & 31))) !== 0) this.verify(buf, p, gram, onMatch);
    }
  }

  /**
   * The earliest start ≥ `from` of a needle head cut off by the end of `buf` (at least
   * MIN_NEEDLE_LENGTH bytes of it present), if any. Used when a stream must flush before the
   * rest of a possible needle has arrived.
   */
  findCutOffHead(buf: Uint8Array, from: number): { id: number; start: number } | undefined {
    for (let p = Math.max(0, from); p <= buf.length - Q; p++) {
      const bucket = this.buckets.get(keyOf(gramAt(buf, p)));
      if (bucket === undefined) continue;
      for (const entry of bucket) {
        if ((entry & OFFSET_MASK) !== 0) continue;
        const id = entry >>> OFFSET_BITS;
        const needle = this.needles[id]!;
        const present = buf.length - p;
        if (present >= needle.length) continue;
        if (equalAt(buf, p, needle, present)) return { id, start: p };
      }
    }
    return undefined;
  }

  private verify(
    buf: Uint8Array,
    p: number,
    gram: number,
    onMatch: (id: number, start: number) => void,
  ): void {
    const bucket = this.buckets.get(keyOf(gram));
    if (bucket === undefined) return;
    for (let i = 0; i < bucket.length; i++) {
      const entry = bucket[i]!;
      const start = p - (entry & OFFSET_MASK);
      if (start < 0) continue;
      const id = entry >>> OFFSET_BITS;
      const needle = this.needles[id]!;
      if (start + needle.length > buf.length) continue;
      if (equalAt(buf, start, needle, needle.length)) onMatch(id, start);
    }
  }

  private index(id: number): void {
    const needle = this.needles[id]!;
    for (let offset = 0; offset <= this.window - Q; offset++) {
      const gram = gramAt(needle, offset);
      const key = keyOf(gram);
      const entry = (id << OFFSET_BITS) | offset;
      const bucket = this.buckets.get(key);
      if (bucket === undefined) this.buckets.set(key, [entry]);
      else bucket.push(entry);
      this.setBit(gram);
      this.entries++;
    }
  }

  private setBit(gram: number): void {
    const h = Math.imul(gram, 0x9e3779b1) >>> (32 - this.bitsLog2);
    this.bits[h >>> 5]! |= 1 << (h & 31);
  }

  private growBitsIfFull(): void {
    if (this.entries * BITS_PER_ENTRY <= 2 ** this.bitsLog2 || this.bitsLog2 >= MAX_BITS_LOG2) {
      return;
    }
    this.resizeBits();
    for (const id of this.needles.keys()) {
      for (let offset = 0; offset <= this.window - Q; offset++) {
        this.setBit(gramAt(this.needles[id]!, offset));
      }
    }
  }

  private rebuild(): void {
    this.buckets = new Map();
    this.entries = 0;
    this.resizeBits();
    for (const id of this.needles.keys()) this.index(id);
  }

  private resizeBits(): void {
    const wanted = Math.ceil(Math.log2(Math.max(1, this.entriesAfterRebuild() * BITS_PER_ENTRY)));
    this.bitsLog2 = Math.min(MAX_BITS_LOG2, Math.max(MIN_BITS_LOG2, wanted));
    this.bits = new Int32Array(1 << (this.bitsLog2 - 5));
  }

  private entriesAfterRebuild(): number {
    return this.needles.length * (this.window - Q + 1);
  }
}

function equalAt(buf: Uint8Array, start: number, needle: Uint8Array, length: number): boolean {
  for (let j = 0; j < length; j++) if (buf[start + j] !== needle[j]) return false;
  return true;
}
