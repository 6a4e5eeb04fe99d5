import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ConfigSchema } from "../config/schema.js";
import { type FakeGitHub, startFakeGitHub } from "../providers/github/testing/fake-github.js";
import { Session } from "../secrets/session.js";
import { KEYWARD_BIN } from "../testing/bin.js";
import { encodedForms, type TestHome, testHome } from "../testing/cli.js";
import { scopePolicyFor } from "./launch-check.js";
import { SessionToken } from "./session-token.js";

/**
 * The launch scope check and per-session minted tokens, through the CLI (in process, and the
 * real bin for the minted session). GitHub is the local fake in
 * src/providers/github/testing/fake-github.ts, which follows ../shared/reference/providers.md:
 * §1.3 (X-OAuth-Scopes on GET /rate_limit, 401 Bad credentials), §1.5 (App JWT → POST
 * /app/installations/{id}/access_tokens narrowed to permissions and repositories, one hour;
 * DELETE /installation/token revokes it).
 */

const bin = KEYWARD_BIN;

/**
 * A tiny stdio "server": writes the SHA-256 of $GITHUB_TOKEN to the file named by its first
 * argument, says the token once on stdout (as a JSON-RPC notification) and once on stderr, and
 * exits when its stdin ends.
 */
const TINY_SERVER = [
  'const token = process.env.GITHUB_TOKEN ?? "";',
  'require("node:fs").writeFileSync(process.argv[1], require("node:crypto").createHash("sha256").update(token).digest("hex"));',
  'process.stdout.write(JSON.stringify({ jsonrpc: "2.0", method: "notifications/message", params: { level: "info", data: "token " + token } }) + "\\n");',
  'process.stderr.write("token " + token + "\\n");',
  "process.stdin.resume();",
  'process.stdin.on("end", () => process.exit(0));',
].join("\n");

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

interface Home {
  t: TestHome;
  config: string;
  /** Where the tiny server writes the hash of the token it got. */
  started: string;
  token: string;
  run(args?: string[]): ReturnType<TestHome["run"]>;
  introspections(): number;
}

/** A home with github/pat (a classic PAT with repo, admin:org and delete_repo, declared to need repo). */
async function home(github: FakeGitHub, decl: string): Promise<Home> {
  const t = testHome();
  const config = join(t.home, "keyward.yaml");
  const started = join(t.home, "started");
  const token = github.addToken({
    kind: "classic-pat",
    scopes: ["repo", "admin:org", "delete_repo"],
  });
  writeFileSync(
    config,
    [
      "version: 1",
      "secrets:",
      `  github/pat: { provider: github, ${decl} }`,
      "providers:",
      `  github: { apiBaseUrl: ${JSON.stringify(github.settings.apiBaseUrl)} }`,
      "profiles:",
      "  tiny:",
      `    command: ${JSON.stringify(process.execPath)}`,
      `    args: [-e, ${JSON.stringify(TINY_SERVER)}, ${JSON.stringify(started)}]`,
      "    env: { GITHUB_TOKEN: github/pat }",
      "",
    ].join("\n"),
  );
  assert.equal((await t.run(["init"])).code, 0);
  const set = await t.run(["--config", config, "secret", "set", "github/pat", "--scope", "repo"], {
    stdin: token,
  });
  assert.equal(set.code, 0, set.stderr);
  const base = github.requests.length;
  return {
    t,
    config,
    started,
    token,
    run: (args = []) => t.run(["--config", config, "run", "tiny", ...args]),
    introspections: () =>
      github.requests.slice(base).filter((r) => r.path === "/rate_limit").length,
  };
}

function assertNoLeak(token: string, ...texts: string[]) {
  for (const text of texts)
    for (const form of encodedForms(token)) assert.ok(!text.includes(form), "a token form leaked");
}

describe("keyward run checks each key's scope at launch", () => {
  let github: FakeGitHub;
  const homes: Home[] = [];
  before(async () => {
    github = await startFakeGitHub();
  });
  after(async () => {
    for (const h of homes) h.t.cleanup();
    await github.close();
  });
  const open = async (decl: string) => {
    const h = await home(github, decl);
    homes.push(h);
    return h;
  };

  it("defaults to deny for agent-exposed keys and warn for the others", () => {
    assert.equal(scopePolicyFor(undefined, "agent-exposed"), "deny");
    assert.equal(scopePolicyFor(undefined, "high"), "warn");
    assert.equal(scopePolicyFor(undefined, "standard"), "warn");
    assert.equal(scopePolicyFor("off", "agent-exposed"), "off");
  });

  it("deny refuses to start, naming the excess scopes and the least-privilege recipe", async () => {
    const h = await open("sensitivity: agent-exposed");
    const refused = await h.run();
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stderr, /refusing to start profile tiny/);
    assert.match(refused.stderr, /github\/pat is over-privileged/);
    assert.match(refused.stderr, /admin:org/);
    assert.match(refused.stderr, /delete_repo/);
    assert.match(refused.stderr, /create a classic PAT with: repo/);
    assert.match(refused.stderr, /--no-scope-check/);
    assert.ok(!existsSync(h.started), "the server was never started");
    assertNoLeak(h.token, refused.stdout, refused.stderr);
    const launches = JSON.parse((await h.t.run(["log", "--action", "launch", "--json"])).stdout);
    assert.equal(launches.at(-1).outcome, "denied");
    assert.match(launches.at(-1).detail, /github\/pat over-privileged/);

    // A cached verdict that would refuse is checked again live.
    assert.equal((await h.run()).code, 2);
    assert.equal(h.introspections(), 2);

    // --no-scope-check starts without asking GitHub.
    const skipped = await h.run(["--no-scope-check"]);
    assert.equal(skipped.code, 0, skipped.stderr);
    assert.ok(existsSync(h.started));
    assert.equal(h.introspections(), 2);
  });

  it("warn starts and warns; a second launch within the window reuses the verdict", async () => {
    const h = await open("sensitivity: standard");
    const first = await h.run();
    assert.equal(first.code, 0, first.stderr);
    assert.equal(readFileSync(h.started, "utf8"), sha256(h.token), "the server got the stored key");
    assert.match(first.stderr, /warning: github\/pat is over-privileged.*delete_repo/);
    assert.match(first.stderr, /least-privilege recipe: create a classic PAT with: repo/);
    assert.equal(h.introspections(), 1);

    const second = await h.run();
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stderr, /warning: github\/pat is over-privileged.*checked in the last 5/);
    assert.equal(h.introspections(), 1, "the cached verdict saved a call to GitHub");
    assertNoLeak(h.token, first.stdout, first.stderr, second.stdout, second.stderr);
  });

  it("off skips the check", async () => {
    const h = await open("scopePolicy: off");
    const r = await h.run();
    assert.equal(r.code, 0, r.stderr);
    assert.doesNotMatch(r.stderr, /over-privileged/);
    assert.equal(h.introspections(), 0);
  });

  it("a 401 at check time warns and starts; --strict-scope refuses a deny key instead", async () => {
    const h = await open("scopePolicy: deny");
    github.failNext(401, 1, {}, "/rate_limit");
    const warned = await h.run();
    assert.equal(warned.code, 0, warned.stderr);
    assert.match(warned.stderr, /could not check the scope of github\/pat: .*starting anyway/);
    assert.ok(existsSync(h.started));

    github.failNext(401, 1, {}, "/rate_limit");
    const strict = await h.run(["--strict-scope"]);
    assert.equal(strict.code, 2, strict.stderr);
    assert.match(strict.stderr, /scope of github\/pat could not be checked.*--strict-scope/);
    assertNoLeak(h.token, warned.stderr, strict.stderr);
  });
});

describe("a profile with mint: gets a fresh narrowed token per session", () => {
  let github: FakeGitHub;
  let t: TestHome;
  let config: string;
  const started = () => join(t.home, "started");

  before(async () => {
    github = await startFakeGitHub();
    t = testHome();
    config = join(t.home, "keyward.yaml");
    writeFileSync(
      config,
      [
        "version: 1",
        "secrets:",
        "  github/app-key: { provider: github, sensitivity: high }",
        "providers:",
        `  github: { apiBaseUrl: ${JSON.stringify(github.settings.apiBaseUrl)}, appId: "${github.app.appId}", installationId: "${github.app.installationId}" }`,
        "profiles:",
        "  minted:",
        `    command: ${JSON.stringify(process.execPath)}`,
        `    args: [-e, ${JSON.stringify(TINY_SERVER)}, ${JSON.stringify(started())}]`,
        "    mint:",
        "      provider: github",
        "      envVar: GITHUB_TOKEN",
        "      privateKey: github/app-key",
        "      permissions: [contents=read, issues=read]",
        "      repositories: [api]",
        "",
      ].join("\n"),
    );
    assert.equal((await t.run(["init"])).code, 0);
    const set = await t.run(["--config", config, "secret", "set", "github/app-key"], {
      stdin: github.app.privateKey,
    });
    assert.equal(set.code, 0, set.stderr);
  });
  after(async () => {
    t.cleanup();
    await github.close();
  });

  /** The real bin running the profile until `end` ends the session; returns what it printed. */
  const session = async (end: (child: ReturnType<typeof spawn>) => void) => {
    rmSync(started(), { force: true });
    const child = spawn(
      process.execPath,
      [...process.execArgv, bin, "--config", config, "run", "minted"],
      { env: t.env, stdio: ["pipe", "pipe", "pipe"] },
    );
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    child.stderr?.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    // The server writes the file after creating it: wait for its content, not only for the file.
    const startedWith = () => (existsSync(started()) ? readFileSync(started(), "utf8") : "");
    for (let i = 0; i < 400 && startedWith() === ""; i++)
      await new Promise((r) => setTimeout(r, 25));
    const served = startedWith();
    assert.ok(served !== "", `the server did not start: ${stderr}`);
    const revokedBefore = github.requests.filter((r) => r.method === "DELETE").length;
    end(child);
    const code = await exited;
    return { code, stdout, stderr, served, revokedBefore };
  };

  /** The token a DELETE /installation/token revoked, by its bearer. */
  const revokedTokens = () =>
    github.requests
      .filter((r) => r.method === "DELETE" && r.path === "/installation/token")
      .map((r) => String(r.headers.authorization).replace(/^Bearer /, ""));

  it("the server gets the minted token, the client never sees it, and it is revoked at client EOF", async () => {
    const { code, stdout, stderr, served, revokedBefore } = await session((child) =>
      child.stdin?.end(),
    );
    assert.equal(code, 0, stderr);
    assert.equal(revokedBefore, 0, "not revoked while the session lasts");

    const minting = github.requests.filter((r) => r.path.endsWith("/access_tokens"));
    assert.equal(minting.length, 1);
    assert.deepEqual(JSON.parse(minting[0]!.body), {
      repositories: ["api"],
      permissions: { contents: "read", issues: "read" },
    });
    const [token] = revokedTokens();
    assert.ok(token, "DELETE /installation/token after client EOF");
    assert.equal(served, sha256(token), "the server got that token");
    const state = github.token(token);
    assert.equal(state?.kind, "installation");
    assert.equal(state?.revoked, true);
    assert.deepEqual(state?.permissions, { contents: "read", issues: "read" });

    assert.match(stdout, /\[REDACTED:minted\/minted\]/, "the token was scrubbed on its way");
    const log = (await t.run(["log", "--json"])).stdout;
    assertNoLeak(token, stdout, stderr, log);
    const entries = JSON.parse(log) as Array<{ action: string; outcome: string; detail?: string }>;
    assert.ok(
      entries.some(
        (e) =>
          e.action === "launch" && /minted a github token for GITHUB_TOKEN/.test(e.detail ?? ""),
      ),
    );
    assert.ok(entries.some((e) => e.action === "revoke" && e.outcome === "ok"));
  });

  it("a SIGTERM to keyward also ends the session with the token revoked", async () => {
    const before = revokedTokens().length;
    const { stderr, served } = await session((child) => child.kill("SIGTERM"));
    const revoked = revokedTokens().slice(before);
    assert.equal(revoked.length, 1, stderr);
    assert.equal(sha256(revoked[0]!), served, "the session's own token");
    assert.equal(github.token(revoked[0]!)?.revoked, true);
  });

  it("mints again before expiry, revokes the old token, and revokes the last one at the end", async () => {
    const startedAt = new Date();
    const session = await Session.open({
      home: t.env.KEYWARD_HOME!,
      env: t.env,
      configPath: config,
      cwd: t.home,
      command: "run",
      profile: "minted",
    });
    try {
      const spec = session.config!.profile("minted").mint!;
      const token = await SessionToken.mint(session, "minted", spec, {
        fetch: globalThis.fetch,
        timeoutMs: 5000,
        now: () => new Date(),
        // Due at once: installation tokens live an hour (providers.md §1.5).
        renewBeforeMs: 3600_000,
      });
      const first = token.value;
      const renewed = new Promise<string>((resolve, reject) =>
        token.startRenewal(async (value) => resolve(value), reject),
      );
      const second = await renewed;
      assert.notEqual(second, first);
      assert.equal(token.value, second);
      const ended = await token.end();
      assert.equal(ended.revoked, true, ended.detail);
      // end() waits for the renewal under way, whose last act is revoking the token it replaced:
      // once it returns the session may close, with both revocations done and logged.
      assert.equal(github.token(first)?.revoked, true, "the replaced token is revoked");
      const revokes = session.log
        .query({ action: "revoke", since: startedAt })
        .filter((e) => /the token minted for GITHUB_TOKEN/.test(e.detail ?? ""));
      assert.equal(revokes.length, 2, "both revocations are in the access log");
      assert.equal(github.token(second)?.revoked, true, "the last token is revoked at the end");
    } finally {
      await session.close();
    }
  });

  it("the config refuses mint on a remote profile and a variable with two sources", () => {
    const mint = {
      provider: "github",
      envVar: "GITHUB_TOKEN",
      privateKey: "github/app-key",
      permissions: ["contents=read"],
    };
    const parse = (profile: Record<string, unknown>) =>
      ConfigSchema.safeParse({ version: 1, profiles: { p: profile } });
    assert.equal(parse({ command: "x", mint }).success, true);
    const remote = parse({ url: "https://mcp.example.com/mcp", mint });
    assert.equal(remote.success, false);
    assert.match(JSON.stringify(remote.error?.issues), /only applies to a profile with a command/);
    const twice = parse({ command: "x", env: { GITHUB_TOKEN: "github/pat" }, mint });
    assert.match(JSON.stringify(twice.error?.issues), /GITHUB_TOKEN is also set in env/);
    const noPermissions = parse({ command: "x", mint: { ...mint, permissions: [] } });
    assert.equal(noPermissions.success, false);
  });
});
