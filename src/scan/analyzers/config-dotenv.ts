/**
 * `.env` files in the audited tree (`.env`, `.env.local`, `.env.production`…; templates such as
 * `.env.example` are skipped): one finding per credential that looks real, and one for the file.
 */
import type { Analyzer, Finding, SourceFile } from "../types.js";
import {
  basename,
  configFinding,
  describeSecret,
  judgeLiteral,
  secretSeverity,
} from "./config-common.js";

const TEMPLATE_WORDS =
  /(?:^|[._-])(?:example|examples|sample|template|tpl|tmpl|dist|defaults|schema)(?:[._-]|$)/i;

export function isDotenvFile(path: string): boolean {
  const name = basename(path);
  return /^\.env(?:\.[^/]+)?$/.test(name) && !TEMPLATE_WORDS.test(name.slice(4));
}

export interface DotenvEntry {
  key: string;
  value: string;
  line: number;
}

/**
 * dotenv syntax (motdotla/dotenv): `KEY=value`, optional `export `, `#` comments, single, double
 * or back-quoted values that may span lines, ` #` comments after unquoted values.
 */
export function parseDotenv(text: string): DotenvEntry[] {
  const lines = text.split(/\r?\n/);
  const entries: DotenvEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*[=:]\s?(.*)$/.exec(
      lines[i] ?? "",
    );
    if (!match) continue;
    const [, key = "", rest = ""] = match;
    const line = i + 1;
    const trimmed = rest.trim();
    const quote = trimmed[0];
    if (quote === '"' || quote === "'" || quote === "`") {
      let body = trimmed.slice(1);
      let close = body.indexOf(quote);
      while (close === -1 && i + 1 < lines.length) {
        body += `\n${lines[++i]}`;
        close = body.indexOf(quote);
      }
      entries.push({ key, value: close === -1 ? body : body.slice(0, close), line });
    } else {
      entries.push({ key, value: trimmed.replace(/\s+#.*$/, ""), line });
    }
  }
  return entries;
}

function analyzeDotenv(file: SourceFile): Finding[] {
  const name = basename(file.path);
  const findings: Finding[] = [];
  for (const { key, value, line } of parseDotenv(file.text)) {
    const verdict = judgeLiteral(key, value);
    if (verdict === undefined) continue;
    findings.push(
      configFinding({
        ruleId: "config/dotenv-literal-secret",
        axis: "exposure",
        severity: secretSeverity(verdict),
        message: `${name}: ${key} holds ${describeSecret(verdict)}.`,
        why: "Anything in the repository is copied to every clone, fork, CI cache and backup, and stays in git history after the file is deleted.",
        fix: `Revoke and reissue ${key} (its value is in history), keep it in keyward or the environment, and commit only a .env.example with placeholders.`,
        path: file.path,
        line,
        subject: key,
        secret: verdict.secret,
        ...(verdict.token ? { token: verdict.token } : {}),
      }),
    );
  }
  if (findings.length > 0) {
    findings.push(
      configFinding({
        ruleId: "config/dotenv-committed",
        axis: "exposure",
        severity: "medium",
        message: `${name} with real-looking credentials is part of the repository.`,
        why: "A committed .env is shared with everyone who can read the repository, and the next credential added to it leaks the same way.",
        fix: `Remove it from the index (git rm --cached ${file.path}), add it to .gitignore, commit a .env.example with placeholders instead, and rotate every key it held.`,
        path: file.path,
        line: 1,
        subject: "file",
      }),
    );
  }
  return findings;
}

export const dotenvAnalyzer: Analyzer = {
  id: "config/dotenv",
  applies: isDotenvFile,
  analyze: analyzeDotenv,
};
