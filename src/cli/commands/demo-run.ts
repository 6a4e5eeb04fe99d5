import { writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { keywardBin } from "../entry.js";

/**
 * The `keyward run` part of the demo: a real MCP client (the SDK's) talks to
 * @modelcontextprotocol/server-everything through `keyward run`, calls its env-dumping tool and
 * shows what comes back; then the key is rotated under the running server.
 * Returns false (and says why) when server-everything is not installed.
 */
export async function demoRun(opts: {
  home: string;
  env: NodeJS.ProcessEnv;
  secretName: string;
  say: (text: string) => void;
  heading: (text: string) => void;
  rotate: () => Promise<void>;
}): Promise<boolean> {
  const require = createRequire(import.meta.url);
  let everything: string;
  try {
    everything = join(
      dirname(require.resolve("@modelcontextprotocol/server-everything/package.json")),
      "dist/index.js",
    );
  } catch {
    opts.say(
      "(skipping keyward run: @modelcontextprotocol/server-everything is not installed; run npm install in the keyward checkout)",
    );
    return false;
  }
  const { Client } = await import("@modelcontextprotocol/sdk/client/index.js");
  const { StdioClientTransport } = await import("@modelcontextprotocol/sdk/client/stdio.js");
  const config = join(opts.home, "keyward.yaml");
  writeFileSync(
    config,
    [
      "version: 1",
      "secrets:",
      `  ${opts.secretName}: { provider: github, sensitivity: high }`,
      "profiles:",
      "  everything:",
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: [${JSON.stringify(everything)}, stdio]`,
      `    env: { GITHUB_PERSONAL_ACCESS_TOKEN: ${opts.secretName} }`,
      "",
    ].join("\n"),
    { mode: 0o600 },
  );
  const bin = keywardBin();
  opts.heading("Wrap a real MCP server: the profile declares which secret goes to which variable");
  opts.say(`$ cat ${config}`);
  opts.say(
    `profiles.everything: node server-everything stdio, env GITHUB_PERSONAL_ACCESS_TOKEN ← ${opts.secretName}`,
  );
  opts.say(
    "$ keyward run everything   (started by an MCP client, here the SDK's Client over stdio)",
  );
  const stderr: string[] = [];
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [...process.execArgv, bin, "--config", config, "run", "everything", "--poll", "100"],
    env: opts.env as Record<string, string>,
    stderr: "pipe",
  });
  transport.stderr?.on("data", (c: Buffer) => stderr.push(c.toString()));
  const client = new Client({ name: "keyward-demo", version: "1.0.0" });
  await client.connect(transport);
  const getEnv = async () => {
    const result = (await client.callTool({ name: "get-env", arguments: {} })) as {
      content: Array<{ text?: string }>;
    };
    return result.content.map((c) => c.text ?? "").join("\n");
  };
  try {
    opts.heading("The client calls the server's get-env tool, which returns its whole environment");
    opts.say(await getEnv());
    opts.say(
      "(only the allowlisted variables and the declared key reached the server; the key comes back redacted)",
    );
    opts.heading(
      "Rotate the key while the server runs: keyward restarts it with the new value, same client session",
    );
    await opts.rotate();
    let text = "";
    for (let i = 0; i < 50; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        text = await getEnv();
        break;
      } catch {
        // the call in flight during the restart is answered with an error; ask again
      }
    }
    opts.say(text);
  } finally {
    await client.close();
  }
  const notices = stderr
    .join("")
    .split("\n")
    .filter((l) => l.startsWith("keyward:"));
  if (notices.length) {
    opts.heading("What keyward run said on stderr");
    opts.say(notices.join("\n"));
  }
  return true;
}
