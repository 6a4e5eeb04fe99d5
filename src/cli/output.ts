import { PassThrough } from "node:stream";
import { isKeywardError } from "../core/errors.js";

/**
 * The one place that prints. It knows whether stdout/stderr are terminals, honours NO_COLOR
 * and FORCE_COLOR, renders --json, and scrubs every value the command has handled from
 * anything that is not the value itself (warnings, errors, tables), so a value can only
 * leave through the one call that is meant to print it: `value()`.
 */
export interface OutputStreams {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export type Column<T> = { header: string; get: (row: T) => string };

export class Output {
  readonly stdoutIsTTY: boolean;
  readonly color: boolean;
  private readonly known = new Set<string>();

  constructor(private readonly io: OutputStreams) {
    this.stdoutIsTTY = Boolean(io.stdout.isTTY);
    const forced = io.env.FORCE_COLOR !== undefined && io.env.FORCE_COLOR !== "0";
    this.color = !io.env.NO_COLOR && (forced || Boolean(io.stderr.isTTY));
  }

  /** Values handled by this command; they are scrubbed from everything but value(). */
  remember(value: string): void {
    if (value.length > 0) this.known.add(value);
  }

  scrub(text: string): string {
    let out = text;
    for (const v of this.known) {
      if (out.includes(v)) out = out.split(v).join("[REDACTED]");
    }
    return out;
  }

  /** Prints a secret value: exactly the value, with a newline only on a terminal. */
  value(value: string): void {
    this.io.stdout.write(this.stdoutIsTTY ? `${value}\n` : value);
  }

  line(text = ""): void {
    this.io.stdout.write(`${this.scrub(text)}\n`);
  }

  json(data: unknown): void {
    this.io.stdout.write(`${this.scrub(JSON.stringify(data, null, 2))}\n`);
  }

  table<T>(rows: T[], columns: Column<T>[]): void {
    const cells = rows.map((r) => columns.map((c) => c.get(r)));
    const widths = columns.map((c, i) =>
      Math.max(c.header.length, ...cells.map((row) => (row[i] ?? "").length)),
    );
    const fmt = (row: string[]) =>
      row
        .map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
        .join("  ")
        .trimEnd();
    this.line(this.bold(fmt(columns.map((c) => c.header))));
    for (const row of cells) this.line(fmt(row));
  }

  info(text: string): void {
    this.io.stderr.write(`${this.scrub(text)}\n`);
  }

  warn(text: string): void {
    this.io.stderr.write(`${this.paint("33", "warning:")} ${this.scrub(text)}\n`);
  }

  success(text: string): void {
    this.io.stderr.write(`${this.paint("32", "✓")} ${this.scrub(text)}\n`);
  }

  /** Renders any failure; returns the exit code. A user mistake never shows a stack trace. */
  error(e: unknown, asJson: boolean): number {
    if (isKeywardError(e)) {
      if (asJson) this.io.stderr.write(`${this.scrub(JSON.stringify({ error: e.toJSON() }))}\n`);
      else {
        this.io.stderr.write(`${this.paint("31", "error:")} ${this.scrub(e.message)}\n`);
        if (e.fix) this.io.stderr.write(`  ${this.paint("2", "fix:")} ${this.scrub(e.fix)}\n`);
      }
      return e.exitCode;
    }
    const message = e instanceof Error ? e.message : String(e);
    this.io.stderr.write(`${this.paint("31", "internal error:")} ${this.scrub(message)}\n`);
    if (this.io.env.KEYWARD_DEBUG && e instanceof Error && e.stack) {
      this.io.stderr.write(`${this.scrub(e.stack)}\n`);
    } else {
      this.io.stderr.write(
        "  this is a bug in keyward; rerun with KEYWARD_DEBUG=1 for details and report it\n",
      );
    }
    return 1;
  }

  bold(text: string): string {
    return this.stdoutIsTTY && this.color ? `\u001b[1m${text}\u001b[22m` : text;
  }

  private paint(code: string, text: string): string {
    return this.color ? `\u001b[${code}m${text}\u001b[0m` : text;
  }
}

/** A writable that keeps what is written, for running commands in-process (demo, tests). */
export function memoryWritable(isTTY = false): { stream: NodeJS.WriteStream; text: () => string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on("data", (c: Buffer) => chunks.push(c));
  Object.assign(stream, { isTTY });
  return {
    stream: stream as unknown as NodeJS.WriteStream,
    text: () => Buffer.concat(chunks).toString("utf8"),
  };
}
