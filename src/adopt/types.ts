/** The adopt service's options, plan and results. Nothing here ever holds a secret value. */
import type { KeywardConfigInput } from "../config/schema.js";
import type { ClientId } from "../mcp/clients/index.js";

/** A profile as written into keyward.yaml (defaults left out). */
export type ProfileInput = NonNullable<KeywardConfigInput["profiles"]>[string];

/** The slice of the secret store adopt needs (the CLI passes an adapter over SecretService). */
export interface AdoptStore {
  exists(name: string): Promise<boolean>;
  set(
    name: string,
    value: string,
    meta: { provider?: string; description?: string },
  ): Promise<void>;
}

/** Where profiles go (src/adopt/profiles-file.ts writes them into keyward.yaml). */
export interface AdoptProfiles {
  upsert(name: string, profile: ProfileInput): void;
  save(): void;
}

export interface LocateOptions {
  clients: ClientId[] | "all";
  /** the user's home folder, for user-level config files; tests pass a temp folder */
  home: string;
  /** the project folder, for project-level config files (.mcp.json, .cursor/, .vscode/) */
  cwd: string;
  platform?: NodeJS.Platform;
  /** APPDATA and XDG_CONFIG_HOME move some files; default: none (paths derive from home) */
  env?: Readonly<Record<string, string | undefined>>;
}

export interface AdoptOptions extends LocateOptions {
  dryRun: boolean;
  /** how a client launches keyward, e.g. { command: "/usr/bin/node", args: ["/path/to/keyward/bin.js"] } */
  keywardCommand: { command: string; args: string[] };
  store: AdoptStore;
  profiles: AdoptProfiles;
  /** the clock, for backup names */
  now?: () => Date;
}

export type ItemKind = "env" | "header" | "url-query";

/** One value in a server entry and what adopt does with it. */
export interface PlannedItem {
  kind: ItemKind;
  /** variable, header or query parameter name */
  key: string;
  class: "secret" | "placeholder" | "setting";
  /** move: into the store; keep: stays where it is (client entry or, for remote entries, the profile) */
  action: "move" | "keep";
  /** for moved values: the store name */
  secret?: string;
  /** a new secret, or a new version of one already in the store */
  secretExists?: boolean;
  /** the token format that matched, when one did */
  detectedAs?: string;
  provider?: string;
  /** for moved headers: what the profile sends, e.g. "Bearer {{secret:windsurf/github/Authorization}}" */
  template?: string;
}

export type ServerAction = "adopt" | "already-adopted" | "no-secrets" | "skip";

export interface PlannedServer {
  name: string;
  /** where the entry sits in the file: `mcpServers.github`, `projects["/abs"].mcpServers.github` */
  where: string;
  entryPath: string[];
  transport: "stdio" | "remote" | "unknown";
  action: ServerAction;
  /** why an entry is skipped */
  reason?: string;
  /** the keyward profile the rewritten entry runs */
  profile?: string;
  /** for remote entries: the endpoint in the rewritten entry, without credentials */
  endpoint?: string;
  /** what the client will run after adoption (no secrets in it) */
  launch?: { command: string; args: string[] };
  items: PlannedItem[];
}

export interface PlannedFile {
  client: ClientId;
  path: string;
  scope: "user" | "project";
  description: string;
  /** sha256 of the bytes planned against; apply refuses if the file changed since */
  sha256: string;
  /** adopt: at least one entry is rewritten */
  status: "adopt" | "nothing-to-do" | "invalid";
  /** for invalid files: why (never the file's text) */
  error?: { code: string; message: string; fix?: string };
  servers: PlannedServer[];
  warnings: string[];
}

export interface AdoptPlan {
  files: PlannedFile[];
  /** profiles to create or replace, by name */
  profiles: Record<string, ProfileInput>;
  /** true when no file needs a change */
  empty: boolean;
}

/** One row of the "what moved" table. */
export interface AdoptTableRow {
  client: ClientId;
  file: string;
  server: string;
  kind: ItemKind;
  key: string;
  secret: string;
  profile: string;
}

export interface AppliedFile {
  client: ClientId;
  path: string;
  /** the copy of the original, mode 0600; it holds the secrets in plain text */
  backup: string;
  servers: string[];
}

export interface AdoptResult {
  dryRun: boolean;
  files: AppliedFile[];
  secrets: { name: string; created: boolean }[];
  profiles: string[];
  warnings: string[];
}

export interface UndoOptions extends LocateOptions {
  /** as for adopt: how the adopted entries launch keyward, to recognise them */
  keywardCommand: { command: string; args: string[] };
  /** restore even when no entry in the file runs keyward any more (it was edited since) */
  force?: boolean;
}

export interface UndoResult {
  restored: { client: ClientId; path: string; backup: string }[];
  skipped: { client: ClientId; path: string; backup: string; reason: string }[];
}
