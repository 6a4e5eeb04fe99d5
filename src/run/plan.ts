import type { ProfileConfig } from "../config/schema.js";
import { KeywardError } from "../core/errors.js";
import { SecretService } from "../secrets/service.js";
import type { Session } from "../secrets/session.js";
import { buildChildEnv } from "./env.js";

export interface InjectedSecret {
  name: string;
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

export async function readProfileSecrets(
  session: Session,
  config: ProfileConfig,
): Promise<InjectedSecret[]> {
  const service = new SecretService(session);
  const out: InjectedSecret[] = [];
  for (const [envVar, name] of Object.entries(config.env ?? {})) {
    const read = await service.get(name);
    out.push({ name, envVar, version: read.version.version, value: read.value });
  }
  return out;
}
