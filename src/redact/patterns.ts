import { keywordsInBytes, scanText, type TokenMatch } from "../detect/index.js";
import type { Hit, Redactor, Secret } from "./redactor.js";

/** A pattern-layer hit: `secret` is `pattern/<rule id>`, since keyward never knew the value. */
export type PatternHit = { secret: string; form: Hit["form"] | "pattern" };

/**
 * Large buffers are scanned in windows, so a 64 MiB tool result is never also held as one JS
 * string (or its lower-cased copy). Windows overlap by more than the longest token a rule
 * matches (a 4096-bit RSA PEM block is about 3.3 KiB), so a token on a boundary is still seen.
 * A window's text is made only when it holds a rule keyword, and stays under Node's ~1 MiB
 * threshold for external strings: those live outside the V8 heap, and 64 of them waiting for a
 * full GC added a whole copy of a 64 MiB line to the proxy's peak memory.
 */
const WINDOW_BYTES = 512 * 1024;
const WINDOW_OVERLAP = 16 * 1024;

/**
 * The pattern layer: known token formats (GitHub, Slack, AWS, OpenAI, Anthropic, Stripe,
 * private keys, …) that keyward did not inject. The exact-value Redactor runs first, so what
 * is left are credentials the server found elsewhere (a file, an upstream response, the model).
 * They are replaced by `[REDACTED:pattern/<rule>]` and reported with form "pattern".
 */
export class PatternScrubber {
  constructor(private readonly values: Redactor) {}

  get lookbehind(): number {
    return this.values.lookbehind;
  }

  add(secret: Secret): boolean {
    return this.values.add(secret);
  }

  redactText(text: string): { text: string; hits: PatternHit[] } {
    const exact = this.values.redactText(text);
    const patterns = replacePatterns(exact.text);
    return patterns ? { text: patterns.text, hits: [...exact.hits, ...patterns.hits] } : exact;
  }

  redactBuffer(
    buffer: Buffer,
    options?: { inPlace?: boolean },
  ): { buffer: Buffer; hits: PatternHit[] } {
    const exact = this.values.redactBuffer(buffer, options);
    const spans = patternSpans(exact.buffer);
    if (spans.length === 0) return exact;
    const parts: Buffer[] = [];
    let at = 0;
    for (const s of spans) {
      parts.push(exact.buffer.subarray(at, s.start), Buffer.from(marker(s.ruleId), "latin1"));
      at = s.end;
    }
    parts.push(exact.buffer.subarray(at));
    const hits = spans.map((s): PatternHit => ({ secret: `pattern/${s.ruleId}`, form: "pattern" }));
    return { buffer: Buffer.concat(parts), hits: [...exact.hits, ...hits] };
  }
}

function marker(ruleId: string): string {
  return `[REDACTED:pattern/${ruleId}]`;
}

function replacePatterns(text: string): { text: string; hits: PatternHit[] } | undefined {
  const matches = scanText(text);
  if (matches.length === 0) return undefined;
  let out = "";
  let at = 0;
  const hits: PatternHit[] = [];
  for (const m of matches) {
    if (m.start < at) continue; // overlapping rules: the first span wins
    out += `${text.slice(at, m.start)}${marker(m.ruleId)}`;
    at = m.end;
    hits.push({ secret: `pattern/${m.ruleId}`, form: "pattern" });
  }
  return { text: out + text.slice(at), hits };
}

/** The matches of a window without any rule keyword (most messages): no list made for each. */
const NO_MATCHES: readonly TokenMatch[] = [];

/**
 * Token spans as byte offsets. Token formats are ASCII, so each window is decoded as latin1:
 * one character per byte, and string offsets are byte offsets.
 */
function patternSpans(buffer: Buffer): Array<{ start: number; end: number; ruleId: string }> {
  const spans: Array<{ start: number; end: number; ruleId: string }> = [];
  let covered = 0;
  for (let from = 0; from < buffer.length; from += WINDOW_BYTES - WINDOW_OVERLAP) {
    const to = Math.min(buffer.length, from + WINDOW_BYTES);
    const present = keywordsInBytes(buffer, from, to);
    const matches =
      present.size === 0 ? NO_MATCHES : scanText(buffer.toString("latin1", from, to), { present });
    for (const m of matches) {
      const start = from + m.start;
      if (start < covered) continue; // found by the previous window, or overlapping a span
      spans.push({ start, end: from + m.end, ruleId: m.ruleId });
      covered = from + m.end;
    }
    if (to === buffer.length) break;
  }
  return spans;
}
