/**
 * GitHub Actions workflows: `permissions: write-all`, secrets printed by `run:` steps, and
 * `toJSON(secrets)`. A missing `permissions` block is deliberately not reported: the repository or
 * organisation default decides it, which a file scan cannot see, and flagging it would be noise.
 */
import type { Analyzer, Finding, SourceFile } from "../types.js";
import {
  configFinding,
  entry,
  lineAt,
  loadYaml,
  parseStructured,
  type TreeNode,
} from "./config-common.js";

export function isWorkflowFile(path: string): boolean {
  return /(?:^|\/)\.github\/workflows\/[^/]+\.ya?ml$/.test(path);
}

/** `${{ secrets.NAME }}` or `${{ github.token }}`, possibly inside a longer expression. */
const SECRET_EXPRESSION =
  /\$\{\{[^}]{0,200}?\b(?:secrets\.([A-Za-z0-9_]+)|github\.token)\b[^}]{0,200}?\}\}/;
const PRINT_COMMAND = /(?:^|[\s;&|(])(echo|printf|Write-Host|Write-Output)\b/i;
/** Commands that transform a value so GitHub's exact-value log masking no longer recognises it. */
const ENCODER = /^\s*(?:base64|xxd|od|hexdump|rev|openssl\s+(?:enc|base64))\b/;

function secretEnvNames(...maps: Array<TreeNode | undefined>): Set<string> {
  const names = new Set<string>();
  for (const map of maps) {
    if (map?.kind !== "object") continue;
    for (const { key, value } of map.entries) {
      if (value.kind === "string" && SECRET_EXPRESSION.test(value.value)) names.add(key);
    }
  }
  return names;
}

/** The line's printing segment leaks when it is neither piped into another command nor redirected to a file; encoding makes it worse. */
function printVerdict(line: string, envNames: Set<string>): "plain" | "encoded" | undefined {
  const segments = line.split(/\|\|?|&&|;/);
  const separators = line.match(/\|\|?|&&|;/g) ?? [];
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] ?? "";
    if (!PRINT_COMMAND.test(segment)) continue;
    const references =
      SECRET_EXPRESSION.test(segment) ||
      [...envNames].some((name) => new RegExp(`\\$(?:\\{${name}\\}|${name}\\b)`).test(segment));
    if (!references) continue;
    // `> file` keeps it out of the log; `>&2` (stderr) does not
    if (/(?<![>&0-9])>{1,2}\s*(?!&)/.test(segment.replace(/2>&1|>&2/g, ""))) continue;
    if (separators[i] !== "|") return "plain";
    const next = segments[i + 1] ?? "";
    const piped = separators[i + 1] === "|" || /(?<![>&0-9])>{1,2}\s*(?!&)/.test(next);
    return ENCODER.test(next) && !piped ? "encoded" : undefined;
  }
  return undefined;
}

function checkRun(
  file: SourceFile,
  run: TreeNode,
  envNames: Set<string>,
  findings: Finding[],
): void {
  const source = file.text.slice(run.start, run.end);
  const firstLine = lineAt(file.text, run.start);
  source.split("\n").forEach((line, index) => {
    if (/^\s*#/.test(line)) return;
    const verdict = printVerdict(line, envNames);
    if (verdict === undefined) return;
    const name =
      SECRET_EXPRESSION.exec(line)?.[1] ??
      [...envNames].find((n) => line.includes(n)) ??
      "github.token";
    findings.push(
      configFinding({
        ruleId: "config/workflow-secret-echo",
        axis: "exposure",
        severity: verdict === "encoded" ? "high" : "medium",
        message:
          verdict === "encoded"
            ? `A run step prints secret ${name} through an encoder, which defeats log masking.`
            : `A run step prints secret ${name} to the job log.`,
        why: "GitHub masks only the exact secret value in logs: encoded, split, multi-line or structured forms are printed in clear, and logs are readable by everyone with read access to the repository (public repositories: everyone).",
        fix: 'Do not print secrets. Pass them to the tool that needs them through env (or stdin, e.g. --password-stdin); to check that one is set, test it (`[ -n "$TOKEN" ]`) instead of echoing it.',
        path: file.path,
        line: firstLine + index,
        subject: `run:${name}`,
      }),
    );
  });
}

function checkWriteAll(
  file: SourceFile,
  doc: { position(o: number): { line: number } },
  node: TreeNode | undefined,
  scope: string,
  findings: Finding[],
): void {
  if (node?.kind !== "string" || node.value !== "write-all") return;
  findings.push(
    configFinding({
      ruleId: "config/workflow-write-all",
      axis: "security",
      severity: "medium",
      message: `${scope} grants the GITHUB_TOKEN write-all permissions.`,
      why: "Every step, action and script in scope can push code, create releases, change issues and packages with the token: one compromised action or injected command gets all of it.",
      fix: "Grant only what the jobs use, e.g. `permissions: { contents: read }` at the top and the specific write permission (pull-requests: write, packages: write…) on the job that needs it.",
      path: file.path,
      line: doc.position(node.start).line,
      subject: `${scope}.permissions`,
    }),
  );
}

function analyzeWorkflow(file: SourceFile): Finding[] {
  const doc = parseStructured(file.text);
  if (doc?.root?.kind !== "object") return [];
  const findings: Finding[] = [];
  const root = doc.root;
  checkWriteAll(file, doc, entry(root, "permissions"), "The workflow", findings);
  const jobs = entry(root, "jobs");
  for (const { key: jobName, value: job } of jobs?.kind === "object" ? jobs.entries : []) {
    checkWriteAll(file, doc, entry(job, "permissions"), `Job "${jobName}"`, findings);
    const steps = entry(job, "steps");
    for (const step of steps?.kind === "array" ? steps.items : []) {
      const run = entry(step, "run");
      if (run?.kind !== "string") continue;
      checkRun(
        file,
        run,
        secretEnvNames(entry(root, "env"), entry(job, "env"), entry(step, "env")),
        findings,
      );
    }
  }
  // toJSON(secrets) hands every secret of the repository to one step or action at once
  file.text.split("\n").forEach((line, index) => {
    if (/^\s*#/.test(line) || !/toJSON\(\s*secrets\s*\)/i.test(line)) return;
    findings.push(
      configFinding({
        ruleId: "config/workflow-secrets-dump",
        axis: "exposure",
        severity: "high",
        message: "The workflow serialises every repository secret with toJSON(secrets).",
        why: "All secrets reach one step or action in a single JSON value: masking then depends on the exact JSON escaping of each one, and a third-party action receives credentials it never needed.",
        fix: "Pass each secret the step needs by name (secrets.NAME) through env or with:.",
        path: file.path,
        line: index + 1,
        subject: `toJSON(secrets)@${line.trim()}`,
      }),
    );
  });
  return findings;
}

export const workflowAnalyzer: Analyzer = {
  id: "config/workflow",
  applies: isWorkflowFile,
  analyze: analyzeWorkflow,
  load: loadYaml,
};
