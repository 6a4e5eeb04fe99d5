#!/usr/bin/env node
import { runCli } from "./main.js";

const code = await runCli(process.argv.slice(2), {
  // Read on first use: the first touch of process.stdin builds its stream, a few ms of start-up
  // that most commands (revoke, before its first step, among them) never need.
  get stdin() {
    return process.stdin;
  },
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  cwd: process.cwd(),
});
// Exit explicitly: `keyward run` may leave stdin open after its server is gone. stdout and
// stderr are drained first so nothing printed is lost.
process.stdout.write("", () => process.stderr.write("", () => process.exit(code)));
