// A transparent stdio tap for tests: `stdio-tap <socket> <command> [args...]` starts the command
// with this process's environment, passes stdin and stdout through byte for byte, and reports
// every line in both directions to the Unix socket as `{"dir":"c2s"|"s2c","b64":...}` lines.
// Put between keyward and a server it shows what the server really received and sent; the
// records go to the test over a socket so no value lands in a file. stderr is inherited.
import { spawn } from "node:child_process";
import { createConnection } from "node:net";
import { constants } from "node:os";

const [socketPath, command, ...args] = process.argv.slice(2);
if (socketPath === undefined || command === undefined) {
  process.stderr.write("usage: stdio-tap <socket> <command> [args...]\n");
  process.exit(2);
}

const report = createConnection(socketPath);
report.on("error", () => {}); // the test reads the records; a vanished reader must not break the server's pipe

/** Splits a byte stream into lines (without the `\n`) for the report only. */
function lineRecorder(dir: "c2s" | "s2c"): { push(chunk: Buffer): void; end(): void } {
  let pending: Buffer[] = [];
  const emit = (line: Buffer): void => {
    report.write(`${JSON.stringify({ dir, b64: line.toString("base64") })}\n`);
  };
  return {
    push(chunk) {
      let start = 0;
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, start)) {
        emit(Buffer.concat([...pending, chunk.subarray(start, i)]));
        pending = [];
        start = i + 1;
      }
      if (start < chunk.length) pending.push(chunk.subarray(start));
    },
    end() {
      if (pending.length > 0) emit(Buffer.concat(pending));
      pending = [];
    },
  };
}

const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"], env: process.env });
const toServer = lineRecorder("c2s");
const toClient = lineRecorder("s2c");

process.stdin.on("data", (chunk: Buffer) => {
  toServer.push(chunk);
  child.stdin.write(chunk);
});
process.stdin.on("end", () => {
  toServer.end();
  child.stdin.end();
});
child.stdin.on("error", () => {}); // the server exited first; its exit code is reported below
child.stdout.on("data", (chunk: Buffer) => {
  toClient.push(chunk);
  process.stdout.write(chunk);
});
child.stdout.on("end", () => toClient.end());

// Signals reach the whole process group (keyward stops servers that way): the tap outlives the
// server so that the last records and bytes still go out, then exits with the server's status.
for (const signal of ["SIGTERM", "SIGINT", "SIGHUP"] as const) {
  process.on(signal, () => {
    child.kill(signal);
  });
}
child.on("error", (error) => {
  process.stderr.write(`stdio-tap: could not start ${command}: ${error.message}\n`);
  report.end(() => process.exit(127));
});
child.on("close", (code, signal) => {
  const status = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
  report.end(() => process.exit(status));
});
