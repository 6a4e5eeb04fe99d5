// Transcript comparison for the compatibility tests: what a client saw directly from a server
// against what it saw through `keyward run`. Equal means equal, except (1) string values in which
// keyward replaced a secret's form by `[REDACTED:<name>]` and (2) the run-to-run fields listed in
// NORMALISATIONS, which are rewritten the same way in both transcripts before comparing.
import type { TranscriptLine } from "./raw-client.js";

export interface CanaryForms {
  /** The secret's name as the marker shows it. */
  name: string;
  /** Every encoding of the value that may appear in a JSON string (see secretForms). */
  forms: string[];
}

/** The encodings of a value that can show up in a JSON-RPC line, raw or inside a string. */
export function secretForms(value: string): string[] {
  const b = Buffer.from(value, "utf8");
  const jsonEscaped = JSON.stringify(value).slice(1, -1);
  const forms = [
    value,
    jsonEscaped,
    JSON.stringify(jsonEscaped).slice(1, -1), // JSON text inside a JSON string (get-env's output)
    b.toString("base64"),
    b.toString("base64").replace(/=+$/, ""),
    b.toString("base64url"),
    ...base64Cores(b),
    b.toString("hex"),
    b.toString("hex").toUpperCase(),
    encodeURIComponent(value),
  ];
  return [...new Set(forms)];
}

/**
 * The base64 (and base64url) characters that depend only on the value's bytes when the value
 * sits 0, 1 or 2 bytes past a 3-byte boundary inside a longer base64 run.
 */
function base64Cores(value: Buffer): string[] {
  const cores: string[] = [];
  for (const offset of [0, 1, 2]) {
    const text = Buffer.concat([Buffer.alloc(offset), value])
      .toString("base64")
      .replace(/=+$/, "");
    // A character is the value's alone if none of its 6 bits come from the padding before it
    // or from whatever follows the value.
    const first = Math.ceil((offset * 8) / 6);
    const last = Math.floor(((offset + value.length) * 8) / 6);
    const core = text.slice(first, last);
    cores.push(core, core.replaceAll("+", "-").replaceAll("/", "_"));
  }
  return cores;
}

/**
 * Every field that legitimately differs from run to run of server-everything, and how it is
 * made comparable. Each one is narrow: a key, or a pattern the server's own code produces.
 */
export const NORMALISATIONS = [
  "task timestamps: createdAt / lastUpdatedAt holding an ISO-8601 time → <time>",
  "task ids: 32 lowercase hex characters (the SDK's InMemoryTaskStore, randomBytes(16)) → <task-N>, numbered by first appearance, so equal ids stay equal",
  "UUIDs (the prerequisite elicitationId of trigger-url-elicitation's error path, randomUUID) → <uuid-N>, numbered the same way",
  "dynamic resources: 'created at <toLocaleTimeString()>' in text, and inside base64 blobs (decoded, rewritten, re-encoded) → 'created at <time>'",
  "simulated logging: a notifications/message whose data is one of toggle-simulated-logging's random-level messages → level and data <random>",
] as const;

const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const TASK_ID = /\b[0-9a-f]{32}\b/g;
const UUID = /\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g;
const CREATED_AT = /created at \d{1,2}:\d{2}:\d{2}(?:[\s\u202f][AP]M)?/g;
const SIMULATED_LOG =
  /^(Debug|Info|Notice|Warning|Error|Critical|Alert|Emergency)[- ]level[- ]message( - SessionId .*)?$/;

/** Rewrites the run-to-run fields of one transcript (ids numbered within this transcript). */
export function normaliser(): (message: unknown) => unknown {
  const ids = new Map<string, string>();
  const idFor = (kind: string, raw: string): string => {
    let id = ids.get(raw);
    if (id === undefined) {
      id = `<${kind}-${[...ids.values()].filter((v) => v.startsWith(`<${kind}-`)).length + 1}>`;
      ids.set(raw, id);
    }
    return id;
  };
  const text = (s: string): string =>
    s
      .replace(TASK_ID, (m) => idFor("task", m))
      .replace(UUID, (m) => idFor("uuid", m))
      .replace(CREATED_AT, "created at <time>");
  const walk = (value: unknown, key: string | undefined): unknown => {
    if (typeof value === "string") {
      if ((key === "createdAt" || key === "lastUpdatedAt") && ISO_TIME.test(value)) return "<time>";
      if (key === "blob") {
        const decoded = Buffer.from(value, "base64").toString("utf8");
        const roundTrips = Buffer.from(decoded, "utf8").toString("base64") === value;
        if (roundTrips && decoded.replace(CREATED_AT, "") !== decoded) {
          return `<base64:${text(decoded)}>`;
        }
      }
      return text(value);
    }
    if (Array.isArray(value)) return value.map((v) => walk(v, undefined));
    if (value !== null && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = walk(v, k);
      const m = out as { method?: unknown; params?: { level?: unknown; data?: unknown } };
      if (
        m.method === "notifications/message" &&
        typeof m.params?.data === "string" &&
        SIMULATED_LOG.test(m.params.data)
      ) {
        out.params = { ...m.params, level: "<random>", data: "<random>" };
      }
      return out;
    }
    return value;
  };
  return (message) => walk(message, undefined);
}

const MARKER = /\[REDACTED:([^\]]+)\]/g;
/** Characters a redaction may take beyond the form itself (a partial escape or base64 quantum). */
const SLACK = 12;

/**
 * True when `redacted` is `original` with some spans replaced by `[REDACTED:<name>]`, each span
 * holding a form of the named secret (plus at most SLACK characters around it).
 */
export function isRedactionOf(
  original: string,
  redacted: string,
  canaries: CanaryForms[],
): boolean {
  if (original === redacted) return true;
  const pieces: string[] = [];
  const names: string[] = [];
  let last = 0;
  for (const m of redacted.matchAll(MARKER)) {
    pieces.push(redacted.slice(last, m.index));
    names.push(m[1] as string);
    last = (m.index ?? 0) + m[0].length;
  }
  pieces.push(redacted.slice(last));
  if (names.length === 0) return isMaskedRedactionOf(original, redacted, canaries);
  const match = (i: number, at: number): boolean => {
    const piece = pieces[i] as string;
    if (i === names.length) return original.slice(at) === piece;
    if (!original.startsWith(piece, at)) return false;
    const from = at + piece.length;
    const forms = canaries.find((c) => c.name === names[i])?.forms ?? [];
    for (const form of forms) {
      for (let skip = 0; skip <= SLACK; skip++) {
        if (!original.startsWith(form, from + skip)) continue;
        for (let tail = 0; tail <= SLACK; tail++) {
          if (match(i + 1, from + skip + form.length + tail)) return true;
        }
      }
    }
    return false;
  };
  return match(0, 0);
}

/** Characters a masked base64 span may take beside the form (a partial character, `=` padding). */
const MASK_SLACK = 3;

/**
 * True when `redacted` is `original` with a secret's base64 form inside a base64 run (image or
 * audio data, a resource blob) overwritten by `A`s of the same length, as keyward does there to
 * keep the run valid base64: every changed character is an `A` within MASK_SLACK of a form.
 */
function isMaskedRedactionOf(original: string, redacted: string, canaries: CanaryForms[]): boolean {
  if (original.length !== redacted.length) return false;
  const nearForm = new Uint8Array(original.length);
  for (const form of canaries.flatMap((c) => c.forms)) {
    for (let at = original.indexOf(form); at !== -1; at = original.indexOf(form, at + 1)) {
      nearForm.fill(1, Math.max(0, at - MASK_SLACK), at + form.length + MASK_SLACK);
    }
  }
  let changed = false;
  for (let i = 0; i < original.length; i++) {
    if (original[i] === redacted[i]) continue;
    if (redacted[i] !== "A" || nearForm[i] === 0) return false;
    changed = true;
  }
  return changed;
}

/**
 * Compares two parsed messages: same structure and key order, equal leaves, except strings that
 * are redactions of the original. Returns the JSON path of the first difference, or undefined.
 */
export function differenceBetween(
  original: unknown,
  redacted: unknown,
  canaries: CanaryForms[],
  path = "$",
): string | undefined {
  if (typeof original === "string" && typeof redacted === "string") {
    return isRedactionOf(original, redacted, canaries) ? undefined : path;
  }
  if (Array.isArray(original) && Array.isArray(redacted)) {
    if (original.length !== redacted.length) return `${path} (length)`;
    for (let i = 0; i < original.length; i++) {
      const d = differenceBetween(original[i], redacted[i], canaries, `${path}[${i}]`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  if (isObject(original) && isObject(redacted)) {
    const a = Object.keys(original);
    const b = Object.keys(redacted);
    if (a.join("\0") !== b.join("\0")) return `${path} (keys ${a.join(",")} vs ${b.join(",")})`;
    for (const k of a) {
      const d = differenceBetween(original[k], redacted[k], canaries, `${path}.${k}`);
      if (d !== undefined) return d;
    }
    return undefined;
  }
  return Object.is(original, redacted) ? undefined : path;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * The stream a message belongs to, for the order check: a request's messages (its response, its
 * progress, the status of its task) must keep their order; independent streams may interleave.
 */
export function streamKey(message: Record<string, unknown>): string {
  const params = (message.params ?? {}) as Record<string, unknown>;
  if (typeof message.method === "string") {
    if (message.id !== undefined) return `request ${JSON.stringify(message.id)}`;
    if (message.method === "notifications/progress") {
      return `progress ${JSON.stringify(params.progressToken)}`;
    }
    if (message.method === "notifications/cancelled") {
      return `request ${JSON.stringify(params.requestId)}`;
    }
    if (message.method === "notifications/tasks/status") {
      return `task ${JSON.stringify(params.taskId)}`;
    }
    return `notification ${message.method}`;
  }
  return `response ${JSON.stringify(message.id)}`;
}

/** Parses one direction of a transcript; a line that is not JSON fails the test by itself. */
export function parsedLines(transcript: TranscriptLine[], dir: TranscriptLine["dir"]): unknown[] {
  return transcript
    .filter((t) => t.dir === dir)
    .map((t) => {
      try {
        return JSON.parse(t.line) as unknown;
      } catch {
        throw new Error(`a ${dir} line is not JSON: ${t.line.slice(0, 200)}`);
      }
    });
}

/**
 * Compares one direction of two sessions after normalising both: the same streams, each with
 * the same messages in the same order, equal up to redaction. Returns every difference found.
 */
export function compareDirection(
  direct: unknown[],
  wrapped: unknown[],
  canaries: CanaryForms[],
): string[] {
  const group = (messages: unknown[]): Map<string, unknown[]> => {
    const normalise = normaliser();
    const streams = new Map<string, unknown[]>();
    for (const m of messages) {
      const n = normalise(m) as Record<string, unknown>;
      const key = streamKey(n);
      streams.set(key, [...(streams.get(key) ?? []), n]);
    }
    return streams;
  };
  const a = group(direct);
  const b = group(wrapped);
  const problems: string[] = [];
  for (const [key, messages] of a) {
    const other = b.get(key) ?? [];
    if (other.length !== messages.length) {
      problems.push(
        `${key}: ${messages.length} messages directly, ${other.length} through keyward`,
      );
      continue;
    }
    messages.forEach((m, i) => {
      const d = differenceBetween(m, other[i], canaries);
      if (d !== undefined) problems.push(`${key} #${i + 1} differs at ${d}`);
    });
  }
  for (const key of b.keys()) {
    if (!a.has(key)) problems.push(`${key}: only through keyward`);
  }
  return problems;
}

/** Lines (raw) that hold any form of any canary. */
export function leaks(lines: string[], canaries: CanaryForms[]): string[] {
  const found: string[] = [];
  for (const c of canaries) {
    for (const form of c.forms) {
      if (lines.some((l) => l.includes(form)))
        found.push(`${c.name}: a form of length ${form.length}`);
    }
  }
  return found;
}
