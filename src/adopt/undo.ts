/**
 * undoAdopt restores each client file from its newest backup and removes that backup, so a
 * second undo reaches the adoption before it. deleteBackups removes every backup once the user
 * is content. Secrets and profiles stay in keyward: removing them is `keyward secret rm`.
 */
import { readFileSync, unlinkSync } from "node:fs";
import { isKeywardError } from "../core/errors.js";
import type { ClientId } from "../mcp/clients/index.js";
import { type ClientConfigFile, clientAdapter, clientAdapters } from "../mcp/clients/index.js";
import { replaceFileAtomic } from "../store/fsperm.js";
import { listBackups } from "./files.js";
import { adoptedProfile, analyseFile } from "./plan.js";
import type { LocateOptions, UndoOptions, UndoResult } from "./types.js";

/** Every documented config file of the chosen clients, whether or not it exists. */
function documentedFiles(opts: LocateOptions): { client: ClientId; file: ClientConfigFile }[] {
  const adapters =
    opts.clients === "all" ? clientAdapters : opts.clients.map((id) => clientAdapter(id));
  const ctx = {
    home: opts.home,
    cwd: opts.cwd,
    platform: opts.platform ?? process.platform,
    env: opts.env ?? {},
  };
  const seen = new Set<string>();
  return adapters.flatMap((adapter) =>
    adapter.configFiles(ctx).flatMap((file) => {
      if (seen.has(file.path)) return [];
      seen.add(file.path);
      return [{ client: adapter.id, file }];
    }),
  );
}

/** Whether some entry in the current file still runs keyward (else it was edited or restored since). */
function looksAdopted(client: ClientId, file: ClientConfigFile, opts: UndoOptions): boolean {
  let text: string;
  try {
    text = readFileSync(file.path, "utf8");
  } catch {
    return false;
  }
  try {
    const analysis = analyseFile(clientAdapter(client), file, text, opts.keywardCommand);
    return analysis.parsed.entries.some(
      (e) => adoptedProfile(e, opts.keywardCommand) !== undefined,
    );
  } catch (e) {
    if (isKeywardError(e)) return false;
    throw e;
  }
}

export async function undoAdopt(opts: UndoOptions): Promise<UndoResult> {
  const result: UndoResult = { restored: [], skipped: [] };
  for (const { client, file } of documentedFiles(opts)) {
    const backup = listBackups(file.path).at(-1);
    if (backup === undefined) continue;
    if (!opts.force && !looksAdopted(client, file, opts)) {
      result.skipped.push({
        client,
        path: file.path,
        backup,
        reason:
          "no entry in it runs keyward any more, so it was edited or restored since; restoring would lose those edits (use --force to restore anyway)",
      });
      continue;
    }
    replaceFileAtomic(file.path, readFileSync(backup));
    unlinkSync(backup);
    result.restored.push({ client, path: file.path, backup });
  }
  return result;
}

/** Removes every adopt backup of the chosen clients' files; returns their paths. */
export function deleteBackups(opts: LocateOptions): string[] {
  const deleted: string[] = [];
  for (const { file } of documentedFiles(opts)) {
    for (const backup of listBackups(file.path)) {
      unlinkSync(backup);
      deleted.push(backup);
    }
  }
  return deleted;
}

/** The adopt backups that exist for the chosen clients' files, oldest first per file. */
export function findBackups(opts: LocateOptions): string[] {
  return documentedFiles(opts).flatMap(({ file }) => listBackups(file.path));
}
