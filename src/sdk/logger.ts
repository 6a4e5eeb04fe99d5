import { formatWithOptions, type InspectOptions, inspect } from "node:util";
import { redact } from "./scrub.js";
import { isSecretHandle } from "./secret.js";

/**
 * A copy of a log argument with every string scrubbed (src/sdk/scrub.ts), as deep as it goes:
 * arrays, plain and class objects (own enumerable properties, as JSON.stringify sees them, after
 * `toJSON`), errors (message, stack, cause and own properties; the prototype is kept so error
 * serializers still recognise them). A SecretHandle becomes its `[secret <name>]` label.
 */
export function scrubValue(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redact(value);
  if (value === null || typeof value !== "object") return value;
  if (isSecretHandle(value)) return value.toString();
  if (seen.has(value)) return "[Circular]";
  seen.add(value);
  if (value instanceof Error) {
    const copy = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>;
    for (const key of Object.getOwnPropertyNames(value)) {
      copy[key] = scrubValue((value as unknown as Record<string, unknown>)[key], seen);
    }
    return copy;
  }
  if (Array.isArray(value)) return value.map((v) => scrubValue(v, seen));
  const withJson = value as { toJSON?: () => unknown };
  if (typeof withJson.toJSON === "function" && !Buffer.isBuffer(value)) {
    return scrubValue(withJson.toJSON(), seen);
  }
  const copy: Record<string, unknown> = {};
  for (const [key, v] of Object.entries(value)) copy[redact(key)] = scrubValue(v, seen);
  return copy;
}

const CONSOLE_TEXT_METHODS = [
  "log",
  "info",
  "warn",
  "error",
  "debug",
  "trace",
  "group",
  "groupCollapsed",
] as const;

/**
 * A console whose output has every secret value this process read through `secret()` (and its
 * encodings), and known token formats, replaced by markers. Each call's arguments are formatted
 * as the console would format them (`%s`, util.inspect of objects), scrubbed, then printed.
 * `globalThis.console = redactingConsole()` covers libraries that log through the global one.
 * For a stdio MCP server, log with `console.error`: stdout is the protocol.
 */
export function redactingConsole(target: Console = console): Console {
  const wrapped: Partial<Record<keyof Console, unknown>> = {};
  const bound = (name: keyof Console) => (target[name] as (...a: unknown[]) => void).bind(target);
  for (const name of CONSOLE_TEXT_METHODS) {
    const original = bound(name);
    wrapped[name] = (...args: unknown[]) =>
      args.length === 0
        ? original()
        : original(redact(formatWithOptions({ colors: false }, ...args)));
  }
  const log = bound("log");
  wrapped.dir = (item: unknown, options?: InspectOptions) =>
    log(redact(inspect(item, { ...options, colors: false })));
  const assertOriginal = bound("assert");
  wrapped.assert = (condition?: boolean, ...args: unknown[]) => {
    if (condition) return;
    assertOriginal(
      false,
      ...(args.length ? [redact(formatWithOptions({ colors: false }, ...args))] : []),
    );
  };
  const table = bound("table");
  wrapped.table = (data: unknown, columns?: string[]) => table(scrubValue(data), columns);
  return new Proxy(target, {
    get: (t, prop, receiver) =>
      Object.hasOwn(wrapped, prop)
        ? wrapped[prop as keyof Console]
        : Reflect.get(t, prop, receiver),
  });
}

/** The level methods of pino (and bunyan, and most loggers that take `(obj?, msg?, ...args)`). */
const LOGGER_METHODS = new Set([
  "trace",
  "debug",
  "info",
  "warn",
  "error",
  "fatal",
  "log",
  "silly",
  "verbose",
]);

/**
 * Wraps a pino logger (or any logger with level methods and `child`) so that every argument of
 * every log call, and every binding given to `child`, is scrubbed before the logger sees it
 * (see scrubValue). The logger keeps its own serializers, transports and level. For the
 * strongest guarantee also scrub what it writes: `pino(options, redactingStream(pino.destination(2)))`.
 */
export function redactingPino<T extends object>(logger: T): T {
  return new Proxy(logger, {
    get(target, prop, receiver) {
      const member = Reflect.get(target, prop, receiver);
      if (typeof prop !== "string" || typeof member !== "function") return member;
      if (LOGGER_METHODS.has(prop)) {
        return (...args: unknown[]) =>
          member.apply(
            target,
            args.map((a) => scrubValue(a)),
          );
      }
      if (prop === "child") {
        return (bindings: unknown, ...rest: unknown[]) =>
          redactingPino(member.call(target, scrubValue(bindings), ...rest) as object);
      }
      return member;
    },
  });
}

/** Anything with `write(chunk)`: a pino destination, process.stderr, a file stream. */
export interface WritableLike {
  write(chunk: string): unknown;
}

/**
 * A destination that scrubs each chunk before passing it on. pino writes one whole JSON line
 * per call, so a value is never split between two chunks; a JSON line stays valid JSON.
 */
export function redactingStream<W extends WritableLike>(destination: W): WritableLike {
  return {
    write: (chunk: string | Uint8Array) =>
      destination.write(
        redact(typeof chunk === "string" ? chunk : Buffer.from(chunk).toString("utf8")),
      ),
  };
}
