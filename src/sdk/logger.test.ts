import assert from "node:assert/strict";
import { Console } from "node:console";
import { randomBytes } from "node:crypto";
import { Writable } from "node:stream";
import { before, describe, it } from "node:test";
import pino from "pino";
import { BASE62, withClassicChecksum } from "../detect/checksum.js";
import { encodedForms } from "../testing/cli.js";
import { redactingConsole, redactingPino, redactingStream } from "./logger.js";
import { redact } from "./scrub.js";
import { type SecretHandle, secret } from "./secret.js";

/** A GitHub classic PAT keyward never injected: only the pattern layer knows it. */
function foreignGitHubToken(): string {
  let body = "";
  for (const byte of randomBytes(30)) body += BASE62[byte % 62];
  return withClassicChecksum("ghp_", body);
}

function sink(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk, _enc, done) {
      text += String(chunk);
      done();
    },
  });
  return { stream, text: () => text };
}

function assertNoForms(output: string, values: string[]): void {
  for (const value of values) {
    for (const form of encodedForms(value)) {
      assert.ok(!output.includes(form), `a form of the value reached the output:\n${output}`);
    }
  }
}

const value = `sdk-logger-${randomBytes(16).toString("hex")}`;
const b64 = Buffer.from(value).toString("base64");
let handle: SecretHandle;
before(async () => {
  handle = await secret("github/pat", {
    processEnv: { KEYWARD_SECRET_MAP: "GITHUB_TOKEN=github/pat", GITHUB_TOKEN: value },
  });
});

describe("redact", () => {
  it("replaces values read through secret() and known token formats", () => {
    const foreign = foreignGitHubToken();
    const out = redact(`auth=${handle.value()} url=${encodeURIComponent(value)} other=${foreign}`);
    assert.equal(
      out,
      "auth=[REDACTED:github/pat] url=[REDACTED:github/pat] other=[REDACTED:pattern/github-pat]",
    );
  });
});

describe("redactingConsole", () => {
  it("prints markers for the value, its base64, an object and an error holding it", () => {
    const out = sink();
    const c = redactingConsole(new Console({ stdout: out.stream, stderr: out.stream }));
    c.log(value);
    c.error("token %s in %o", value, { nested: { token: value, b64 } });
    c.warn({ headers: { authorization: `Bearer ${value}` } });
    c.info(`basic ${b64}`);
    c.debug(new Error(`upstream said ${value} is bad`));
    c.dir({ deep: { deeper: { token: value } } }, { depth: 5 });
    c.table([{ token: value }]);
    c.assert(false, "assertion with", value);
    c.trace("trace", value);
    c.log(handle);
    const text = out.text();
    assertNoForms(text, [value]);
    assert.match(text, /^\[REDACTED:github\/pat\]$/m);
    assert.match(text, /token \[REDACTED:github\/pat\] in/);
    assert.match(text, /Bearer \[REDACTED:github\/pat\]/);
    assert.match(text, /upstream said \[REDACTED:github\/pat\] is bad/);
    assert.match(text, /\[secret github\/pat\]/);
    // Everything else the console does still works.
    assert.equal(typeof c.time, "function");
  });

  it("scrubs values read after it was made, and tokens it never knew", async () => {
    const out = sink();
    const c = redactingConsole(new Console({ stdout: out.stream }));
    const later = `sdk-later-${randomBytes(16).toString("hex")}`;
    const laterHandle = await secret("slack/bot", {
      processEnv: { KEYWARD_SECRET_MAP: "SLACK=slack/bot", SLACK: later },
    });
    const foreign = foreignGitHubToken();
    c.log(laterHandle.value(), foreign);
    assertNoForms(out.text(), [later, foreign]);
    assert.equal(out.text(), "[REDACTED:slack/bot] [REDACTED:pattern/github-pat]\n");
  });
});

describe("redactingPino", () => {
  const lines = (text: string) =>
    text
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  it("scrubs every argument and child binding before pino serialises them", () => {
    const out = sink();
    const log = redactingPino(pino({ base: null, timestamp: false }, out.stream));
    log.info(value);
    log.info({ token: value, encoded: b64, list: [value] }, "with %s", value);
    log.error(new Error(`failed with ${value}`));
    log.error({ err: new Error(`nested ${value}`) }, "request failed");
    log.child({ token: value }).warn({ header: `Basic ${b64}` }, "child");
    log.info({ handle }, "handle");
    const text = out.text();
    assertNoForms(text, [value]);
    const [plain, object, error, nested, child, withHandle] = lines(text) as Array<
      Record<string, unknown> & { err: { message: string; type: string } }
    >;
    assert.equal(plain?.msg, "[REDACTED:github/pat]");
    assert.equal(object?.token, "[REDACTED:github/pat]");
    assert.equal(object?.msg, "with [REDACTED:github/pat]");
    assert.deepEqual(object?.list, ["[REDACTED:github/pat]"]);
    assert.equal(error?.err.message, "failed with [REDACTED:github/pat]");
    assert.equal(error?.err.type, "Error", "pino still sees an Error");
    assert.equal(nested?.err.message, "nested [REDACTED:github/pat]");
    assert.equal(child?.token, "[REDACTED:github/pat]");
    assert.equal(withHandle?.handle, "[secret github/pat]");
  });

  it("keeps the logger's level and other members", () => {
    const out = sink();
    const log = redactingPino(pino({ level: "warn" }, out.stream));
    log.info(value);
    assert.equal(out.text(), "");
    assert.equal(log.level, "warn");
    assert.equal(log.isLevelEnabled("error"), true);
  });

  it("wraps any logger with level methods", () => {
    const calls: unknown[][] = [];
    const plain = { info: (...args: unknown[]) => calls.push(args) };
    redactingPino(plain).info("x", { token: value });
    assert.deepEqual(calls, [["x", { token: "[REDACTED:github/pat]" }]]);
  });
});

describe("redactingStream", () => {
  it("scrubs what pino writes, keeping each line JSON", () => {
    const out = sink();
    const log = pino({ base: null }, redactingStream(out.stream));
    log.info({ request: { headers: { authorization: `token ${value}` } }, b64 }, "sent");
    assertNoForms(out.text(), [value]);
    const line = JSON.parse(out.text()) as { request: { headers: { authorization: string } } };
    assert.equal(line.request.headers.authorization, "token [REDACTED:github/pat]");
  });
});
