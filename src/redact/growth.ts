/**
 * The growth targets of one needle (forms.ts Growth), searched for the longest growth.
 *
 * Many values can share a needle: PEM keys of one type share their BEGIN and END lines and
 * dozens of bytes after them. Trying every target per match costs O(targets) per match, so
 * each direction keeps its targets sorted by the bytes a match grows over (read away from the
 * needle) and finds the longest growth by binary search: the target sharing the most bytes
 * with the text sorts next to where the text would be inserted.
 */
import type { Growth } from "./forms.js";

export interface Found<G extends Growth> {
  target: G;
  /** Bytes grown beyond the needle. */
  grown: number;
  /** The growth reached the whole of the target's form. */
  whole: boolean;
}

interface Entry<G> {
  /** The target's bytes beyond the needle, in reading order (reversed for backward growth). */
  rest: Uint8Array;
  target: G;
}

/** The text a match may grow over: `buf[pos + step * i]` for i < limit. */
interface Text {
  buf: Uint8Array;
  pos: number;
  step: 1 | -1;
  limit: number;
}

/** Bytes `rest` shares with the start of `text`. */
function sharedLength(rest: Uint8Array, text: Text): number {
  const n = Math.min(rest.length, text.limit);
  const { buf, pos, step } = text;
  let i = 0;
  while (i < n && rest[i] === buf[pos + step * i]) i++;
  return i;
}

/** Orders `rest` against the first `limit` bytes of the text (a prefix sorts first). */
function compare(rest: Uint8Array, text: Text, limit: number): number {
  const shared = sharedLength(rest, { ...text, limit });
  if (shared === rest.length) return shared === limit ? 0 : -1;
  if (shared === limit) return 1;
  return rest[shared]! < text.buf[text.pos + text.step * shared]! ? -1 : 1;
}

class SortedTargets<G extends Growth> {
  private entries: Entry<G>[] = [];
  private sorted = true;

  add(rest: Uint8Array, target: G): void {
    this.entries.push({ rest, target });
    this.sorted = false;
  }

  longest(text: Text): Found<G> | undefined {
    if (this.entries.length === 0) return undefined;
    if (!this.sorted) {
      // Stable, so among equal targets the one added first stays first.
      this.entries.sort((a, b) => Buffer.compare(a.rest, b.rest));
      this.sorted = true;
    }
    const at = this.lowerBound(text, text.limit);
    let best: Entry<G> | undefined;
    let grown = 0;
    for (const i of [at - 1, at]) {
      const entry = this.entries[i];
      if (entry === undefined) continue;
      const shared = sharedLength(entry.rest, text);
      if (shared > grown) {
        best = entry;
        grown = shared;
      }
    }
    if (best === undefined) return undefined;
    // A target that is all of the shared bytes, if any, is the first of those sharing them.
    const first = this.entries[this.lowerBound(text, grown)];
    if (first !== undefined && compare(first.rest, text, grown) === 0) {
      return { target: first.target, grown, whole: true };
    }
    return { target: best.target, grown, whole: false };
  }

  /** The first entry not before the text's first `limit` bytes. */
  private lowerBound(text: Text, limit: number): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (compare(this.entries[mid]!.rest, text, limit) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

export class GrowthIndex<G extends Growth> {
  private readonly forward = new SortedTargets<G>();
  private readonly backward = new SortedTargets<G>();

  /** Adds a target of a needle `needleLength` bytes long. */
  add(target: G, needleLength: number): void {
    if (target.direction === "forward") {
      this.forward.add(target.full.subarray(needleLength), target);
    } else {
      const before = target.full.subarray(0, target.full.length - needleLength);
      this.backward.add(Uint8Array.from(before).reverse(), target);
    }
  }

  /**
   * The target that grows longest over `buf` around a match at [start, end), if any grows;
   * on a tie, one grown to its whole form, then the forward one.
   */
  longest(buf: Uint8Array, start: number, end: number): Found<G> | undefined {
    const ahead = this.forward.longest({ buf, pos: end, step: 1, limit: buf.length - end });
    const behind = this.backward.longest({ buf, pos: start - 1, step: -1, limit: start });
    if (ahead === undefined || behind === undefined) return ahead ?? behind;
    if (
      behind.grown > ahead.grown ||
      (behind.grown === ahead.grown && behind.whole && !ahead.whole)
    ) {
      return behind;
    }
    return ahead;
  }
}
