import { shannonEntropy } from "./entropy.js";
import { isPlaceholder } from "./placeholder.js";
import { tokenRules } from "./rules/index.js";
import type { TokenMatch, TokenRule, Validation } from "./types.js";

export interface ScanOptions {
  /** rules to run; the full registry by default */
  rules?: readonly TokenRule[];
  /** keep candidates whose checksum or structure fails (validation "invalid"); dropped by default */
  keepInvalid?: boolean;
}

/**
 * Each rule's pattern recompiled with the `d` flag (capture-group offsets) and without `y`.
 * Cached per rule so the caller's RegExp and its lastIndex are never touched.
 */
const scanners = new WeakMap<TokenRule, RegExp>();

function scannerFor(rule: TokenRule): RegExp {
  let scanner = scanners.get(rule);
  if (scanner === undefined) {
    const flags = `${rule.pattern.flags.replace(/[gdy]/g, "")}gd`;
    scanner = new RegExp(rule.pattern.source, flags);
    scanners.set(rule, scanner);
  }
  return scanner;
}

const keywordPatterns = new WeakMap<readonly TokenRule[], RegExp>();

/** One case-insensitive alternation of every keyword of a rule set, cached per set. */
function anyKeyword(rules: readonly TokenRule[]): RegExp {
  let pattern = keywordPatterns.get(rules);
  if (pattern === undefined) {
    const words = [...new Set(rules.flatMap((r) => r.keywords))];
    const escaped = words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    pattern = new RegExp(escaped.join("|"), "i");
    keywordPatterns.set(rules, pattern);
  }
  return pattern;
}

function isNoise(rule: TokenRule, secret: string, validation: Validation): boolean {
  // A passing checksum outweighs any resemblance to filler: such a value was issued or built on purpose.
  if (validation === "valid") return false;
  if (isPlaceholder(secret)) return true;
  const lower = secret.toLowerCase();
  if (rule.stopwords?.some((word) => word.toLowerCase() === lower)) return true;
  return rule.entropy !== undefined && shannonEntropy(secret) <= rule.entropy;
}

/**
 * Finds token-shaped secrets in `text`. A rule runs only when one of its keywords occurs in the
 * text (case-insensitively), so most rules cost one substring search. Results are ordered by
 * position; spans of different rules may overlap, but two rules never report the same span.
 */
export function scanText(text: string, options: ScanOptions = {}): TokenMatch[] {
  const rules = options.rules ?? tokenRules;
  // Most text (every MCP message keyward run forwards) holds no keyword at all: one
  // case-insensitive pass answers that without lowercasing a copy of the text.
  if (!anyKeyword(rules).test(text)) return [];
  const lower = text.toLowerCase();
  const present = new Map<string, boolean>();
  const hasKeyword = (keyword: string): boolean => {
    let found = present.get(keyword);
    if (found === undefined) {
      found = lower.includes(keyword);
      present.set(keyword, found);
    }
    return found;
  };

  const found: Array<TokenMatch & { order: number }> = [];
  rules.forEach((rule, order) => {
    if (!rule.keywords.some(hasKeyword)) return;
    for (const match of text.matchAll(scannerFor(rule))) {
      const secret = match[rule.secretGroup];
      const span = match.indices?.[rule.secretGroup];
      if (secret === undefined || span === undefined || secret === "") continue;
      const validation = rule.validate?.(secret) ?? "unknown";
      if (validation === "invalid" && !options.keepInvalid) continue;
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
