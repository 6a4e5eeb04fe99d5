/**
 * Setup documentation (Markdown, READMEs) that tells users to create a GitHub classic token with
 * broad scopes. Reported on the security axis: the doc leaks nothing, but every user who follows
 * it holds a token whose blast radius is far larger than the server needs (leak-sinks.md class 15).
 */
import { execAll, type WordHits } from "../../detect/index.js";
import type { Analyzer, Finding, Severity, SourceFile } from "../types.js";
import { basename, configFinding } from "./config-common.js";

export function isDocFile(path: string): boolean {
  const name = basename(path);
  return /\.(?:md|mdx|markdown)$/i.test(name) || /^readme(?:\.(?:txt|rst))?$/i.test(name);
}

/** Classic scopes that reach beyond what any GitHub MCP tool needs, with what to ask for instead (mcp-clients.md §5). */
const BROAD_SCOPES: Record<string, { severity: Severity; instead: string }> = {
  delete_repo: {
    severity: "medium",
    instead:
      "only the delete_repository tool needs delete_repo: leave it out (and exclude that tool)",
  },
  "admin:org": {
    severity: "medium",
    instead: "no tool needs admin:org; get_teams, get_team_members and search_orgs accept read:org",
  },
  "write:org": {
    severity: "medium",
    instead: "no tool needs write:org; read:org is enough for the organisation tools",
  },
  "admin:repo_hook": { severity: "medium", instead: "no tool manages webhooks: leave it out" },
  "admin:org_hook": {
    severity: "medium",
    instead: "no tool manages organisation webhooks: leave it out",
  },
  "admin:enterprise": { severity: "medium", instead: "no tool needs enterprise administration" },
  "admin:public_key": { severity: "medium", instead: "no tool manages SSH keys" },
  "admin:gpg_key": { severity: "medium", instead: "no tool manages GPG keys" },
  "delete:packages": { severity: "medium", instead: "no tool deletes packages" },
  site_admin: { severity: "medium", instead: "no tool needs site administration" },
  repo: {
    severity: "low",
    instead:
      "classic repo is full control of every private repository the user can reach; a fine-grained token limited to the needed repositories with Metadata: read and Contents/Issues/Pull requests read (or read and write) covers the default toolsets",
  },
};

const SCOPE_NAMES = Object.keys(BROAD_SCOPES)
  .sort((a, b) => b.length - a.length)
  .map((s) => s.replace(":", "\\:"))
  .join("|");
/** A scope in code, quotes or bold (`` `repo` ``, **delete_repo**), or followed by "scope". */
const MARKED_SCOPE = new RegExp(
  `[\`'"*]{1,2}(${SCOPE_NAMES})[\`'"*]{1,2}|\\b(${SCOPE_NAMES})\\s+scopes?\\b`,
  "g",
);
/** GitHub's classic-token form prefilled with scopes. */
const TOKEN_FORM_URL = /github\.com\/settings\/tokens\/new\?[^\s)"'>]*\bscopes=([A-Za-z0-9_:,%]+)/g;
const FULL_CONTROL = /full control of (?:private )?repositor(?:y|ies)/i;
const TOKEN_CONTEXT =
  /\b(?:personal access token|access token|PAT|classic token|tokens?|scopes?)\b/i;
/** `repo` is also a plain word (`clone the \`repo\``): it needs a scope or PAT nearby, not just "token". */
const REPO_CONTEXT = /\bscopes?\b|personal access token|\bPAT\b|classic/i;
/** Setup instructions tell the reader to do something; prose that only describes scopes is not reported. */
const INSTRUCTION =
  /\b(?:create|generate|select|check|tick|choose|grant|give|enable|add|needs?|requires?|required|must have|should have|make sure)\b/i;
const NEGATION =
  /\b(?:not|never|avoid|without|no need|no longer|instead of|rather than|remove|drop|uncheck|deselect|leave out|don't|doesn't|isn't|aren't|shouldn't)\b/i;

/** The sentence of `line` that holds position `at`. */
function sentenceAt(line: string, at: number): string {
  const start = Math.max(line.lastIndexOf(". ", at), line.lastIndexOf("; ", at)) + 1;
  const ends = [line.indexOf(". ", at), line.indexOf("; ", at)].filter((i) => i !== -1);
  return line.slice(start, ends.length > 0 ? Math.min(...ends) : line.length);
}

function scopesOnLine(line: string, context: string, inCode: boolean): string[] {
  const found = new Set<string>();
  for (const match of execAll(TOKEN_FORM_URL, line)) {
    for (const scope of decodeURIComponent(match[1] ?? "").split(",")) {
      if (scope in BROAD_SCOPES) found.add(scope);
    }
  }
  if (inCode || !TOKEN_CONTEXT.test(context) || !INSTRUCTION.test(context)) return [...found];
  for (const match of execAll(MARKED_SCOPE, line)) {
    const scope = match[1] ?? match[2] ?? "";
    if (scope === "repo" && !REPO_CONTEXT.test(context)) continue;
    if (!NEGATION.test(sentenceAt(line, match.index))) found.add(scope);
  }
  const fullControl = FULL_CONTROL.exec(line);
  if (fullControl && !NEGATION.test(sentenceAt(line, fullControl.index))) found.add("repo");
  return [...found];
}

function analyzeDoc(file: SourceFile): Finding[] {
  const findings: Finding[] = [];
  const lines = file.text.split("\n");
  let inCode = false;
  lines.forEach((line, index) => {
    if (/^\s*(?:```|~~~)/.test(line)) {
      inCode = !inCode;
      return;
    }
    // the line and the three before it: a list item under "Create a token with these scopes:"
    const context = lines.slice(Math.max(0, index - 3), index + 1).join("\n");
    const scopes = scopesOnLine(line, context, inCode);
    if (scopes.length === 0) return;
    const severity = scopes.some((s) => BROAD_SCOPES[s]?.severity === "medium") ? "medium" : "low";
    findings.push(
      configFinding({
        ruleId: "config/docs-broad-token-scope",
        axis: "security",
        severity,
        message: `Setup instructions ask for a GitHub classic token with ${scopes.join(", ")}.`,
        why: "Users copy setup instructions as written: a token with these scopes turns any leak or prompt injection through the server into control over repositories or the organisation.",
        fix: `Ask for a fine-grained personal access token limited to the repositories the server works on, with only the permissions its tools use; suggest read-only mode (GITHUB_READ_ONLY=1) and --toolsets when writes are not needed. ${scopes.map((s) => BROAD_SCOPES[s]?.instead).join("; ")}.`,
        path: file.path,
        line: index + 1,
        subject: `${scopes.join(",")}@${line.trim()}`,
      }),
    );
  });
  return findings;
}

/**
 * What every finding's line or context holds: TOKEN_CONTEXT's words, or `tokens/new` of
 * TOKEN_FORM_URL. A document with none of them (most READMEs) is not read line by line.
 */
const DOC_WORDS = ["token", "scope", "pat"];
const PAT = 2;

/** Does `text` hold a DOC_WORDS hit, `pat` counting only as a word of its own? */
function mayAskForScopes(text: string, hits: WordHits): boolean {
  for (let at = 0; at < hits.length; at += 2) {
    if (hits[at] !== PAT) return true;
    const end = hits[at + 1] as number;
    if (!/\w/.test(text[end - 4] ?? "") && !/\w/.test(text[end] ?? "")) return true;
  }
  return false;
}

export const docsTokenScopeAnalyzer: Analyzer = {
  id: "config/docs",
  applies: isDocFile,
  keywords: DOC_WORDS,
  readsStandIn: true,
  analyze: (file, hits) =>
    hits === undefined || mayAskForScopes(file.text, hits) ? analyzeDoc(file) : [],
};
