/**
 * Token edges shared by the rules. JavaScript has lookbehind, so edges are zero-width and the
 * whole match is the secret (secretGroup 0).
 *
 * A token starts where no word character glues it to the text before — except right after a
 * JSON/shell escape (`\n`, `\r`, `\t`) or a percent-escape (`%3D`), where tokens routinely follow
 * in MCP traffic and URLs.
 */
// One negative lookbehind (a word character before, unless it ends such an escape), not an
// alternation of lookbehinds: V8 then still searches for the token's literal prefix quickly
// (about 15 times faster over large texts).
export const TOKEN_START = String.raw`(?<![A-Za-z0-9_](?<!\\[nrt])(?<!%[0-9A-Fa-f]{2}))`;

/** Characters that would continue a token; a match must not be followed by one. */
export const WORD = "[A-Za-z0-9_]";
export const URL_SAFE = "[A-Za-z0-9_-]";

/** A global regex for `body` between a token start and a character that cannot continue it. */
export function tokenPattern(body: string, continues: string = WORD, flags = "g"): RegExp {
  return new RegExp(`${TOKEN_START}(?:${body})(?!${continues})`, flags);
}
