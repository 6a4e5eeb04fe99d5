/**
 * User scripts that verify, revoke, mint or rotate a key. Each is an argv array run without a
 * shell; the key goes to the script on stdin, never in argv or the environment (both are
 * readable by other local users through /proc or `ps`). Exit 0 means success. A script that
 * outlives the timeout is killed with its whole process group, and what it wrote to stderr is
 * scrubbed of every secret, in every encoding the redactor knows, before it reaches a message.
 */
import { spawn } from "node:child_process";
import * as z from "zod";
import { envWithoutKeyward } from "../../core/child-env.js";
import { KeywardError } from "../../core/errors.js";
import { Redactor } from "../../redact/index.js";
import type {
  Minted,
  MintRequest,
  Provider,
  ProviderContext,
  ProviderCredential,
  ProviderInfo,
} from "../types.js";

type Action = "verify" | "revoke" | "mint" | "rotate";

const Argv = z.array(z.string().min(1)).min(1);

const SettingsSchema = z.looseObject({
  verify: Argv.optional(),
  revoke: Argv.optional(),
  mint: Argv.optional(),
  rotate: Argv.optional(),
  /** Directory the scripts run in (relative argv[0] such as ./verify.sh resolves against it). */
  cwd: z.string().min(1).optional(),
  /** Overrides the provider timeout for these scripts, in milliseconds. */
  timeoutMs: z.int().positive().optional(),
});
type Settings = z.infer<typeof SettingsSchema>;

/** A script's stdout is a value or a small JSON document; more than this is a runaway. */
const MAX_STDOUT = 64 * 1024;
/** The end of stderr is where the reason usually is; keep that much. */
const STDERR_TAIL = 8 * 1024;
/** How much of the scrubbed stderr a message quotes. */
const QUOTED_STDERR = 400;
/** Between SIGTERM and SIGKILL: room for a script's own cleanup, not for more work. */
const KILL_GRACE_MS = 2_000;

const info: ProviderInfo = {
  id: "command",
  title: "Command (your scripts)",
  capabilities: {
    configured: {
      identify: {
        level: "no",
        note: "a script's key has no format keyward knows: any value that can travel intact is taken",
      },
      "introspect-scope": { level: "no" },
      "introspect-expiry": {
        level: "no",
        note: "minted and rotated values carry expiresAt when the script prints it",
      },
      verify: { level: "partial", note: "when settings.verify names a script" },
      mint: { level: "partial", note: "when settings.mint names a script" },
      rotate: { level: "partial", note: "when settings.rotate names a script" },
      revoke: { level: "partial", note: "when settings.revoke names a script" },
    },
  },
};

/** Any value could be a script's key; only one a script could not read back intact is refused. */
function identifyGeneric(value: string) {
  if (value === "" || value.trim() !== value || /[\u0000-\u001f\u007f]/.test(value))
    return undefined;
  return { kind: "configured" };
}

function settingsOf(ctx: ProviderContext): Settings {
  const parsed = SettingsSchema.safeParse(ctx.settings);
  if (!parsed.success) {
    const where = parsed.error.issues.map((i) => i.path.join(".") || "settings").join(", ");
    throw new KeywardError(
      "config_invalid",
      `command provider settings are invalid (${where})`,
      'each script is an argv array without a shell, e.g. verify: ["./verify.sh", "--quiet"]',
    );
  }
  return parsed.data;
}

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** Already scrubbed and trimmed to a quotable tail; empty when nothing can be shown safely. */
  stderr: string;
}

/** Removes every secret of the call from a script's stderr, or withholds it when that is not possible. */
function scrubber(secrets: { name: string; value: string }[]): (text: string) => string {
  const redactor = new Redactor(secrets);
  return (text) => {
    // A value under the redactor's minimum length cannot be scrubbed reliably: say nothing.
    if (redactor.unredactable.length > 0) return "";
    return redactor
      .redactText(text)
      .text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, " ")
      .trim();
  };
}

function quote(stderr: string): string {
  if (stderr === "") return "";
  const tail = stderr.length > QUOTED_STDERR ? `…${stderr.slice(-QUOTED_STDERR)}` : stderr;
  return `: ${tail.replace(/\s*\n\s*/g, " | ")}`;
}

function describe(action: Action, argv: string[], name: string): string {
  return `the ${action} script of ${name} (${argv[0]})`;
}

/**
 * Runs one script: value on stdin, killed with its process group when the time is up. stderr is
 * scrubbed of the key and its companions, and for mint and rotate also of whatever stdout holds
 * (the new value, perhaps half-printed).
 */
function run(
  action: Action,
  argv: string[],
  cred: ProviderCredential,
  ctx: ProviderContext,
  env: Record<string, string> = {},
): Promise<Outcome> {
  const settings = settingsOf(ctx);
  const timeoutMs = settings.timeoutMs ?? ctx.timeoutMs;
  const what = describe(action, argv, cred.name);
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: settings.cwd,
      // Never the master key or passphrase: the script gets its own key on stdin and nothing else.
      env: envWithoutKeyward(process.env, {
        KEYWARD_ACTION: action,
        KEYWARD_SECRET_NAME: cred.name,
        ...env,
      }),
      stdio: ["pipe", "pipe", "pipe"],
      shell: false,
      // Its own process group, so a timeout also reaches whatever the script started.
      detached: process.platform !== "win32",
      windowsHide: true,
    });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = Buffer.alloc(0);
    let failure: KeywardError | undefined;
    let termTimer: NodeJS.Timeout | undefined;
    let killTimer: NodeJS.Timeout | undefined;

    const killGroup = (signal: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        if (process.platform === "win32") child.kill(signal);
        else process.kill(-child.pid, signal);
      } catch {
        // Already gone.
      }
    };
    const stop = (error: KeywardError) => {
      failure ??= error;
      killGroup("SIGTERM");
      killTimer ??= setTimeout(() => killGroup("SIGKILL"), KILL_GRACE_MS);
    };

    termTimer = setTimeout(
      () =>
        stop(
          new KeywardError(
            "upstream_timeout",
            `${what} did not finish within ${timeoutMs} ms and was stopped with its child processes`,
            "make the script finish sooner (does it wait for input or a prompt?), or raise the command provider's timeoutMs",
          ),
        ),
      timeoutMs,
    );

    child.stdout.on("data", (chunk: Buffer) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > MAX_STDOUT)
        stop(
          new KeywardError(
            "upstream_rejected",
            `${what} printed more than ${MAX_STDOUT} bytes on stdout and was stopped`,
            "print only the value (or one JSON object) on stdout; send logs to stderr",
          ),
        );
      else stdout.push(chunk);
    });
    child.stderr.on("data", (chunk: Buffer) => {
      stderr = Buffer.concat([stderr, chunk]);
      if (stderr.length > STDERR_TAIL) stderr = stderr.subarray(stderr.length - STDERR_TAIL);
    });
    // A script that exits without reading stdin closes the pipe: not an error of ours.
    child.stdin.on("error", () => {});
    child.stdin.end(`${cred.value}\n`);

    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      const code = typeof e.code === "string" && /^[A-Z_]{2,20}$/.test(e.code) ? e.code : "error";
      reject(
        new KeywardError(
          "config_invalid",
          `could not start ${what}: ${code}`,
          code === "ENOENT"
            ? "check the path (relative paths resolve against the provider's cwd setting) and that the file exists"
            : "check that the script exists and is executable (chmod +x)",
        ),
      );
    });
    child.on("close", (code, signal) => {
      clearTimeout(termTimer);
      clearTimeout(killTimer);
      // A stopped script's children that ignored SIGTERM and let go of the pipes: no more grace.
      if (failure !== undefined) killGroup("SIGKILL");
      const printed = Buffer.concat(stdout).toString("utf8");
      const secrets = secretsOf(cred);
      if ((action === "mint" || action === "rotate") && printed.trim() !== "")
        secrets.push({ name: `${cred.name}:new`, value: printed.trim() });
      const scrub = scrubber(secrets);
      if (failure !== undefined) {
        const said = quote(scrub(stderr.toString("utf8")));
        reject(new KeywardError(failure.code, `${failure.message}${said}`, failure.fix));
        return;
      }
      resolve({
        code,
        signal,
        stdout: printed,
        stderr: scrub(stderr.toString("utf8")),
      });
    });
  });
}

function failed(outcome: Outcome): string {
  return outcome.signal !== null
    ? `was killed by ${outcome.signal}`
    : `exited with status ${outcome.code}`;
}

function argvFor(ctx: ProviderContext, action: Action, cred: ProviderCredential): string[] {
  const name = cred.name;
  // The value goes on stdin as one line: a line break in it would cut it short.
  if (identifyGeneric(cred.value) === undefined)
    throw new KeywardError(
      "invalid_value",
      `${name} is empty or holds whitespace around it or control characters (a line break?), so it was not given to the ${action} script`,
      "re-store the value without the trailing newline (keyward secret set without --raw)",
    );
  const argv = settingsOf(ctx)[action];
  if (argv === undefined)
    throw new KeywardError(
      "refused",
      `the command provider of ${name} has no ${action} script configured`,
      `name one under the provider's settings.${action}, e.g. ["./${action}.sh"]`,
    );
  // argv is readable by every local user (ps, /proc): the key must never be in it.
  if (argv.some((arg) => arg.includes("{{") || arg.includes(cred.value)))
    throw new KeywardError(
      "config_invalid",
      `the ${action} script of ${name} is configured with a template or the key itself in its arguments`,
      "remove it: the script reads the key from stdin (one line)",
    );
  return argv;
}

function secretsOf(cred: ProviderCredential): { name: string; value: string }[] {
  return [
    { name: cred.name, value: cred.value },
    ...Object.entries(cred.companions ?? {}).map(([k, value]) => ({
      name: `${cred.name}:${k}`,
      value,
    })),
  ];
}

/** Reads a new value from stdout: the trimmed text, or JSON `{ value, expiresAt?, scope? }`. */
function parseIssued(
  action: "mint" | "rotate",
  argv: string[],
  cred: ProviderCredential,
  outcome: Outcome,
): { value: string; expiresAt?: string; scope?: string[] } {
  const what = describe(action, argv, cred.name);
  const printed = outcome.stdout.trim();
  let issued: { value: string; expiresAt?: string; scope?: string[] } = { value: printed };
  if (printed.startsWith("{")) {
    const Printed = z.strictObject({
      value: z.string().min(1),
      expiresAt: z.iso.datetime({ offset: true }).optional(),
      scope: z.array(z.string()).optional(),
    });
    let parsed: ReturnType<typeof Printed.safeParse> | undefined;
    try {
      parsed = Printed.safeParse(JSON.parse(printed));
    } catch {
      parsed = undefined;
    }
    // Never quote stdout: it holds the new value.
    if (!parsed?.success)
      throw new KeywardError(
        "upstream_rejected",
        `${what} printed JSON that is not { "value": string, "expiresAt"?: ISO date-time, "scope"?: string[] }`,
        "print either the bare value, or exactly that JSON object",
      );
    issued = parsed.data;
    issued.value = issued.value.trim();
  }
  if (issued.value === "")
    throw new KeywardError(
      "upstream_rejected",
      `${what} exited 0 but printed no value on stdout`,
      'print the new value (or { "value": … }) on stdout',
    );
  if (issued.value === cred.value)
    throw new KeywardError(
      "upstream_rejected",
      `${what} printed the same value it was given`,
      "print the newly issued value, not the parent key",
    );
  return issued;
}

async function issue(
  action: "mint" | "rotate",
  cred: ProviderCredential,
  ctx: ProviderContext,
  env: Record<string, string>,
) {
  const argv = argvFor(ctx, action, cred);
  const outcome = await run(action, argv, cred, ctx, env);
  if (outcome.code !== 0 || outcome.signal !== null)
    throw new KeywardError(
      "upstream_rejected",
      `${describe(action, argv, cred.name)} ${failed(outcome)}${quote(outcome.stderr)}`,
      "run the script by hand (the key on stdin) to see what fails",
    );
  return parseIssued(action, argv, cred, outcome);
}

export const commandProvider: Provider = {
  info,

  identify: identifyGeneric,

  async verify(cred, ctx) {
    const argv = argvFor(ctx, "verify", cred);
    const outcome = await run("verify", argv, cred, ctx);
    if (outcome.code === 0 && outcome.signal === null)
      return { ok: true, identity: { kind: "configured" } };
    return { ok: false, detail: `the verify script ${failed(outcome)}${quote(outcome.stderr)}` };
  },

  async revoke(cred, ctx) {
    const argv = argvFor(ctx, "revoke", cred);
    const outcome = await run("revoke", argv, cred, ctx);
    if (outcome.code === 0 && outcome.signal === null) return { revoked: true };
    return {
      revoked: false,
      detail: `the revoke script ${failed(outcome)}${quote(outcome.stderr)}`,
    };
  },

  async mint(cred, request: MintRequest, ctx): Promise<Minted> {
    // The request is no secret: it travels in the environment, the parent key on stdin.
    const env: Record<string, string> = { KEYWARD_SCOPE: request.scope.join(" ") };
    if (request.resources !== undefined) env.KEYWARD_RESOURCES = request.resources.join(" ");
    if (request.ttlSeconds !== undefined) env.KEYWARD_TTL_SECONDS = String(request.ttlSeconds);
    const issued = await issue("mint", cred, ctx, env);
    return {
      value: issued.value,
      scope: issued.scope ?? request.scope,
      ...(issued.expiresAt !== undefined ? { expiresAt: issued.expiresAt } : {}),
    };
  },

  async rotate(cred, ctx) {
    const issued = await issue("rotate", cred, ctx, {});
    return {
      value: issued.value,
      ...(issued.expiresAt !== undefined ? { expiresAt: issued.expiresAt } : {}),
    };
  },
};
