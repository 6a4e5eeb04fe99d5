import { KeywardError } from "./errors.js";

export const DURATION_PATTERN = /^(?=\d)(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
export const DURATION_FIX =
  "write a whole number followed by d, h, m or s, for example 90d, 12h, 30m, 45s or 1h30m";

/** Parses a duration such as `90d`, `12h`, `30m`, `45s` or `1h30m` into seconds. */
export function parseDuration(text: string): number {
  const match = DURATION_PATTERN.exec(text);
  if (match === null) {
    const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
    throw new KeywardError(
      "invalid_value",
      `invalid duration ${JSON.stringify(shown)}`,
      DURATION_FIX,
    );
  }
  const [, d = "0", h = "0", m = "0", s = "0"] = match;
  const seconds = Number(d) * 86400 + Number(h) * 3600 + Number(m) * 60 + Number(s);
  if (!Number.isSafeInteger(seconds)) {
    throw new KeywardError(
      "invalid_value",
      `duration ${JSON.stringify(text)} is too large`,
      DURATION_FIX,
    );
  }
  return seconds;
}
