import {
  errorResponse,
  frame,
  type JsonRpcId,
  type Scrubber,
  type ScrubHit,
  scrubJsonValue,
} from "./framing.js";

/** What keyward does with a secret a client puts in `tools/call` arguments (a model echoing a key). */
export type ArgumentPolicy = "redact" | "block" | "allow";

/** JSON-RPC "invalid params": the answer to a blocked tools/call. */
export const BLOCKED_ERROR_CODE = -32602;

export type ToolsCall = {
  params?: { name?: unknown; arguments?: unknown } & Record<string, unknown>;
};

const TOOL_NAME = /^[A-Za-z0-9_.-]{1,128}$/;

export interface PolicyDecision {
  /** The message to forward (scrubbed, or the original), or undefined when blocked. */
  forward: unknown;
  /** The error answer for the client when the call is blocked. */
  reply?: Buffer;
  hits: ScrubHit[];
}

/**
 * Applies the argument policy to one `tools/call`, the same way for the local proxy and the
 * remote bridge: allow forwards untouched; redact forwards the scrubbed arguments; block (or
 * arguments that cannot be scrubbed safely) answers the client with an error naming the secrets.
 */
export function applyArgumentPolicy(
  id: JsonRpcId,
  message: ToolsCall,
  policy: ArgumentPolicy,
  scrubber: Scrubber,
): PolicyDecision {
  const args = message.params?.arguments;
  if (policy === "allow" || args === undefined) return { forward: message, hits: [] };
  const scrubbed = scrubJsonValue(args, scrubber);
  const hits = scrubbed?.hits ?? scrubber.redactText(JSON.stringify(args) ?? "null").hits;
  if (hits.length === 0) return { forward: message, hits };
  if (policy === "block" || scrubbed === undefined) {
    const tool = typeof message.params?.name === "string" ? message.params.name : "";
    const toolText = TOOL_NAME.test(tool) ? ` of tool "${tool}"` : "";
    const reply = frame(
      errorResponse(
        id,
        BLOCKED_ERROR_CODE,
        `keyward blocked this tools/call: the arguments${toolText} contain the secret ${secretNames(hits)} (argument policy: ${policy})`,
        { keyward: "blocked", secrets: [...new Set(hits.map((h) => h.secret))] },
      ),
    );
    return { forward: undefined, reply, hits };
  }
  return {
    forward: { ...message, params: { ...message.params, arguments: scrubbed.value } },
    hits,
  };
}

/** The names of the secrets hit, each once: for messages (never values). */
export function secretNames(hits: ScrubHit[]): string {
  return [...new Set(hits.map((h) => h.secret))].join(", ");
}
