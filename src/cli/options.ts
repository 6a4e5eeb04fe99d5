/** Parsing of option values that the commands share. */
import { KeywardError } from "../core/errors.js";

/**
 * A whole-number option's value (1 or more, at most `max`), or a usage error that names the
 * option, the range it takes and what was given.
 */
export function wholeNumber(option: string, text: string, max?: number): number {
  const n = Number(text);
  if (Number.isInteger(n) && n >= 1 && (max === undefined || n <= max)) return n;
  const range = max === undefined ? "1 or more" : `from 1 to ${max}`;
  throw new KeywardError("usage", `${option} must be a whole number ${range}, got "${text}"`);
}
