// A scriptable stdio "MCP server" for the proxy tests. It echoes every line it does not
// understand verbatim (so tests can compare bytes), and answers a few requests:
//   initialize        → a legacy-era result declaring tools.listChanged
//   tools/call        → the arguments it received, reversed (so a test scrubber cannot touch them)
//   fake/emit         → writes params.lines to stdout as they are, then answers {}
//   fake/stderr       → writes params.chunks to stderr one by one, 30 ms apart, then answers {}
//   fake/big          → answers with a string of params.size "a" characters
//   fake/received     → answers with every line received so far
//   fake/env          → answers with process.env[params.name]
//   fake/hang         → never answers
// Flags: --exit=N (exit at start), --eof-exit=N (exit code on stdin EOF), --ignore-eof,
// --ignore-sigterm, --no-read, --grandchild (start a sleeping child in the same process group).
import { spawn } from "node:child_process";
import { LineSplitter } from "../framing.js";

const flags = new Map(
  process.argv.slice(2).map((arg) => {
    const [key, value] = arg.replace(/^--/, "").split("=");
    return [key ?? "", value ?? "true"] as const;
  }),
);

process.stderr.write(`fake-server pid=${process.pid}\n`);
if (flags.has("exit")) {
  process.stderr.write("fake-server: crashing at start\n");
  process.exit(Number(flags.get("exit")));
}
if (flags.has("ignore-sigterm")) process.on("SIGTERM", () => {});
if (flags.has("grandchild")) {
  const grandchild = spawn(process.execPath, ["-e", "setInterval(() => {}, 1000)"], {
    stdio: "ignore",
  });
  process.stderr.write(`fake-server grandchild=${grandchild.pid}\n`);
}

const received: string[] = [];

function send(message: unknown): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function handle(line: string): Promise<void> {
  received.push(line);
  let message: { id?: string | number; method?: string; params?: Record<string, unknown> };
  try {
    message = JSON.parse(line);
  } catch {
    process.stdout.write(`${line}\n`);
    return;
  }
  const { id, method, params = {} } = message ?? {};
  const answer = (result: unknown): void => send({ jsonrpc: "2.0", id, result });
  switch (method) {
    case "initialize":
      return answer({
        protocolVersion: params.protocolVersion,
        capabilities: { tools: { listChanged: true } },
        serverInfo: { name: "fake", version: "1" },
      });
    case "tools/call":
      return answer({
        content: [{ type: "text", text: "ok" }],
        reversedArguments: [...JSON.stringify(params.arguments)].reverse().join(""),
      });
    case "fake/emit":
      for (const out of params.lines as string[]) process.stdout.write(`${out}\n`);
      return answer({});
    case "fake/stderr":
      for (const chunk of params.chunks as string[]) {
        process.stderr.write(chunk);
        await new Promise((resolve) => setTimeout(resolve, 30));
      }
      return answer({});
    case "fake/big":
      return answer({ data: "a".repeat(params.size as number) });
    case "fake/received":
      return answer({ lines: received });
    case "fake/env":
      return answer({ value: process.env[params.name as string] ?? null });
    case "fake/hang":
      return;
    default:
      process.stdout.write(`${line}\n`);
  }
}

if (flags.has("no-read")) {
  setInterval(() => {}, 1000);
} else {
  // Lines are handled in order, one at a time, byte-exact (a trailing \r is kept).
  let queue = Promise.resolve();
  const lines = new LineSplitter(
    (line) => {
      queue = queue.then(() => handle(line.toString("utf8")));
    },
    () => {},
  );
  process.stdin.on("data", (chunk: Buffer) => lines.push(chunk));
  process.stdin.on("end", () => {
    lines.end();
    if (flags.has("ignore-eof")) {
      setInterval(() => {}, 1000);
      return;
    }
    void queue.then(() => process.exit(Number(flags.get("eof-exit") ?? 0)));
  });
}
