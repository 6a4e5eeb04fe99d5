import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CallToolResultSchema } from "@modelcontextprotocol/sdk/types.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { type TestHome, testHome } from "../testing/cli.js";
import { type Message, RawClient, type TranscriptLine } from "./testing/raw-client.js";
import { TapListener } from "./testing/tap-listener.js";
import {
  type CanaryForms,
  compareDirection,
  differenceBetween,
  leaks,
  parsedLines,
  secretForms,
} from "./testing/transcript.js";

const ext = extname(fileURLToPath(import.meta.url));
const bin = KEYWARD_BIN;
const tap = fileURLToPath(new URL(`./testing/stdio-tap${ext}`, import.meta.url));
const modernServer = fileURLToPath(new URL(`./testing/modern-server${ext}`, import.meta.url));

const MODERN = "2026-07-28";
/** The request envelope every 2026-07-28 request carries (protocol reference §2.2). */
const ENVELOPE = {
  "io.modelcontextprotocol/protocolVersion": MODERN,
  "io.modelcontextprotocol/clientCapabilities": { elicitation: { form: {} } },
  "io.modelcontextprotocol/clientInfo": { name: "keyward-era-test", version: "1.0.0" },
};
/** Optional per-request keys: log level, progress and W3C trace context. */
const EXTRA_META = {
  "io.modelcontextprotocol/logLevel": "info",
  progressToken: "era-progress-1",
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  tracestate: "keyward=test",
  baggage: "suite=discover-era",
};
/** Must match modern-server.ts. */
const REQUEST_STATE = "opaque-state:v1:Zm9vYmFy+/=";

interface Run {
  client: TranscriptLine[];
  server: TranscriptLine[];
  stderr: string;
  discover: Message;
  env: Message;
  binary: Message;
  echo: Message;
  inputRequired: Message;
  confirmed: Message;
}

/** A stateless session: no initialize, every request carries its own envelope. */
async function modernSession(client: RawClient, listener: TapListener): Promise<Run> {
  try {
    const discover = await client.request(
      "server/discover",
      { _meta: ENVELOPE },
      { id: "discover-1", timeoutMs: 30_000 },
    );
    await client.request("tools/list", { _meta: ENVELOPE });
    const call = (name: string, args: Record<string, unknown>, extra = {}) =>
      client.request("tools/call", {
        name,
        arguments: args,
        _meta: { ...ENVELOPE, ...EXTRA_META },
        ...extra,
      });
    const env = await call("get-env", {});
    const binary = await call("get-binary-env", {});
    const echo = await call("echo-request", { note: "metadata passthrough" });
    const inputRequired = await call("confirm", { action: "rotate the key" });
    const state = (inputRequired.result as { requestState?: string } | undefined)?.requestState;
    // The retry: a new id, the answers, and the state echoed byte for byte.
    const confirmed = await call(
      "confirm",
      { action: "rotate the key" },
      {
        inputResponses: { confirm: { action: "accept", content: { confirm: true } } },
        requestState: state,
      },
    );
    return {
      client: client.transcript,
      server: listener.lines,
      stderr: client.stderr.join(""),
      discover,
      env,
      binary,
      echo,
      inputRequired,
      confirmed,
    };
  } finally {
    await client.close(8000);
    await listener.done();
  }
}

const lines = (t: TranscriptLine[], dir: TranscriptLine["dir"]) =>
  t.filter((l) => l.dir === dir).map((l) => l.line);

/**
 * The 2026-07-28 era through `keyward run`: a v2-SDK server (server/discover, stateless
 * requests, _meta envelopes, input_required), driven by a raw client that never sends
 * initialize, directly and through keyward with a tap in front of the server.
 */
describe("keyward run passes the 2026-07-28 era through (server/discover)", () => {
  let t: TestHome;
  const key = `kwmodern_${randomBytes(24).toString("base64url")}`;
  const canaries: CanaryForms[] = [{ name: "modern/api-key", forms: secretForms(key) }];
  const started: Array<{ client: RawClient; listener: TapListener }> = [];
  let direct: Run;
  let wrapped: Run;

  before(async () => {
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "modern/api-key"], { stdin: key })).code, 0);
    const directTap = await TapListener.listen(join(t.home, "direct.sock"));
    const wrappedTap = await TapListener.listen(join(t.home, "wrapped.sock"));
    const serverArgs = (socket: string) => [
      ...process.execArgv,
      tap,
      socket,
      process.execPath,
      ...process.execArgv,
      modernServer,
    ];
    writeFileSync(
      join(t.home, "keyward.yaml"),
      [
        "version: 1",
        "secrets:",
        "  modern/api-key: { sensitivity: standard }",
        "profiles:",
        "  modern:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify(serverArgs(wrappedTap.socketPath))}`,
        "    env: { MODERN_API_KEY: modern/api-key }",
        "",
      ].join("\n"),
    );
    const spawn = (args: string[], env: Record<string, string>, listener: TapListener) => {
      const client = RawClient.spawn({ command: process.execPath, args, env });
      started.push({ client, listener });
      return modernSession(client, listener);
    };
    [direct, wrapped] = await Promise.all([
      // The same environment keyward builds for the profile (env.ts): PATH, HOME, the key, the map.
      spawn(
        serverArgs(directTap.socketPath),
        {
          PATH: t.env.PATH ?? "",
          HOME: t.env.HOME ?? "",
          MODERN_API_KEY: key,
          KEYWARD_SECRET_MAP: "MODERN_API_KEY=modern/api-key",
        },
        directTap,
      ),
      spawn(
        [...process.execArgv, bin, "--config", join(t.home, "keyward.yaml"), "run", "modern"],
        t.env as Record<string, string>,
        wrappedTap,
      ),
    ]);
  });
  after(() => {
    for (const { client, listener } of started) {
      client.kill();
      listener.close();
    }
    t?.cleanup();
  });

  it("answers server/discover without an initialize, and the result reaches the client untouched", () => {
    const result = wrapped.discover.result as Record<string, unknown>;
    assert.equal(result.resultType, "complete");
    assert.ok((result.supportedVersions as string[]).includes(MODERN));
    assert.deepEqual(
      (result._meta as Record<string, unknown>)["io.modelcontextprotocol/serverInfo"],
      {
        name: "keyward-modern-fixture",
        version: "1.0.0",
      },
    );
    const serverLine = lines(wrapped.server, "recv")[0];
    const clientLine = lines(wrapped.client, "recv")[0];
    assert.equal(clientLine, serverLine, "the discover result is forwarded byte for byte");
    const methods = (parsedLines(wrapped.server, "send") as Message[]).map((m) => m.method);
    assert.ok(!methods.includes("initialize"), "keyward sends no legacy handshake of its own");
    assert.equal(methods[0], "server/discover");
  });

  it("forwards every request, with its _meta envelope, to the server byte for byte", () => {
    assert.deepEqual(lines(wrapped.server, "send"), lines(wrapped.client, "send"));
    const received = (wrapped.echo.result as { structuredContent: Record<string, unknown> })
      .structuredContent;
    // The SDK lifts the reserved io.modelcontextprotocol/* keys into the envelope.
    const { "io.modelcontextprotocol/logLevel": logLevel, ...others } = EXTRA_META;
    assert.deepEqual(
      received.envelope,
      { ...ENVELOPE, "io.modelcontextprotocol/logLevel": logLevel },
      "the reserved keys reach the server",
    );
    assert.deepEqual(received._meta, others, "the other _meta keys reach the server");
  });

  it("redacts the key in every encoding and leaves the rest of each line as the server wrote it", () => {
    const sent = lines(wrapped.server, "recv");
    const received = lines(wrapped.client, "recv");
    assert.equal(received.length, sent.length);
    sent.forEach((line, i) => {
      const got = received[i] as string;
      if (leaks([line], canaries).length === 0) {
        assert.equal(got, line, `line ${i + 1} has no secret and is forwarded byte for byte`);
      } else {
        const d = differenceBetween(JSON.parse(line), JSON.parse(got), canaries);
        assert.equal(d, undefined, `line ${i + 1} differs only where the key was redacted`);
      }
    });
    assert.deepEqual(leaks(received, canaries), [], "no form of the key reaches the client");
    assert.deepEqual(leaks([wrapped.stderr], canaries), [], "nor keyward's stderr");
    const result = wrapped.env.result as {
      content: Array<{ text: string }>;
      structuredContent: { env: Record<string, string> };
      resultType: string;
    };
    assert.equal(result.resultType, "complete");
    const marker = "[REDACTED:modern/api-key]";
    const [envText, encodings] = result.content;
    assert.ok(envText?.text.includes(`"MODERN_API_KEY": "${marker}"`), "raw, in the env JSON text");
    assert.match(String(encodings?.text), /^hex=\S*REDACTED\S* HEX=\S*REDACTED\S* url=\S*REDACTED/);
    assert.equal(result.structuredContent.env.MODERN_API_KEY, marker, "structuredContent");
    // Base64 at an offset inside image data, and a resource blob: changed, and no form left.
    assert.notEqual(JSON.stringify(wrapped.binary.result), JSON.stringify(direct.binary.result));
  });

  it("keeps redacted binary content valid base64, so SDK clients accept the result", () => {
    const issues = (result: unknown) =>
      CallToolResultSchema.safeParse(result).error?.issues.map(
        (i) => `${i.path.join(".")}: ${i.message}`,
      ) ?? [];
    assert.deepEqual(issues(direct.binary.result), [], "the server's own result is valid");
    assert.deepEqual(issues(wrapped.binary.result), [], "and stays valid through keyward");
  });

  it("passes the input_required round trip through with its requestState unchanged", () => {
    const round = wrapped.inputRequired.result as Record<string, unknown>;
    assert.equal(round.resultType, "input_required");
    assert.equal(round.requestState, REQUEST_STATE);
    const done = wrapped.confirmed.result as { content: Array<{ text: string }> };
    assert.equal(done.content[0]?.text, "rotate the key: confirmed=true");
  });

  it("directly and through keyward, the transcripts are identical up to redaction", () => {
    for (const dir of ["send", "recv"] as const) {
      assert.deepEqual(
        compareDirection(
          parsedLines(direct.client, dir),
          parsedLines(wrapped.client, dir),
          canaries,
        ),
        [],
        `${dir} direction`,
      );
    }
  });
});
