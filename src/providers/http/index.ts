/**
 * A generic provider for internal APIs: the verify and revoke requests are written in the
 * config, with `{{value}}` (and `{{companions.<name>}}`) standing for secrets in headers and
 * body only — never in the URL, which ends up in messages, proxy logs and history.
 */
import * as z from "zod";
import { KeywardError } from "../../core/errors.js";
import { providerFetch } from "../http-client.js";
import type { Provider, ProviderContext, ProviderCredential, ProviderInfo } from "../types.js";

const TEMPLATE = /\{\{\s*([^{}]*?)\s*\}\}/g;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

const RequestSchema = z.strictObject({
  method: z
    .string()
    .regex(/^[A-Za-z]{1,16}$/)
    .default("GET"),
  url: z.url({ protocol: /^https?$/ }),
  headers: z
    .record(z.string().regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,128}$/), z.string())
    .default({}),
  body: z.string().optional(),
  /** Statuses that mean success; any 2xx when left out. */
  expectStatus: z
    .union([z.int().min(100).max(599), z.array(z.int().min(100).max(599)).min(1)])
    .optional(),
});
export type HttpRequestSpec = z.input<typeof RequestSchema>;

const SettingsSchema = z.looseObject({
  /** What messages call the upstream, e.g. "billing API"; the URL's host by default. */
  title: z.string().min(1).max(80).optional(),
  verify: RequestSchema.optional(),
  revoke: RequestSchema.optional(),
});
type Spec = z.infer<typeof RequestSchema>;

const info: ProviderInfo = {
  id: "http",
  title: "HTTP (requests described in the config)",
  capabilities: {
    configured: {
      identify: { level: "no", note: "a generic upstream has no recognisable key format" },
      "introspect-scope": { level: "no" },
      "introspect-expiry": { level: "no" },
      verify: { level: "partial", note: "when settings.verify describes the request" },
      mint: { level: "no", note: "use the command provider to mint with a script" },
      rotate: { level: "no", note: "use the command provider to rotate with a script" },
      revoke: { level: "partial", note: "when settings.revoke describes the request" },
    },
  },
  manualRotation: [
    "Create a new key in the upstream's console or admin API.",
    "Store it as the next version of the secret: keyward secret set <name> (value on stdin).",
    "Check that it works (keyward runs the configured verify request).",
    "Revoke the old key upstream (keyward runs the configured revoke request, if any).",
  ],
};

/**
 * Any value could be a key of a generic upstream; only one that cannot travel in a header
 * intact (empty, surrounding whitespace, control characters) is refused.
 */
function identifyGeneric(value: string) {
  if (value === "" || value.trim() !== value || /[\u0000-\u001f\u007f]/.test(value))
    return undefined;
  return { kind: "configured" };
}

function settingsOf(ctx: ProviderContext) {
  const parsed = SettingsSchema.safeParse(ctx.settings);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "settings").join(", ");
    throw new KeywardError(
      "config_invalid",
      `http provider settings are invalid (${where})`,
      "each request is { method, url, headers, body, expectStatus } with {{value}} only in headers or body",
    );
  }
  return parsed.data;
}

function specFor(ctx: ProviderContext, action: "verify" | "revoke", name: string): Spec {
  const spec = settingsOf(ctx)[action];
  if (spec === undefined)
    throw new KeywardError(
      "refused",
      `the http provider of ${name} has no ${action} request configured`,
      `describe it under the provider's settings.${action}: { method, url, headers, expectStatus }`,
    );
  const url = new URL(spec.url);
  if (spec.url.includes("{{"))
    throw new KeywardError(
      "config_invalid",
      `the http provider's ${action} URL holds a template: secrets go in headers or body, never in the URL`,
      'move it to a header, e.g. headers: { Authorization: "Bearer {{value}}" }',
    );
  if (url.protocol === "http:" && !LOOPBACK.has(url.hostname))
    throw new KeywardError(
      "config_invalid",
      `the http provider's ${action} URL is plain http to ${url.host}: the key would cross the network unencrypted`,
      "use https (plain http is allowed only to 127.0.0.1, ::1 and localhost)",
    );
  return spec;
}

/** How a secret is written into a body of this content type, so it cannot break the syntax. */
function bodyEscape(headers: Record<string, string>): (s: string) => string {
  const type = Object.entries(headers).find(([k]) => k.toLowerCase() === "content-type")?.[1] ?? "";
  if (/json/i.test(type)) return (s) => JSON.stringify(s).slice(1, -1);
  if (/x-www-form-urlencoded/i.test(type)) return encodeURIComponent;
  return (s) => s;
}

/** Fills the templates; throws on an unknown one (a typo would otherwise send `{{valeu}}`). */
function fill(
  text: string,
  cred: ProviderCredential,
  encode: (s: string) => string,
  where: string,
  used: Set<string>,
): string {
  return text.replace(TEMPLATE, (_, ref: string) => {
    const value =
      ref === "value"
        ? cred.value
        : ref.startsWith("companions.")
          ? cred.companions?.[ref.slice("companions.".length)]
          : undefined;
    if (value === undefined)
      throw new KeywardError(
        "config_invalid",
        `the http provider's ${where} refers to {{${ref.slice(0, 40)}}}, which ${cred.name} does not have`,
        "use {{value}} for the key, or {{companions.<name>}} for a companion the config names",
      );
    used.add(value);
    return encode(value);
  });
}

async function send(
  cred: ProviderCredential,
  ctx: ProviderContext,
  action: "verify" | "revoke",
  spec: Spec,
) {
  // A line break in a header value would start a new header: refuse such a value outright.
  if (identifyGeneric(cred.value) === undefined)
    throw new KeywardError(
      "invalid_value",
      `${cred.name} is empty or holds whitespace around it or control characters (a line break?), so it was not sent`,
      "re-store the value without the trailing newline (keyward secret set without --raw)",
    );
  const used = new Set<string>();
  const headers: Record<string, string> = {};
  for (const [key, template] of Object.entries(spec.headers))
    headers[key] = fill(template, cred, (s) => s, `${action} header ${key}`, used);
  const body =
    spec.body === undefined
      ? undefined
      : fill(spec.body, cred, bodyEscape(spec.headers), `${action} body`, used);
  if (!used.has(cred.value) && action === "verify")
    throw new KeywardError(
      "config_invalid",
      `the http provider's verify request never sends {{value}}, so it cannot tell whether ${cred.name} works`,
      'add it to a header, e.g. headers: { Authorization: "Bearer {{value}}" }',
    );
  const expected =
    spec.expectStatus === undefined
      ? undefined
      : Array.isArray(spec.expectStatus)
        ? spec.expectStatus
        : [spec.expectStatus];
  const secrets = [...used];
  const res = await providerFetch(ctx, {
    method: spec.method,
    url: spec.url,
    headers,
    ...(body !== undefined ? { body } : {}),
    provider: settingsOf(ctx).title ?? new URL(spec.url).host,
    secretName: cred.name,
    accept: [...(expected ?? []), 401, 403],
    // Header names are free here, so the client cannot tell which carry secrets: name them all.
    sensitive: [...secrets, ...secrets.map(encodeURIComponent), ...secrets.map(base64)],
  });
  const ok =
    expected === undefined ? res.status >= 200 && res.status < 300 : expected.includes(res.status);
  const wanted = expected === undefined ? "a 2xx status" : expected.join(" or ");
  return { ok, status: res.status, wanted };
}

function base64(s: string): string {
  return Buffer.from(s).toString("base64");
}

export const httpProvider: Provider = {
  info,

  identify: identifyGeneric,

  async verify(cred, ctx) {
    const spec = specFor(ctx, "verify", cred.name);
    const { ok, status, wanted } = await send(cred, ctx, "verify", spec);
    if (ok) return { ok: true, identity: { kind: "configured" } };
    return {
      ok: false,
      detail:
        status === 401 || status === 403
          ? `the upstream refused the key (${status})`
          : `the upstream answered ${status}, expected ${wanted}`,
    };
  },

  async revoke(cred, ctx) {
    const spec = specFor(ctx, "revoke", cred.name);
    const { ok, status, wanted } = await send(cred, ctx, "revoke", spec);
    return ok
      ? { revoked: true }
      : { revoked: false, detail: `the upstream answered ${status}, expected ${wanted}` };
  },
};
