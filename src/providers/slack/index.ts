/**
 * Slack: identity, scopes and liveness through `auth.test`, revocation through `auth.revoke`,
 * rotation of expiring tokens through `oauth.v2.access` with a single-use refresh token.
 * Facts and sources: /work/shared/reference/providers.md §2 and token-formats.md (Slack rows).
 */
import * as z from "zod";
import { KeywardError } from "../../core/errors.js";
import { getRule, scanText } from "../../detect/index.js";
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

export const SLACK_API_URL = "https://slack.com/api";

/** Token kinds by prefix, longest first so `xoxe.xoxb-` wins over `xoxe-` (§2.2). */
const KINDS = [
  { prefix: "xoxe.xoxb-", kind: "rotating-bot" },
  { prefix: "xoxe.xoxp-", kind: "rotating-user" },
  { prefix: "xoxe-", kind: "refresh-token" },
  { prefix: "xoxb-", kind: "bot", rule: "slack-bot-token" },
  { prefix: "xoxp-", kind: "user", rule: "slack-user-token" },
  { prefix: "xapp-", kind: "app-level", rule: "slack-app-token" },
  { prefix: "xoxc-", kind: "browser-session" },
  { prefix: "xoxd-", kind: "browser-cookie" },
  { prefix: "https://hooks.slack.com/", kind: "incoming-webhook", rule: "slack-webhook-url" },
] as const;

export type SlackKind = (typeof KINDS)[number]["kind"];

/**
 * Kinds that carry a whole signed-in browser session: they act as the user with every permission
 * the user has, across the workspace, and no scope narrows them (korotovsky/slack-mcp-server docs).
 */
export const OVER_BROAD_KINDS: ReadonlySet<SlackKind> = new Set([
  "browser-session",
  "browser-cookie",
]);

/** Kinds auth.test and auth.revoke accept as a Bearer token (§2.3, §2.4). */
const API_KINDS: ReadonlySet<SlackKind> = new Set([
  "bot",
  "user",
  "rotating-bot",
  "rotating-user",
  "browser-session",
]);

const yes: Support = { level: "yes" };
const no = (note: string): Support => ({ level: "no", note });
const partial = (note: string): Support => ({ level: "partial", note });

const SCOPES_NOTE =
  "read from the x-oauth-scopes header of auth.test, which Slack's own SDK parses but Slack's method pages do not document";
const LONG_LIVED_ROTATE = no(
  "long-lived tokens have no rotation API: opt the app into token rotation (then oauth.v2.exchange), or reinstall the app",
);

const info: ProviderInfo = {
  id: "slack",
  title: "Slack",
  capabilities: {
    bot: {
      identify: yes,
      "introspect-scope": partial(SCOPES_NOTE),
      "introspect-expiry": partial("long-lived: never expires unless revoked"),
      verify: yes,
      mint: no("Slack has no API to mint narrowed tokens"),
      rotate: LONG_LIVED_ROTATE,
      revoke: yes,
    },
    user: {
      identify: yes,
      "introspect-scope": partial(SCOPES_NOTE),
      "introspect-expiry": partial("long-lived: never expires unless revoked"),
      verify: yes,
      mint: no("Slack has no API to mint narrowed tokens"),
      rotate: LONG_LIVED_ROTATE,
      revoke: yes,
    },
    "rotating-bot": {
      identify: yes,
      "introspect-scope": partial(SCOPES_NOTE),
      "introspect-expiry": yes,
      verify: yes,
      mint: no("Slack has no API to mint narrowed tokens"),
      rotate: partial(
        "needs the refresh token and the app's client id and secret as companions; the refresh token works once",
      ),
      revoke: yes,
    },
    "rotating-user": {
      identify: yes,
      "introspect-scope": partial(SCOPES_NOTE),
      "introspect-expiry": yes,
      verify: yes,
      mint: no("Slack has no API to mint narrowed tokens"),
      rotate: partial(
        "needs the refresh token and the app's client id and secret as companions; the refresh token works once",
      ),
      revoke: yes,
    },
    "refresh-token": {
      identify: partial("a companion of a rotating token; keyward uses it only to rotate"),
    },
    "app-level": {
      identify: yes,
      verify: no("auth.test is not documented for app-level tokens"),
      revoke: no("revoke it on the app's Basic Information page at api.slack.com/apps"),
    },
    "browser-session": {
      identify: partial("over-broad: a browser session acts as the signed-in user, unscoped"),
      "introspect-scope": partial("over-broad: every permission of the signed-in user"),
      verify: partial("needs the browser's d cookie (xoxd-) as the companion cookie"),
      rotate: no("replace it with a bot token that has only the scopes you need"),
      revoke: no("sign the browser session out; an admin can sign the user out of all sessions"),
    },
    "browser-cookie": {
      identify: partial("over-broad: half of a browser session (the d cookie)"),
    },
    "incoming-webhook": {
      identify: yes,
      revoke: no("remove the webhook on the app's Incoming Webhooks page at api.slack.com/apps"),
    },
  },
  manualRotation: [
    "Open https://api.slack.com/apps and select the app that owns the token.",
    "Under OAuth & Permissions, reinstall the app to the workspace and copy the new token (or opt in to token rotation there, after which keyward can rotate it by API).",
    "Store the new token as the next version of the secret (keyward secret set <name>, value on stdin).",
    "Once nothing uses the old token any more, revoke it (auth.revoke; keyward's revoke does this).",
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
  /** Base URL of the Web API; only tests and proxies change it. */
  apiUrl: ApiUrl.optional(),
  /** The app's client id (not a secret); the client secret must be a companion. */
  clientId: z.string().min(1).optional(),
});

/** Slack error codes are short snake_case words; anything else is not echoed (it could carry data). */
const ERROR_CODE = /^[a-z][a-z0-9_]{0,63}$/;

/** What each `ok:false` error means and what to do, for the codes in §2.3–§2.5. */
const ERRORS: Record<string, { meaning: string; fix: string }> = {
  invalid_auth: {
    meaning: "Slack does not recognise the token",
    fix: "check the stored value, or store a fresh token from the app's OAuth & Permissions page",
  },
  not_authed: {
    meaning: "no token reached Slack",
    fix: "check that the secret has a value and that no proxy strips the Authorization header",
  },
  account_inactive: {
    meaning: "the token's user or bot has been deactivated",
    fix: "reinstall the app or use a token of an active user",
  },
  token_revoked: {
    meaning: "the token has been revoked",
    fix: "store a new token (keyward secret set <name>)",
  },
  token_expired: {
    meaning: "the token has expired (rotating tokens last 12 hours)",
    fix: "rotate it with the refresh token (keyward rotate), or store a fresh one",
  },
  not_bearer_token: {
    meaning: "Slack did not accept the token as a Bearer token",
    fix: "use a bot (xoxb-) or user (xoxp-) token",
  },
  invalid_grant: {
    meaning: "the refresh token was already used, has expired or belongs to another app",
    fix: "reinstall the app to get a new token and refresh token, then store both",
  },
  invalid_refresh_token: {
    meaning: "the refresh token is not valid",
    fix: "reinstall the app to get a new token and refresh token, then store both",
  },
  bad_client_secret: {
    meaning: "the client secret does not match the client id",
    fix: "store the client secret from the app's Basic Information page as the companion clientSecret",
  },
  invalid_client_id: {
    meaning: "Slack does not know the client id",
    fix: "set clientId to the value on the app's Basic Information page",
  },
  token_rotation_not_enabled: {
    meaning: "token rotation is not enabled for this app",
    fix: "opt in to token rotation under OAuth & Permissions, or rotate by hand",
  },
  ratelimited: {
    meaning: "Slack rate-limited the call",
    fix: "wait a minute and retry",
  },
};

interface SlackAnswer {
  body: Record<string, unknown> & { ok: boolean };
  headers: Headers;
}

function settingsOf(ctx: ProviderContext): z.infer<typeof SettingsSchema> {
  const parsed = SettingsSchema.safeParse(ctx.settings);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "settings").join(", ");
    throw new KeywardError(
      "config_invalid",
      `slack provider settings are invalid (${where})`,
      "apiUrl must be an https URL (plain http only to this machine) and clientId a non-empty string",
    );
  }
  return parsed.data;
}

function kindOf(value: string): (typeof KINDS)[number] | undefined {
  return KINDS.find((k) => value.startsWith(k.prefix));
}

function identifySlack(value: string): Identity | undefined {
  const match = kindOf(value);
  // Whitespace or control characters mean a paste went wrong; such a value is no token at all.
  if (match === undefined || value.length <= match.prefix.length || /[^\x21-\x7e]/.test(value))
    return undefined;
  const identity: Identity = { kind: match.kind };
  if ("rule" in match) {
    const rule = getRule(match.rule);
    if (rule !== undefined) {
      identity.formatValid = scanText(value, { rules: [rule], keepInvalid: true }).some(
        (m) => m.start === 0 && m.end === value.length,
      );
    }
  }
  return identity;
}

/**
 * Refuses, before any traffic, a value that is not a Slack token (another provider's key must
 * never reach Slack), one that fails its kind's shape, and a kind `use` cannot take.
 */
function requireKind(cred: ProviderCredential, use: string, accepted: ReadonlySet<SlackKind>) {
  const identity = identifySlack(cred.value);
  if (identity === undefined) {
    throw new KeywardError(
      "refused",
      `${cred.name} does not look like a Slack token (expected xoxb-, xoxp- or xoxe.xox…; spaces and line breaks are not allowed), so it was not sent to Slack`,
      "check that the secret is bound to the right provider, and re-store it without stray whitespace",
    );
  }
  if (identity.formatValid === false) {
    throw new KeywardError(
      "invalid_value",
      `${cred.name} starts like a Slack ${identity.kind} token but does not have its shape (truncated or mistyped?), so it was not sent`,
      "copy the token again from the app's OAuth & Permissions page and store it",
    );
  }
  const kind = identity.kind as SlackKind;
  if (!accepted.has(kind)) {
    const support = info.capabilities[kind]?.[use === "rotate" ? "rotate" : "verify"];
    throw new KeywardError(
      "refused",
      `${cred.name} is a Slack ${kind} token, which keyward cannot ${use} by API`,
      support?.note ?? "see `keyward providers` for what each Slack token kind supports",
    );
  }
  return { identity, kind };
}

/** ok:false codes that mean the credentials themselves were refused. */
const AUTH_ERRORS = new Set([
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "token_expired",
  "not_bearer_token",
  "invalid_grant",
  "invalid_refresh_token",
  "bad_client_secret",
  "invalid_client_id",
]);

function slackError(cred: ProviderCredential, method: string, code: unknown): KeywardError {
  const safe = typeof code === "string" && ERROR_CODE.test(code) ? code : "an unrecognised error";
  const known = ERRORS[safe];
  return new KeywardError(
    AUTH_ERRORS.has(safe)
      ? "upstream_unauthorized"
      : safe === "ratelimited"
        ? "upstream_rate_limited"
        : "upstream_rejected",
    `Slack ${method} failed for ${cred.name}: ${safe}${known ? ` (${known.meaning})` : ""}`,
    known?.fix ?? "retry later; if it persists, check https://slack-status.com",
  );
}

interface SlackCall {
  method: string;
  form?: Record<string, string>;
  /** The token sent as Bearer; none for oauth.v2.access, which authenticates with the client secret. */
  bearer?: string;
  /** Whether a 5xx may be retried: not for a refresh, whose refresh token may already be spent. */
  idempotent: boolean;
  /** Secrets in the form body, kept out of error messages like the Authorization header is. */
  sensitive?: string[];
}

async function callSlack(
  cred: ProviderCredential,
  ctx: ProviderContext,
  call: SlackCall,
): Promise<SlackAnswer> {
  const apiUrl = settingsOf(ctx).apiUrl ?? SLACK_API_URL;
  const headers: Record<string, string> = {
    "Content-Type": "application/x-www-form-urlencoded",
    Accept: "application/json",
  };
  if (call.bearer !== undefined) headers.Authorization = `Bearer ${call.bearer}`;
  // A browser-session token only works beside its d cookie (§2.2).
  const cookie = cred.companions?.cookie;
  if (call.bearer?.startsWith("xoxc-") && cookie !== undefined) headers.Cookie = `d=${cookie}`;
  const sensitive = [cred.value, ...(call.sensitive ?? [])];
  const res = await providerFetch(ctx, {
    method: "POST",
    url: `${apiUrl.replace(/\/+$/, "")}/${call.method}`,
    headers,
    body: new URLSearchParams(call.form ?? {}).toString(),
    provider: "Slack",
    secretName: cred.name,
    idempotent: call.idempotent,
    // Upstream text may echo the form body, which is URL-encoded.
    sensitive: [...sensitive, ...sensitive.map(encodeURIComponent)],
  });
  // Slack answers 200 for everything but rate limiting (§2.1); anything else is not the Web API.
  if (res.status !== 200) {
    throw new KeywardError(
      "upstream_rejected",
      `Slack ${call.method} for ${cred.name} answered HTTP ${res.status}`,
      "check the apiUrl setting: it must point at the Slack Web API",
    );
  }
  const body = await res.json();
  if (
    typeof body !== "object" ||
    body === null ||
    typeof (body as { ok?: unknown }).ok !== "boolean"
  )
    throw new KeywardError(
      "upstream_rejected",
      `Slack ${call.method} for ${cred.name} did not answer with a Web API result`,
      "check the apiUrl setting: it must point at the Slack Web API",
    );
  return { body: body as SlackAnswer["body"], headers: res.headers };
}

/** Errors that say the token itself is dead or unknown: verify reports them, it does not throw. */
const DEAD_TOKEN = new Set([
  "invalid_auth",
  "not_authed",
  "account_inactive",
  "token_revoked",
  "token_expired",
]);

function parseScopes(header: string | null): string[] | undefined {
  if (header === null) return undefined;
  // Comma-separated, split like Slack's SDK does (`\s*,\s*`) (§2.6).
  return header
    .split(/\s*,\s*/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

function expiresAt(ctx: ProviderContext, expiresIn: unknown): string | undefined {
  return typeof expiresIn === "number" && Number.isFinite(expiresIn) && expiresIn > 0
    ? new Date(ctx.now().getTime() + expiresIn * 1000).toISOString()
    : undefined;
}

function ownerOf(body: Record<string, unknown>): string | undefined {
  const user = str(body.user) ?? str(body.user_id);
  const team = str(body.team) ?? str(body.team_id);
  if (user === undefined) return undefined;
  const ids = [str(body.user_id), str(body.team_id)].filter((s) => s !== undefined).join("/");
  return `${user}${team ? ` on ${team}` : ""}${ids ? ` (${ids})` : ""}`;
}

export const slackProvider: Provider = {
  info,

  identify: identifySlack,

  async introspect(cred, ctx): Promise<ScopeReport> {
    const { kind } = requireKind(cred, "introspect", API_KINDS);
    const { body, headers } = await callSlack(cred, ctx, {
      method: "auth.test",
      bearer: cred.value,
      idempotent: true,
    });
    if (!body.ok) throw slackError(cred, "auth.test", body.error);
    const scopes = parseScopes(headers.get("x-oauth-scopes"));
    // A browser session is the user: "*" is how a scope report says "everything the owner can do".
    if (OVER_BROAD_KINDS.has(kind)) return { granted: ["*"], partial: false };
    const report: ScopeReport = { granted: scopes ?? [], partial: scopes === undefined };
    const expiry = expiresAt(ctx, body.expires_in);
    if (expiry !== undefined) report.expiresAt = expiry;
    return report;
  },

  async verify(cred, ctx) {
    const { identity: offline, kind } = requireKind(cred, "verify", API_KINDS);
    const { body } = await callSlack(cred, ctx, {
      method: "auth.test",
      bearer: cred.value,
      idempotent: true,
    });
    if (!body.ok) {
      const code = String(body.error);
      if (!DEAD_TOKEN.has(code)) throw slackError(cred, "auth.test", body.error);
      const known = ERRORS[code];
      return { ok: false, detail: `${code}: ${known?.meaning}; ${known?.fix}` };
    }
    const identity: Identity = { ...offline };
    const owner = ownerOf(body);
    if (owner !== undefined) identity.owner = owner;
    return OVER_BROAD_KINDS.has(kind)
      ? {
          ok: true,
          identity,
          detail:
            "over-broad: a browser session acts as the signed-in user with every permission; replace it with a bot token that has only the scopes you need",
        }
      : { ok: true, identity };
  },

  async rotate(cred, ctx) {
    const { kind } = requireKind(cred, "rotate", new Set(["rotating-bot", "rotating-user"]));
    const refreshToken = cred.companions?.refreshToken;
    const clientId = cred.companions?.clientId ?? settingsOf(ctx).clientId;
    // The client secret is a secret: it comes from the store as a companion, never from the config file.
    const clientSecret = cred.companions?.clientSecret;
    if (refreshToken === undefined || clientId === undefined || clientSecret === undefined) {
      const missing = [
        refreshToken === undefined ? "refreshToken (companion)" : undefined,
        clientId === undefined ? "clientId (setting or companion)" : undefined,
        clientSecret === undefined ? "clientSecret (companion)" : undefined,
      ].filter((m) => m !== undefined);
      throw new KeywardError(
        "config_invalid",
        `cannot rotate ${cred.name}: missing ${missing.join(", ")}`,
        "store the refresh token and the app's client secret as secrets and name them as companions of this key",
      );
    }
    if (identifySlack(refreshToken)?.kind !== "refresh-token") {
      throw new KeywardError(
        "invalid_value",
        `the refreshToken companion of ${cred.name} does not look like a Slack refresh token (xoxe-), so it was not sent`,
        "store the refresh_token from the app's OAuth response as the companion",
      );
    }
    const { body } = await callSlack(cred, ctx, {
      method: "oauth.v2.access",
      form: {
        client_id: clientId,
        client_secret: clientSecret,
        grant_type: "refresh_token",
        refresh_token: refreshToken,
      },
      idempotent: false,
      sensitive: [clientSecret, refreshToken],
    });
    if (!body.ok) throw slackError(cred, "oauth.v2.access", body.error);
    // A user token's refresh may answer under authed_user (§2.6); a bot's sits at the top level.
    const authed =
      typeof body.authed_user === "object" && body.authed_user !== null
        ? (body.authed_user as Record<string, unknown>)
        : {};
    const pick = (field: string) =>
      str(body[field]) ?? (kind === "rotating-user" ? str(authed[field]) : undefined);
    const value = pick("access_token");
    const newRefresh = pick("refresh_token");
    const newKind = value === undefined ? undefined : identifySlack(value)?.kind;
    if (
      value === undefined ||
      newRefresh === undefined ||
      (newKind !== "rotating-bot" && newKind !== "rotating-user") ||
      identifySlack(newRefresh)?.kind !== "refresh-token"
    ) {
      // The old refresh token may already be spent: say so, the caller cannot retry with it.
      throw new KeywardError(
        "upstream_rejected",
        `Slack oauth.v2.access for ${cred.name} answered ok without a usable access token and refresh token`,
        "the previous refresh token may now be spent: reinstall the app to get a new pair and store both",
      );
    }
    const expiry = expiresAt(ctx, body.expires_in ?? authed.expires_in);
    return {
      value,
      companions: { refreshToken: newRefresh },
      ...(expiry !== undefined ? { expiresAt: expiry } : {}),
    };
  },

  async revoke(cred, ctx) {
    requireKind(cred, "revoke", new Set(["bot", "user", "rotating-bot", "rotating-user"]));
    const { body } = await callSlack(cred, ctx, {
      method: "auth.revoke",
      bearer: cred.value,
      idempotent: true,
    });
    if (body.ok) {
      return body.revoked === true
        ? { revoked: true }
        : { revoked: false, detail: "Slack answered ok but did not confirm revoked: true" };
    }
    const code = String(body.error);
    // Revoking is idempotent: a token already dead upstream is the outcome asked for.
    if (code === "token_revoked" || code === "token_expired")
      return {
        revoked: true,
        detail: `already ${code === "token_revoked" ? "revoked" : "expired"}`,
      };
    if (code === "invalid_auth" || code === "not_authed" || code === "account_inactive") {
      return {
        revoked: false,
        detail: `${code}: ${ERRORS[code]?.meaning}; Slack will not act on it, so it cannot be revoked with itself. If it leaked, check in the workspace's app management that it no longer works`,
      };
    }
    throw slackError(cred, "auth.revoke", body.error);
  },
};
