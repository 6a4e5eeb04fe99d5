import { SECRET_TEMPLATE_PATTERN } from "../config/constants.js";
import { type ProfileConfig, storeEnv } from "../config/schema.js";
import { KeywardError } from "../core/errors.js";
import { SecretService } from "../secrets/service.js";
import type { Session } from "../secrets/session.js";
import { buildChildEnv } from "./env.js";

export interface InjectedSecret {
  name: string;
  /** The variable the value is injected as; empty for a remote profile's url and headers secrets. */
  envVar: string;
  version: number;
  value: string;
}

export interface LaunchPlan {
  profile: string;
  command: string;
  args: string[];
  env: Record<string, string>;
  secrets: InjectedSecret[];
  argumentPolicy: "redact" | "block" | "allow";
}

/** Looks a profile up in the config, or says where profiles are declared. */
export function profileConfig(session: Session, profile: string): ProfileConfig {
  if (!session.config) {
    throw new KeywardError(
      "config_invalid",
      `no config file declares profile ${profile}`,
      "declare it under profiles: in keyward.yaml (or <home>/config.yaml); `keyward adopt` writes profiles for servers in your MCP client configs",
    );
  }
  return session.config.profile(profile);
}

/**
 * Reads the profile's secrets (each read is logged with the profile as actor) and builds what
 * the server is started with. A command after `--` replaces the profile's command and args.
 */
export async function planLaunch(
  session: Session,
  profile: string,
  host: NodeJS.ProcessEnv,
  commandOverride?: string[],
): Promise<LaunchPlan> {
  const config = profileConfig(session, profile);
  const argv = commandOverride?.length
    ? commandOverride
    : config.command
      ? [config.command, ...(config.args ?? [])]
      : [];
  const [command, ...args] = argv;
  if (!command) {
    throw new KeywardError(
      "config_invalid",
      `profile ${profile} has no command`,
      `add command: to profiles.${profile}, or give one after --: keyward run ${profile} -- <command> [args]`,
    );
  }
  const secrets = await readProfileSecrets(session, config);
  return {
    profile,
    command,
    args,
    env: buildChildEnv({
      host,
      passEnv: config.passEnv ?? [],
      setEnv: config.setEnv ?? {},
      secrets,
    }),
    secrets,
    argumentPolicy: config.argumentPolicy ?? "redact",
  };
}

/**
 * Reads the secrets a profile uses, each read logged with the profile as actor: a local
 * profile's env secrets, or the secrets a remote profile's url and headers name.
 */
export async function readProfileSecrets(
  session: Session,
  config: ProfileConfig,
): Promise<InjectedSecret[]> {
  const service = new SecretService(session);
  const uses: Array<[envVar: string, name: string]> =
    config.url !== undefined
      ? templateSecretNames(config).map((name) => ["", name])
      : storeEnv(config);
  const out: InjectedSecret[] = [];
  for (const [envVar, name] of uses) {
    const read = await service.get(name);
    out.push({ name, envVar, version: read.version.version, value: read.value });
  }
  return out;
}

/** The secrets named by `{{secret:<name>}}` in a remote profile's url and headers, each once. */
export function templateSecretNames(config: ProfileConfig): string[] {
  const texts = [config.url ?? "", ...Object.values(config.headers ?? {})];
  const names = texts.flatMap((text) =>
    [...text.matchAll(SECRET_TEMPLATE_PATTERN)].map((m) => m[1] ?? ""),
  );
  return [...new Set(names)];
}

export interface RemoteEndpoint {
  /** Holds a secret when the profile's url has a template: never print it. */
  url: string;
  /** Hold secrets: never print or log the values. */
  headers: Record<string, string>;
}

/** Header values fetch would refuse (and quote in its error): CR, LF, NUL, beyond Latin-1. */
const UNSENDABLE_HEADER_VALUE = /[\r\n\0]|[^\u0000-\u00ff]/;

/**
 * Fills a remote profile's templates with the values read: percent-encoded in the url, as is
 * in headers (a value that cannot be sent in a header is refused, by name).
 */
export function fillRemoteEndpoint(
  profile: string,
  config: ProfileConfig,
  secrets: readonly InjectedSecret[],
): RemoteEndpoint {
  const values = new Map(secrets.map((s) => [s.name, s.value]));
  const fill = (text: string, encode: (value: string, name: string) => string) =>
    text.replace(SECRET_TEMPLATE_PATTERN, (_, name: string) =>
      encode(values.get(name) ?? "", name),
    );
  const headers: Record<string, string> = {};
  for (const [header, template] of Object.entries(config.headers ?? {})) {
    headers[header] = fill(template, (value, name) => {
      if (UNSENDABLE_HEADER_VALUE.test(value)) {
        throw new KeywardError(
          "invalid_value",
          `the value of ${name} cannot be sent in the ${header} header of profile ${profile}: it holds a line break or a character beyond Latin-1`,
          `check the value: keyward secret set ${name}`,
        );
      }
      return value;
    });
  }
  return { url: fill(config.url ?? "", (value) => encodeURIComponent(value)), headers };
}

/**
 * The profile as `keyward run --url` sees it: the url replaces the profile's (and a command).
 * It may not name secrets, and may not move a profile's credentials to another origin: the
 * config file is where a key's audience is declared.
 */
export function withUrlOverride(
  profile: string,
  config: ProfileConfig,
  url: string,
): ProfileConfig {
  const refuse = (why: string, fix: string): never => {
    throw new KeywardError("usage", `--url ${why}`, fix);
  };
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return refuse(
      "is not a URL",
      "give the server's endpoint, for example https://mcp.example.com/mcp",
    );
  }
  if (url.includes("{{secret:")) {
    refuse(
      "may not name secrets",
      `put {{secret:<name>}} in profiles.${profile}.url or headers in the config file`,
    );
  }
  const loopback = ["localhost", "127.0.0.1", "[::1]"].includes(parsed.hostname);
  if (parsed.protocol !== "https:" && !(parsed.protocol === "http:" && loopback)) {
    refuse(
      "must use https (plain http only to localhost)",
      "use the https:// address of the server",
    );
  }
  if (parsed.username !== "" || parsed.password !== "") {
    refuse(
      "carries credentials",
      `remove user:password@ and declare the credential in profiles.${profile}.headers`,
    );
  }
  if (config.url !== undefined) {
    const configured = new URL(config.url.replace(SECRET_TEMPLATE_PATTERN, "x")).origin;
    if (parsed.origin !== configured) {
      refuse(
        `points to ${parsed.origin}, but profile ${profile} sends its credentials only to ${configured}`,
        `change profiles.${profile}.url in the config file if the server has moved`,
      );
    }
  }
  const { command: _command, ...rest } = config;
  return { ...rest, args: [], url };
}
