import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { Command } from "commander";
import type { CliContext, CliIO } from "../context.js";
import { memoryWritable } from "../output.js";
import { demoRun } from "./demo-run.js";

/**
 * A scripted walk-through in a throw-away KEYWARD_HOME: every step is a real keyward command,
 * run in this process against a real encrypted SQLite store, and printed as a user would type it.
 */
export function registerDemo(program: Command, ctx: CliContext): void {
  program
    .command("demo")
    .description("walk through keyward in a throw-away folder (nothing outside it is touched)")
    .option("--keep", "keep the demo folder and print its path")
    .action(async (opts) => {
      const home = mkdtempSync(join(tmpdir(), "keyward-demo-"));
      const masterKey = randomBytes(32).toString("hex");
      const demoToken = `kwdemo_${randomBytes(24).toString("base64url")}`;
      ctx.out.remember(masterKey);
      const env: NodeJS.ProcessEnv = {
        ...ctx.io.env,
        KEYWARD_HOME: home,
        KEYWARD_MASTER_KEY: masterKey,
        NO_COLOR: "1",
      };
      delete env.KEYWARD_CONFIG;
      delete env.KEYWARD_PASSPHRASE;
      delete env.KEYWARD_KEY_FILE;
      const { runCli } = await import("../main.js");
      const say = (text: string) => ctx.out.line(text);
      const step = async (title: string, argv: string[], stdin?: string): Promise<string> => {
        say("");
        say(ctx.out.bold(`# ${title}`));
        say(`$ ${stdin === undefined ? "" : "printf '%s' \"$TOKEN\" | "}keyward ${argv.join(" ")}`);
        const out = memoryWritable();
        const err = memoryWritable();
        const io: CliIO = {
          stdin: Readable.from(stdin === undefined ? [] : [stdin]) as unknown as NodeJS.ReadStream,
          stdout: out.stream,
          stderr: err.stream,
          env,
          cwd: home,
        };
        const code = await runCli(argv, io);
        // Keep the demo token off the screen even where a step prints it on purpose.
        const hide = (text: string) => text.split(demoToken).join("[the demo token]").trimEnd();
        if (err.text()) ctx.out.line(hide(err.text()));
        if (out.text()) ctx.out.line(hide(out.text()));
        if (code !== 0) throw new Error(`demo step "keyward ${argv.join(" ")}" exited ${code}`);
        return out.text();
      };
      try {
        say(`keyward demo: a throw-away store in ${home}`);
        say("The master key comes from KEYWARD_MASTER_KEY (random, for this demo only).");
        await step("Create an encrypted store", ["init"]);
        await step(
          "Store a key from stdin (never argv), declaring its provider, scope and sensitivity",
          [
            "secret",
            "set",
            "demo/github-token",
            "--provider",
            "github",
            "--scope",
            "repo:read,read:org",
            "--sensitivity",
            "high",
          ],
          demoToken,
        );
        await step(
          "Rotate it: the new version becomes current, the old one previous",
          ["secret", "set", "demo/github-token"],
          `${demoToken}2`,
        );
        await step("List secrets: age, stages, sensitivity, scope, rotation due", ["secret", "ls"]);
        const read = await step("Read it back through a pipe (a terminal needs --reveal)", [
          "secret",
          "get",
          "demo/github-token",
          "--json",
        ]);
        say(
          JSON.parse(read).value === `${demoToken}2`
            ? "(the value read back matches what was stored)"
            : "(MISMATCH)",
        );
        await step(
          "Every read and write is in the hash-chained access log, with an HMAC of the value, never the value",
          ["log"],
        );
        await step(
          "Which secret is this leaked string, and who was served it?",
          ["log", "find-value"],
          `${demoToken}2`,
        );
        await demoRun({
          home,
          env,
          secretName: "demo/github-token",
          say,
          heading: (text) => {
            say("");
            say(ctx.out.bold(`# ${text}`));
          },
          rotate: async () => {
            await step(
              "A new version becomes current",
              ["secret", "set", "demo/github-token"],
              `${demoToken}3`,
            );
          },
        });
        await step("The access log shows the profile as the actor of its reads", [
          "log",
          "--actor",
          "everything",
        ]);
        await step(
          "A signing secret keyward owns (no provider)",
          ["secret", "set", "demo/webhook-secret"],
          `${demoToken}-webhook`,
        );
        await step(
          "It leaked: revoke it. The store refuses it at once, a fresh value replaces it, each step is timed and an incident report written (never the value)",
          ["revoke", "demo/webhook-secret", "--reason", "leaked", "--generate"],
        );
        await step("Verify the chain: an edited, removed or reordered entry is named", [
          "log",
          "verify",
        ]);
        await step("Where the master key comes from, and the store's health", ["status"]);
        say("");
        say("Done. Next: `keyward init` for your own store (see README.md).");
      } finally {
        if (opts.keep) say(`kept ${home}`);
        else rmSync(home, { recursive: true, force: true });
      }
    });
}
