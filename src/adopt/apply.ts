/**
 * applyAdopt: carries out a plan. Order matters for "never half-write":
 *   1. every planned file must still be byte-identical to what was planned (else nothing happens);
 *   2. the values are read again from those bytes and stored;
 *   3. the profiles are written;
 *   4. each file is backed up (0600) and replaced atomically.
 * A failure in 1–3 leaves every client file untouched; in 4 each file is either the old or the
 * new version, never a mix.
 */
import { readFileSync } from "node:fs";
import { KeywardError } from "../core/errors.js";
import {
  type ClientConfigFile,
  clientAdapter,
  type EntryRewrite,
  rewriteEntry,
} from "../mcp/clients/index.js";
import { replaceFileAtomic } from "../store/fsperm.js";
import { sha256, writeBackup } from "./files.js";
import { type AnalysedFile, analyseFile } from "./plan.js";
import type { AdoptOptions, AdoptPlan, AdoptResult, AppliedFile, PlannedFile } from "./types.js";

function changedError(path: string): KeywardError {
  return new KeywardError(
    "conflict",
    `${path} changed after the adopt plan was made; nothing was changed`,
    "run keyward adopt again to plan against the current file",
  );
}

function readUnchanged(file: PlannedFile): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file.path);
  } catch {
    throw changedError(file.path);
  }
  if (sha256(bytes) !== file.sha256) throw changedError(file.path);
  return bytes;
}

interface Move {
  name: string;
  value: string;
  meta: { provider?: string; description?: string };
}

/** The values the plan moves, read again from the unchanged file. */
function movesOf(file: PlannedFile, analysis: AnalysedFile, displayName: string): Move[] {
  const moves: Move[] = [];
  for (const server of file.servers) {
    if (server.action !== "adopt") continue;
    const analysed = analysis.servers.find((s) => s.server.where === server.where);
    for (const item of server.items) {
      if (item.action !== "move" || item.secret === undefined) continue;
      const value = analysed?.items.find((i) => i.kind === item.kind && i.key === item.key)?.value;
      if (value === undefined) throw changedError(file.path);
      const meta: Move["meta"] = {
        description: `adopted from ${displayName} ${file.path} (${server.where}, ${item.kind} ${item.key})`,
      };
      if (item.provider !== undefined) meta.provider = item.provider;
      moves.push({ name: item.secret, value, meta });
    }
  }
  return moves;
}

function rewrittenText(file: PlannedFile, analysis: AnalysedFile): string {
  let out = analysis.parsed.text;
  for (const server of file.servers) {
    if (server.action !== "adopt" || server.launch === undefined) continue;
    const entry = analysis.servers.find((s) => s.server.where === server.where)?.entry;
    if (entry === undefined) throw changedError(file.path);
    const change: EntryRewrite = {
      command: server.launch.command,
      args: server.launch.args,
      removeEnv: server.items
        .filter((i) => i.kind === "env" && i.action === "move")
        .map((i) => i.key),
    };
    if (entry.urlKey !== undefined) change.urlKey = entry.urlKey;
    out = rewriteEntry(out, server.entryPath, change);
  }
  return out;
}

export async function applyAdopt(plan: AdoptPlan, opts: AdoptOptions): Promise<AdoptResult> {
  const result: AdoptResult = {
    dryRun: opts.dryRun,
    files: [],
    secrets: [],
    profiles: [],
    warnings: [],
  };
  if (opts.dryRun) return result;
  const files = plan.files.filter((f) => f.status === "adopt");

  // 1–2: every file unchanged, every value found, before anything is written.
  const prepared = files.map((file) => {
    const bytes = readUnchanged(file);
    const adapter = clientAdapter(file.client);
    const located: ClientConfigFile = {
      path: file.path,
      scope: file.scope,
      description: file.description,
    };
    const analysis = analyseFile(adapter, located, bytes.toString("utf8"), opts.keywardCommand);
    return { file, bytes, analysis, moves: movesOf(file, analysis, adapter.displayName) };
  });

  for (const { moves } of prepared) {
    for (const move of moves) {
      const created = !(await opts.store.exists(move.name));
      await opts.store.set(move.name, move.value, move.meta);
      result.secrets.push({ name: move.name, created });
    }
  }

  // 3: profiles.
  for (const [name, profile] of Object.entries(plan.profiles)) {
    opts.profiles.upsert(name, profile);
    result.profiles.push(name);
  }
  opts.profiles.save();

  // 4: back up and rewrite each file; the hash is checked again right before.
  const now = opts.now ?? (() => new Date());
  for (const { file, bytes, analysis } of prepared) {
    const text = rewrittenText(file, analysis);
    readUnchanged(file);
    const backup = writeBackup(file.path, bytes, now());
    replaceFileAtomic(file.path, text);
    const applied: AppliedFile = {
      client: file.client,
      path: file.path,
      backup,
      servers: file.servers.filter((s) => s.action === "adopt").map((s) => s.name),
    };
    result.files.push(applied);
    result.warnings.push(
      `${backup} holds the original file with its secrets in plain text (readable only by you); keyward adopt --undo restores it, keyward adopt --delete-backups removes it once the clients work`,
    );
    result.warnings.push(...file.warnings);
  }
  return result;
}
