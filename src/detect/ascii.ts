/** ASCII character classes by UTF-16 code, for the scanners' hand-written loops. */

/** `[A-Za-z]`: `| 32` lower-cases a letter. */
export function isLetter(code: number): boolean {
  return (code | 32) >= 97 && (code | 32) <= 122;
}

/** `[A-Za-z0-9]` */
export function isAlphanumeric(code: number): boolean {
  return (code >= 48 && code <= 57) || isLetter(code);
}
