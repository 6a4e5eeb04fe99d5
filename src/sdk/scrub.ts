import { Redactor } from "../redact/index.js";
import { PatternScrubber } from "../redact/patterns.js";

/**
 * Every value this process obtained through `secret()`, old versions included, and the known
 * token formats (src/detect): what the redacting loggers scrub. One per process, so a logger
 * made before a secret was read, or before it rotated, still scrubs it.
 */
const scrubber = new PatternScrubber(new Redactor());

/** Starts scrubbing a value (and its encodings) under the secret's name. */
export function learnSecret(name: string, value: string): void {
  scrubber.add({ name, value });
}

/**
 * Replaces every secret value this process read through `secret()` (raw, JSON-escaped, URL-,
 * hex- and base64-encoded) with `[REDACTED:<name>]`, and known token formats with
 * `[REDACTED:pattern/<rule>]`. A base64 run keeps its length: the value's bytes become `A`s.
 */
export function redact(text: string): string {
  return scrubber.redactText(text).text;
}
