/**
 * The ClientAdapter interface: what keyward needs to know about one MCP client's config files.
 * Adapters are data plus two small functions; reading entries and editing the files is shared
 * (entries.ts, jsonc-edit.ts), so a new client is one file and one registry line.
 */

export const CLIENT_IDS = [
  "claude-desktop",
  "claude-code",
  "cursor",
  "vscode",
  "windsurf",
] as const;
export type ClientId = (typeof CLIENT_IDS)[number];

/** Where to look: tests pass temp folders, the CLI passes the user's home, cwd and environment. */
export interface LocateContext {
  home: string;
  cwd: string;
  platform: NodeJS.Platform;
  /** APPDATA (Windows) and XDG_CONFIG_HOME (Linux) move some files; others are ignored. */
  env: Readonly<Record<string, string | undefined>>;
}

/** A documented location of a client config file (it may not exist). */
export interface ClientConfigFile {
  path: string;
  /** user: the user's own file; project: a file in the project folder, often committed to git */
  scope: "user" | "project";
  /** what the file is, for people: "user config", "project .mcp.json" */
  description: string;
}

/** A path of object keys inside a JSON document. */
export type JsonPath = readonly string[];

/** An object in the document whose keys are server names and values server entries. */
export interface ServerMapRef {
  path: JsonPath;
  /** shown to people: `mcpServers`, `projects["/abs/path"].mcpServers` */
  label: string;
}

export interface ClientAdapter {
  readonly id: ClientId;
  readonly displayName: string;
  /** Every documented location for this platform, user files first, whether or not they exist. */
  configFiles(ctx: LocateContext): ClientConfigFile[];
  /** Where server maps sit in a parsed document (maps that are absent are left out). */
  serverMaps(doc: unknown, file: ClientConfigFile): ServerMapRef[];
  /**
   * Keys naming a remote endpoint in an entry, most usual first (`url`; Windsurf `serverUrl`).
   * Empty when the client's file holds no remote entries (Claude Desktop adds them in its UI).
   */
  readonly remoteUrlKeys: readonly string[];
  /** True when the value is, or contains, a reference the client resolves itself (`${input:x}`). */
  isPlaceholder(value: string): boolean;
  /** The client's documented placeholder syntaxes, for the conformance suite. */
  readonly placeholderExamples: readonly string[];
}

// `${...}` covers every syntax in mcp-clients.md §3: ${input:id}, ${env:NAME}, ${VAR},
// ${VAR:-default}, ${workspaceFolder}, ${userHome}, ${user_config.key}. A client that does not
// expand it passes the text on verbatim, which is no secret either.
const TEMPLATE = /\$\{[^}]*\}/;

/** The placeholder test every client shares. */
export function hasTemplate(value: string): boolean {
  return TEMPLATE.test(value);
}
