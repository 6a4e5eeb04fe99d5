import { hostname, userInfo } from "node:os";
import { basename } from "node:path";

/** Who did something: the OS user and process, and for `keyward run` the MCP profile acting. */
export interface Actor {
  user: string;
  pid: number;
  /** A short description such as "keyward secret get": command words only, never arguments. */
  process: string;
  profile?: string;
  host?: string;
}

const MAX_COMMAND_WORDS = 2;
// Only short lowercase words count as command words: secret values, paths and names with
// digits, capitals, slashes or underscores stop the description, so none of them reaches the log.
const COMMAND_WORD = /^[a-z][a-z-]{0,23}$/;

/**
 * The actor for this process. `command` is the command words the CLI parsed ("secret get");
 * without it they are guessed from argv, keeping at most two plain lowercase words.
 */
export function currentActor(command?: string, profile?: string): Actor {
  const actor: Actor = {
    user: currentUser(),
    pid: process.pid,
    process: command === undefined ? describeArgv(process.argv) : `keyward ${command}`.trim(),
    host: hostname(),
  };
  if (profile !== undefined) actor.profile = profile;
  return actor;
}

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    // Containers often run under a uid with no passwd entry, where userInfo() throws.
    return process.env.USER ?? process.env.USERNAME ?? `uid:${process.getuid?.() ?? "unknown"}`;
  }
}

/** "keyward secret get" from ["node", "/usr/bin/keyward", "secret", "get", "github/token"]. */
export function describeArgv(argv: readonly string[]): string {
  const script = argv[1];
  const program = script === undefined ? "node" : basename(script).replace(/\.[cm]?[jt]s$/, "");
  const words: string[] = [];
  for (const arg of argv.slice(2, 2 + MAX_COMMAND_WORDS)) {
    if (!COMMAND_WORD.test(arg)) break;
    words.push(arg);
  }
  return [program, ...words].join(" ");
}
