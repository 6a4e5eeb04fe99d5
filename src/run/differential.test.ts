import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, extname, join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { JSONRPCMessageSchema } from "@modelcontextprotocol/sdk/types.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { type TestHome, testHome } from "../testing/cli.js";
import { runEverythingSession, type SessionReport } from "./testing/everything-session.js";
import { RawClient, type TranscriptLine } from "./testing/raw-client.js";
import { TapListener } from "./testing/tap-listener.js";
import {
  type CanaryForms,
  compareDirection,
  isRedactionOf,
  leaks,
  parsedLines,
  secretForms,
} from "./testing/transcript.js";

const require = createRequire(import.meta.url);
const everything = join(
  dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
  "dist/index.js",
);
const ext = extname(fileURLToPath(import.meta.url));
const bin = KEYWARD_BIN;
const tap = fileURLToPath(new URL(`./testing/stdio-tap${ext}`, import.meta.url));

interface Run {
  report: SessionReport;
  /** What the client sent and received. */
  client: TranscriptLine[];
  /** What the server received and sent (stdio-tap between keyward and the server). */
  server: TranscriptLine[];
  stderr: string;
}

const lines = (t: TranscriptLine[], dir: TranscriptLine["dir"]) =>
  t.filter((l) => l.dir === dir).map((l) => l.line);

/**
 * The differential test of issue 3: one scripted session against
 * @modelcontextprotocol/server-everything (every tool, prompt, resource and template, progress,
 * cancellation, logging, subscriptions, completions, sampling, elicitation, roots and tasks in
 * both directions), run once directly and once through `keyward run`, both with the same
 * environment. A tap between keyward and the server records what the server really got.
 */
describe("keyward run is transparent to a full MCP session (differential)", () => {
  let t: TestHome;
  const apiKey = `kwcanary_${randomBytes(24).toString("base64url")}`;
  // A quote, a backslash, a solidus and non-ASCII: get-env's JSON text puts the value inside a
  // JSON string, so the line carries it escaped twice. (The escaped characters sit in the first
  // 12 characters: with escapes only in the middle, keyward leaks the middle, see
  // escaped-secrets.test.ts.)
  const quoted = `q"\\kwquoted_${randomBytes(8).toString("hex")} é✓/end`;
  const canaries: CanaryForms[] = [
    { name: "demo/api-key", forms: secretForms(apiKey) },
    { name: "demo/quoted", forms: secretForms(quoted) },
  ];
  let direct: Run;
  let wrapped: Run;
  const started: Array<{ client: RawClient; listener: TapListener }> = [];

  const session = async (client: RawClient, listener: TapListener, graceMs: number) => {
    started.push({ client, listener });
    let report: SessionReport;
    try {
      report = await runEverythingSession(client);
    } finally {
      await client.close(graceMs);
    }
    await listener.done();
    return {
      report,
      client: client.transcript,
      server: listener.lines,
      stderr: client.stderr.join(""),
    };
  };

  before(async () => {
    t = testHome();
    assert.equal((await t.run(["init"])).code, 0);
    assert.equal((await t.run(["secret", "set", "demo/api-key"], { stdin: apiKey })).code, 0);
    assert.equal((await t.run(["secret", "set", "demo/quoted"], { stdin: quoted })).code, 0);
    const directTap = await TapListener.listen(join(t.home, "direct.sock"));
    const wrappedTap = await TapListener.listen(join(t.home, "wrapped.sock"));
    const serverArgs = (socket: string) => [
      ...process.execArgv,
      tap,
      socket,
      process.execPath,
      everything,
      "stdio",
    ];
    writeFileSync(
      join(t.home, "keyward.yaml"),
      [
        "version: 1",
        "secrets:",
        "  demo/api-key: { sensitivity: standard }",
        "  demo/quoted: { sensitivity: standard }",
        "profiles:",
        "  everything:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: ${JSON.stringify(serverArgs(wrappedTap.socketPath))}`,
        "    env: { DEMO_API_KEY: demo/api-key, DEMO_QUOTED: demo/quoted }",
        "    setEnv: { DEMO_MODE: visible }",
        "",
      ].join("\n"),
    );
    // The environment keyward gives the server (env.ts): the allowlisted host variables present
    // in the test's environment (PATH, HOME), then setEnv, then the secrets and the secret map, in that order.
    const serverEnv = {
      PATH: t.env.PATH ?? "",
      HOME: t.env.HOME ?? "",
      DEMO_MODE: "visible",
      DEMO_API_KEY: apiKey,
      DEMO_QUOTED: quoted,
      // Names only, for keyward/sdk (src/run/env.ts).
      KEYWARD_SECRET_MAP: "DEMO_API_KEY=demo/api-key,DEMO_QUOTED=demo/quoted",
    };
    // Both sessions run at once: each takes several seconds of server-side timers.
    [direct, wrapped] = await Promise.all([
      session(
        RawClient.spawn({
          command: process.execPath,
          args: serverArgs(directTap.socketPath),
          env: serverEnv,
        }),
        directTap,
        2000,
      ),
      session(
        RawClient.spawn({
          command: process.execPath,
          args: [
            ...process.execArgv,
            bin,
            "--config",
            join(t.home, "keyward.yaml"),
            "run",
            "everything",
          ],
          env: t.env as Record<string, string>,
        }),
        wrappedTap,
        8000,
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

  it("the script covers everything the server offers", () => {
    const { report } = direct;
    assert.ok(report.tools.length >= 19, `server-everything listed ${report.tools.length} tools`);
    for (const tool of ["get-env", "trigger-sampling-request", "simulate-research-query"]) {
      assert.ok(report.tools.includes(tool), `${tool} is listed (client capabilities declared)`);
    }
    assert.deepEqual(wrapped.report, report, "the same lists through keyward");
    const calls = parsedLines(direct.client, "send") as Array<{
      method?: string;
      params?: { name?: string };
    }>;
    const called = new Set(
      calls.filter((m) => m.method === "tools/call").map((m) => m.params?.name),
    );
    for (const tool of report.tools) assert.ok(called.has(tool), `tool ${tool} was called`);
    const recv = parsedLines(direct.client, "recv") as Array<{ method?: string; id?: unknown }>;
    for (const method of [
      "notifications/progress",
      "notifications/message",
      "notifications/resources/updated",
      "notifications/resources/list_changed",
      "notifications/tools/list_changed",
      "notifications/tasks/status",
      "sampling/createMessage",
      "elicitation/create",
      "roots/list",
      "tasks/result",
    ]) {
      assert.ok(
        recv.some((m) => m.method === method),
        `the session saw ${method}`,
      );
    }
    assert.ok(
      !recv.some((m) => m.method === undefined && m.id === report.cancelledId),
      "the cancelled call was not answered",
    );
    for (const run of [direct, wrapped]) {
      const refused = (parsedLines(run.client, "send") as Array<{ error?: unknown }>).filter(
        (m) => m.error !== undefined,
      );
      assert.deepEqual(refused, [], "every server request passed the SDK schema and was answered");
    }
  });

  it("the tap is transparent: directly, the server got and sent exactly the client's lines", () => {
    for (const dir of ["send", "recv"] as const) {
      assert.deepEqual(lines(direct.server, dir), lines(direct.client, dir));
    }
  });

  it("through keyward, the server receives every client line unchanged and in order", () => {
    assert.deepEqual(lines(wrapped.server, "send"), lines(wrapped.client, "send"));
  });

  it("through keyward, the client receives every server line in order, redacted and otherwise unchanged", () => {
    const sent = lines(wrapped.server, "recv");
    const received = lines(wrapped.client, "recv");
    assert.equal(received.length, sent.length, "as many lines as the server wrote");
    let redacted = 0;
    sent.forEach((line, i) => {
      const got = received[i] as string;
      if (leaks([line], canaries).length === 0) {
        assert.equal(got, line, `line ${i + 1} has no secret and is forwarded byte for byte`);
        return;
      }
      redacted++;
      assert.ok(
        isRedactionOf(line, got, canaries),
        `line ${i + 1} differs only where a secret was redacted`,
      );
      JSONRPCMessageSchema.parse(JSON.parse(got));
    });
    assert.ok(redacted >= 1, "the get-env result carried the secrets");
    assert.deepEqual(leaks(received, canaries), [], "no form of a secret reaches the client");
    assert.deepEqual(leaks([wrapped.stderr], canaries), [], "nor keyward's stderr");
  });

  it("the server gets the secrets and the client sees each one's marker", () => {
    const serverSaw = lines(wrapped.server, "recv").join("\n");
    assert.ok(leaks([serverSaw], canaries).length >= 2, "both secrets reach the server's env");
    const clientSaw = lines(wrapped.client, "recv").join("\n");
    assert.ok(clientSaw.includes("[REDACTED:demo/api-key]"));
    assert.ok(clientSaw.includes("[REDACTED:demo/quoted]"));
    assert.ok(clientSaw.includes('\\"DEMO_MODE\\": \\"visible\\"'), "setEnv is not redacted");
  });

  it("directly and through keyward, the transcripts are identical up to redaction", () => {
    for (const dir of ["send", "recv"] as const) {
      const problems = compareDirection(
        parsedLines(direct.client, dir),
        parsedLines(wrapped.client, dir),
        canaries,
      );
      assert.deepEqual(problems, [], `${dir} direction`);
    }
  });
});
