/**
 * What every keyward client of a Google Cloud API shares (the Secret Manager store, gcp.ts, and
 * the Cloud KMS master-key source, gcp-kms.ts): which Application Default Credentials source will
 * answer, the official clients' REST mode pointed at an endpoint, and whatever a call threw
 * reduced to a google.rpc status without the raw error (it carries the bearer token).
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** Hosts a plain-http endpoint may name (a local emulator); anything else must be https. */
export const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]", "::1"]);

export function isAllowedEndpoint(u: string): boolean {
  const url = new URL(u);
  return url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
}

export const ENDPOINT_RULE =
  "must be https (plain http only to a loopback address, e.g. a local emulator)";

/** Options of a generated google-cloud client (gax) for its REST mode at `endpoint`. */
export interface RestClientOptions {
  fallback: true;
  apiEndpoint: string;
  port: number;
  protocol: "http" | "https";
  keyFilename?: string;
  clientOptions: { transporterOptions: { timeout: number } };
}

/**
 * REST over HTTP/1.1: the documented v1 REST API, no gRPC native code, and request timeouts
 * through the auth client's transport (the REST mode ignores gax's per-call timeout). `origin`
 * tells API answers from token-endpoint answers in classify().
 */
export function restClient(
  endpoint: URL,
  timeoutSeconds: number,
  adc: AdcSource,
): { options: RestClientOptions; origin: string } {
  const protocol = endpoint.protocol.replace(":", "") as "http" | "https";
  const port = Number(endpoint.port || (protocol === "https" ? 443 : 80));
  return {
    options: {
      fallback: true,
      apiEndpoint: endpoint.hostname.replace(/^\[|\]$/g, ""),
      port,
      protocol,
      ...(adc.keyFilename === undefined ? {} : { keyFilename: adc.keyFilename }),
      clientOptions: { transporterOptions: { timeout: timeoutSeconds * 1000 } },
    },
    origin: `${protocol}://${endpoint.host}`,
  };
}

/** The fix for a credentials failure, the same for every Google API keyward calls. */
export const ADC_FIX =
  "fix that credential source (GOOGLE_APPLICATION_CREDENTIALS, `gcloud auth application-default login`, or the workload's attached service account)";

// ---- Application Default Credentials --------------------------------------------------------

/** Which ADC source google-auth-library will use, worked out the same way from the environment. */
export interface AdcSource {
  /** For messages and `keyward status`: the kind of credential and where it comes from. */
  label: string;
  /** The credentials file, when ADC uses one (passed to the client explicitly). */
  keyFilename?: string;
}

const CREDENTIAL_KINDS: Record<string, string> = {
  external_account: "workload identity federation",
  external_account_authorized_user: "workforce identity federation",
  authorized_user: "gcloud user credentials",
  impersonated_service_account: "service account impersonation",
  service_account: "service account key (a static key: prefer workload identity)",
};

function credentialKind(path: string): string {
  try {
    const type = (JSON.parse(readFileSync(path, "utf8").slice(0, 256 * 1024)) as { type?: unknown })
      .type;
    return typeof type === "string"
      ? (CREDENTIAL_KINDS[type] ?? `credentials of type ${type}`)
      : "credentials file";
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return `credentials file (unreadable${code === undefined ? "" : `: ${code}`})`;
  }
}

/** gcloud's well-known ADC file, as google-auth-library finds it. */
function gcloudAdcFile(env: NodeJS.ProcessEnv): string | undefined {
  if (env.CLOUDSDK_CONFIG) return join(env.CLOUDSDK_CONFIG, "application_default_credentials.json");
  if (process.platform === "win32") {
    return env.APPDATA === undefined
      ? undefined
      : join(env.APPDATA, "gcloud", "application_default_credentials.json");
  }
  const home = env.HOME ?? homedir();
  return join(home, ".config", "gcloud", "application_default_credentials.json");
}

/** The ADC source that applies, read from the environment and local files only (no network). */
export function adcSource(env: NodeJS.ProcessEnv): AdcSource {
  const fromEnv = env.GOOGLE_APPLICATION_CREDENTIALS;
  if (fromEnv) {
    return {
      label: `${credentialKind(fromEnv)} from GOOGLE_APPLICATION_CREDENTIALS (${fromEnv})`,
      keyFilename: fromEnv,
    };
  }
  const gcloud = gcloudAdcFile(env);
  if (gcloud !== undefined && existsSync(gcloud)) {
    return {
      label: `${credentialKind(gcloud)} from gcloud application-default login (${gcloud})`,
      keyFilename: gcloud,
    };
  }
  return {
    label:
      "the attached service account via the metadata server (GCE, GKE Workload Identity, Cloud Run, Cloud Functions)",
  };
}

// ---- GCP failures ----------------------------------------------------------------------------

const GRPC_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

const STATUS_BY_HTTP: Record<number, string> = {
  400: "INVALID_ARGUMENT",
  401: "UNAUTHENTICATED",
  403: "PERMISSION_DENIED",
  404: "NOT_FOUND",
  409: "ABORTED",
  412: "FAILED_PRECONDITION",
  429: "RESOURCE_EXHAUSTED",
  500: "INTERNAL",
  502: "UNAVAILABLE",
  503: "UNAVAILABLE",
  504: "DEADLINE_EXCEEDED",
};

const RETRYABLE = new Set(["UNAVAILABLE", "INTERNAL", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED"]);

/**
 * A failed API call reduced to what keyward decides on. `status` is the google.rpc code name;
 * `network` means no answer at all (refused, reset, timed out), so a write may or may not have
 * been applied. `credentials` means getting a token failed, before Secret Manager was asked.
 */
export class GcpFailure extends Error {
  constructor(
    readonly status: string,
    readonly detail: string,
    readonly kind: "api" | "network" | "timeout" | "credentials",
  ) {
    super(`${status}: ${detail}`);
  }

  /** The same failure seen as a credentials problem (it happened while loading them). */
  asCredentials(): GcpFailure {
    return new GcpFailure(this.status, this.detail, "credentials");
  }

  get retryable(): boolean {
    return this.kind === "network" || this.kind === "timeout" || RETRYABLE.has(this.status);
  }

  /** The answer could have been lost after GCP applied the request. */
  get maybeApplied(): boolean {
    return (
      this.kind === "network" ||
      this.kind === "timeout" ||
      this.status === "INTERNAL" ||
      this.status === "UNAVAILABLE" ||
      this.status === "DEADLINE_EXCEEDED"
    );
  }
}

const NETWORK_CODES = new Set([
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "ERR_STREAM_PREMATURE_CLOSE",
]);

/**
 * Reduces whatever the client threw to a GcpFailure. In REST mode the client raises gaxios
 * errors for non-2xx answers (status = HTTP status, message = the google.rpc body) and GoogleErrors
 * for bodies it decoded; token trouble comes from google-auth-library. Only codes and GCP's own
 * message text are kept: the raw error carries request headers (the bearer token) and is dropped.
 */
export function classify(e: unknown, apiOrigin: string): GcpFailure {
  if (e instanceof GcpFailure) return e;
  const err = e as {
    name?: unknown;
    code?: unknown;
    status?: unknown;
    message?: unknown;
    details?: unknown;
    config?: { url?: unknown };
    cause?: { code?: unknown; name?: unknown };
  };
  const message = typeof err?.message === "string" ? err.message : String(e);
  const url = err?.config?.url === undefined ? undefined : String(err.config.url);
  // Token endpoints (STS, oauth2) may share the origin with a local emulator: tell them by path.
  const fromApi = url === undefined || (url.startsWith(apiOrigin) && url.includes("/v1/projects/"));
  const code = err?.code ?? err?.cause?.code;
  const name = String(err?.name ?? "");
  // keyward never cancels a call itself, so an aborted request is the transport's timeout firing.
  const aborted = err?.cause?.name === "AbortError" || /operation was aborted/i.test(message);
  if (
    name === "TimeoutError" ||
    code === "TimeoutError" ||
    err?.cause?.name === "TimeoutError" ||
    aborted
  ) {
    return new GcpFailure("DEADLINE_EXCEEDED", "no answer in time", "timeout");
  }
  if (typeof code === "string" && NETWORK_CODES.has(code)) {
    return new GcpFailure(
      "UNAVAILABLE",
      `connection failed (${code})`,
      fromApi ? "network" : "credentials",
    );
  }
  if (
    /socket hang up|fetch failed|other side closed|ECONNRESET/i.test(message) &&
    typeof err?.status !== "number"
  ) {
    return new GcpFailure("UNAVAILABLE", "connection failed", fromApi ? "network" : "credentials");
  }
  if (typeof err?.status === "number") {
    // A gaxios error: GCP's google.rpc body is the message text.
    let status = STATUS_BY_HTTP[err.status] ?? "UNKNOWN";
    let detail = `HTTP ${err.status}`;
    try {
      const body = JSON.parse(message) as {
        error?: { status?: unknown; message?: unknown } | string;
        error_description?: unknown;
      };
      if (typeof body.error === "object" && body.error !== null) {
        if (typeof body.error.status === "string") status = body.error.status;
        if (typeof body.error.message === "string") detail = body.error.message;
      } else if (typeof body.error === "string") {
        // An OAuth error from a token endpoint: keep the error code, not the description.
        detail = `token endpoint answered HTTP ${err.status} (${body.error})`;
      }
    } catch {
      // Not JSON: google-auth-library's "Error code <oauth error>: …", or just the HTTP status.
      const oauth = /Error code ([a-z_]+)/.exec(message)?.[1];
      if (oauth !== undefined) detail = `the token exchange was refused (${oauth})`;
    }
    return new GcpFailure(status, detail.slice(0, 300), fromApi ? "api" : "credentials");
  }
  if (typeof code === "number" && code >= 0 && code < GRPC_NAMES.length) {
    const details = typeof err?.details === "string" ? err.details : message;
    return new GcpFailure(GRPC_NAMES[code] as string, details.slice(0, 300), "api");
  }
  // google-auth-library's own failures: no credentials found, an unreadable file, a bad file.
  return new GcpFailure("UNAUTHENTICATED", describeCredentialError(message, code), "credentials");
}

function describeCredentialError(message: string, code: unknown): string {
  if (/Could not load the default credentials/i.test(message)) return "no credentials were found";
  if (code === "ENOENT") return "the credentials file does not exist";
  if (code === "EACCES") return "the credentials file is not readable";
  if (/Unexpected token|JSON/i.test(message)) return "the credentials file is not valid JSON";
  // google-auth-library turns an OAuth error answer into "Error code <code>: <description>".
  const oauth = /Error code ([a-z_]+)/.exec(message)?.[1];
  if (oauth !== undefined) return `the token exchange was refused (${oauth})`;
  return "the credentials could not be used";
}
