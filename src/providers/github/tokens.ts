/**
 * GitHub token kinds by prefix, with the offline checks each format allows
 * (providers.md §1.1; token-formats.md §1 and §2).
 */
import { validateClassicToken, validateJwt } from "../../detect/index.js";
import type { Identity } from "../types.js";

export type GitHubTokenKind =
  | "classic-pat"
  | "fine-grained-pat"
  | "oauth"
  | "user-to-server"
  | "refresh"
  | "installation";

/** Classic-scheme prefixes: 4 chars + 30 base62 + a 6-char CRC-32 checksum in base62. */
const CLASSIC_PREFIXES: Record<string, GitHubTokenKind> = {
  ghp_: "classic-pat",
  gho_: "oauth",
  ghu_: "user-to-server",
  ghr_: "refresh",
  ghs_: "installation",
};

export interface GitHubIdentity extends Identity {
  kind: GitHubTokenKind;
}

export const FINE_GRAINED_PREFIX = "github_pat_";

/** Every prefix GitHub issues, for messages. */
export const GITHUB_PREFIXES = [...Object.keys(CLASSIC_PREFIXES), FINE_GRAINED_PREFIX];

/**
 * The token's kind and whether its offline check passes, or undefined for a value with none of
 * GitHub's prefixes. A recognised prefix with the wrong shape is reported with formatValid false
 * (a truncated copy or a typo), so callers can say so instead of "not a GitHub token".
 */
export function identifyGitHubToken(value: string): GitHubIdentity | undefined {
  if (value.startsWith(FINE_GRAINED_PREFIX)) {
    // github_pat_ + 22 + _ + 59 = 93 chars; GitHub documents no checksum, so the shape is all there is.
    return {
      kind: "fine-grained-pat",
      formatValid: /^github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}$/.test(value),
    };
  }
  const kind = CLASSIC_PREFIXES[value.slice(0, 4)];
  if (kind === undefined) return undefined;
  if (kind === "installation") {
    // From 2026-04-27: ghs_<app id>_<JWT>, ~520 chars, whose JWT clients must not depend on.
    const stateless = /^ghs_([0-9]{1,20})_(ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(
      value,
    );
    if (stateless !== null)
      return {
        kind,
        owner: `app ${stateless[1]}`,
        formatValid: validateJwt(stateless[2]!) === "valid",
      };
  }
  if (!/^[0-9A-Za-z]{36,251}$/.test(value.slice(4))) return { kind, formatValid: false };
  // GitHub reserved growth to 255 chars; only the 40-char form has a checksum we know.
  const check = validateClassicToken(value);
  return check === "unknown" ? { kind } : { kind, formatValid: check === "valid" };
}
