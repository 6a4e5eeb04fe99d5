/**
 * Dockerfiles: credentials written into `ENV` or given as `ARG` defaults, and build arguments
 * with secret names copied into `ENV`. Every one of them is kept in the image (layer metadata,
 * `docker history`, `docker inspect`) for anyone who can pull it.
 */
import type { Analyzer, Finding, SourceFile } from "../types.js";
import {
  basename,
  configFinding,
  describeSecret,
  isCredentialName,
  judgeLiteral,
  secretSeverity,
} from "./config-common.js";

export function isDockerfile(path: string): boolean {
  const name = basename(path);
  return (
    /^(?:Dockerfile|Containerfile)(?:\.[^/]+)?$/i.test(name) ||
    /\.(?:dockerfile|containerfile)$/i.test(name)
  );
}

export interface Instruction {
  keyword: string;
  args: string;
  /** the instruction's physical lines, the first at `line` */
  lines: string[];
  line: number;
}

/** Instructions with continuation lines joined; honours the `# escape=` parser directive. */
export function parseDockerfile(text: string): Instruction[] {
  const lines = text.split(/\r?\n/);
  const escapeChar = /^#\s*escape\s*=\s*`/i.test(lines[0] ?? "") ? "`" : "\\";
  const instructions: Instruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = lines[i] ?? "";
    if (/^\s*(?:#|$)/.test(first)) continue;
    const start = i;
    const physical = [first];
    let joined = "";
    let current = first;
    while (current.trimEnd().endsWith(escapeChar) && i + 1 < lines.length) {
      joined += current.trimEnd().slice(0, -1);
      current = lines[++i] ?? "";
      physical.push(current);
      if (/^\s*#/.test(current)) current = escapeChar; // comment lines inside a continuation are dropped
    }
    joined += current === escapeChar ? "" : current;
    const match = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(joined);
    if (match) {
      instructions.push({
        keyword: (match[1] ?? "").toUpperCase(),
        args: match[2] ?? "",
        lines: physical,
        line: start + 1,
      });
    }
  }
  return instructions;
}

function unquote(value: string): string {
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.endsWith(quote) && value.length >= 2) {
    return value.slice(1, -1).replace(/\\(.)/g, "$1");
  }
  return value;
}

/** `KEY=value KEY2="v 2"` pairs, or the legacy `ENV KEY value with spaces` form. */
function pairs(args: string, legacy: boolean): Array<[string, string | undefined]> {
  const out: Array<[string, string | undefined]> = [];
  const re = /([A-Za-z_][A-Za-z0-9_.-]*)(?:=("(?:[^"\\]|\\.)*"|'[^']*'|\S*))?/gy;
  const rest = args.trim();
  if (legacy && !/^[A-Za-z_][A-Za-z0-9_.-]*=/.test(rest)) {
    const [, key = "", value] = /^(\S+)(?:\s+(.*))?$/s.exec(rest) ?? [];
    return key === "" ? [] : [[key, value?.trim()]];
  }
  let index = 0;
  while (index < rest.length) {
    re.lastIndex = index;
    const match = re.exec(rest);
    if (!match) break;
    out.push([match[1] ?? "", match[2] === undefined ? undefined : unquote(match[2])]);
    index = re.lastIndex;
    while (rest[index] === " " || rest[index] === "\t") index++;
  }
  return out;
}

function lineOf(instruction: Instruction, key: string): number {
  const index = instruction.lines.findIndex((l) => l.includes(key));
  return instruction.line + Math.max(index, 0);
}

const IMAGE_WHY =
  "Image layers and their metadata keep the value for anyone who can pull the image (`docker history`, `docker inspect`), including every registry and cache it is pushed to; a later `ENV KEY=` does not remove it.";
const MOUNT_FIX =
  "Pass the credential at build time with a secret mount (`RUN --mount=type=secret,id=<id>` and `docker build --secret id=<id>,env=<NAME>`) or at run time through the environment, and revoke the value that is in the image.";

function analyzeDockerfile(file: SourceFile): Finding[] {
  const findings: Finding[] = [];
  let stageArgs = new Set<string>();
  for (const instruction of parseDockerfile(file.text)) {
    if (instruction.keyword === "FROM") {
      stageArgs = new Set();
      continue;
    }
    if (instruction.keyword !== "ARG" && instruction.keyword !== "ENV") continue;
    const isArg = instruction.keyword === "ARG";
    for (const [key, value] of pairs(instruction.args, !isArg)) {
      if (isArg) stageArgs.add(key);
      if (value === undefined) continue;
      const line = lineOf(instruction, key);
      const reference = /^\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?$/.exec(value)?.[1];
      if (!isArg && reference !== undefined) {
        if (stageArgs.has(reference) && (isCredentialName(key) || isCredentialName(reference))) {
          findings.push(
            configFinding({
              ruleId: "config/dockerfile-arg-to-env",
              axis: "exposure",
              severity: "medium",
              message: `ENV ${key} copies the build argument ${reference} into the image.`,
              why: `${IMAGE_WHY} Whatever is passed with --build-arg ${reference}=… ends up in the image configuration.`,
              fix: MOUNT_FIX,
              path: file.path,
              line,
              subject: `ENV ${key}`,
            }),
          );
        }
        continue;
      }
      const verdict = judgeLiteral(key, value);
      if (verdict === undefined) continue;
      findings.push(
        configFinding({
          ruleId: isArg ? "config/dockerfile-secret-arg" : "config/dockerfile-secret-env",
          axis: "exposure",
          severity: secretSeverity(verdict),
          message: `${instruction.keyword} ${key} ${isArg ? "defaults to" : "sets"} ${describeSecret(verdict)}.`,
          why: IMAGE_WHY,
          fix: MOUNT_FIX,
          path: file.path,
          line,
          subject: `${instruction.keyword} ${key}`,
          secret: verdict.secret,
          ...(verdict.token ? { token: verdict.token } : {}),
        }),
      );
    }
  }
  return findings;
}

export const dockerfileAnalyzer: Analyzer = {
  id: "config/dockerfile",
  applies: isDockerfile,
  analyze: analyzeDockerfile,
};
