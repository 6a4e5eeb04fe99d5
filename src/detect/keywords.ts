/**
 * Case-insensitive search for many ASCII keywords in one pass (an Aho–Corasick automaton over
 * ASCII-folded character classes).
 *
 * Written by hand for speed: the scanners' keyword prefilter runs over every byte of an audit.
 * A case-insensitive regex alternation of ~50 words scans at about 5 ns a character, lowercasing
 * a copy costs more than that on two-byte (non-ASCII) strings, and one `includes` per keyword
 * multiplies the scan by the number of keywords. This automaton reads each character once with
 * one table lookup (about 3 ns a character); a transition into a state where keywords end is
 * stored negated, so the loop touches nothing but two typed arrays until a keyword is found.
 */

const NONE_PRESENT: ReadonlySet<string> = new Set();

/**
 * Keyword occurrences, flat: for each, the keyword's index in the searched list and the offset
 * just past it, in order of that offset. Pairs in one array, not an object each: a file can hold
 * tens of thousands of them, and an audit reads every file.
 */
export type WordHits = readonly number[];

export class KeywordSearch {
  readonly words: readonly string[];
  /** ASCII character code → class (0 = a character no keyword contains), letters folded */
  private readonly classes = new Uint8Array(128);
  /**
   * transitions: state * classCount + class → next state * classCount, bitwise-negated (`~`)
   * when keywords end in the next state. 16-bit when the table allows: the audit's table of
   * about 32,000 entries is then 64 KB instead of 128 KB, and the scan reads it for every character.
   */
  private readonly next: Int16Array | Int32Array;
  /** per state (indexed by state * classCount): keywords ending here, or undefined */
  private readonly ends: Array<readonly number[] | undefined>;

  constructor(words: readonly string[]) {
    this.words = words;
    let classCount = 1;
    for (const word of words) {
      for (const char of word.toLowerCase()) {
        const code = char.charCodeAt(0);
        if (code > 127) throw new Error("KeywordSearch takes ASCII keywords only");
        if (this.classes[code] !== 0) continue;
        this.classes[code] = classCount;
        const upper = char.toUpperCase().charCodeAt(0);
        if (upper !== code) this.classes[upper] = classCount;
        classCount++;
      }
    }

    // Trie, then failure links breadth first (the textbook construction).
    const goto: number[][] = [new Array<number>(classCount).fill(-1)];
    const out: number[][] = [[]];
    words.forEach((word, index) => {
      let state = 0;
      for (const char of word.toLowerCase()) {
        const cls = this.classes[char.charCodeAt(0)] as number;
        let target = goto[state]?.[cls] ?? -1;
        if (target === -1) {
          target = goto.length;
          goto.push(new Array<number>(classCount).fill(-1));
          out.push([]);
          (goto[state] as number[])[cls] = target;
        }
        state = target;
      }
      out[state]?.push(index);
    });
    const fail = new Array<number>(goto.length).fill(0);
    const queue: number[] = [];
    const root = goto[0] as number[];
    for (let cls = 0; cls < classCount; cls++) {
      if (root[cls] === -1) root[cls] = 0;
      else queue.push(root[cls] as number);
    }
    for (let head = 0; head < queue.length; head++) {
      const state = queue[head] as number;
      const row = goto[state] as number[];
      for (let cls = 0; cls < classCount; cls++) {
        const target = row[cls] as number;
        const fallback = (goto[fail[state] as number] as number[])[cls] as number;
        if (target === -1) {
          row[cls] = fallback;
          continue;
        }
        fail[target] = fallback;
        out[target] = [...(out[target] as number[]), ...(out[fallback] as number[])];
        queue.push(target);
      }
    }
    const size = goto.length * classCount;
    this.next = size <= 0x7fff ? new Int16Array(size) : new Int32Array(size);
    this.ends = new Array(goto.length * classCount);
    goto.forEach((row, state) => {
      for (let cls = 0; cls < classCount; cls++) {
        const target = row[cls] as number;
        const index = target * classCount;
        this.next[state * classCount + cls] = (out[target] as number[]).length > 0 ? ~index : index;
      }
      const ending = out[state] as number[];
      if (ending.length > 0) this.ends[state * classCount] = ending;
    });
  }

  /**
   * Calls `onHit(wordIndex, end)` for every occurrence of every keyword (case-insensitive), with
   * `end` the offset just past it, in order of `end`.
   */
  scan(text: string, onHit: (word: number, end: number) => void): void {
    const { classes, next, ends } = this;
    let state = 0;
    for (let i = 0; i < text.length; i++) {
      // Keywords are ASCII: any other character is class 0 (a 128-byte table stays in cache).
      const code = text.charCodeAt(i);
      const to = next[state + (code < 128 ? (classes[code] as number) : 0)] as number;
      if (to >= 0) {
        state = to;
        continue;
      }
      state = ~to;
      for (const word of ends[state] as readonly number[]) onHit(word, i + 1);
    }
  }

  /** Every occurrence of every keyword in `text` (WordHits pairs). */
  hits(text: string): number[] {
    const hits: number[] = [];
    this.scan(text, (word, end) => hits.push(word, end));
    return hits;
  }

  /** The keywords that occur in `text` (case-insensitive). */
  present(text: string): Set<string> {
    const found = new Set<string>();
    this.scan(text, (word) => found.add(this.words[word] as string));
    return found;
  }

  /**
   * The keywords that occur in `bytes[from, to)` read as latin1 (one character per byte), the
   * same answer as `present(bytes.toString("latin1", from, to))` without making the string: the
   * redaction engine checks every message this way and most hold no keyword.
   */
  presentInBytes(bytes: Uint8Array, from = 0, to = bytes.length): ReadonlySet<string> {
    const { classes, next, ends } = this;
    let found: Set<string> | undefined;
    let state = 0;
    for (let i = from; i < to; i++) {
      const byte = bytes[i] as number;
      const target = next[state + (byte < 128 ? (classes[byte] as number) : 0)] as number;
      if (target >= 0) {
        state = target;
        continue;
      }
      state = ~target;
      found ??= new Set();
      for (const word of ends[state] as readonly number[]) found.add(this.words[word] as string);
    }
    return found ?? NONE_PRESENT;
  }
}

/**
 * A search for `words`, built on its first use: an audit hands most readers their hits from its
 * own pass (KeywordLists), and building an automaton is a noticeable part of a short run.
 */
export function searchOnFirstUse(words: readonly string[]): () => KeywordSearch {
  let search: KeywordSearch | undefined;
  return () => {
    search ??= new KeywordSearch(words);
    return search;
  };
}

/**
 * Several readers' keyword lists searched in one pass over a text: the automaton's cost is per
 * character whatever the number of words, so each further list searched apart would cost a
 * whole pass of its own. Each list gets its own hits, numbered by its own words.
 */
export class KeywordLists {
  private readonly search: KeywordSearch;
  /** per word of the search: the list it belongs to, and its index there */
  private readonly list: Int32Array;
  private readonly index: Int32Array;

  constructor(readonly lists: ReadonlyArray<readonly string[]>) {
    const words = lists.flat();
    this.search = new KeywordSearch(words);
    this.list = new Int32Array(words.length);
    this.index = new Int32Array(words.length);
    let at = 0;
    lists.forEach((list, which) => {
      for (let i = 0; i < list.length; i++, at++) {
        this.list[at] = which;
        this.index[at] = i;
      }
    });
  }

  /** Each list's hits in `text` (WordHits pairs), by the lists' order. */
  hits(text: string): number[][] {
    const out = this.lists.map((): number[] => []);
    const { list, index } = this;
    this.search.scan(text, (word, end) => {
      (out[list[word] as number] as number[]).push(index[word] as number, end);
    });
    return out;
  }
}
