/**
 * Step 5 of the runbook: where a leaked value appears in git history. One streaming
 * `git log -p --all` per repository (src/scan/history.ts walkHistory), each added line matched
 * against the value in every encoding the redaction engine knows (raw, JSON-escaped,
 * URL-encoded, hex, base64 at any alignment, 12-character prefixes and suffixes). The value
 * stays in memory; sightings name commits, paths, lines and encodings only.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { isKeywardError, KeywardError } from "../core/errors.js";
import type { Form } from "../redact/forms.js";
import { Redactor } from "../redact/redactor.js";
import { type HistoryBlock, walkHistory } from "../scan/history.js";

const run = promisify(execFile);

export interface ValueSighting {
  path: string;
  /** The oldest commit that added the value at this path (where the leak started). */
  commit: string;
  /** Its committer date, ISO 8601. */
  date: string;
  line: number;
  /** Every encoding seen at this path; `prefix`/`suffix` mean a truncated copy. */
  forms: Form[];
  /** Commits that added it at this path. */
  commits: number;
  /** Whether the checked-out file at this path still holds it; false: history only. */
  presentInTree: boolean;
  /** The newest commit that deleted the file while it held the value, if one did. */
  deletedIn?: { commit: string; date: string };
}

export interface RepositoryScan {
  /** The repository's top-level folder. */
  root: string;
  commits: number;
  sightings: ValueSighting[];
  ms: number;
  error?: { code: string; message: string };
}

/** The top-level folder of the git work tree holding `path`; `usage` error when there is none. */
export async function gitTopLevel(path: string): Promise<string> {
  try {
    const { stdout } = await run("git", ["rev-parse", "--show-toplevel"], { cwd: path });
    return stdout.trim();
  } catch {
    throw new KeywardError(
      "usage",
      `${path} is not inside a git work tree`,
      "fix revocation.repositories in keyward.yaml, or the --repo path",
    );
  }
}

/**
 * Searches every commit of every ref under `root` for `value`. Never throws: a repository that
 * cannot be read comes back with `error`.
 */
export async function findValueInHistory(
  root: string,
  value: string,
  options: { onSpawn?: (pid: number) => void } = {},
): Promise<RepositoryScan> {
  const started = performance.now();
  const result: RepositoryScan = { root, commits: 0, sightings: [], ms: 0 };
  try {
    const redactor = matcherFor(value);
    result.root = await gitTopLevel(root);
    const byPath = new Map<string, ValueSighting>();
    const onBlock = (block: HistoryBlock): void => {
      const hits = redactor.redactText(block.lines.join("\n")).hits;
      if (hits.length === 0) return;
      // Rare: find the line (a value spread over lines, such as a PEM key, gets the block's first).
      let line = block.numbers[0] ?? 1;
      for (const [i, text] of block.lines.entries()) {
        if (redactor.redactText(text).hits.length > 0) {
          line = block.numbers[i] ?? line;
          break;
        }
      }
      record(
        byPath,
        block,
        line,
        hits.map((h) => h.form),
      );
    };
    result.commits = await walkHistory(result.root, onBlock, options);
    for (const sighting of byPath.values()) {
      const content = await readFile(join(result.root, ...sighting.path.split("/")), "utf8").catch(
        () => "",
      );
      sighting.presentInTree = redactor.redactText(content).hits.length > 0;
      result.sightings.push(sighting);
    }
    result.sightings.sort((a, b) => a.date.localeCompare(b.date) || a.path.localeCompare(b.path));
  } catch (e) {
    result.error = isKeywardError(e)
      ? { code: e.code, message: e.message }
      : { code: "internal", message: `the history search failed (${(e as Error).name})` };
  }
  result.ms = Math.round(performance.now() - started);
  return result;
}

/** The value and its encodings as a matcher; refuses values too short to tell from ordinary text. */
function matcherFor(value: string): Redactor {
  const redactor = new Redactor([{ name: "revoked", value }]);
  if (redactor.unredactable.length > 0) {
    throw new KeywardError(
      "invalid_value",
      "the value is shorter than 8 characters: it cannot be told apart from ordinary text in history",
      "search for it by hand (git log -p --all -S…) if it matters",
    );
  }
  return redactor;
}

/** git log runs newest first: a later addition is an older commit; the first deletion seen is the newest. */
function record(
  byPath: Map<string, ValueSighting>,
  block: HistoryBlock,
  line: number,
  forms: Form[],
): void {
  let sighting = byPath.get(block.path);
  if (sighting === undefined) {
    sighting = {
      path: block.path,
      commit: block.commit,
      date: block.date,
      line,
      forms: [],
      commits: 0,
      presentInTree: false,
    };
    byPath.set(block.path, sighting);
  }
  for (const form of forms) if (!sighting.forms.includes(form)) sighting.forms.push(form);
  if (block.added) {
    sighting.commit = block.commit;
    sighting.date = block.date;
    sighting.line = line;
    sighting.commits++;
  } else if (sighting.deletedIn === undefined) {
    sighting.deletedIn = { commit: block.commit, date: block.date };
  }
}
