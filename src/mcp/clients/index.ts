/** The client adapter registry: adding a client is one adapter file and one line here. */
import { claudeCode } from "./claude-code.js";
import { claudeDesktop } from "./claude-desktop.js";
import { cursor } from "./cursor.js";
import type { ClientAdapter, ClientId } from "./types.js";
import { vscode } from "./vscode.js";
import { windsurf } from "./windsurf.js";

export const clientAdapters: readonly ClientAdapter[] = [
  claudeDesktop,
  claudeCode,
  cursor,
  vscode,
  windsurf,
];

export function clientAdapter(id: ClientId): ClientAdapter {
  const adapter = clientAdapters.find((a) => a.id === id);
  if (adapter === undefined) throw new Error(`no adapter for ${id}`);
  return adapter;
}

export {
  describePath,
  type ParsedClientFile,
  parseClientFile,
  type ServerEntry,
  type Transport,
} from "./entries.js";
export { type EntryRewrite, rewriteEntry } from "./rewrite.js";
export {
  CLIENT_IDS,
  type ClientAdapter,
  type ClientConfigFile,
  type ClientId,
  hasTemplate,
  type JsonPath,
  type LocateContext,
  type ServerMapRef,
} from "./types.js";
