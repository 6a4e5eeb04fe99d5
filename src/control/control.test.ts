import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { isKeywardError } from "../core/errors.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import { requestControl } from "./channel.js";
import { listenControl } from "./endpoint.js";
import { notifyProxies } from "./notify.js";
import { controlDir, listProxySockets, proxySocketPath } from "./paths.js";
import type { ProxyAck, ProxyHello } from "./protocol.js";

const homes: string[] = [];
const children: ChildProcess[] = [];
after(() => {
  for (const child of children) child.kill("SIGKILL");
  for (const home of homes) rmSync(home, { recursive: true, force: true });
});

function home(): string {
  const dir = mkdtempSync(join(tmpdir(), "kw-ctl-"));
  homes.push(dir);
  ensurePrivateDir(controlDir(dir));
  return dir;
}

/**
 * A separate process listening on `path`: `answer` acks every notice, `silent` accepts
 * connections and never answers (a hung proxy). Resolves once it listens.
 */
function listener(path: string, mode: "answer" | "silent"): Promise<ChildProcess> {
  const code = `
    const net = require("node:net");
    const server = net.createServer((socket) => {
      if (${JSON.stringify(mode)} === "silent") return;
      socket.on("data", (chunk) => {
        const notice = JSON.parse(chunk.toString().split("\\n")[0]);
        socket.write(JSON.stringify({ type: "ack", id: notice.id, pid: process.pid, profile: "child",
          uses: notice.secrets, outcome: "restarted", running: true, versions: {}, follow: "poll", ms: 1 }) + "\\n");
      });
    });
    server.listen(${JSON.stringify(path)}, () => process.stdout.write("listening\\n"));
  `;
  const child = spawn(process.execPath, ["-e", code], { stdio: ["ignore", "pipe", "inherit"] });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.stdout?.once("data", () => resolve(child));
    child.once("exit", (c) => reject(new Error(`listener exited ${c}`)));
  });
}

describe("control sockets", () => {
  it("listen in a 0700 folder on a 0600 socket, refuse a second listener, and remove the file on close", async () => {
    const h = home();
    const path = proxySocketPath(h, 4242);
    const endpoint = await listenControl(path, (message, channel) => {
      if (message.type === "hello") {
        channel.send({
          type: "hello",
          id: message.id,
          pid: 4242,
          profile: "p",
          secrets: ["a/b"],
          follow: "poll",
          running: true,
          versions: { "a/b": 1 },
        });
      }
    });
    try {
      assert.equal(statSync(controlDir(h)).mode & 0o777, 0o700);
      assert.equal(statSync(path).mode & 0o777, 0o600);
      const hello = await requestControl<ProxyHello>(path, { type: "hello" }, 2000);
      assert.equal(hello.profile, "p");
      await assert.rejects(
        () => listenControl(path, () => {}),
        (e) => isKeywardError(e) && e.code === "conflict",
      );
    } finally {
      await endpoint.close();
    }
    assert.equal(existsSync(path), false);
  });

  it("a registration left by a killed process is removed, not trusted; a live one is answered", async () => {
    const h = home();
    const live = await listener(proxySocketPath(h, 1001), "answer");
    const dead = await listener(proxySocketPath(h, 1002), "answer");
    dead.kill("SIGKILL");
    await new Promise((resolve) => dead.once("exit", resolve));
    assert.equal(existsSync(proxySocketPath(h, 1002)), true, "SIGKILL leaves the socket file");

    const fan = await notifyProxies(h, ["a/b"], 3000);
    assert.deepEqual(
      fan.acks.map((a) => [a.pid, a.outcome]),
      [[live.pid, "restarted"]],
    );
    assert.deepEqual(
      fan.stale.map((s) => s.pid),
      [1002],
    );
    assert.equal(existsSync(proxySocketPath(h, 1002)), false, "the stale registration is gone");
    assert.deepEqual(
      listProxySockets(h).map((s) => s.pid),
      [1001],
    );
    // A new listener may take a path a dead process left behind.
    const again = await listener(proxySocketPath(h, 1003), "answer");
    again.kill("SIGKILL");
    await new Promise((resolve) => again.once("exit", resolve));
    const endpoint = await listenControl(proxySocketPath(h, 1003), () => {});
    await endpoint.close();
  });

  it("a proxy that accepts but never answers is named as silent once the wait is over", async () => {
    const h = home();
    await listener(proxySocketPath(h, 2001), "silent");
    const fan = await notifyProxies(h, ["a/b"], 300);
    assert.deepEqual(fan.acks, []);
    assert.deepEqual(
      fan.silent.map((s) => s.pid),
      [2001],
    );
    assert.match(fan.silent[0]?.reason ?? "", /no answer/);
  });

  it("drops a connection that sends a line longer than a control message can be", async () => {
    const h = home();
    const path = proxySocketPath(h, 3001);
    let messages = 0;
    const endpoint = await listenControl(path, () => {
      messages++;
    });
    try {
      const socket = connect(path);
      const closed = new Promise((resolve) => socket.on("close", resolve));
      socket.on("error", () => {});
      socket.write(`${"x".repeat(100 * 1024)}\n`);
      await closed;
      assert.equal(messages, 0);
      const ack: Promise<ProxyAck> = requestControl(path, { type: "hello" }, 200);
      await assert.rejects(ack, /no answer/, "the endpoint still runs for other peers");
    } finally {
      await endpoint.close();
    }
  });
});
