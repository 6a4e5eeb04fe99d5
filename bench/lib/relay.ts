/**
 * The baseline for the proxy's overhead: a bare pass-through relay that spawns its argv and
 * copies stdio both ways with pipe(): no framing, no parsing, no redaction.
 * Usage: relay <command> [args...]
 */
import { spawn } from "node:child_process";

const [command, ...args] = process.argv.slice(2);
if (command === undefined) throw new Error("usage: relay <command> [args...]");
const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
process.stdin.pipe(child.stdin);
child.stdout.pipe(process.stdout);
child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
