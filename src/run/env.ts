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

/**
 * The one keyward variable a server does get: which variable holds which secret, as
 * `VAR=secret-name` pairs joined by commas (names only, never a value), so that the SDK's
 * `secret(name)` (src/sdk) finds its value without being told the variable. Secret names
 * cannot hold a comma, and a variable name cannot hold `=`.
 */
export const SECRET_MAP_VAR = "KEYWARD_SECRET_MAP";

export interface ChildEnvInput {
  host: NodeJS.ProcessEnv;
  passEnv: readonly string[];
  setEnv: Readonly<Record<string, string>>;
  secrets: ReadonlyArray<{ envVar: string; name: string; value: string }>;
}

export function buildChildEnv(input: ChildEnvInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of [...ENV_ALLOWLIST, ...input.passEnv]) {
    const value = input.host[name];
    if (value !== undefined && !NEVER_PASSED.test(name)) env[name] = value;
  }
  Object.assign(env, input.setEnv);
  for (const { envVar, value } of input.secrets) env[envVar] = value;
  const map = input.secrets.filter((s) => s.envVar !== "").map((s) => `${s.envVar}=${s.name}`);
  if (map.length > 0) env[SECRET_MAP_VAR] = map.join(",");
  return env;
}
