/**
 * Test support for adopt: an in-memory store and profile sink implementing the two small
 * interfaces adopt needs, and temp home/project folders with a client file placed in them.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { AdoptOptions, AdoptProfiles, AdoptStore, ProfileInput } from "./types.js";

export class MemoryStore implements AdoptStore {
  readonly values = new Map<string, string[]>();
  readonly meta = new Map<string, { provider?: string; description?: string }>();
  /** names whose set() fails, to test that nothing is half-written */
  readonly failOn = new Set<string>();

  async exists(name: string): Promise<boolean> {
    return this.values.has(name);
  }

  async set(
    name: string,
    value: string,
    meta: { provider?: string; description?: string },
  ): Promise<void> {
    if (this.failOn.has(name)) throw new Error(`store refused ${name}`);
    this.values.set(name, [...(this.values.get(name) ?? []), value]);
    this.meta.set(name, meta);
  }

  current(name: string): string | undefined {
    return this.values.get(name)?.at(-1);
  }
}

export class MemoryProfiles implements AdoptProfiles {
  readonly pending: Record<string, ProfileInput> = {};
  saved: Record<string, ProfileInput> = {};
  saves = 0;

  upsert(name: string, profile: ProfileInput): void {
    this.pending[name] = profile;
  }

  save(): void {
    this.saved = structuredClone(this.pending);
    this.saves++;
  }
}

export const KEYWARD = {
  command: "/opt/keyward/bin/node",
  args: ["/opt/keyward/dist/src/cli/bin.js"],
};

export interface Sandbox {
  home: string;
  cwd: string;
  store: MemoryStore;
  profiles: MemoryProfiles;
  options(overrides?: Partial<AdoptOptions>): AdoptOptions;
  /** places a file at `home:<path>` / `cwd:<path>` and returns its absolute path */
  place(spec: string, text: string, mode?: number): string;
  cleanup(): void;
}

export function sandbox(platform: NodeJS.Platform = "linux"): Sandbox {
  const root = mkdtempSync(join(tmpdir(), "keyward-adopt-"));
  const home = join(root, "home");
  const cwd = join(root, "project");
  mkdirSync(home);
  mkdirSync(cwd);
  const store = new MemoryStore();
  const profiles = new MemoryProfiles();
  let tick = 0;
  return {
    home,
    cwd,
    store,
    profiles,
    options: (overrides = {}) => ({
      clients: "all",
      dryRun: false,
      home,
      cwd,
      platform,
      env: {},
      keywardCommand: KEYWARD,
      store,
      profiles,
      // A clock that moves on each call, so backups made in one test sort in order.
      now: () => new Date(Date.UTC(2026, 7, 27, 12, 0, 0, tick++)),
      ...overrides,
    }),
    place(spec, text, mode = 0o644) {
      const [where, rel] = spec.split(/:(.*)/s) as [string, string];
      const path = join(where === "home" ? home : cwd, rel);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text);
      chmodSync(path, mode);
      return path;
    },
    cleanup: () => rmSync(root, { recursive: true, force: true }),
  };
}
