import { createRequire } from "node:module";

/** The OS keyring, behind a small interface so tests and machines without one can stand in. */
export interface Keyring {
  /** Whether a keyring service answers at all (write, read back, delete a probe entry). */
  probe(): { ok: true } | { ok: false; reason: string };
  get(storeId: string): { ok: true; value: string | null } | { ok: false; reason: string };
  set(storeId: string, value: string): void;
}

const SERVICE = "keyward";

type KeyringModule = typeof import("@napi-rs/keyring");
let keyringModule: KeyringModule | undefined;
/** The native binding, loaded on first use: most commands find the key elsewhere and never need it. */
function entry(account: string): InstanceType<KeyringModule["Entry"]> {
  keyringModule ??= createRequire(import.meta.url)("@napi-rs/keyring") as KeyringModule;
  return new keyringModule.Entry(SERVICE, account);
}

function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * On Linux the keyring library can fall back to the kernel's keyutils store, which lives in
 * memory and is gone after a reboot: a master key kept there would lose the whole store. Only a
 * Secret Service (reached over the D-Bus session bus) persists, so without a session bus the
 * keyring counts as unavailable.
 */
function linuxWithoutSessionBus(): boolean {
  return process.platform === "linux" && !process.env.DBUS_SESSION_BUS_ADDRESS;
}

export const osKeyring: Keyring = {
  probe() {
    if (linuxWithoutSessionBus()) {
      return {
        ok: false,
        reason: "no D-Bus session bus, so no Secret Service to keep the key across reboots",
      };
    }
    try {
      const probe = entry("probe");
      probe.setPassword("probe");
      const back = probe.getPassword();
      probe.deletePassword();
      return back === "probe"
        ? { ok: true }
        : { ok: false, reason: "the keyring did not return what was stored" };
    } catch (e) {
      return { ok: false, reason: reason(e) };
    }
  },
  get(storeId) {
    if (linuxWithoutSessionBus())
      return { ok: false, reason: "no D-Bus session bus (no Secret Service)" };
    try {
      return { ok: true, value: entry(`store-${storeId}`).getPassword() ?? null };
    } catch (e) {
      return { ok: false, reason: reason(e) };
    }
  },
  set(storeId, value) {
    entry(`store-${storeId}`).setPassword(value);
  },
};
