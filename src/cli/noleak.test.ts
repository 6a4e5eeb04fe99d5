import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type CliRun, encodedForms, type TestHome, testHome } from "../testing/cli.js";

/**
 * Runs every command with canary values and searches everything keyward writes — stdout
 * (except the one command whose job is to print the value), stderr, the access log and the
 * raw bytes of every file in the keyward folder — for the canaries and their encodings.
 */
describe("no secret leaves in clear", () => {
  let t: TestHome;
  const canary = `CANARY-${randomBytes(18).toString("base64url")}`;
  const canary2 = `CANARY-${randomBytes(18).toString("base64url")}`;
  const masterKey = randomBytes(32).toString("hex");
  const transcript: Array<{ argv: string[]; run: CliRun; printsValue: boolean }> = [];

  const run = async (
    argv: string[],
    opts: {
      stdin?: string;
      printsValue?: boolean;
      stdoutTTY?: boolean;
      env?: NodeJS.ProcessEnv;
    } = {},
  ) => {
    const r = await t.run(argv, opts);
    transcript.push({ argv, run: r, printsValue: Boolean(opts.printsValue) });
    return r;
  };

  before(async () => {
    t = testHome({ KEYWARD_MASTER_KEY: masterKey });
    await run(["init", "--json"]);
    await run(["secret", "set", "canary/one", "--scope", "repo:read", "--tag", "env=test"], {
      stdin: canary,
    });
    await run(["secret", "set", "canary/one"], { stdin: canary2 });
    await run(["secret", "set", "canary/one", "--json"], { stdin: canary2 });
    await run(["secret", "get", "canary/one"], { printsValue: true });
    await run(["secret", "get", "canary/one", "--stage", "previous", "--json"], {
      printsValue: true,
    });
    await run(["secret", "get", "canary/one"], { stdoutTTY: true });
    await run(["secret", "ls"]);
    await run(["secret", "ls", "--json"]);
    await run(["secret", "history", "canary/one"]);
    await run(["secret", "history", "canary/one", "--json"]);
    await run(["secret", "disable", "canary/one", "--version", "1"]);
    await run(["secret", "get", "canary/one", "--version", "1"]);
    await run(["secret", "enable", "canary/one", "--version", "1"]);
    await run(["log"]);
    await run(["log", "--json"]);
    await run(["log", "verify"]);
    await run(["log", "find-value"], { stdin: canary });
    await run(["log", "find-value", "--json"], { stdin: canary2 });
    await run(["status"]);
    await run(["status", "--json"]);
    // A reason that quotes the value, as someone pasting the leak would write it.
    await run(["revoke", "canary/one", "--reason", `found ${canary2} in a log`, "--generate"]);
    await run(["secret", "set", "canary/one"], { stdin: canary });
    await run(["revoke", "canary/one", "--reason", "again", "--no-rotate", "--json"]);
    await run(["revoke", "canary/one", "--reason", "none", "--version", "99"]);
    // Failures must not echo the value either.
    await run(["secret", "set", "bad//name"], { stdin: canary });
    await run(["secret", "get", "canary/one"], { env: { KEYWARD_MASTER_KEY: "22".repeat(32) } });
    await run(["secret", "ls"], { env: { KEYWARD_MASTER_KEY: canary } });
    await run(["rekey", "--key-source", "env"], {
      env: { KEYWARD_NEW_MASTER_KEY: "33".repeat(32) },
    });
    await run(["secret", "rm", "canary/one", "--version", "1", "--yes"], {
      env: { KEYWARD_MASTER_KEY: "33".repeat(32) },
    });
  });
  after(() => t.cleanup());

  const forms = () => [
    ...encodedForms(canary),
    ...encodedForms(canary2),
    ...encodedForms(masterKey),
  ];

  it("ran the commands it meant to", () => {
    assert.ok(transcript.length >= 25);
    const printed = transcript.filter((x) => x.printsValue).map((x) => x.run.stdout);
    assert.ok(printed[0]?.includes(canary2), "secret get does print the value it is asked for");
  });

  it("no stdout (but secret get's) and no stderr carries a canary or its encodings", () => {
    for (const { argv, run: r, printsValue } of transcript) {
      for (const form of forms()) {
        assert.ok(
          !r.stderr.includes(form),
          `stderr of keyward ${argv.join(" ")} carries a canary form`,
        );
        if (!printsValue)
          assert.ok(
            !r.stdout.includes(form),
            `stdout of keyward ${argv.join(" ")} carries a canary form`,
          );
      }
    }
  });

  it("no output serialises raw key material (a Buffer in JSON)", () => {
    for (const { argv, run: r } of transcript) {
      assert.doesNotMatch(
        r.stdout + r.stderr,
        /"type":\s*"Buffer"/,
        `keyward ${argv.join(" ")} printed a Buffer`,
      );
    }
  });

  it("no file in the keyward folder holds a canary, the master key or their encodings in its raw bytes", () => {
    const dir = t.env.KEYWARD_HOME!;
    // Recursively: incident reports live in incidents/.
    const files = readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name));
    assert.ok(
      files.some((f) => f.includes("incidents")),
      "revoke wrote its reports",
    );
    assert.ok(files.some((f) => f.endsWith("store.db")));
    for (const file of files) {
      const bytes = readFileSync(file);
      for (const form of forms()) {
        assert.equal(bytes.indexOf(Buffer.from(form)), -1, `${file} holds a canary form`);
        assert.equal(
          bytes.indexOf(Buffer.from(form, "utf16le")),
          -1,
          `${file} holds a canary form (UTF-16)`,
        );
      }
    }
  });

  it("the refused terminal print and the failures named the secret, not the value", () => {
    const tty = transcript.find(
      (x) => x.argv.join(" ") === "secret get canary/one" && x.run.code === 2,
    );
    assert.ok(tty, "the terminal refusal ran");
    assert.match(tty.run.stderr, /canary\/one/);
  });
});
