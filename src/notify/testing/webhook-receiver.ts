/**
 * A local webhook receiver for the notification tests (127.0.0.1, port 0): records every
 * request and answers each with the next status of `script` (200 once it is empty).
 */
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Receiver {
  /** http://127.0.0.1:<port> */
  url: string;
  requests: Array<{ headers: IncomingMessage["headers"]; body: string; path: string }>;
  script: number[];
  close(): Promise<void>;
}

export async function webhookReceiver(): Promise<Receiver> {
  const r: Receiver = { url: "", requests: [], script: [], close: async () => {} };
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      r.requests.push({
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
        path: req.url ?? "",
      });
      const status = r.script.shift() ?? 200;
      if (status === 302) res.setHeader("location", "https://elsewhere.invalid/");
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  r.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () => new Promise((resolve) => server.close(() => resolve()));
  return r;
}
