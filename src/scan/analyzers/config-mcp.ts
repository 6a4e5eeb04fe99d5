// biome-ignore-all lint/suspicious/noTemplateCurlyInString: client reference syntax (${input:id}, ${env:NAME}) is what the fixes name
/**
 * MCP client configurations (Claude Desktop, Claude Code, Cursor, VS Code, Windsurf and the other
 * `mcpServers` clients): literal credentials in `env`/`headers`, in URLs and in argv; references
 * expanded into argv or a query string; unpinned `npx`/`uvx` packages; whole `.env` files handed
 * to a server; VS Code inputs that prompt for a token in clear text.
 * Shapes and placeholder syntaxes: /work/shared/reference/mcp-clients.md §1–3.
 */
import { isPlaceholder } from "../../detect/index.js";
import type { Analyzer, Finding, SourceFile } from "../types.js";
import {
  basename,
  configFinding,
  describeSecret,
  entry,
  isCredentialName,
  judgeLiteral,
  loadYaml,
  parseStructured,
  type SecretVerdict,
  secretSeverity,
  stringValue,
  strongestToken,
  type TreeNode,
} from "./config-common.js";

const CONFIG_NAMES = new Set([
  "claude_desktop_config.json",
  ".mcp.json",
  ".claude.json",
  "managed-mcp.json",
  "mcp.json", // .cursor/, .vscode/, VS Code user profile, .kiro/settings/, LM Studio
  "mcp_config.json", // Windsurf, Antigravity
  "cline_mcp_settings.json",
  "mcp_settings.json", // Roo Code
]);

/** Settings files that may carry an `mcpServers` or legacy `mcp.servers` block among other settings. */
const SETTINGS_SUFFIXES = [".vscode/settings.json", ".gemini/settings.json"];

const LITERAL_WHY =
  "MCP config files are synced, shared and committed (GitGuardian counted 24,008 unique secrets in MCP config files on public GitHub in 2025), and every process, extension or agent skill that can read the file gets the key.";
const ARGV_WHY =
  "Arguments are visible to every local user in the process list (ps, /proc/<pid>/cmdline), end up in crash reports and client logs, and the config file keeps the literal.";
const QUERY_WHY =
  "URLs, query strings included, are written to proxy and server access logs and error messages; the MCP specification forbids tokens in the query string.";

/** How each client refers to a secret instead of holding it (mcp-clients.md §3). */
function referenceAdvice(path: string): string {
  if (path.endsWith(".vscode/mcp.json") || path.endsWith(".vscode/settings.json"))
    return 'use "${input:<id>}" with an "inputs" entry {"type": "promptString", "id": "<id>", "password": true}';
  if (path.includes(".cursor/")) return 'use "${env:NAME}" and set NAME in the environment';
  if (/(^|\/)\.(mcp|claude)\.json$/.test(path))
    return 'use "${NAME}" (Claude Code expands it from the environment)';
  return "reference the value from the environment instead of writing it into the file";
}

function literalFix(path: string): string {
  return `Revoke and reissue the credential (it has been on disk in clear), then run \`keyward adopt\` to move it into keyward's encrypted store, or ${referenceAdvice(path)}.`;
}

interface ServerContext {
  file: SourceFile;
  position(offset: number): { line: number; column: number };
  /** e.g. `mcpServers.github` */
  keyPath: string;
  serverName: string;
  inputs: Map<string, { node: TreeNode; password: boolean }>;
  findings: Finding[];
  /** secrets already reported for this server, so one value yields one finding */
  reported: Set<string>;
}

function at(ctx: ServerContext, node: TreeNode): { line: number; column: number } {
  return ctx.position(node.start);
}

function reportSecret(
  ctx: ServerContext,
  ruleId: string,
  node: TreeNode,
  verdict: SecretVerdict,
  where: string,
  why: string,
): void {
  if (ctx.reported.has(verdict.secret)) return;
  ctx.reported.add(verdict.secret);
  ctx.findings.push(
    configFinding({
      ruleId,
      axis: "exposure",
      severity: secretSeverity(verdict),
      message: `MCP server "${ctx.serverName}": ${where} holds ${describeSecret(verdict)}.`,
      why,
      fix: literalFix(ctx.file.path),
      path: ctx.file.path,
      ...at(ctx, node),
      subject: `${ctx.keyPath}:${where}`,
      secret: verdict.secret,
      ...(verdict.token ? { token: verdict.token } : {}),
    }),
  );
}

function reportReferenceInArgvOrQuery(ctx: ServerContext, node: TreeNode, where: string): void {
  ctx.findings.push(
    configFinding({
      ruleId: "config/mcp-secret-reference-exposed",
      axis: "exposure",
      severity: "low",
      message: `MCP server "${ctx.serverName}": a credential reference is expanded into ${where}.`,
      why: "The file holds only a reference, but at run time the expanded value sits in the process list or in every logged URL.",
      fix: 'Pass the credential through "env" (or a header for remote servers) and let the server read it from there.',
      path: ctx.file.path,
      ...at(ctx, node),
      subject: `${ctx.keyPath}:${where}`,
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// env / headers

function checkNamedValues(ctx: ServerContext, map: TreeNode | undefined, label: string): void {
  if (map?.kind !== "object") return;
  for (const { key, value } of map.entries) {
    if (value.kind !== "string") continue;
    const verdict = judgeLiteral(key, value.value);
    if (verdict !== undefined) {
      reportSecret(
        ctx,
        "config/mcp-literal-secret",
        value,
        verdict,
        `${label} ${key}`,
        LITERAL_WHY,
      );
      continue;
    }
    if (isCredentialName(key)) checkInputReferences(ctx, value.value);
  }
}

/** A credential typed into a VS Code input without `"password": true` shows on screen as it is typed. */
function checkInputReferences(ctx: ServerContext, value: string): void {
  for (const [, id = ""] of value.matchAll(/\$\{input:([^}]{1,200})\}/g)) {
    const input = ctx.inputs.get(id);
    if (input === undefined || input.password) continue;
    ctx.inputs.delete(id); // one finding per input, however many servers use it
    ctx.findings.push(
      configFinding({
        ruleId: "config/mcp-input-not-password",
        axis: "exposure",
        severity: "low",
        message: `VS Code input "${id}" supplies a credential but is not marked "password": true.`,
        why: "Without it the prompt echoes the token on screen while it is typed (screen sharing, recordings, shoulder surfing).",
        fix: `Add "password": true to the "${id}" entry in "inputs".`,
        path: ctx.file.path,
        ...ctx.position(input.node.start),
        subject: `inputs.${id}`,
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// URLs

const URL_START = /^[a-z][a-z0-9+.-]{1,20}:\/\//i;

/** Query parameters and user-info passwords in a URL; `field` says where it came from. */
function checkUrl(
  ctx: ServerContext,
  node: TreeNode,
  text: string,
  field: string,
  inArgs: boolean,
): void {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return;
  }
  const literalRule = "config/mcp-url-secret";
  if (!inArgs) {
    const token = strongestToken(text);
    if (token !== undefined) {
      reportSecret(ctx, literalRule, node, { secret: token.secret, token }, field, QUERY_WHY);
    }
    const password = decodeURIComponent(url.password);
    if (password !== "" && !isPlaceholder(password)) {
      reportSecret(ctx, literalRule, node, { secret: password }, `${field} (user-info)`, QUERY_WHY);
    }
  }
  for (const [name, value] of url.searchParams) {
    if (!isCredentialName(name) || value === "") continue;
    if (value.includes("${")) {
      reportReferenceInArgvOrQuery(ctx, node, `the query parameter "${name}" of ${field}`);
      continue;
    }
    const verdict = judgeLiteral(name, value);
    if (verdict !== undefined) {
      reportSecret(
        ctx,
        literalRule,
        node,
        verdict,
        `query parameter "${name}" of ${field}`,
        QUERY_WHY,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// argv

interface ArgToken {
  text: string;
  node: TreeNode;
}

/** `command` and `args` as one token list; strings with spaces (`sh -c "…"`, `"npx -y pkg"`) are split on white space. */
function argvOf(server: TreeNode): ArgToken[] {
  const nodes: TreeNode[] = [];
  const command = entry(server, "command");
  if (command?.kind === "string") nodes.push(command);
  const args = entry(server, "args");
  if (args?.kind === "array") nodes.push(...args.items.filter((item) => item.kind === "string"));
  return nodes.flatMap((node) =>
    (stringValue(node) ?? "")
      .split(/\s+/)
      .filter((part) => part !== "")
      .map((part) => ({ text: part.replace(/^["']|["']$/g, ""), node })),
  );
}

/** An npm/PyPI package name, not a secret (`@scope/server-x`, `mcp-server-fetch@1.2.0`). */
function looksLikePackage(value: string): boolean {
  return (
    /^@?[a-z][a-z0-9]*(?:[-./_][a-z0-9]+)+(?:[@=]{1,2}[\w.^~-]+)?$/.test(value) &&
    /[g-z]/.test(value)
  );
}

/** Flags and switches that take no credential even though their name mentions one: `--no-auth`, `--use-token-file`. */
const SWITCH_PREFIX = /^(?:no|disable|enable|skip|use|require|allow)$/;

function checkArgv(ctx: ServerContext, argv: ArgToken[]): void {
  argv.forEach(({ text, node }, i) => {
    const token = strongestToken(text);
    if (token !== undefined) {
      reportSecret(
        ctx,
        "config/mcp-argv-secret",
        node,
        { secret: token.secret, token },
        "args",
        ARGV_WHY,
      );
    }
    if (URL_START.test(text)) {
      checkUrl(ctx, node, text, "an argument URL", true);
      return;
    }
    // --api-key=value, API_KEY=value (docker -e, env, sh -c), --token value
    const assignment = /^(--?[A-Za-z][\w.-]{0,80}|[A-Za-z_][A-Za-z0-9_]{0,80})=(.{1,8192})$/s.exec(
      text,
    );
    let name: string | undefined;
    let value: string | undefined;
    if (assignment) {
      [, name, value] = assignment;
    } else if (/^--[A-Za-z][\w.-]{0,80}$/.test(text)) {
      const next = argv[i + 1]?.text;
      const words = text.slice(2).split(/[-_.]/);
      if (next !== undefined && !next.startsWith("-") && !SWITCH_PREFIX.test(words[0] ?? "")) {
        if (!looksLikePackage(next)) [name, value] = [text, next];
      }
    }
    if (name === undefined || value === undefined || !isCredentialName(name)) return;
    const flag = name.replace(/^-+/, "");
    if (value.includes("${")) {
      reportReferenceInArgvOrQuery(ctx, node, `args (${flag})`);
      return;
    }
    const verdict = judgeLiteral(flag, value);
    if (verdict !== undefined)
      reportSecret(ctx, "config/mcp-argv-secret", node, verdict, `args (${flag})`, ARGV_WHY);
  });
}

// ---------------------------------------------------------------------------------------------
// Unpinned packages

const EXACT_SEMVER = /^v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$/;

/** npm spec → its version part, or undefined for a bare name; null for specs that are not registry packages. */
function npmVersion(spec: string): string | undefined | null {
  if (/^[.~/]|:|\.tgz$/.test(spec)) return null; // paths, git:, github:, file:, tarballs
  const at = spec.indexOf("@", spec.startsWith("@") ? 1 : 0);
  return at === -1 ? undefined : spec.slice(at + 1);
}

function isPinnedNpm(spec: string): boolean | null {
  const version = npmVersion(spec);
  if (version === null) return null;
  return version !== undefined && EXACT_SEMVER.test(version);
}

/** `pkg==1.2.3`, `pkg[extra]==1.2.3` and uvx's `pkg@1.2.3` are pinned; `pkg`, `pkg@latest`, `pkg>=1` are not. */
function isPinnedPython(spec: string): boolean | null {
  if (/^[.~/]|:\/\/|^git\+|\.(?:whl|tar\.gz|zip)$/.test(spec)) return null;
  if (/===?[^*,;<>=!~]+$/.test(spec) && !/[<>!~]=|,/.test(spec)) return true;
  const at = /@([^@]+)$/.exec(spec);
  return at !== null && EXACT_SEMVER.test(at[1] ?? "");
}

interface Launcher {
  /** how many tokens the launcher itself takes: `npx` = 1, `pnpm dlx` = 2, `uv tool run` = 3 */
  width: number;
  ecosystem: "npm" | "python";
  /** options that consume the next token */
  valueOptions: Set<string>;
  /** options whose value is the package (then the first positional is a command, not a package) */
  packageOptions: Set<string>;
}

const NPM_VALUE_OPTIONS = new Set([
  "-p",
  "--package",
  "-c",
  "--call",
  "--registry",
  "--cache",
  "--userconfig",
  "--prefix",
  "-w",
  "--workspace",
  "--node-options",
]);
const UV_VALUE_OPTIONS = new Set([
  "--from",
  "--with",
  "--with-editable",
  "--with-requirements",
  "--python",
  "-p",
  "--index",
  "--index-url",
  "--default-index",
  "--extra-index-url",
  "--find-links",
  "-f",
  "--constraints",
  "-c",
  "--overrides",
  "--env-file",
  "--directory",
  "--project",
  "--config-file",
  "--cache-dir",
  "--python-preference",
  "--index-strategy",
  "--keyring-provider",
  "-P",
  "--upgrade-package",
  "--reinstall-package",
  "--refresh-package",
  "--spec",
]);

function program(token: string | undefined): string {
  return basename((token ?? "").replace(/\\/g, "/"))
    .replace(/\.(?:cmd|exe|bat)$/i, "")
    .toLowerCase();
}

function launcherAt(argv: ArgToken[], i: number): Launcher | undefined {
  const first = program(argv[i]?.text);
  const second = argv[i + 1]?.text;
  const npm = (width: number): Launcher => ({
    width,
    ecosystem: "npm",
    valueOptions: NPM_VALUE_OPTIONS,
    packageOptions: new Set(["-p", "--package"]),
  });
  const python = (width: number, packageOption: string): Launcher => ({
    width,
    ecosystem: "python",
    valueOptions: UV_VALUE_OPTIONS,
    packageOptions: new Set([packageOption]),
  });
  if (first === "npx" || first === "bunx") return npm(1);
  if ((first === "pnpm" || first === "yarn") && second === "dlx") return npm(2);
  if (first === "npm" && (second === "exec" || second === "x")) return npm(2);
  if (first === "uvx") return python(1, "--from");
  if (first === "uv" && second === "tool" && argv[i + 2]?.text === "run")
    return python(3, "--from");
  if (first === "pipx" && second === "run") return python(2, "--spec");
  return undefined;
}

function checkPinning(ctx: ServerContext, argv: ArgToken[]): void {
  const start = argv.findIndex((_, i) => launcherAt(argv, i) !== undefined);
  const launcher = start === -1 ? undefined : launcherAt(argv, start);
  if (launcher === undefined) return;
  const launcherName = argv
    .slice(start, start + launcher.width)
    .map((t) => program(t.text))
    .join(" ");
  const packages: ArgToken[] = [];
  let positional: ArgToken | undefined;
  for (let i = start + launcher.width; i < argv.length; i++) {
    const token = argv[i];
    if (token === undefined) break;
    if (token.text === "--") {
      positional ??= argv[i + 1];
      break;
    }
    const [option = "", inline] = token.text.split(/=(.*)/s, 2);
    if (token.text.startsWith("-")) {
      const value = inline ?? (launcher.valueOptions.has(option) ? argv[++i]?.text : undefined);
      if (launcher.packageOptions.has(option) && value !== undefined) {
        packages.push({
          text: value,
          node: inline === undefined ? (argv[i]?.node ?? token.node) : token.node,
        });
      }
      continue;
    }
    positional = token;
    break;
  }
  if (packages.length === 0 && positional !== undefined) packages.push(positional);
  for (const pkg of packages) {
    const pinned = launcher.ecosystem === "npm" ? isPinnedNpm(pkg.text) : isPinnedPython(pkg.text);
    if (pinned !== false) continue;
    const example =
      launcher.ecosystem === "npm"
        ? `${pkg.text.replace(/(.)@.*$/, "$1")}@<version>`
        : `${pkg.text.replace(/[@=].*$/, "")}==<version>`;
    ctx.findings.push(
      configFinding({
        ruleId: "config/mcp-unpinned-package",
        axis: "security",
        severity: "medium",
        message: `MCP server "${ctx.serverName}" runs package "${pkg.text}" through ${launcherName} without an exact version.`,
        why: `Every start fetches whatever the registry serves now: a compromised or typo-squatted release runs with the server's credentials (npm and PyPI supply-chain attacks have targeted exactly such launchers).`,
        fix: `Pin an exact, reviewed version (${example}) and update it deliberately.`,
        path: ctx.file.path,
        ...at(ctx, pkg.node),
        subject: `${ctx.keyPath}:${pkg.text}`,
      }),
    );
  }
}

// ---------------------------------------------------------------------------------------------
// Whole .env files handed to a server

/** The project's shared env files (`.env`, `.env.local`, `.env.production`…), not a file made for one server. */
export function isSharedDotenv(path: string): boolean {
  const name = basename(path.replace(/^["']|["']$/g, "").replace(/\\/g, "/"));
  return /^\.env(?:\.(?:local|dev|development|prod|production|staging|stage|test))?(?:\.local)?$/.test(
    name,
  );
}

function reportForwarding(ctx: ServerContext, node: TreeNode, how: string): void {
  ctx.findings.push(
    configFinding({
      ruleId: "config/mcp-env-file-forwarding",
      axis: "security",
      severity: "medium",
      message: `MCP server "${ctx.serverName}" receives the whole shared env file through ${how}.`,
      why: "The server gets every variable in the project's .env (database passwords, payment and cloud keys), not just its own credential: one prompt injection, log leak or malicious update exposes them all.",
      fix: 'Give the server only the variables it reads: an "env" map of references, a server-specific env file holding only its own key, or `keyward run` with the server\'s declared secrets.',
      path: ctx.file.path,
      ...at(ctx, node),
      subject: `${ctx.keyPath}:${how}`,
    }),
  );
}

function checkForwarding(ctx: ServerContext, server: TreeNode, argv: ArgToken[]): void {
  const envFile = entry(server, "envFile");
  if (envFile?.kind === "string" && isSharedDotenv(envFile.value)) {
    reportForwarding(ctx, envFile, '"envFile"');
  }
  // dotenv-cli and dotenvx load ./.env unless -e/-f names another file
  const dotenvCli = argv.find((t) => /^dotenv(?:-cli|x)?(?:@.*)?$/.test(program(t.text)));
  let dotenvFileGiven = false;
  argv.forEach(({ text, node }, i) => {
    const next = argv[i + 1]?.text ?? "";
    const [option = "", inline] = text.split(/=(.*)/s, 2);
    if (/^--env-file(?:-if-exists)?$/.test(option)) {
      if (isSharedDotenv(inline ?? next)) reportForwarding(ctx, node, `the ${option} argument`);
    } else if ((text === "source" || text === ".") && isSharedDotenv(next)) {
      reportForwarding(ctx, node, `a shell "${text}" of the env file`);
    } else if (dotenvCli !== undefined && (option === "-e" || option === "-f")) {
      dotenvFileGiven = true;
      if (isSharedDotenv(inline ?? next)) reportForwarding(ctx, node, "the dotenv CLI");
    }
  });
  if (dotenvCli !== undefined && !dotenvFileGiven) {
    reportForwarding(ctx, dotenvCli.node, "the dotenv CLI");
  }
}

// ---------------------------------------------------------------------------------------------

/** Server maps in the shapes clients use: `mcpServers`, VS Code `servers`, settings.json `mcp.servers`, `.claude.json` `projects[*].mcpServers`. */
function serverMaps(root: TreeNode): Array<{ prefix: string; map: TreeNode }> {
  const found: Array<{ prefix: string; map: TreeNode }> = [];
  const add = (prefix: string, map: TreeNode | undefined) => {
    if (map?.kind === "object") found.push({ prefix, map });
  };
  add("mcpServers", entry(root, "mcpServers"));
  add("servers", entry(root, "servers"));
  add("mcp.servers", entry(entry(root, "mcp"), "servers"));
  const projects = entry(root, "projects");
  if (projects?.kind === "object") {
    for (const project of projects.entries)
      add(`projects.${project.key}.mcpServers`, entry(project.value, "mcpServers"));
  }
  return found;
}

function inputsOf(root: TreeNode): Map<string, { node: TreeNode; password: boolean }> {
  const inputs = new Map<string, { node: TreeNode; password: boolean }>();
  for (const list of [entry(root, "inputs"), entry(entry(root, "mcp"), "inputs")]) {
    if (list?.kind !== "array") continue;
    for (const input of list.items) {
      const id = stringValue(entry(input, "id"));
      if (id === undefined) continue;
      const password = entry(input, "password");
      inputs.set(id, {
        node: input,
        password: password?.kind === "other" && password.value === "true",
      });
    }
  }
  return inputs;
}

function isServerEntry(node: TreeNode): boolean {
  return (
    node.kind === "object" &&
    ["command", "url", "serverUrl"].some((key) => entry(node, key) !== undefined)
  );
}

function analyzeMcpConfig(file: SourceFile): Finding[] {
  const doc = parseStructured(file.text, { jsonc: true });
  if (doc?.root?.kind !== "object") return [];
  const findings: Finding[] = [];
  const inputs = inputsOf(doc.root);
  for (const { prefix, map } of serverMaps(doc.root)) {
    if (map.kind !== "object") continue;
    for (const { key: serverName, value: server } of map.entries) {
      if (!isServerEntry(server)) continue;
      const ctx: ServerContext = {
        file,
        position: doc.position,
        keyPath: `${prefix}.${serverName}`,
        serverName,
        inputs,
        findings,
        reported: new Set(),
      };
      checkNamedValues(ctx, entry(server, "env"), "env");
      checkNamedValues(ctx, entry(server, "headers"), "header");
      for (const field of ["url", "serverUrl"]) {
        const url = entry(server, field);
        if (url?.kind === "string") checkUrl(ctx, url, url.value, `"${field}"`, false);
      }
      const argv = argvOf(server);
      checkArgv(ctx, argv);
      checkPinning(ctx, argv);
      checkForwarding(ctx, server, argv);
    }
  }
  return findings;
}

export const mcpConfigAnalyzer: Analyzer = {
  id: "config/mcp",
  applies(path) {
    return (
      CONFIG_NAMES.has(basename(path)) || SETTINGS_SUFFIXES.some((suffix) => path.endsWith(suffix))
    );
  },
  load: loadYaml,
  analyze: analyzeMcpConfig,
};
