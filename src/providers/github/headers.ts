/**
 * What GitHub's response headers say about the key that made the request
 * (providers.md §1.3; github/docs scopes-for-oauth-apps.md and troubleshooting-the-rest-api.md).
 */

/** `X-OAuth-Scopes: repo, user` → ["repo", "user"]. GitHub sends it normalised (implied scopes dropped). */
export function parseOAuthScopes(header: string): string[] {
  return header
    .split(",")
    .map((scope) => scope.trim())
    .filter((scope) => scope !== "");
}

/**
 * `X-Accepted-GitHub-Permissions: pull_requests=read,contents=read; issues=read,contents=read`
 * → [["pull_requests=read", "contents=read"], ["issues=read", "contents=read"]]: any one set suffices.
 */
export function parseAcceptedPermissions(header: string): string[][] {
  return header
    .split(";")
    .map((set) =>
      set
        .split(",")
        .map((permission) => permission.trim())
        .filter((permission) => /^[a-z_]+=[a-z_]+$/.test(permission)),
    )
    .filter((set) => set.length > 0);
}

/**
 * `GitHub-Authentication-Token-Expiration: 2021-10-07 19:07:53 UTC` (or with a `+0900`-style
 * offset, which third-party parsers handle) → ISO 8601; undefined when unreadable.
 */
export function parseTokenExpiration(header: string): string | undefined {
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})\s*(UTC|Z|[+-]\d{2}:?\d{2})$/.exec(
    header.trim(),
  );
  if (match === null) return undefined;
  const [, date, time, zone] = match;
  const offset = zone === "UTC" || zone === "Z" ? "Z" : `${zone!.slice(0, 3)}:${zone!.slice(-2)}`;
  const parsed = Date.parse(`${date}T${time}${offset}`);
  return Number.isNaN(parsed) ? undefined : new Date(parsed).toISOString();
}
