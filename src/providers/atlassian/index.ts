/**
 * Atlassian Cloud (Jira, Confluence) API tokens: offline checksum, verification through the
 * current-user endpoint (site URL for classic tokens, the api.atlassian.com gateway for scoped
 * ones), expiry tracking, and revocation through the org admin API when an Admin API key is at
 * hand. No API creates user API tokens, so rotation is a human's job, guided step by step.
 * Facts and sources: /work/shared/reference/providers.md §3 and token-formats.md (Atlassian rows).
 */
import * as z from "zod";
import { KeywardError } from "../../core/errors.js";
import { validateAtlassianToken } from "../../detect/index.js";
import { providerFetch } from "../http-client.js";
import type {
  Identity,
  Provider,
  ProviderContext,
  ProviderCredential,
  ProviderInfo,
  ScopeReport,
  Support,
} from "../types.js";

export const ATLASSIAN_API_URL = "https://api.atlassian.com";
export const API_TOKENS_PAGE = "https://id.atlassian.com/manage-profile/security/api-tokens";

/** Current tokens: `ATATT3` + body + 8 hex CRC-32; lengths vary (token-formats.md). Escaped `=` is not a usable value. */
const TOKEN_SHAPE = /^ATATT3[A-Za-z0-9_=-]{20,400}$/;

const yes: Support = { level: "yes" };
const no = (note: string): Support => ({ level: "no", note });
const partial = (note: string): Support => ({ level: "partial", note });

const EXPIRY = partial(
  "from the org admin API (companion adminKey) or the expiresAt setting recorded at creation; tokens last 1 to 365 days",
);
const ROTATE = no("Atlassian has no API that creates API tokens: follow the manual steps");
const REVOKE = partial(
  "through the org admin API with an Admin API key (companion adminKey); otherwise by hand at id.atlassian.com",
);

const info: ProviderInfo = {
  id: "atlassian",
  title: "Atlassian (Jira, Confluence)",
  capabilities: {
    "api-token": {
      identify: partial("CRC-32 checksum; classic and scoped tokens look alike until verified"),
      "introspect-scope": partial(
        "classic tokens can do everything their user can; scoped tokens' scopes cannot be read back",
      ),
      "introspect-expiry": EXPIRY,
      verify: yes,
      mint: no("Atlassian has no API to mint narrowed API tokens"),
      rotate: ROTATE,
      revoke: REVOKE,
    },
    "classic-api-token": {
      identify: yes,
      "introspect-scope": partial("over-broad: everything the token's user can do"),
      "introspect-expiry": EXPIRY,
      verify: yes,
      mint: no("Atlassian has no API to mint narrowed API tokens"),
      rotate: ROTATE,
      revoke: REVOKE,
    },
    "scoped-api-token": {
      identify: yes,
      "introspect-scope": partial("Atlassian offers no endpoint that lists a token's scopes"),
      "introspect-expiry": EXPIRY,
      verify: partial("through api.atlassian.com/ex/<product>/<cloudId>: needs cloudId or site"),
      mint: no("Atlassian has no API to mint narrowed API tokens"),
      rotate: ROTATE,
      revoke: REVOKE,
    },
  },
  manualRotation: [
    `Sign in as the token's owner at ${API_TOKENS_PAGE}.`,
    'Select "Create API token" (or "Create API token with scopes" to replace a scoped token with the same app and scopes), name it after the keyward secret, pick an expiry of 1 to 365 days and select Create.',
    "Copy the token (it is shown once) and store it as the next version of the secret: keyward secret set <name> (value on stdin); record the expiry as the expiresAt setting unless an Admin API key lets keyward read it.",
    "Check that the new token works (keyward verifies it against /rest/api/3/myself).",
    `Back on ${API_TOKENS_PAGE}, select Revoke beside the old token and confirm.`,
  ],
};

/** https, or plain http to this machine only (tests, a local proxy): a key must not cross the network unencrypted. */
const ApiUrl = z
  .url({ protocol: /^https?$/ })
  .refine(
    (u) => u.startsWith("https:") || /^http:\/\/(127\.0\.0\.1|localhost|\[::1\])(:|\/|$)/.test(u),
    {
      error: "must be https (plain http only to 127.0.0.1, ::1 or localhost)",
    },
  );

const SettingsSchema = z.looseObject({
  /** The site: `acme`, `acme.atlassian.net` or its URL. */
  site: z.string().min(1).optional(),
  /** Full site URL, overriding `site` (tests, custom domains). */
  siteUrl: ApiUrl.optional(),
  email: z.email().optional(),
  product: z.enum(["jira", "confluence"]).default("jira"),
  /** Skips the probe that tells the kinds apart (each failed probe counts as a failed login). */
  tokenKind: z.enum(["classic", "scoped"]).optional(),
  cloudId: z
    .string()
    .regex(/^[A-Za-z0-9-]{1,64}$/)
    .optional(),
  /** api.atlassian.com: the gateway for scoped tokens and the org admin API. */
  apiUrl: ApiUrl.optional(),
  accountId: z
    .string()
    .regex(/^[A-Za-z0-9:_-]{1,128}$/)
    .optional(),
  /** The token's id or label in the admin API's listing, for expiry and revocation. */
  tokenId: z
    .string()
    .regex(/^[A-Za-z0-9_-]{1,128}$/)
    .optional(),
  tokenLabel: z.string().min(1).optional(),
  /** When the token expires, as chosen at creation (ISO date). */
  expiresAt: z.iso
    .date()
    .or(z.iso.datetime({ offset: true }))
    .optional(),
});
type Settings = z.infer<typeof SettingsSchema>;

function settingsOf(ctx: ProviderContext): Settings {
  const parsed = SettingsSchema.safeParse(ctx.settings);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "settings").join(", ");
    throw new KeywardError(
      "config_invalid",
      `atlassian provider settings are invalid (${where})`,
      "see src/providers/atlassian/README.md for each setting's form",
    );
  }
  return parsed.data;
}

function identifyAtlassian(value: string): Identity | undefined {
  if (!TOKEN_SHAPE.test(value)) return undefined;
  return { kind: "api-token", formatValid: validateAtlassianToken(value) === "valid" };
}

/**
 * Refuses, before any traffic, a value that is not an intact Atlassian API token: each failed
 * Basic login counts towards the CAPTCHA that then blocks the account's API use.
 */
function requireToken(cred: ProviderCredential): Identity {
  const identity = identifyAtlassian(cred.value);
  if (identity === undefined) {
    throw new KeywardError(
      "refused",
      `${cred.name} does not look like an Atlassian API token (ATATT3…, no spaces, no escaped "="), so it was not sent to Atlassian`,
      "check that the secret is bound to the right provider, and re-store the token exactly as Atlassian showed it",
    );
  }
  if (!identity.formatValid) {
    throw new KeywardError(
      "invalid_value",
      `${cred.name} fails the Atlassian token checksum: it is truncated or mistyped, so it was not sent`,
      `copy the token again, or create a new one at ${API_TOKENS_PAGE}`,
    );
  }
  return identity;
}

function siteBase(settings: Settings): string | undefined {
  if (settings.siteUrl !== undefined) return settings.siteUrl.replace(/\/+$/, "");
  if (settings.site === undefined) return undefined;
  const host = settings.site.replace(/^https:\/\//, "").replace(/\/+$/, "");
  const name = host.endsWith(".atlassian.net") ? host.slice(0, -".atlassian.net".length) : host;
  if (!/^[A-Za-z0-9][A-Za-z0-9-]{0,62}$/.test(name))
    throw new KeywardError(
      "config_invalid",
      "the atlassian site setting is not a site name",
      "write the site as acme, acme.atlassian.net or https://acme.atlassian.net",
    );
  return `https://${name}.atlassian.net`;
}

const apiBase = (settings: Settings) => (settings.apiUrl ?? ATLASSIAN_API_URL).replace(/\/+$/, "");

/** The current-user endpoint of each product (§3.4; Confluence's is unverified there). */
const CURRENT_USER = { jira: "/rest/api/3/myself", confluence: "/wiki/rest/api/user/current" };

type TokenKind = "classic" | "scoped";

interface CurrentUser {
  kind: TokenKind;
  status: number;
  account?: Record<string, unknown>;
  /** Set when Atlassian asks for a CAPTCHA after too many failed logins. */
  captcha: boolean;
  /** Set when the site answered 401 and the gateway was tried too. */
  probed?: boolean;
}

function basicAuth(cred: ProviderCredential, settings: Settings): string {
  const email = settings.email ?? cred.companions?.email;
  if (email === undefined)
    throw new KeywardError(
      "config_invalid",
      `cannot use ${cred.name}: Atlassian API tokens sign in with the owner's email, and none is set`,
      "set the atlassian provider's email setting to the Atlassian account's email address",
    );
  return `Basic ${Buffer.from(`${email}:${cred.value}`).toString("base64")}`;
}

/** The site's cloud id, from the setting or the site's unauthenticated tenant_info (§3.1, unverified). */
async function cloudIdOf(settings: Settings, ctx: ProviderContext): Promise<string | undefined> {
  if (settings.cloudId !== undefined) return settings.cloudId;
  const site = siteBase(settings);
  if (site === undefined) return undefined;
  const res = await providerFetch(ctx, {
    url: `${site}/_edge/tenant_info`,
    provider: "Atlassian",
  });
  const body = (await res.json()) as { cloudId?: unknown } | undefined;
  const id = body?.cloudId;
  return typeof id === "string" && /^[A-Za-z0-9-]{1,64}$/.test(id) ? id : undefined;
}

async function askCurrentUser(
  cred: ProviderCredential,
  ctx: ProviderContext,
  url: string,
  kind: TokenKind,
  authorization: string,
): Promise<CurrentUser> {
  const res = await providerFetch(ctx, {
    url,
    headers: { Authorization: authorization, Accept: "application/json" },
    provider: "Atlassian",
    secretName: cred.name,
    accept: [401, 403, 404],
    sensitive: [cred.value],
  });
  if (res.status === 404)
    throw new KeywardError(
      "config_invalid",
      `Atlassian answered 404 to ${new URL(url).host}${new URL(url).pathname} for ${cred.name}: no such site, product or cloud id`,
      "check the site, cloudId and product settings of the atlassian provider",
    );
  const captcha = /CAPTCHA/i.test(res.headers.get("x-authentication-denied-reason") ?? "");
  if (res.status !== 200) return { kind, status: res.status, captcha };
  const body = await res.json();
  const account =
    typeof body === "object" && body !== null ? (body as Record<string, unknown>) : {};
  // Confluence answers an unauthenticated caller as the anonymous user rather than with 401.
  if (account.type === "anonymous") return { kind, status: 401, captcha };
  return { kind, status: 200, account, captcha };
}

/**
 * Asks who the token belongs to. Classic tokens work on the site URL; scoped tokens answer 401
 * there and work through the gateway (§3.1, measured in sooperset/mcp-atlassian #968), so without
 * a tokenKind setting a 401 on the site is followed by one try through the gateway.
 */
async function currentUser(cred: ProviderCredential, ctx: ProviderContext): Promise<CurrentUser> {
  const settings = settingsOf(ctx);
  const authorization = basicAuth(cred, settings);
  const path = CURRENT_USER[settings.product];
  const site = siteBase(settings);
  if (site === undefined && settings.cloudId === undefined)
    throw new KeywardError(
      "config_invalid",
      `cannot verify ${cred.name}: the atlassian provider needs a site (or a cloudId for scoped tokens)`,
      "set site: acme (for acme.atlassian.net) in the provider settings",
    );
  let siteAnswer: CurrentUser | undefined;
  if (site !== undefined && settings.tokenKind !== "scoped") {
    siteAnswer = await askCurrentUser(cred, ctx, `${site}${path}`, "classic", authorization);
    if (siteAnswer.status !== 401 || settings.tokenKind === "classic" || siteAnswer.captcha)
      return siteAnswer;
  }
  const cloudId = await cloudIdOf(settings, ctx);
  if (cloudId === undefined) {
    if (siteAnswer !== undefined) return siteAnswer;
    throw new KeywardError(
      "config_invalid",
      `cannot verify ${cred.name}: a scoped token goes through api.atlassian.com, which needs the site's cloudId`,
      "set cloudId (see support.atlassian.com/jira/kb/retrieve-my-atlassian-sites-cloud-id/)",
    );
  }
  const gateway = `${apiBase(settings)}/ex/${settings.product}/${cloudId}${path}`;
  const answer = await askCurrentUser(cred, ctx, gateway, "scoped", authorization);
  return siteAnswer === undefined ? answer : { ...answer, probed: true };
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function ownerOf(account: Record<string, unknown>): string | undefined {
  const who = str(account.emailAddress) ?? str(account.email) ?? str(account.displayName);
  const id = str(account.accountId);
  if (who === undefined) return id;
  return id === undefined ? who : `${who} (${id})`;
}

function refusalDetail(answer: CurrentUser, settings: Settings): string {
  if (answer.captcha)
    return "Atlassian asks for a CAPTCHA after too many failed sign-ins: sign in to the site once in a browser, then retry";
  if (answer.status === 403)
    return settings.product === "jira"
      ? "403: the account may not use this site's REST API, or a scoped token lacks read:jira-user"
      : "403: the account may not use this site's REST API, or a scoped token lacks read:confluence-user";
  if (answer.probed)
    return "401 on the site and through api.atlassian.com: wrong email, or the token is revoked or expired";
  return settings.tokenKind === undefined && answer.kind === "classic"
    ? "401: wrong email, or the token is revoked or expired (a scoped token also answers 401 on the site URL: set cloudId or tokenKind: scoped)"
    : "401: wrong email, or the token is revoked or expired";
}

interface AdminToken {
  id: string;
  label?: string;
  expiry?: string;
  lastAccess?: string;
}

/** The owner's tokens from the org admin API (§3.3), with an Admin API key (Bearer). */
async function listTokens(
  cred: ProviderCredential,
  ctx: ProviderContext,
  accountId: string,
  adminKey: string,
): Promise<AdminToken[]> {
  const res = await providerFetch(ctx, {
    url: `${apiBase(settingsOf(ctx))}/users/${encodeURIComponent(accountId)}/manage/api-tokens`,
    headers: { Authorization: `Bearer ${adminKey}`, Accept: "application/json" },
    provider: "Atlassian admin API",
    secretName: cred.name,
    sensitive: [cred.value, adminKey],
  });
  const body = await res.json();
  if (!Array.isArray(body))
    throw new KeywardError(
      "upstream_rejected",
      `the Atlassian admin API did not list the API tokens of ${cred.name}'s owner`,
      "check the apiUrl setting and that the adminKey companion is an organization Admin API key",
    );
  return body
    .filter((t): t is Record<string, unknown> => typeof t === "object" && t !== null)
    .flatMap((t) => {
      const id = str(t.id);
      if (id === undefined) return [];
      const token: AdminToken = { id };
      for (const field of ["label", "expiry", "lastAccess"] as const) {
        const v = str(t[field]);
        if (v !== undefined) token[field] = v;
      }
      return [token];
    });
}

/** Finds the token by the tokenId or tokenLabel setting; undefined when neither is set. */
async function findAdminToken(
  cred: ProviderCredential,
  ctx: ProviderContext,
  accountId: string,
  adminKey: string,
): Promise<{ found?: AdminToken; wanted: string } | undefined> {
  const { tokenId, tokenLabel } = settingsOf(ctx);
  if (tokenId === undefined && tokenLabel === undefined) return undefined;
  const tokens = await listTokens(cred, ctx, accountId, adminKey);
  const found = tokens.find((t) =>
    tokenId !== undefined ? t.id === tokenId : t.label === tokenLabel,
  );
  const wanted = tokenId !== undefined ? `id ${tokenId}` : `label "${tokenLabel}"`;
  return found === undefined ? { wanted } : { found, wanted };
}

function isoOrUndefined(v: string | undefined): string | undefined {
  if (v === undefined) return undefined;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : new Date(t).toISOString();
}

export const atlassianProvider: Provider = {
  info,

  identify: identifyAtlassian,

  async verify(cred, ctx) {
    const offline = requireToken(cred);
    const answer = await currentUser(cred, ctx);
    if (answer.status !== 200) return { ok: false, detail: refusalDetail(answer, settingsOf(ctx)) };
    const identity: Identity = { ...offline, kind: `${answer.kind}-api-token` };
    const owner = answer.account === undefined ? undefined : ownerOf(answer.account);
    if (owner !== undefined) identity.owner = owner;
    return { ok: true, identity };
  },

  async introspect(cred, ctx): Promise<ScopeReport> {
    requireToken(cred);
    const settings = settingsOf(ctx);
    const answer = await currentUser(cred, ctx);
    if (answer.status !== 200)
      throw new KeywardError(
        "upstream_unauthorized",
        `Atlassian does not accept ${cred.name}: ${refusalDetail(answer, settings)}`,
        `store a working token (create one at ${API_TOKENS_PAGE})`,
      );
    // A classic token is its user: "*" is how a scope report says "everything the owner can do".
    const report: ScopeReport =
      answer.kind === "classic"
        ? { granted: ["*"], partial: false }
        : { granted: [], partial: true };
    const adminKey = cred.companions?.adminKey;
    const accountId = settings.accountId ?? str(answer.account?.accountId);
    const listed =
      adminKey !== undefined && accountId !== undefined
        ? await findAdminToken(cred, ctx, accountId, adminKey)
        : undefined;
    const expiry = isoOrUndefined(listed?.found?.expiry) ?? isoOrUndefined(settings.expiresAt);
    if (expiry !== undefined) report.expiresAt = expiry;
    return report;
  },

  async revoke(cred, ctx) {
    requireToken(cred);
    const settings = settingsOf(ctx);
    const adminKey = cred.companions?.adminKey;
    const label = settings.tokenLabel === undefined ? "" : ` (label "${settings.tokenLabel}")`;
    if (
      adminKey === undefined ||
      (settings.tokenId === undefined && settings.tokenLabel === undefined)
    )
      throw new KeywardError(
        "refused",
        `keyward cannot revoke ${cred.name} by API: a user cannot revoke an API token through Atlassian's API, only an org admin can`,
        `revoke it by hand: sign in as its owner at ${API_TOKENS_PAGE}, select Revoke beside the token${label} and confirm. Or give keyward an Admin API key (companion adminKey) and the token's tokenId or tokenLabel`,
      );
    // The owner's account id: from the settings, else asked with the token itself while it still works.
    let accountId = settings.accountId;
    if (accountId === undefined) {
      const answer = await currentUser(cred, ctx);
      accountId = str(answer.account?.accountId);
    }
    if (accountId === undefined)
      throw new KeywardError(
        "config_invalid",
        `cannot revoke ${cred.name} through the admin API: its owner's accountId is unknown and the token no longer says who it belongs to`,
        "set the accountId setting (the owner's Atlassian account id, shown in the admin console)",
      );
    const lookup = await findAdminToken(cred, ctx, accountId, adminKey);
    if (lookup?.found === undefined)
      return {
        revoked: false,
        detail: `no API token with ${lookup?.wanted ?? "that id"} is listed for the owner: it is already revoked or expired, or the setting is wrong`,
      };
    const res = await providerFetch(ctx, {
      method: "DELETE",
      url: `${apiBase(settings)}/users/${encodeURIComponent(accountId)}/manage/api-tokens/${encodeURIComponent(lookup.found.id)}`,
      headers: { Authorization: `Bearer ${adminKey}` },
      provider: "Atlassian admin API",
      secretName: cred.name,
      sensitive: [cred.value, adminKey],
      accept: [404],
    });
    return res.status === 404
      ? {
          revoked: false,
          detail: "the token disappeared from the listing before keyward deleted it",
        }
      : { revoked: true };
  },
};

/**
 * A reminder for a token that cannot be rotated by API: undefined while more than `leadDays`
 * remain, else what to say (expired or expiring) and the manual steps to follow.
 */
export function expiryReminder(
  name: string,
  expiresAt: string,
  now: Date,
  leadDays = 14,
): { message: string; steps: string[] } | undefined {
  const left = Date.parse(expiresAt) - now.getTime();
  if (Number.isNaN(left) || left > leadDays * 86_400_000) return undefined;
  const days = Math.ceil(left / 86_400_000);
  const message =
    left <= 0
      ? `${name} (Atlassian API token) expired on ${expiresAt}`
      : `${name} (Atlassian API token) expires in ${days} day${days === 1 ? "" : "s"}, on ${expiresAt}`;
  return { message, steps: info.manualRotation ?? [] };
}
