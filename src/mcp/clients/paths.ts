/** Per-platform folders the client adapters build their paths from. */
import { join } from "node:path";
import type { LocateContext } from "./types.js";

/** %APPDATA% on Windows (Roaming), defaulting to where Windows puts it under the profile. */
export function appData(ctx: LocateContext): string {
  return ctx.env.APPDATA ?? join(ctx.home, "AppData", "Roaming");
}

/** $XDG_CONFIG_HOME, defaulting to ~/.config. */
export function xdgConfig(ctx: LocateContext): string {
  return ctx.env.XDG_CONFIG_HOME ?? join(ctx.home, ".config");
}

/** The per-user application-data folder: ~/Library/Application Support, %APPDATA% or $XDG_CONFIG_HOME. */
export function userConfigDir(ctx: LocateContext): string {
  if (ctx.platform === "darwin") return join(ctx.home, "Library", "Application Support");
  if (ctx.platform === "win32") return appData(ctx);
  return xdgConfig(ctx);
}

/** A plain object, or undefined. */
export function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/** The map at `key` of the document root, when it is an object. */
export function rootMap(doc: unknown, key: string) {
  return asRecord(asRecord(doc)?.[key]) === undefined ? [] : [{ path: [key], label: key }];
}
