/**
 * A TCP proxy on 127.0.0.1 (port 0) in front of the real PostgreSQL server, for faults the
 * tests cannot ask the shared server for: every connection cut at once and new ones refused for
 * a while (a restart, as clients see it), or the connection dropped around one COMMIT.
 * It reads the frontend stream only as far as message boundaries, per "Frontend/Backend
 * Protocol: Message Formats" (https://www.postgresql.org/docs/current/protocol-message-formats.html):
 * an untyped StartupMessage first, then type byte + Int32 length (which counts itself).
 */
import { createServer, type Server, type Socket, connect as tcpConnect } from "node:net";

export type CommitFault =
  /** Forward COMMIT, let it commit, then drop the connection before the client hears back. */
  | "drop-reply"
  /** Drop the connection instead of forwarding COMMIT: the server rolls the transaction back. */
  | "drop-before";

interface Link {
  client: Socket;
  server: Socket;
}

export class PgProxy {
  private readonly links = new Set<Link>();
  private refusing = false;
  private commitFault: CommitFault | undefined;
  /** How many COMMITs were cut, by kind. */
  readonly faults = { "drop-reply": 0, "drop-before": 0 };

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(target = { host: "127.0.0.1", port: 5432 }): Promise<PgProxy> {
    let proxy: PgProxy | undefined;
    const server = createServer((client) => proxy?.accept(client, target));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no proxy port");
    proxy = new PgProxy(server, address.port);
    return proxy;
  }

  /** Cuts every open connection, as a server restart does. */
  cutAll(): void {
    for (const link of this.links) this.cut(link);
  }

  /** While true, new connections are closed at once (the server is still down). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  /** The next COMMIT on any connection gets this fault, once. */
  failNextCommit(fault: CommitFault): void {
    this.commitFault = fault;
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket, target: { host: string; port: number }): void {
    if (this.refusing) {
      client.destroy();
      return;
    }
    const server = tcpConnect(target.port, target.host);
    const link = { client, server };
    this.links.add(link);
    let pending = Buffer.alloc(0);
    let startup = true;
    let dropNextReply = false;
    client.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      // Forward whole messages only, so a fault lands exactly at a COMMIT.
      for (;;) {
        const header = startup ? 0 : 1;
        if (pending.length < header + 4) return;
        const length = pending.readInt32BE(header);
        const size = header + length;
        if (pending.length < size) return;
        const message = pending.subarray(0, size);
        pending = pending.subarray(size);
        startup = false;
        const isCommit =
          header === 1 &&
          message[0] === 0x51 /* 'Q' */ &&
          message.subarray(5).toString("utf8").replace(/\0$/, "").trim().toUpperCase() === "COMMIT";
        if (isCommit && this.commitFault !== undefined) {
          const fault = this.commitFault;
          this.commitFault = undefined;
          this.faults[fault]++;
          if (fault === "drop-before") {
            this.cut(link);
            return;
          }
          dropNextReply = true;
        }
        server.write(message);
      }
    });
    server.on("data", (chunk: Buffer) => {
      if (dropNextReply) {
        this.cut(link);
        return;
      }
      client.write(chunk);
    });
    for (const socket of [client, server]) {
      socket.on("error", () => this.cut(link));
      socket.on("close", () => this.cut(link));
    }
  }

  private cut(link: Link): void {
    if (!this.links.delete(link)) return;
    link.client.destroy();
    link.server.destroy();
  }
}
