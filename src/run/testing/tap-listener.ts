// The test's end of stdio-tap: a Unix socket that collects what the tapped server received
// (`send`, as the client side calls it) and wrote (`recv`), line by line.
import { createServer, type Server } from "node:net";
import { LineSplitter } from "../../mcp/framing.js";
import type { TranscriptLine } from "./raw-client.js";

export class TapListener {
  readonly lines: TranscriptLine[] = [];
  private readonly server: Server;
  private readonly ended: Promise<void>;

  private constructor(readonly socketPath: string) {
    let resolveEnded: () => void = () => {};
    this.ended = new Promise((resolve) => {
      resolveEnded = resolve;
    });
    this.server = createServer((socket) => {
      const splitter = new LineSplitter(
        (line) => {
          const record = JSON.parse(line.toString("utf8")) as { dir: string; b64: string };
          this.lines.push({
            dir: record.dir === "c2s" ? "send" : "recv",
            line: Buffer.from(record.b64, "base64").toString("utf8"),
          });
        },
        () => {},
      );
      socket.on("data", (chunk: Buffer) => splitter.push(chunk));
      socket.on("end", () => {
        splitter.end();
        resolveEnded();
      });
    });
  }

  static async listen(socketPath: string): Promise<TapListener> {
    const tap = new TapListener(socketPath);
    await new Promise<void>((resolve, reject) => {
      tap.server.once("error", reject);
      tap.server.listen(socketPath, resolve);
    });
    return tap;
  }

  /** Resolves once the tap has reported its last line (it ends the connection on exit). */
  async done(timeoutMs = 10_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.ended,
      new Promise<void>((_, reject) => {
        timer = setTimeout(() => reject(new Error("the tap did not report its end")), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer));
    this.close();
  }

  close(): void {
    this.server.close();
  }
}
