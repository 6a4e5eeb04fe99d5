import { scanText } from "../detect/index.js";
import type { Hit, Redactor, Secret } from "./redactor.js";

/** A pattern-layer hit: `secret` is `pattern/<rule id>`, since keyward never knew the value. */
export type PatternHit = { secret: string; form: Hit["form"] | "pattern" };

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

  redactBuffer(buffer: Buffer): { buffer: Buffer; hits: PatternHit[] } {
    const exact = this.values.redactBuffer(buffer);
    const patterns = replacePatterns(exact.buffer.toString("utf8"));
    return patterns
      ? { buffer: Buffer.from(patterns.text, "utf8"), hits: [...exact.hits, ...patterns.hits] }
      : exact;
  }
}

function replacePatterns(text: string): { text: string; hits: PatternHit[] } | undefined {
  const matches = scanText(text);
  if (matches.length === 0) return undefined;
  let out = "";
  let at = 0;
  const hits: PatternHit[] = [];
  for (const m of matches) {
    if (m.start < at) continue; // overlapping rules: the first span wins
    out += `${text.slice(at, m.start)}[REDACTED:pattern/${m.ruleId}]`;
    at = m.end;
    hits.push({ secret: `pattern/${m.ruleId}`, form: "pattern" });
  }
  return { text: out + text.slice(at), hits };
}
