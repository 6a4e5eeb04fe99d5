/**
 * The environment keyward hands to a program it runs on the user's behalf (a provider script, a
 * notification command): the caller's environment without keyward's own settings. KEYWARD_*
 * variables include the master key (KEYWARD_MASTER_KEY) and passphrase (KEYWARD_PASSPHRASE),
 * which no child needs and which would give it every secret in the store.
 */
export function envWithoutKeyward(
  env: NodeJS.ProcessEnv,
  extra: Record<string, string> = {},
): NodeJS.ProcessEnv {
  const out: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(env)) {
    if (!k.startsWith("KEYWARD_")) out[k] = v;
  }
  return Object.assign(out, extra);
}
