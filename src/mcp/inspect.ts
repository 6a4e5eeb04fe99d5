/**
 * Reads what the proxy needs of a JSON-RPC line (is it JSON, and each message's envelope)
 * straight from its bytes, without JSON.parse. Hand-written because parsing every message the
 * proxy forwards (building its objects, interning its keys) was the largest cost of a proxied
 * round trip, and the proxy looks at four top-level fields only.
 *
 * It only ever errs on the safe side: `undefined` means "not known to be JSON" (invalid, or
 * nested deeper than MAX_DEPTH), and the caller then takes the JSON.parse path. A line it
 * accepts is one JSON.parse accepts, and its envelopes are those envelopeOf gives for the
 * parsed value (duplicate keys: the last one wins, as in JSON.parse).
 */
import type { Envelope, JsonRpcId } from "./framing.js";

export interface LineInfo {
  /** One per message: the value itself, or each element of a batch (a top-level array). */
  envelopes: Envelope[];
  batch: boolean;
  /**
   * `JSON.stringify(JSON.parse(line))` would give back exactly these bytes for every value in
   * the line, given that the line is valid UTF-8 (the caller checks): no escape, no whitespace
   * between tokens, every number an integer of at most 15 digits other than `-0`, and no key
   * that JSON.parse would reorder (an array index) or drop (a duplicate). Duplicates are only
   * looked for with `checkKeys`; without it, `canonical` is false for any object with members.
   */
  canonical: boolean;
  /**
   * Where the text of `params.arguments` sits in a line holding one message (not a batch), as
   * `[start, end)`; undefined when there is no such member.
   */
  argumentsAt: [start: number, end: number] | undefined;
}

const MAX_DEPTH = 64;
/** Objects with more keys than this are not checked for duplicates: `canonical` is false. */
const MAX_CHECKED_KEYS = 32;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;
const COMMA = 0x2c;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;
const MINUS = 0x2d;
const ZERO = 0x30;
const NINE = 0x39;
/** Read past the end of the line. */
const END = -1;

const OTHER: Envelope = { kind: "other" };

// Members an envelope reads.
const NONE = 0;
const ID = 1;
const METHOD = 2;
/** `result` or `error`: the message answers a request. */
const ANSWER = 3;
const PARAMS = 4;

// What the scanner expects next.
const VALUE = 0;
const KEY = 1;
const AFTER_VALUE = 2;

/** Container kinds by depth (1-based); reused, as inspection is synchronous. */
const containers = new Uint8Array(MAX_DEPTH + 2);
const IN_OBJECT = 1;
const IN_ARRAY = 2;

/**
 * With checkKeys, the start and end of each key of every object still open, as one stack: the
 * object at depth d owns the entries from keysFrom[d] up to keysTop (an object inside it pushes
 * above them and pops its own when it closes). Reused, as inspection is synchronous: per-object
 * arrays were most of what inspecting a client message allocated.
 */
const keySpans = new Int32Array(2 * MAX_CHECKED_KEYS * (MAX_DEPTH + 1));
const keysFrom = new Int32Array(MAX_DEPTH + 2);
let keysTop = 0;

/**
 * Inspects one line (without its newline). See the module comment. One loop with an explicit
 * stack, no recursion and no strings made except ids and method names: this runs on every
 * message the proxy forwards.
 */
export function inspectLine(b: Buffer, checkKeys = false): LineInfo | undefined {
  const n = b.length;
  /** Made with its first envelope: a line holds one message far more often than a batch. */
  let envelopes: Envelope[] | undefined;
  let i = 0;
  let canonical = true;
  let depth = 0;
  let batch = false;
  /** Depth of the objects that are messages: 1, or 2 inside a batch. */
  let messageDepth = 1;
  let member = NONE;
  let id: JsonRpcId | undefined;
  let method: string | undefined;
  let answer = false;
  /** Depth of the `params` object of a single message, while inside it (else -1). */
  let paramsDepth = -1;
  /** The `params` member being read is `arguments`. */
  let argumentsNext = false;
  let argumentsStart = -1;
  let argumentsEnd = -1;
  keysTop = 0;
  let expect = VALUE;
  for (;;) {
    let c = i < n ? b[i]! : END;
    while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
      canonical = false;
      c = ++i < n ? b[i]! : END;
    }
    if (expect === KEY) {
      if (c !== QUOTE) return undefined;
      const end = stringEnd(b, i, n);
      if (end === -1) return undefined;
      if (escapedString) canonical = false;
      if (depth === messageDepth) {
        member = escapedString ? memberOfText(stringAt(b, i, end, true)) : memberAt(b, i, end);
        if (member === ANSWER) answer = true;
      } else if (depth === paramsDepth) {
        argumentsNext = !escapedString && end - i === 11 && equalsAscii(b, i + 1, "arguments");
      }
      if (canonical) {
        if (!checkKeys) canonical = false;
        else canonical = isNewPlainKey(b, keysFrom[depth]!, i, end);
      }
      i = end;
      c = i < n ? b[i]! : END;
      while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
        canonical = false;
        c = ++i < n ? b[i]! : END;
      }
      if (c !== COLON) return undefined;
      i++;
      expect = VALUE;
      continue;
    }
    if (expect === AFTER_VALUE) {
      if (depth === 0) {
        if (c !== END) return undefined;
        const argumentsAt: LineInfo["argumentsAt"] =
          argumentsEnd === -1 ? undefined : [argumentsStart, argumentsEnd];
        return { envelopes: envelopes ?? [], batch, canonical, argumentsAt };
      }
      const container = containers[depth];
      if (c === COMMA) {
        i++;
        expect = container === IN_OBJECT ? KEY : VALUE;
        continue;
      }
      if (c === CLOSE_OBJECT && container === IN_OBJECT) {
        if (depth === messageDepth) envelopes = added(envelopes, envelopeOf(id, method, answer));
        keysTop = keysFrom[depth]!;
      } else if (c !== CLOSE_ARRAY || container !== IN_ARRAY) {
        return undefined;
      }
      i++;
      depth--;
      if (depth === paramsDepth && argumentsStart !== -1 && argumentsEnd === -1) argumentsEnd = i;
      if (depth < paramsDepth) paramsDepth = -1;
      continue;
    }
    // A value. Which member of a message it is the value of, if any:
    const of = depth === messageDepth ? member : NONE;
    member = NONE;
    const isArguments = depth === paramsDepth && argumentsNext;
    argumentsNext = false;
    if (isArguments) {
      argumentsStart = i;
      argumentsEnd = -1;
    }
    if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (of === ID) id = undefined;
      else if (of === METHOD) method = undefined;
      if (++depth > MAX_DEPTH) return undefined;
      const isObject = c === OPEN_OBJECT;
      containers[depth] = isObject ? IN_OBJECT : IN_ARRAY;
      if (depth === 1 && !isObject) {
        batch = true;
        messageDepth = 2;
      } else if (batch && depth === 2 && !isObject) {
        envelopes = added(envelopes, OTHER);
      }
      if (depth === messageDepth && isObject) {
        id = undefined;
        method = undefined;
        answer = false;
      } else if (of === PARAMS && isObject && !batch) {
        paramsDepth = depth;
      }
      if (isObject) keysFrom[depth] = keysTop;
      i++;
      c = i < n ? b[i]! : END;
      while (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) {
        canonical = false;
        c = ++i < n ? b[i]! : END;
      }
      if (c === (isObject ? CLOSE_OBJECT : CLOSE_ARRAY)) {
        // Empty: closed at once.
        if (depth === messageDepth && isObject) {
          envelopes = added(envelopes, envelopeOf(id, method, answer));
        }
        i++;
        depth--;
        if (isArguments) argumentsEnd = i;
        if (depth < paramsDepth) paramsDepth = -1;
        expect = AFTER_VALUE;
      } else {
        expect = isObject ? KEY : VALUE;
      }
      continue;
    }
    if (c === QUOTE) {
      const end = stringEnd(b, i, n);
      if (end === -1) return undefined;
      if (escapedString) canonical = false;
      if (of === ID) id = stringAt(b, i, end, escapedString);
      else if (of === METHOD) method = methodAt(b, i, end, escapedString);
      i = end;
    } else if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const end = numberEnd(b, i, n);
      if (end === -1) return undefined;
      if (!plainNumber) canonical = false;
      if (of === ID) id = numberAt(b, i, end);
      else if (of === METHOD) method = undefined;
      i = end;
    } else {
      const end = literalEnd(b, i, n);
      if (end === -1) return undefined;
      if (of === ID) id = undefined;
      else if (of === METHOD) method = undefined;
      i = end;
    }
    if (isArguments) argumentsEnd = i;
    if (depth === 0 || (batch && depth === 1)) envelopes = added(envelopes, OTHER);
    expect = AFTER_VALUE;
  }
}

/** `list` with `envelope` appended; a new list of exactly one for the first. */
function added(list: Envelope[] | undefined, envelope: Envelope): Envelope[] {
  if (list === undefined) return [envelope];
  list.push(envelope);
  return list;
}

/** envelopeOf (framing.ts) of an object with these members. */
function envelopeOf(
  id: JsonRpcId | undefined,
  method: string | undefined,
  answer: boolean,
): Envelope {
  if (method !== undefined) {
    return id === undefined ? { kind: "notification", method } : { kind: "request", id, method };
  }
  if (id !== undefined && answer) return { kind: "response", id };
  return OTHER;
}

/** Set by stringEnd: the literal it scanned holds an escape. */
let escapedString = false;

/**
 * The end (past the closing quote) of the string literal opening at `i`, or -1 when it is
 * malformed (unterminated, a raw control character, a bad escape). Bytes from 0x80 up are
 * taken as they are: JSON.parse of the decoded line accepts them too (invalid UTF-8 decodes to
 * U+FFFD).
 */
function stringEnd(b: Buffer, i: number, n: number): number {
  escapedString = false;
  let j = i + 1;
  for (;;) {
    if (j >= n) return -1;
    const c = b[j]!;
    if (c === QUOTE) return j + 1;
    if (c < 0x20) return -1;
    if (c !== BACKSLASH) {
      j++;
      continue;
    }
    escapedString = true;
    const e = j + 1 < n ? b[j + 1]! : END;
    if (e === 0x75 /* u */) {
      if (j + 6 > n) return -1;
      for (let k = j + 2; k < j + 6; k++) if (!isHex(b[k]!)) return -1;
      j += 6;
    } else if (
      e === QUOTE ||
      e === BACKSLASH ||
      e === 0x2f /* / */ ||
      e === 0x62 /* b */ ||
      e === 0x66 /* f */ ||
      e === 0x6e /* n */ ||
      e === 0x72 /* r */ ||
      e === 0x74 /* t */
    ) {
      j += 2;
    } else {
      return -1;
    }
  }
}

/** Set by numberEnd: the number is one JSON.stringify writes back the same way. */
let plainNumber = true;

/** The end of the number at `i` (`-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?`), or -1. */
function numberEnd(b: Buffer, i: number, n: number): number {
  let j = i;
  if (b[j] === MINUS) j++;
  const intStart = j;
  if (j < n && b[j] === ZERO) j++;
  else if (j < n && isDigit(b[j]!)) while (j < n && isDigit(b[j]!)) j++;
  else return -1;
  const intDigits = j - intStart;
  // JSON.stringify writes an integer of up to 15 digits as it is, except -0 (as 0).
  plainNumber = intDigits <= 15 && !(intStart > i && intDigits === 1 && b[intStart] === ZERO);
  if (j < n && b[j] === 0x2e /* . */) {
    plainNumber = false;
    j++;
    if (j >= n || !isDigit(b[j]!)) return -1;
    while (j < n && isDigit(b[j]!)) j++;
  }
  if (j < n && (b[j] === 0x65 /* e */ || b[j] === 0x45) /* E */) {
    plainNumber = false;
    j++;
    if (j < n && (b[j] === 0x2b /* + */ || b[j] === MINUS)) j++;
    if (j >= n || !isDigit(b[j]!)) return -1;
    while (j < n && isDigit(b[j]!)) j++;
  }
  return j;
}

/** The end of `true`, `false` or `null` at `i`, or -1. */
function literalEnd(b: Buffer, i: number, n: number): number {
  const c = b[i];
  const word = c === 0x74 ? "true" : c === 0x66 ? "false" : c === 0x6e ? "null" : undefined;
  if (word === undefined || i + word.length > n) return -1;
  for (let k = 1; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/** Which member a key literal `b[start, end)` without escapes names. */
function memberAt(b: Buffer, start: number, end: number): number {
  const length = end - start - 2;
  const c = b[start + 1];
  if (length === 2) return c === 0x69 && b[start + 2] === 0x64 ? ID : NONE; // id
  if (length === 6) {
    if (c === 0x6d) return equalsAscii(b, start + 1, "method") ? METHOD : NONE;
    if (c === 0x72) return equalsAscii(b, start + 1, "result") ? ANSWER : NONE;
    if (c === 0x70) return equalsAscii(b, start + 1, "params") ? PARAMS : NONE;
  }
  if (length === 5 && c === 0x65) return equalsAscii(b, start + 1, "error") ? ANSWER : NONE;
  return NONE;
}

function memberOfText(name: string): number {
  if (name === "id") return ID;
  if (name === "method") return METHOD;
  if (name === "params") return PARAMS;
  return name === "result" || name === "error" ? ANSWER : NONE;
}

/** The string a literal `b[start, end)` (quotes included) stands for. */
function stringAt(b: Buffer, start: number, end: number, escaped: boolean): string {
  // Escapes are rare in ids and method names: JSON.parse decodes them.
  if (escaped) return JSON.parse(b.toString("utf8", start, end)) as string;
  return b.toString("utf8", start + 1, end - 1);
}

/** Recent method names (a few recur on every message), so their bytes make no new string. */
const methods: Array<{ bytes: Buffer; text: string }> = [];
const METHOD_CACHE = 8;
const METHOD_CACHE_MAX_BYTES = 64;

/** stringAt for a method name, from `methods` when it was seen recently. */
function methodAt(b: Buffer, start: number, end: number, escaped: boolean): string {
  const length = end - start - 2;
  if (escaped || length > METHOD_CACHE_MAX_BYTES) return stringAt(b, start, end, escaped);
  for (let k = 0; k < methods.length; k++) {
    const cached = methods[k]!;
    if (cached.bytes.length === length && equalRange(b, start + 1, cached.bytes, 0, length)) {
      return cached.text;
    }
  }
  const text = stringAt(b, start, end, false);
  if (methods.length === METHOD_CACHE) methods.pop();
  methods.unshift({ bytes: Buffer.from(b.subarray(start + 1, end - 1)), text });
  return text;
}

/** A JSON number literal's value, as JSON.parse gives it (JSON numbers are JS number syntax). */
function numberAt(b: Buffer, start: number, end: number): number {
  if (plainNumber && b[start] !== MINUS) {
    let value = 0;
    for (let k = start; k < end; k++) value = value * 10 + (b[k]! - ZERO);
    return value;
  }
  return Number(b.toString("latin1", start, end));
}

/**
 * For `canonical`: a key JSON.parse neither moves (an array index goes first) nor drops (a
 * duplicate; the last one wins). Records it in keySpans above the keys of its object so far,
 * which start at `from`.
 */
function isNewPlainKey(b: Buffer, from: number, start: number, end: number): boolean {
  let digits = true;
  for (let k = start + 1; k < end - 1; k++) {
    if (!isDigit(b[k]!)) {
      digits = false;
      break;
    }
  }
  if (digits || keysTop - from >= 2 * MAX_CHECKED_KEYS) return false;
  for (let k = from; k < keysTop; k += 2) {
    const s = keySpans[k]!;
    const e = keySpans[k + 1]!;
    if (e - s === end - start && equalRange(b, s, b, start, end - start)) return false;
  }
  keySpans[keysTop++] = start;
  keySpans[keysTop++] = end;
  return true;
}

function isDigit(c: number): boolean {
  return c >= ZERO && c <= NINE;
}

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function equalsAscii(b: Buffer, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (b[at + k] !== word.charCodeAt(k)) return false;
  return true;
}

/** Whether `a[aStart, aStart + length)` and `b[bStart, bStart + length)` hold the same bytes. */
function equalRange(
  a: Uint8Array,
  aStart: number,
  b: Uint8Array,
  bStart: number,
  length: number,
): boolean {
  for (let k = 0; k < length; k++) if (a[aStart + k] !== b[bStart + k]) return false;
  return true;
}
