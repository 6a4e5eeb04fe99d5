/**
 * Step 6: the incident report, as JSON (for tools) and Markdown (for the incident channel),
 * written 0600 under `<home>/incidents/` (0700). It names the value only by its masked form and
 * its access-log HMAC: never the value, in any encoding.
 */
import { randomBytes } from "node:crypto";
import { renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Delivery } from "../notify/notifier.js";
import { ensurePrivateDir } from "../store/fsperm.js";
import type { RepositoryScan } from "./history.js";
import type { ProxyResult, StepResult } from "./runbook.js";

export interface RevocationReport {
  kind: "keyward.incident";
  format: 1;
  id: string;
  secret: string;
  /** The revoked version. */
  version: number;
  /** The version current after the rotation, if one happened. */
  newVersion?: number;
  provider?: string;
  reason: string;
  /** At most the first 4 and last 2 characters (src/detect/mask.ts). */
  masked: string;
  /** HMAC-SHA256 of the value under the access log's key: `keyward log find-value` matches it. */
  valueHmac?: string;
  startedAt: string;
  finishedAt: string;
  actor: { user: string; pid: number; process: string; host?: string };
  budget: { limitSeconds: number; steps1to4Ms: number; within: boolean };
  steps: StepResult[];
  proxies: ProxyResult[];
  silentProxies: Array<{ pid: number; reason: string }>;
  staleRegistrations: number[];
  /** Every read that served the value, from the access log. */
  servedTo: Array<{
    seq: number;
    time: string;
    user: string;
    process: string;
    pid: number;
    profile?: string;
    host?: string;
    secret?: string;
    version?: number;
    valueHmac?: string;
  }>;
  git: RepositoryScan[];
  notifications: Delivery[];
}

/** `<home>/incidents/<UTC time>-<secret>-v<version>.{json,md}`. */
export function reportPaths(
  home: string,
  secret: string,
  version: number,
  at: Date,
): { json: string; markdown: string } {
  const stamp = at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
  const base = join(home, "incidents", `${stamp}-${secret.replaceAll("/", "_")}-v${version}`);
  return { json: `${base}.json`, markdown: `${base}.md` };
}

/** Writes both files, each 0600 under a temporary name first, so a crash leaves no half report. */
export function writeReport(
  files: { json: string; markdown: string },
  report: RevocationReport,
): void {
  ensurePrivateDir(join(files.json, ".."));
  for (const [path, text] of [
    [files.json, `${JSON.stringify(report, null, 2)}\n`],
    [files.markdown, renderMarkdown(report)],
  ] as const) {
    const temporary = `${path}.${randomBytes(6).toString("hex")}.tmp`;
    writeFileSync(temporary, text, { mode: 0o600, flag: "wx" });
    renameSync(temporary, path);
  }
}

const STATUS_MARK: Record<StepResult["status"], string> = {
  done: "done",
  manual: "**manual**",
  skipped: "skipped",
  partial: "**partial**",
  failed: "**failed**",
};

/** Table cells: no pipes or line breaks from names, paths or messages. */
function cell(text: string | number | undefined): string {
  return String(text ?? "")
    .replace(/\|/g, "\\|")
    .replace(/\r?\n/g, " ");
}

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function renderMarkdown(r: RevocationReport): string {
  const out: string[] = [];
  out.push(`# Incident: ${r.secret} v${r.version} revoked`, "");
  out.push(
    `- **When**: ${r.startedAt} → ${r.finishedAt} (keyward revoke by ${r.actor.user}${r.actor.host ? `@${r.actor.host}` : ""}, pid ${r.actor.pid})`,
  );
  out.push(`- **Reason**: ${r.reason}`);
  out.push(
    `- **Value**: \`${r.masked}\` (masked)${r.valueHmac ? `; access-log HMAC \`${r.valueHmac}\`` : ""}`,
  );
  if (r.provider) out.push(`- **Provider**: ${r.provider}`);
  if (r.newVersion !== undefined) out.push(`- **Replaced by**: v${r.newVersion}`);
  out.push(
    `- **Steps 1–4**: ${seconds(r.budget.steps1to4Ms)} of the ${r.budget.limitSeconds / 60}-minute budget (${r.budget.within ? "within" : "OVER"})`,
  );
  out.push("", "## Timeline", "");
  out.push("| # | Step | Status | Started | Took | What happened |", "|---|---|---|---|---|---|");
  for (const s of r.steps) {
    out.push(
      `| ${s.step} | ${s.title} | ${STATUS_MARK[s.status]} | +${seconds(s.offsetMs)} | ${seconds(s.ms)} | ${cell(s.summary)} |`,
    );
  }
  const manual = r.steps.filter((s) => s.manual?.length);
  if (manual.length > 0) {
    out.push("", "## Still to do by hand", "");
    for (const s of manual) for (const m of s.manual ?? []) out.push(`- [ ] (step ${s.step}) ${m}`);
  }
  out.push("", "## Running servers (step 4)", "");
  if (r.proxies.length === 0 && r.silentProxies.length === 0) {
    out.push("No running `keyward run` used this secret.");
  } else {
    out.push("| pid | profile | outcome | now serving | ack after |", "|---|---|---|---|---|");
    for (const p of r.proxies) {
      out.push(
        `| ${p.pid} | ${cell(p.profile)} | ${p.outcome} | ${p.running ? `v${p.version}` : "stopped"} | ${seconds(p.ms)} |`,
      );
    }
    for (const s of r.silentProxies) {
      out.push(`| ${s.pid} | ? | **no answer** | unknown | ${cell(s.reason)} |`);
    }
  }
  out.push("", "## Who was served the value (access log)", "");
  if (r.servedTo.length === 0) out.push("Nobody: no read of this value is in the access log.");
  else {
    out.push(
      "| seq | time | user | profile | process | pid | secret |",
      "|---|---|---|---|---|---|---|",
    );
    for (const e of r.servedTo) {
      out.push(
        `| ${e.seq} | ${e.time} | ${cell(e.user)}${e.host ? `@${cell(e.host)}` : ""} | ${cell(e.profile)} | ${cell(e.process)} | ${e.pid} | ${cell(e.secret)}${e.version === undefined ? "" : `@${e.version}`} |`,
      );
    }
  }
  out.push("", "## Where it appears in git (step 5)", "");
  if (r.git.length === 0) out.push("No repository was searched.");
  for (const repo of r.git) {
    out.push(`### ${repo.root}`, "");
    if (repo.error) {
      out.push(`Not searched: ${cell(repo.error.message)}`, "");
      continue;
    }
    if (repo.sightings.length === 0) {
      out.push(`Not found in ${repo.commits} commits.`, "");
      continue;
    }
    out.push("| path | line | added in | date | encodings | now |", "|---|---|---|---|---|---|");
    for (const s of repo.sightings) {
      const now = s.presentInTree
        ? "**still in the checked-out file**"
        : s.deletedIn
          ? `history only (file deleted in ${s.deletedIn.commit.slice(0, 12)})`
          : "history only";
      out.push(
        `| ${cell(s.path)} | ${s.line} | ${s.commit.slice(0, 12)} | ${s.date} | ${s.forms.join(", ")} | ${now} |`,
      );
    }
    out.push("", `${repo.commits} commits searched in ${seconds(repo.ms)}.`, "");
  }
  if (r.notifications.length > 0) {
    out.push("", "## Notifications", "");
    for (const n of r.notifications) {
      out.push(
        `- ${cell(n.target)}: ${n.ok ? "sent" : `**failed** (${cell(n.error)})`} after ${n.attempts} attempt(s)`,
      );
    }
  }
  return `${out.join("\n").replace(/\n{3,}/g, "\n\n")}\n`;
}
