/**
 * A local server (127.0.0.1, port 0) that speaks just enough of the PostgreSQL protocol to ask
 * for a password and refuse it, because the shared test server trusts every local connection and
 * so can never reject a password. It records the passwords it was sent, so a test can tell which
 * source keyward took the password from.
 * Documents followed: "Frontend/Backend Protocol: Message Flow, Start-up" and "Message Formats"
 * (https://www.postgresql.org/docs/current/protocol-flow.html,
 * https://www.postgresql.org/docs/current/protocol-message-formats.html): StartupMessage (Int32
 * length, Int32 196608, name/value pairs), AuthenticationCleartextPassword ('R', 8, Int32 3),
 * PasswordMessage ('p', length, String), ErrorResponse ('E', length, fields S/V/C/M, 0); and the
 * error code 28P01 invalid_password (https://www.postgresql.org/docs/current/errcodes-appendix.html).
 */
import { createServer, type Server, type Socket } from "node:net";

export class FakePostgres {
  /** Passwords received, in order; test values only. */
  readonly passwords: string[] = [];
  /** Startup parameters received (user, database, application_name, …). */
  readonly startups: Array<Record<string, string>> = [];

  private constructor(
    private readonly server: Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakePostgres> {
    let fake: FakePostgres | undefined;
    const server = createServer((socket) => fake?.serve(socket));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    if (address === null || typeof address === "string") throw new Error("no port");
    fake = new FakePostgres(server, address.port);
    return fake;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private serve(socket: Socket): void {
    let buffered = Buffer.alloc(0);
    let started = false;
    socket.on("error", () => socket.destroy());
    socket.on("data", (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, chunk]);
      if (!started) {
        if (buffered.length < 4) return;
        const length = buffered.readInt32BE(0);
        if (buffered.length < length) return;
        const params = buffered
          .subarray(8, length - 1)
          .toString("utf8")
          .split("\0");
        const startup: Record<string, string> = {};
        for (let i = 0; i + 1 < params.length; i += 2) startup[params[i]!] = params[i + 1]!;
        this.startups.push(startup);
        buffered = buffered.subarray(length);
        started = true;
        const auth = Buffer.alloc(9);
        auth.write("R", 0);
        auth.writeInt32BE(8, 1);
        auth.writeInt32BE(3, 5); // AuthenticationCleartextPassword
        socket.write(auth);
      }
      if (buffered.length < 5 || buffered[0] !== 0x70 /* 'p' */) return;
      const length = buffered.readInt32BE(1);
      if (buffered.length < 1 + length) return;
      this.passwords.push(buffered.subarray(5, length).toString("utf8").replace(/\0$/, ""));
      const user = this.startups.at(-1)?.user ?? "";
      socket.end(errorResponse("28P01", `password authentication failed for user "${user}"`));
    });
  }
}

function errorResponse(code: string, message: string): Buffer {
  const fields = Buffer.concat([
    field("S", "FATAL"),
    field("V", "FATAL"),
    field("C", code),
    field("M", message),
    Buffer.from([0]),
  ]);
  const head = Buffer.alloc(5);
  head.write("E", 0);
  head.writeInt32BE(4 + fields.length, 1);
  return Buffer.concat([head, fields]);
}

function field(type: string, value: string): Buffer {
  return Buffer.concat([Buffer.from(type), Buffer.from(value, "utf8"), Buffer.from([0])]);
}
