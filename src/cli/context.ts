import { KeywardError } from "../core/errors.js";
import { keywardHome } from "../secrets/home.js";
import type { Session } from "../secrets/session.js";
import { Output } from "./output.js";
import { hiddenPrompt } from "./prompt.js";
import { keywardVersion } from "./version.js";

/** What every command gets: the output layer, the environment and a way to open the store. */
export interface CliIO {
  stdin: NodeJS.ReadStream;
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface GlobalOptions {
  home?: string;
  config?: string;
}

export class CliContext {
  readonly out: Output;
  readonly version = keywardVersion();
  /** Set by commands whose outcome is not an error but still not success (e.g. a failed log verify). */
  exitCode = 0;
  private globals: GlobalOptions = {};

  constructor(readonly io: CliIO) {
    this.out = new Output({ stdout: io.stdout, stderr: io.stderr, env: io.env });
  }

  setGlobals(globals: GlobalOptions): void {
    this.globals = globals;
  }

  get home(): string {
    return this.globals.home ?? keywardHome(this.io.env);
  }

  sessionOptions(command: string, profile?: string) {
    return {
      home: this.home,
      env: this.io.env,
      // Looks at stdin only when asked: touching it builds its stream, start-up time that runs
      // with a key source (nearly all) never need. No terminal: an empty answer, refused as none.
      prompt: (question: string) =>
        hiddenPrompt(this.io.stdin, this.io.stderr)?.(question) ?? Promise.resolve(""),
      cwd: this.io.cwd,
      command,
      ...(this.globals.config ? { configPath: this.globals.config } : {}),
      ...(profile ? { profile } : {}),
    };
  }

  /** Opens the store and prints the key source's and config's warnings once. */
  async openSession(command: string, profile?: string): Promise<Session> {
    // Loaded on demand: the store, its native SQLite binding and the config schema are not
    // needed by commands that never open a store (audit, providers, --help).
    const { Session } = await import("../secrets/session.js");
    const session = await Session.open(this.sessionOptions(command, profile));
    for (const w of session.warnings) this.out.warn(w);
    return session;
  }

  /** Opens the store for `run` and closes it afterwards. */
  async withSession<T>(command: string, run: (session: Session) => Promise<T>): Promise<T> {
    const session = await this.openSession(command);
    try {
      return await run(session);
    } finally {
      await session.close();
    }
  }

  /** A value from stdin (piped) or a hidden prompt (terminal); never from argv. */
  async readValue(what: string, raw: boolean): Promise<string> {
    let value: string;
    if (this.io.stdin.isTTY) {
      const prompt = hiddenPrompt(this.io.stdin, this.io.stderr)!;
      value = await prompt(`Value for ${what} (input hidden): `);
    } else {
      const { readStdin } = await import("./prompt.js");
      value = await readStdin(this.io.stdin);
      // `echo value | keyward secret set` adds one newline that is not part of the value.
      if (!raw) value = value.replace(/\r?\n$/, "");
    }
    if (value.length === 0) {
      throw new KeywardError(
        "invalid_value",
        `no value given for ${what}`,
        "pipe the value on stdin or type it at the prompt",
      );
    }
    this.out.remember(value);
    return value;
  }
}
