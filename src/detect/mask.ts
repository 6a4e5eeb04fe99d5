const ELLIPSIS = "…";

/**
 * A display form of a secret for reports and logs: at most the first 4 and last 2 characters,
 * never more than 20% of the value, and nothing at all of values shorter than 12 characters.
 * The prefix is kept rather than the tail because it names the kind (`ghp_…3F`).
 */
export function mask(secret: string): string {
  const chars = Array.from(secret);
  if (chars.length < 12) return "****";
  const shown = Math.floor(chars.length / 5);
  const tail = shown >= 6 ? 2 : shown >= 4 ? 1 : 0;
  const head = Math.min(4, shown - tail);
  return chars.slice(0, head).join("") + ELLIPSIS + chars.slice(chars.length - tail).join("");
}
