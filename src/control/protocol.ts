/**
 * The control protocol: newline-delimited JSON over Unix sockets under `<home>/control/`. Every
 * message names things (secrets, profiles, pids, versions), never a value. README.md has the
 * sequence diagrams.
 */

/** How a `keyward run` proxy learns about changes: the store's feed, the daemon, or its own poll. */
export type FollowMode = "feed" | "daemon" | "poll";

/** What a proxy did about a change notice. */
export type ProxyOutcome = "restarted" | "stopped" | "unchanged" | "failed";

/** To a proxy (from `keyward revoke`, or the daemon over a subscription): these secrets changed. */
export interface ChangedNotice {
  type: "changed";
  id: string;
  secrets: string[];
}

/**
 * A proxy's answer to a notice, sent once it has acted: the server restarted with the new value
 * and answered the replayed initialize, or it was stopped.
 */
export interface ProxyAck {
  type: "ack";
  id: string;
  pid: number;
  profile: string;
  /** The notice's secrets this proxy injects (empty: the notice does not concern it). */
  uses: string[];
  outcome: ProxyOutcome;
  /** Whether the proxy's server runs now (false: stopped for a revocation). */
  running: boolean;
  /** The version of each secret the running server holds. */
  versions: Record<string, number>;
  follow: FollowMode;
  /** Milliseconds from the notice's arrival to the ack. */
  ms: number;
  error?: string;
}

export interface HelloRequest {
  type: "hello";
  id: string;
}

export interface ProxyHello {
  type: "hello";
  id: string;
  pid: number;
  profile: string;
  secrets: string[];
  follow: FollowMode;
  running: boolean;
  versions: Record<string, number>;
}

/** A proxy to the daemon: push me notices about these secrets (the connection stays open). */
export interface SubscribeRequest {
  type: "subscribe";
  id: string;
  pid: number;
  profile: string;
  secrets: string[];
}

export interface Subscribed {
  type: "subscribed";
  id: string;
  /** The daemon's pid. */
  pid: number;
}

export interface StatusRequest {
  type: "status";
  id: string;
}

export interface DaemonStatus {
  type: "status";
  id: string;
  pid: number;
  startedAt: string;
  /** How the daemon follows the store: the store's feed, or its own poll of the metadata. */
  watch: "feed" | "poll";
  intervalSeconds: number;
  lastRun?: { at: string; ok: boolean; counts: Record<string, number> };
  nextRunAt?: string;
  subscribers: Array<{ pid: number; profile: string; secrets: string[] }>;
}

export interface ErrorReply {
  type: "error";
  id: string;
  message: string;
}

export type ControlMessage =
  | ChangedNotice
  | ProxyAck
  | HelloRequest
  | ProxyHello
  | SubscribeRequest
  | Subscribed
  | StatusRequest
  | DaemonStatus
  | ErrorReply;

const TYPES: ReadonlySet<string> = new Set([
  "changed",
  "ack",
  "hello",
  "subscribe",
  "subscribed",
  "status",
  "error",
]);

/** A parsed line, or undefined when it is not a control message (bad JSON, unknown type, no id). */
export function parseMessage(line: string): ControlMessage | undefined {
  let message: unknown;
  try {
    message = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof message !== "object" || message === null) return undefined;
  const { type, id } = message as { type?: unknown; id?: unknown };
  if (typeof type !== "string" || !TYPES.has(type) || typeof id !== "string") return undefined;
  if (type === "changed" || type === "subscribe") {
    const secrets = (message as { secrets?: unknown }).secrets;
    if (!Array.isArray(secrets) || !secrets.every((s) => typeof s === "string")) return undefined;
  }
  return message as ControlMessage;
}
