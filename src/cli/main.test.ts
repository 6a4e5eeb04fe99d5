import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type TestHome, testHome } from "../testing/cli.js";
import { COMMAND_NAMES, commandsFor } from "./main.js";

describe("registering only the command argv runs", () => {
  it("picks the first word after the global options, else every command", () => {
    assert.deepEqual(commandsFor(["revoke", "a/b", "--reason", "x"]), ["revoke"]);
    assert.deepEqual(commandsFor(["--home", "secret", "status"]), ["status"]);
    assert.deepEqual(commandsFor(["--config=k.yaml", "--home=h", "secret", "ls"]), ["secret"]);
    assert.deepEqual(commandsFor(["--home", "h", "-V"]), []);
    for (const argv of [
      [],
      ["--help"],
      ["-h", "secret"],
      ["--bogus", "--version"],
      ["help", "secret"],
      ["secrt"],
      ["--bogus", "secret"],
      ["--home"],
      ["--", "secret"],
    ])
      assert.equal(commandsFor(argv), COMMAND_NAMES, argv.join(" "));
  });

  describe("prints, fails and exits as with every command registered", () => {
    let t: TestHome;
    before(async () => {
      t = testHome();
      assert.equal((await t.run(["init"])).code, 0);
      assert.equal((await t.run(["secret", "set", "a/b"], { stdin: "value-abcdefgh" })).code, 0);
      writeFileSync(
        join(t.home, "bad.yaml"),
        "version: 1\nsecrets:\n  a/b: { sensitivity: top }\n",
      );
    });
    after(() => t.cleanup());

    const cases = [
      [],
      ["--help"],
      ["help"],
      ["help", "secret"],
      ["help", "revoke"],
      ["secret"],
      ["secret", "--help"],
      ["secret", "help", "set"],
      ["secret", "lss"],
      ["secrt", "ls"],
      ["revokee"],
      ["revoke"],
      ["revoke", "a/b"],
      ["revoke", "--help"],
      ["rotate", "--help"],
      ["audit", "--help"],
      ["log", "--bogus"],
      ["--bogus", "secret", "ls"],
      ["--version"],
      ["-V", "secret"],
      ["--home", "h", "--version", "--help"],
      ["--help", "--version"],
      ["--bogus", "--version"],
      ["secret", "ls"],
      ["secret", "list", "--json"],
      ["--home", "nowhere", "secret", "ls"],
      ["--config=bad.yaml", "secret", "ls"],
      ["--config", "missing.yaml", "revoke", "a/b", "--reason", "x"],
      ["status"],
    ];
    for (const argv of cases) {
      it(`keyward ${argv.join(" ")}`, async () => {
        const all = await t.run(argv, { commands: COMMAND_NAMES });
        const one = await t.run(argv);
        assert.deepEqual(one, all);
      });
    }
    it("says so for an unknown command, with a suggestion", async () => {
      const r = await t.run(["secrt"]);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /unknown command 'secrt'\n\(Did you mean secret\?\)/);
      assert.match((await t.run(["--help"])).stdout, /init[\s\S]*secret[\s\S]*revoke[\s\S]*demo/);
    });
  });
});
