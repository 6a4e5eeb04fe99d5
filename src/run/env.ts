/**
 * The environment a wrapped MCP server gets: a short allowlist of the host's variables that
 * programs need to run at all, the profile's `passEnv` and `setEnv`, and its declared secrets.
 * Nothing else: not the host's other tokens, and never KEYWARD_MASTER_KEY or KEYWARD_PASSPHRASE.
 */
export const ENV_ALLOWLIST = [
  "PATH",
  "HOME",
  "USER",
  "LOGNAME",
  "SHELL",
  "LANG",
  "LANGUAGE",
  "LC_ALL",
  "LC_CTYPE",
  "LC_MESSAGES",
  "TZ",
  "TMPDIR",
  "TEMP",
  "TMP",
  "TERM",
  "XDG_RUNTIME_DIR",
  "XDG_CONFIG_HOME",
  "XDG_CACHE_HOME",
  "XDG_DATA_HOME",
  // Windows needs these to start most programs.
  "SYSTEMROOT",
  "WINDIR",
  "COMSPEC",
  "PATHEXT",
  "APPDATA",
  "LOCALAPPDATA",
  "USERPROFILE",
  "PROGRAMDATA",
] as const;

/** keyward's own variables never reach a server, even through passEnv. */
const NEVER_PASSED = /^KEYWARD_/;

export interface ChildEnvInput {
  host: NodeJS.ProcessEnv;
  passEnv: readonly string[];
  setEnv: Readonly<Record<string, string>>;
  secrets: ReadonlyArray<{ envVar: string; value: string }>;
}

export function buildChildEnv(input: ChildEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...ENV_ALLOWLIST, ...input.passEnv]) {
    const value = input.host[name];
    if (value !== undefined && !NEVER_PASSED.test(name)) env[name] = value;
  }
  Object.assign(env, input.setEnv);
  for (const { envVar, value } of input.secrets) env[envVar] = value;
  return env;
}
