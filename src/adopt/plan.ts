/**
 * planAdopt: finds the client config files, reads every server entry and decides, value by
 * value, what moves into the store, what stays, and which profile each entry will run.
 * The plan names secrets but never holds a value: applyAdopt re-reads the (unchanged) files.
 */
import { existsSync, readFileSync } from "node:fs";
import { basename } from "node:path";
import { ENV_VAR_NAME_PATTERN, PROFILE_NAME_PATTERN } from "../config/constants.js";
import { isKeywardError } from "../core/errors.js";
import { parseSecretName } from "../core/names.js";
import { scanText } from "../detect/index.js";
import {
  type ClientAdapter,
  type ClientConfigFile,
  type ClientId,
  clientAdapter,
  clientAdapters,
  describePath,
  type ParsedClientFile,
  parseClientFile,
  type ServerEntry,
} from "../mcp/clients/index.js";
import { classifyValue, splitHeaderValue } from "./classify.js";
import { sha256 } from "./files.js";
import type {
  AdoptOptions,
  AdoptPlan,
  AdoptTableRow,
  LocateOptions,
  PlannedFile,
  PlannedItem,
  PlannedServer,
  ProfileInput,
} from "./types.js";

export interface LocatedFile {
  adapter: ClientAdapter;
  file: ClientConfigFile;
}

/** Every documented config file of the chosen clients that exists, user files first. */
export function locateFiles(opts: LocateOptions): LocatedFile[] {
  const adapters =
    opts.clients === "all" ? clientAdapters : opts.clients.map((id) => clientAdapter(id));
  const ctx = {
    home: opts.home,
    cwd: opts.cwd,
    platform: opts.platform ?? process.platform,
    env: opts.env ?? {},
  };
  const seen = new Set<string>();
  const located: LocatedFile[] = [];
  for (const adapter of adapters) {
    for (const file of adapter.configFiles(ctx)) {
      // With cwd = home, a project path can be a user path of the same client.
      if (seen.has(`${adapter.id}\0${file.path}`) || !existsSync(file.path)) continue;
      seen.add(`${adapter.id}\0${file.path}`);
      located.push({ adapter, file });
    }
  }
  return located;
}

const KEYWARD_BINARIES = new Set(["keyward", "keyward.cmd", "keyward.exe"]);

/** The profile an entry already runs through keyward, or undefined when it does not. */
export function adoptedProfile(
  entry: ServerEntry,
  keyward: AdoptOptions["keywardCommand"],
): string | undefined {
  const { command, args } = entry;
  if (command === undefined) return undefined;
  const prefix = [...keyward.args, "run"];
  if (command === keyward.command && prefix.every((a, i) => args[i] === a)) {
    return args[prefix.length] ?? "";
  }
  if (KEYWARD_BINARIES.has(basename(command)) && args[0] === "run") return args[1] ?? "";
  return undefined;
}

/** An item with the value it moves; values never leave this module and apply.ts. */
export interface AnalysedItem extends PlannedItem {
  value?: string;
  /** for header items: the text before the credential (`Bearer `) */
  prefix?: string;
}

export interface AnalysedServer {
  entry: ServerEntry;
  server: Omit<PlannedServer, "items">;
  items: AnalysedItem[];
}

export interface AnalysedFile {
  parsed: ParsedClientFile;
  servers: AnalysedServer[];
}

interface QueryPair {
  raw: string;
  key: string;
  value: string;
}

/** Splits a URL into what precedes the query, its key=value pairs and the fragment, keeping raw text. */
function splitUrl(url: string): { base: string; pairs: QueryPair[]; hash: string } {
  const hashAt = url.indexOf("#");
  const hash = hashAt === -1 ? "" : url.slice(hashAt);
  const withoutHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const queryAt = withoutHash.indexOf("?");
  if (queryAt === -1) return { base: withoutHash, pairs: [], hash };
  const decode = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, " "));
    } catch {
      return s;
    }
  };
  const pairs = withoutHash
    .slice(queryAt + 1)
    .split("&")
    .filter((raw) => raw !== "")
    .map((raw) => {
      const eq = raw.indexOf("=");
      return eq === -1
        ? { raw, key: decode(raw), value: "" }
        : { raw, key: decode(raw.slice(0, eq)), value: decode(raw.slice(eq + 1)) };
    });
  return { base: withoutHash.slice(0, queryAt), pairs, hash };
}

function joinUrl(base: string, pairs: string[], hash: string): string {
  return `${base}${pairs.length > 0 ? `?${pairs.join("&")}` : ""}${hash}`;
}

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function skip(server: AnalysedServer, reason: string): AnalysedServer {
  server.server.action = "skip";
  server.server.reason = reason;
  for (const item of server.items) {
    item.action = "keep";
    delete item.value;
  }
  return server;
}

function hasSecret(items: readonly AnalysedItem[]): boolean {
  return items.some((i) => i.class === "secret");
}

function analyseStdio(adapter: ClientAdapter, server: AnalysedServer): AnalysedServer {
  const { entry } = server;
  for (const [key, value] of Object.entries(entry.env)) {
    const c = classifyValue(key, value, (v) => adapter.isPlaceholder(v));
    const item: AnalysedItem = { kind: "env", key, class: c.class, action: "keep" };
    if (c.class === "secret") {
      item.action = "move";
      item.value = value;
      if (c.ruleId !== undefined) item.detectedAs = c.ruleId;
      if (c.provider !== undefined) item.provider = c.provider;
    }
    server.items.push(item);
  }
  if (!hasSecret(server.items)) {
    server.server.action = "no-secrets";
    return server;
  }
  const launch = [entry.command ?? "", ...entry.args];
  if (launch.some((part) => adapter.isPlaceholder(part))) {
    return skip(
      server,
      `its command or args use \${…} references that ${adapter.displayName} fills in; keyward run would receive them unexpanded`,
    );
  }
  const argToken = entry.args.map((a) => scanText(a)[0]).find((m) => m !== undefined);
  if (argToken !== undefined) {
    return skip(
      server,
      `an argument looks like a ${argToken.ruleId} token; move it into env by hand first (argv is visible to every local user)`,
    );
  }
  const badName = Object.keys(entry.env).find((k) => !ENV_VAR_NAME_PATTERN.test(k));
  if (badName !== undefined) {
    return skip(server, `env variable ${JSON.stringify(badName)} is not a valid variable name`);
  }
  server.server.action = "adopt";
  return server;
}

function analyseRemote(adapter: ClientAdapter, server: AnalysedServer): AnalysedServer {
  const { entry } = server;
  const url = entry.url ?? "";
  const classify = (key: string, value: string) =>
    classifyValue(key, value, (v) => adapter.isPlaceholder(v));
  for (const [key, value] of Object.entries(entry.headers)) {
    const c = classify(key, value);
    const item: AnalysedItem = { kind: "header", key, class: c.class, action: "keep" };
    if (c.class === "secret") {
      const { prefix, credential } = splitHeaderValue(key, value);
      Object.assign(item, { action: "move", value: credential, prefix });
      if (c.ruleId !== undefined) item.detectedAs = c.ruleId;
      if (c.provider !== undefined) item.provider = c.provider;
    }
    server.items.push(item);
  }
  const { base, pairs } = splitUrl(url);
  for (const pair of pairs) {
    const c = classify(pair.key, pair.value);
    const item: AnalysedItem = { kind: "url-query", key: pair.key, class: c.class, action: "keep" };
    if (c.class === "secret") {
      Object.assign(item, { action: "move", value: pair.value });
      if (c.ruleId !== undefined) item.detectedAs = c.ruleId;
      if (c.provider !== undefined) item.provider = c.provider;
    }
    server.items.push(item);
  }

  let parsedUrl: URL | undefined;
  try {
    parsedUrl = new URL(url);
  } catch {
    parsedUrl = undefined;
  }
  if (parsedUrl !== undefined && (parsedUrl.username !== "" || parsedUrl.password !== "")) {
    return skip(
      server,
      "its url carries user:password credentials; move them into an Authorization header by hand first",
    );
  }
  const pathToken = scanText(base)[0];
  if (pathToken !== undefined) {
    return skip(
      server,
      `its url path holds what looks like a ${pathToken.ruleId} token; keyward can only move headers and query parameters`,
    );
  }
  if (!hasSecret(server.items)) {
    server.server.action = "no-secrets";
    return server;
  }
  if (parsedUrl === undefined) return skip(server, "its url is not a valid URL");
  if (
    parsedUrl.protocol !== "https:" &&
    !(
      parsedUrl.protocol === "http:" &&
      ["localhost", "127.0.0.1", "[::1]"].includes(parsedUrl.hostname)
    )
  ) {
    return skip(
      server,
      "its url is not https; keyward only bridges to https (or plain http on localhost)",
    );
  }
  if (typeof entry.value.headersHelper === "string") {
    return skip(server, "it also uses headersHelper; move its headers by hand");
  }
  if (server.items.some((i) => i.class === "placeholder")) {
    return skip(
      server,
      `it mixes literal tokens with \${…} references that ${adapter.displayName} fills in; replace the literal ones with references or move them by hand`,
    );
  }
  const badHeader = Object.keys(entry.headers).find((h) => !HEADER_NAME.test(h));
  if (badHeader !== undefined) {
    return skip(server, `header ${JSON.stringify(badHeader)} is not a valid header name`);
  }
  server.server.action = "adopt";
  return server;
}

/** Reads one client file into servers and items (values included, for apply). */
export function analyseFile(
  adapter: ClientAdapter,
  file: ClientConfigFile,
  text: string,
  keyward: AdoptOptions["keywardCommand"],
): AnalysedFile {
  const parsed = parseClientFile(adapter, file, text);
  const servers = parsed.entries.map((entry): AnalysedServer => {
    const server: AnalysedServer = {
      entry,
      server: {
        name: entry.name,
        where: describePath(entry.path),
        entryPath: [...entry.path],
        transport: entry.transport,
        action: "no-secrets",
      },
      items: [],
    };
    const profile = adoptedProfile(entry, keyward);
    if (profile !== undefined) {
      server.server.action = "already-adopted";
      server.server.profile = profile;
      return server;
    }
    if (entry.transport === "stdio") return analyseStdio(adapter, server);
    if (entry.transport === "remote") return analyseRemote(adapter, server);
    const hasUrl = typeof entry.value.url === "string" || typeof entry.value.serverUrl === "string";
    return skip(
      server,
      hasUrl
        ? `${adapter.displayName} does not read remote entries from this file`
        : "it has neither command nor url",
    );
  });
  return { parsed, servers };
}

/** A valid secret-name segment made from any text: other characters become "-". */
export function nameSegment(text: string, max: number): string {
  const cleaned = text
    .replace(/[^A-Za-z0-9._@+=-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "")
    .slice(0, max)
    .replace(/[^A-Za-z0-9]+$/, "");
  return cleaned === "" ? "server" : cleaned;
}

function profileName(client: ClientId, key: string): string {
  const name = `${client}-${key}`.replace(/[^A-Za-z0-9._-]+/g, "-").slice(0, 64);
  return PROFILE_NAME_PATTERN.test(name) ? name : `${client}-server`;
}

function secretTemplate(name: string): string {
  return `{{secret:${name}}}`;
}

function stdioProfile(server: AnalysedServer): ProfileInput {
  const { entry, items } = server;
  const profile: ProfileInput = { command: entry.command ?? "" };
  if (entry.args.length > 0) profile.args = [...entry.args];
  const env: Record<string, string> = {};
  const passEnv: string[] = [];
  for (const item of items) {
    if (item.action === "move" && item.secret !== undefined) env[item.key] = item.secret;
    else passEnv.push(item.key);
  }
  profile.env = env;
  if (passEnv.length > 0) profile.passEnv = passEnv;
  return profile;
}

function remoteProfile(server: AnalysedServer): { profile: ProfileInput; endpoint: string } {
  const { entry, items } = server;
  const { base, pairs, hash } = splitUrl(entry.url ?? "");
  const templated: string[] = [];
  const kept: string[] = [];
  for (const pair of pairs) {
    const item = items.find((i) => i.kind === "url-query" && i.key === pair.key);
    if (item?.action === "move" && item.secret !== undefined) {
      const rawKey = pair.raw.split("=")[0] ?? pair.raw;
      templated.push(`${rawKey}=${secretTemplate(item.secret)}`);
    } else {
      templated.push(pair.raw);
      kept.push(pair.raw);
    }
  }
  const headers: Record<string, string> = {};
  for (const [key, value] of Object.entries(entry.headers)) {
    const item = items.find((i) => i.kind === "header" && i.key === key);
    headers[key] = item?.template ?? value;
  }
  const profile: ProfileInput = { url: joinUrl(base, templated, hash) };
  if (Object.keys(headers).length > 0) profile.headers = headers;
  return { profile, endpoint: joinUrl(base, kept, hash) };
}

function publicItem(item: AnalysedItem): PlannedItem {
  const { value: _value, prefix: _prefix, ...rest } = item;
  return rest;
}

/** Decides names, profiles and launch lines for the analysed files, in file order. */
async function nameEverything(
  analysed: { adapter: ClientAdapter; file: ClientConfigFile; analysis: AnalysedFile }[],
  opts: AdoptOptions,
): Promise<Record<string, ProfileInput>> {
  const profiles: Record<string, ProfileInput> = {};
  const used = new Set<string>();
  for (const { analysis } of analysed) {
    for (const { server } of analysis.servers) {
      if (server.action === "already-adopted" && server.profile) used.add(server.profile);
    }
  }
  for (const { adapter, analysis } of analysed) {
    for (const server of analysis.servers) {
      if (server.server.action !== "adopt") continue;
      const base = nameSegment(server.entry.name, 60);
      let key = base;
      for (let n = 2; used.has(profileName(adapter.id, key)); n++) key = `${base}-${n}`;
      const profile = profileName(adapter.id, key);
      used.add(profile);
      server.server.profile = profile;
      for (const item of server.items) {
        if (item.action !== "move") continue;
        item.secret = parseSecretName(`${adapter.id}/${key}/${nameSegment(item.key, 80)}`);
        item.secretExists = await opts.store.exists(item.secret);
        if (item.kind === "header")
          item.template = `${item.prefix ?? ""}${secretTemplate(item.secret)}`;
      }
      const run = [...opts.keywardCommand.args, "run", profile];
      if (server.entry.transport === "remote") {
        const { profile: remote, endpoint } = remoteProfile(server);
        profiles[profile] = remote;
        server.server.endpoint = endpoint;
        server.server.launch = {
          command: opts.keywardCommand.command,
          args: [...run, "--url", endpoint],
        };
      } else {
        profiles[profile] = stdioProfile(server);
        server.server.launch = { command: opts.keywardCommand.command, args: run };
      }
    }
  }
  return profiles;
}

/** What adopt would do, without touching anything. */
export async function planAdopt(opts: AdoptOptions): Promise<AdoptPlan> {
  const files: PlannedFile[] = [];
  const analysed: { adapter: ClientAdapter; file: ClientConfigFile; analysis: AnalysedFile }[] = [];
  const planned = new Map<AnalysedFile, PlannedFile>();
  for (const { adapter, file } of locateFiles(opts)) {
    const bytes = readFileSync(file.path);
    const entry: PlannedFile = {
      client: adapter.id,
      path: file.path,
      scope: file.scope,
      description: file.description,
      sha256: sha256(bytes),
      status: "nothing-to-do",
      servers: [],
      warnings: [],
    };
    files.push(entry);
    try {
      const analysis = analyseFile(adapter, file, bytes.toString("utf8"), opts.keywardCommand);
      analysed.push({ adapter, file, analysis });
      planned.set(analysis, entry);
    } catch (e) {
      if (!isKeywardError(e)) throw e;
      entry.status = "invalid";
      entry.error = e.toJSON();
    }
  }
  const profiles = await nameEverything(analysed, opts);
  for (const { file, analysis } of analysed) {
    const entry = planned.get(analysis)!;
    entry.servers = analysis.servers.map((s) => ({ ...s.server, items: s.items.map(publicItem) }));
    for (const { entry: server, server: planned } of analysis.servers) {
      if (planned.action === "adopt" && typeof server.value.envFile === "string") {
        entry.warnings.push(
          `${planned.where}: variables from its envFile reach keyward, but the server only gets those listed under passEnv in profile ${planned.profile}`,
        );
      }
    }
    if (entry.servers.some((s) => s.action === "adopt")) {
      entry.status = "adopt";
      if (file.scope === "project") {
        entry.warnings.push(
          `${file.path} is a project file that may be committed: the tokens it held may already be in its git history, so rotate them; the rewritten entries name this machine's keyward path`,
        );
      }
    }
    for (const server of entry.servers) {
      if (server.action === "skip" && server.items.some((i) => i.class === "secret")) {
        entry.warnings.push(
          `${server.where}: left as it is with its secrets in the file, because ${server.reason}`,
        );
      }
    }
  }
  return { files, profiles, empty: !files.some((f) => f.status === "adopt") };
}

/** The "what moved" table: one row per value that goes into the store. */
export function adoptTable(plan: AdoptPlan): AdoptTableRow[] {
  const rows: AdoptTableRow[] = [];
  for (const file of plan.files) {
    for (const server of file.servers) {
      if (server.action !== "adopt") continue;
      for (const item of server.items) {
        if (item.action !== "move" || item.secret === undefined) continue;
        rows.push({
          client: file.client,
          file: file.path,
          server: server.name,
          kind: item.kind,
          key: item.key,
          secret: item.secret,
          profile: server.profile ?? "",
        });
      }
    }
  }
  return rows;
}
