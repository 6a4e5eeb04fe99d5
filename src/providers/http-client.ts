/**
 * The one HTTP call path every provider uses: a timeout per attempt, bounded retries with
 * exponential back-off and jitter on rate limits and 5xx, and KeywardErrors that say what
 * happened and what to do — naming the secret, never containing it. Built on the context's
 * injectable fetch, so tests point it at a local fake server.
 */
import { setTimeout as delay } from "node:timers/promises";
import { KeywardError } from "../core/errors.js";
import type { ProviderContext, RetryPolicy } from "./types.js";

export const DEFAULT_RETRY: RetryPolicy = {
  attempts: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxWaitMs: 60_000,
};

/**
 * GitHub's advice for a rate-limit answer that carries neither Retry-After nor a reset time:
 * wait at least a minute (docs.github.com …/rate-limits-for-the-rest-api).
 */
const RATE_LIMIT_FALLBACK_MS = 60_000;

/** Upstream bodies are small JSON documents; anything larger is not what keyward asked for. */
const MAX_BODY_BYTES = 1024 * 1024;

export interface ProviderRequest {
  method?: string;
  url: string | URL;
  headers?: Record<string, string>;
  /** A string is sent as-is; anything else as JSON (with content-type set). */
  body?: unknown;
  /** The upstream's name for messages, e.g. "GitHub". */
  provider: string;
  /** The secret the call uses, named in errors (never its value). */
  secretName?: string;
  /** Non-2xx statuses returned to the caller instead of thrown (e.g. 401 for verify). */
  accept?: readonly number[];
  /** Whether a 5xx or a dropped connection may be retried; default true except for POST and PATCH. */
  idempotent?: boolean;
  /** Further values to keep out of error messages (e.g. a URL whose path is the secret). */
  sensitive?: readonly string[];
}

export interface ProviderResponse {
  status: number;
  headers: Headers;
  text(): string;
  /** The body parsed as JSON; undefined for an empty body; a KeywardError if it is not JSON. */
  json(): Promise<unknown>;
}

/** Sends a request to a provider's API; resolves with a 2xx (or an `accept`ed) answer, else throws a KeywardError. */
export async function providerFetch(
  ctx: ProviderContext,
  request: ProviderRequest,
): Promise<ProviderResponse> {
  const policy = ctx.retry ?? DEFAULT_RETRY;
  const sleep = ctx.sleep ?? ((ms: number) => delay(ms));
  const method = (request.method ?? "GET").toUpperCase();
  const url = new URL(request.url);
  const call = describeCall(method, url, request);
  const scrub = scrubber(request);
  const idempotent = request.idempotent ?? !(method === "POST" || method === "PATCH");
  const init = requestInit(method, request);
  const attempts = Math.max(1, policy.attempts);

  for (let attempt = 1; ; attempt++) {
    const last = attempt >= attempts;
    let response: Response;
    let text: string;
    try {
      response = await ctx.fetch(url, { ...init, signal: AbortSignal.timeout(ctx.timeoutMs) });
      text = await readBody(response, call, scrub);
    } catch (e) {
      if (e instanceof KeywardError) throw e;
      if (isTimeout(e)) {
        // Not retried: the attempt already spent the whole budget the user allowed.
        throw new KeywardError(
          "upstream_timeout",
          scrub(`${call.who} did not answer ${call.what} within ${ctx.timeoutMs} ms.`),
          "Check the network or the provider's status page, or raise the provider timeout.",
        );
      }
      if (idempotent && !last) {
        await sleep(backoff(policy, attempt));
        continue;
      }
      throw new KeywardError(
        "upstream_unavailable",
        scrub(`Could not reach ${call.who} at ${url.host} for ${call.what}${networkReason(e)}.`),
        "Check the network, a proxy, or the provider's API base URL in the config.",
      );
    }

    const result = responseOf(response, text, call, scrub);
    if (response.ok) return result;

    // Before `accept`: a caller that handles 403 "permission missing" must not mistake a rate limit for one.
    const rateLimitWait = rateLimitDelay(response, ctx.now());
    if (rateLimitWait !== undefined) {
      if (!last && rateLimitWait <= policy.maxWaitMs) {
        await sleep(rateLimitWait + jitter(policy.baseDelayMs));
        continue;
      }
      throw rateLimitError(response, ctx.now(), call, scrub);
    }
    if (request.accept?.includes(response.status)) return result;
    if (response.status >= 500 && idempotent && !last) {
      await sleep(backoff(policy, attempt));
      continue;
    }
    throw statusError(response.status, upstreamMessage(text), call, attempt, scrub);
  }
}

interface CallDescription {
  /** "GitHub" or `GitHub (secret "github/token")`. */
  who: string;
  /** "GET api.github.com/rate_limit": method, host and path, never the query. */
  what: string;
  provider: string;
  secretName: string | undefined;
}

function describeCall(method: string, url: URL, request: ProviderRequest): CallDescription {
  const who =
    request.secretName === undefined
      ? request.provider
      : `${request.provider} (secret "${request.secretName}")`;
  return {
    who,
    what: `${method} ${url.host}${url.pathname}`,
    provider: request.provider,
    secretName: request.secretName,
  };
}

function requestInit(method: string, request: ProviderRequest): RequestInit {
  const headers = new Headers(request.headers);
  let body: string | undefined;
  if (typeof request.body === "string") body = request.body;
  else if (request.body !== undefined) {
    body = JSON.stringify(request.body);
    if (!headers.has("content-type")) headers.set("content-type", "application/json");
  }
  // A redirect would carry the key to wherever the upstream points: answer it as an error instead.
  return { method, headers, body, redirect: "manual" };
}

/**
 * Removes every credential the request carries from a message: Authorization-like header values
 * (with and without their scheme, and a Basic header's decoded password) and `sensitive`.
 * Upstream error text is echoed into messages, and an upstream may echo what it was sent.
 */
function scrubber(request: ProviderRequest): (text: string) => string {
  const secrets = new Set<string>(request.sensitive ?? []);
  for (const [name, value] of Object.entries(request.headers ?? {})) {
    if (!/authorization|token|key|cookie|secret/i.test(name)) continue;
    secrets.add(value);
    const [scheme, credential] = value.split(/\s+/, 2);
    if (credential === undefined) continue;
    secrets.add(credential);
    if (scheme?.toLowerCase() === "basic") {
      const decoded = Buffer.from(credential, "base64").toString("utf8");
      secrets.add(decoded);
      secrets.add(decoded.slice(decoded.indexOf(":") + 1));
    }
  }
  const ordered = [...secrets].filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
  return (text) => ordered.reduce((out, secret) => out.split(secret).join("[secret]"), text);
}

async function readBody(
  response: Response,
  call: CallDescription,
  scrub: (text: string) => string,
): Promise<string> {
  if (response.body === null) return "";
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of response.body) {
    size += chunk.byteLength;
    if (size > MAX_BODY_BYTES) {
      await response.body.cancel().catch(() => {});
      throw new KeywardError(
        "upstream_rejected",
        scrub(`${call.who} answered ${call.what} with more than ${MAX_BODY_BYTES} bytes.`),
        "Check the provider's API base URL in the config: it may point at the wrong service.",
      );
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function responseOf(
  response: Response,
  text: string,
  call: CallDescription,
  scrub: (text: string) => string,
): ProviderResponse {
  return {
    status: response.status,
    headers: response.headers,
    text: () => text,
    json: async () => {
      if (text.trim() === "") return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        throw new KeywardError(
          "upstream_rejected",
          scrub(`${call.who} answered ${call.what} with a body that is not JSON.`),
          "Check the provider's API base URL in the config: it may point at the wrong service.",
        );
      }
    },
  };
}

function isTimeout(e: unknown): boolean {
  return e instanceof Error && (e.name === "TimeoutError" || e.name === "AbortError");
}

/** A system error code (ECONNREFUSED, ENOTFOUND, …) from fetch's cause; never its free text. */
function networkReason(e: unknown): string {
  const cause = e instanceof Error ? (e.cause as { code?: unknown } | undefined) : undefined;
  const code = cause?.code;
  return typeof code === "string" && /^[A-Z_]{3,40}$/.test(code) ? ` (${code})` : "";
}

/** Exponential back-off with "equal jitter": half the delay fixed, half random, so retries spread out but still wait. */
function backoff(policy: RetryPolicy, attempt: number): number {
  const exponential = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return exponential / 2 + Math.random() * (exponential / 2);
}

function jitter(baseDelayMs: number): number {
  return Math.random() * Math.min(baseDelayMs, 1_000);
}

/**
 * How long a rate-limit answer asks to wait, or undefined when the answer is not a rate limit:
 * 429, or 403 with `x-ratelimit-remaining: 0` or a Retry-After (GitHub signals both ways).
 * Retry-After wins, then `x-ratelimit-reset` (epoch seconds), then GitHub's one-minute advice.
 */
export function rateLimitDelay(
  response: Response | ProviderResponse,
  now: Date,
): number | undefined {
  const headers = response.headers;
  const retryAfter = headers.get("retry-after");
  const exhausted = headers.get("x-ratelimit-remaining") === "0";
  const limited =
    response.status === 429 || (response.status === 403 && (exhausted || retryAfter !== null));
  if (!limited) return undefined;
  if (retryAfter !== null) {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
    const date = Date.parse(retryAfter);
    if (!Number.isNaN(date)) return Math.max(0, date - now.getTime());
  }
  const reset = Number(headers.get("x-ratelimit-reset"));
  if (exhausted && Number.isFinite(reset) && reset > 0)
    return Math.max(0, reset * 1000 - now.getTime());
  return RATE_LIMIT_FALLBACK_MS;
}

function rateLimitError(
  response: Response,
  now: Date,
  call: CallDescription,
  scrub: (text: string) => string,
): KeywardError {
  const wait = rateLimitDelay(response, now) ?? RATE_LIMIT_FALLBACK_MS;
  const until = new Date(now.getTime() + wait).toISOString();
  return new KeywardError(
    "upstream_rate_limited",
    scrub(
      `${call.who} rate-limited ${call.what} (${response.status}); it may be retried after ${until}.`,
    ),
    `Wait until ${until} and run the command again; repeated calls while limited can get the key blocked.`,
  );
}

/** The upstream's own short explanation in a JSON error body: GitHub `message`, Slack `error`, Atlassian `errorMessages`. */
export function upstreamMessage(text: string): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof body !== "object" || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const candidates = [record.message, record.error, record.error_description];
  if (Array.isArray(record.errorMessages)) candidates.push(record.errorMessages[0]);
  const found = candidates.find((c): c is string => typeof c === "string" && c.trim() !== "");
  // Control characters could rewrite a terminal line; a long text is not a summary.
  return found?.replace(/[\u0000-\u001f\u007f]/g, " ").slice(0, 200);
}

function statusError(
  status: number,
  upstream: string | undefined,
  call: CallDescription,
  attempts: number,
  scrub: (text: string) => string,
): KeywardError {
  const said = upstream === undefined ? "" : `: ${upstream}`;
  const key = call.secretName === undefined ? "the key" : `the key "${call.secretName}"`;
  const make = (
    code: ConstructorParameters<typeof KeywardError>[0],
    message: string,
    fix: string,
  ) => new KeywardError(code, scrub(message), fix);
  if (status === 401)
    return make(
      "upstream_unauthorized",
      `${call.who} rejected the credentials for ${call.what} (401${said}).`,
      `${call.provider} does not accept ${key}: it is revoked, expired or mistyped. Store a working value, or rotate it.`,
    );
  if (status === 403)
    return make(
      "upstream_forbidden",
      `${call.who} refused ${call.what} (403${said}).`,
      `${key} works but lacks the permission this call needs: grant it upstream, or use a key that has it.`,
    );
  if (status === 404)
    return make(
      "not_found",
      `${call.who} answered 404 to ${call.what}${said}.`,
      `The resource does not exist, or ${key} cannot see it (private resources answer 404 to keys without access). Check the name and the key's access.`,
    );
  if (status >= 300 && status < 400)
    return make(
      "upstream_rejected",
      `${call.who} redirected ${call.what} (${status}); keyward does not follow redirects with a key.`,
      "Point the provider's API base URL in the config at the API itself.",
    );
  if (status >= 500)
    return make(
      "upstream_unavailable",
      `${call.who} answered ${status} to ${call.what}${said} (${attempts} ${attempts === 1 ? "attempt" : "attempts"}).`,
      `${call.provider} is failing; check its status page and run the command again later.`,
    );
  return make(
    "upstream_rejected",
    `${call.who} rejected ${call.what} (${status}${said}).`,
    `Check the request's settings in the config for ${call.provider}.`,
  );
}
