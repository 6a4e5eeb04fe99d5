import { shannonEntropy } from "./entropy.js";
import { execAll } from "./exec-all.js";
import { KeywordSearch } from "./keywords.js";
import { countJudgedAgain, nonAsciiJudged, noteJudged } from "./non-ascii.js";
import { isPlaceholder } from "./placeholder.js";
import { tokenRules } from "./rules/index.js";
import type { TokenMatch, TokenRule, Validation } from "./types.js";

export interface ScanOptions {
  /** rules to run; the full registry by default */
  rules?: readonly TokenRule[];
  /** keep candidates whose checksum or structure fails (validation "invalid"); dropped by default */
  keepInvalid?: boolean;
  /**
   * The rules' keywords that occur in `text`, when the caller has already searched for them (a
   * scanner that looks for more words in the same pass); searched here otherwise.
   */
  present?: ReadonlySet<string>;
}

/**
 * Each rule's pattern recompiled with the `d` flag (capture-group offsets) and `g`, or `y` for a
 * rule with an anchor. Cached per rule so the caller's RegExp and its lastIndex are never touched.
 */
const scanners = new WeakMap<TokenRule, RegExp>();

function scannerFor(rule: TokenRule): RegExp {
  let scanner = scanners.get(rule);
  if (scanner === undefined) {
    const flags = `${rule.pattern.flags.replace(/[gdy]/g, "")}${rule.anchor ? "y" : "g"}d`;
    scanner = new RegExp(rule.pattern.source, flags);
    scanners.set(rule, scanner);
  }
  return scanner;
}

/**
 * A rule's matches in `text`: the global search, or with an anchor the sticky pattern at the
 * starts its occurrences give, each start after the end of the last match as the global search
 * would take them. Finding a literal with indexOf is several times faster than a regex that
 * begins with a look-behind trying every offset (the HTTP URL rule ran over nearly every file).
 */
function* ruleMatches(rule: TokenRule, text: string): Generator<RegExpExecArray> {
  const scanner = scannerFor(rule);
  if (rule.anchor === undefined) {
    yield* execAll(scanner, text);
    return;
  }
  const { text: literal, starts } = rule.anchor;
  let searchedTo = 0;
  for (let at = text.indexOf(literal); at !== -1; at = text.indexOf(literal, at + 1)) {
    for (const start of starts(text, at)) {
      if (start < searchedTo) continue;
      scanner.lastIndex = start;
      const match = scanner.exec(text);
      if (match === null) continue;
      searchedTo = start + Math.max(match[0].length, 1);
      yield match;
      break;
    }
  }
}

const keywordSearches = new WeakMap<readonly TokenRule[], KeywordSearch>();
/**
 * The set asked for last and its search, checked before the WeakMap: the proxy asks for the
 * same set on every message, and its WeakMap lookup was about a seventh of that keyword pass.
 */
let lastSearch: { rules: readonly TokenRule[]; search: KeywordSearch } | undefined;

/** One search for every keyword of a rule set, cached per set. */
function keywordSearchFor(rules: readonly TokenRule[]): KeywordSearch {
  if (lastSearch?.rules === rules) return lastSearch.search;
  let search = keywordSearches.get(rules);
  if (search === undefined) {
    search = new KeywordSearch([...new Set(rules.flatMap((r) => r.keywords))]);
    keywordSearches.set(rules, search);
  }
  lastSearch = { rules, search };
  return search;
}

/**
 * The rules' keywords in `bytes[from, to)` read as latin1: pass it as `present` to scanText of
 * that text, or skip scanText (and making the text) when it is empty.
 */
export function keywordsInBytes(
  bytes: Uint8Array,
  from = 0,
  to = bytes.length,
  rules: readonly TokenRule[] = tokenRules,
): ReadonlySet<string> {
  return keywordSearchFor(rules).presentInBytes(bytes, from, to);
}

function isNoise(rule: TokenRule, secret: string, validation: Validation): boolean {
  if (rule.notSecret?.(secret)) return true;
  // A passing checksum outweighs any resemblance to filler: such a value was issued or built on purpose.
  if (validation === "valid") return false;
  if (isPlaceholder(secret)) return true;
  const lower = secret.toLowerCase();
  if (rule.stopwords?.some((word) => word.toLowerCase() === lower)) return true;
  return rule.entropy !== undefined && shannonEntropy(secret) <= rule.entropy;
}

/**
 * Finds token-shaped secrets in `text`. A rule runs only when one of its keywords occurs in the
 * text (case-insensitively; one pass over the text finds them all). Results are ordered by
 * position; spans of different rules may overlap, but two rules never report the same span.
 */
export function scanText(text: string, options: ScanOptions = {}): TokenMatch[] {
  const rules = options.rules ?? tokenRules;
  const keepInvalid = options.keepInvalid === true;
  // The audit scans a file for secrets and then, for flow analysis, for token literals again:
  // the last answer is kept (comparing the same string object costs nothing).
  if (
    last !== undefined &&
    last.text === text &&
    last.rules === rules &&
    last.keepInvalid === keepInvalid
  ) {
    // The answer stands for the judgements that made it (non-ascii.ts).
    countJudgedAgain(last.judgedNonAscii);
    return last.matches.map((match) => ({ ...match }));
  }
  const judgedBefore = nonAsciiJudged();
  const matches = findTokens(text, rules, keepInvalid, options.present);
  const judgedNonAscii = nonAsciiJudged() - judgedBefore;
  last = { text, rules, keepInvalid, matches, judgedNonAscii };
  return matches.map((match) => ({ ...match }));
}

let last:
  | {
      text: string;
      rules: readonly TokenRule[];
      keepInvalid: boolean;
      matches: TokenMatch[];
      /** how many non-ASCII values findTokens judged (non-ascii.ts) */
      judgedNonAscii: number;
    }
  | undefined;

function findTokens(
  text: string,
  rules: readonly TokenRule[],
  keepInvalid: boolean,
  known: ReadonlySet<string> | undefined,
): TokenMatch[] {
  // Most text (every MCP message keyward run forwards) holds no keyword at all: one pass over it
  // answers that for every rule at once.
  const present = known ?? keywordSearchFor(rules).present(text);
  if (present.size === 0) return [];

  const found: Array<TokenMatch & { order: number }> = [];
  rules.forEach((rule, order) => {
    if (!rule.keywords.some((keyword) => present.has(keyword))) return;
    for (const match of ruleMatches(rule, text)) {
      const secret = match[rule.secretGroup];
      const span = match.indices?.[rule.secretGroup];
      if (secret === undefined || span === undefined || secret === "") continue;
      noteJudged(secret);
      const validation = rule.validate?.(secret) ?? "unknown";
      if (validation === "invalid" && !keepInvalid) continue;
      if (isNoise(rule, secret, validation)) continue;
      found.push({ ruleId: rule.id, start: span[0], end: span[1], secret, validation, order });
    }
  });

  found.sort((a, b) => a.start - b.start || a.end - b.end || a.order - b.order);
  const matches: TokenMatch[] = [];
  for (const { order: _order, ...match } of found) {
    const previous = matches[matches.length - 1];
    if (previous?.start === match.start && previous.end === match.end) continue;
    matches.push(match);
  }
  return matches;
}
