/**
 * Accuracy of `keyward audit` on the labelled corpus (bench/corpus/**, labels in
 * bench/corpus/labels.json): precision, recall and F1 per category, per group and overall.
 *
 * The corpus is materialised into a temporary directory (credential markers built at run time,
 * bench/lib/corpus.ts) and audited in-process with audit(). Findings are matched to labels by
 * (path, line): a finding matches a label of its own category on that line; a literal-secret
 * finding (a token format, the keyword detector, or a config analyzer's literal-secret rule)
 * also matches any credential label there — the line is what counts, a credential reported under
 * a neighbouring category is still found (such cases are counted as "category mismatches").
 * A finding on a line labelled negative is a false positive of that label's category; one on an
 * unlabelled line is a false positive of category "unlabelled". Each label counts once however
 * many findings hit it. Misses and false positives are listed as path:line and rule id, never a
 * value.
 *
 * Run: node --import tsx bench/audit-accuracy.ts   or, compiled: node dist/bench/audit-accuracy.js
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { getRule } from "../src/detect/index.js";
import { audit } from "../src/scan/index.js";
import type { Finding } from "../src/scan/types.js";
import { type Label, loadLabels, materialiseCorpus } from "./lib/corpus.js";

const TARGET = { precision: 0.85, recall: 0.75 };

/** Label categories that stand for a literal credential. */
const CREDENTIAL_CATEGORIES = new Set([
  "password",
  "api-key",
  "token",
  "private-key",
  "url-credential",
  "cloud-key",
  "jwt",
]);

/** Config rules that report a literal credential (their findings may match any credential label). */
const CONFIG_LITERAL_RULES = new Set([
  "config/mcp-literal-secret",
  "config/mcp-url-secret",
  "config/mcp-argv-secret",
  "config/dotenv-literal-secret",
  "config/dockerfile-secret-env",
  "config/dockerfile-secret-arg",
]);

/** The category a finding claims, and whether it reports a literal credential. */
function classify(finding: Finding): { category: string; literal: boolean } {
  const [family, rest = ""] = finding.ruleId.split("/", 2);
  if (family === "secret") {
    if (rest === "generic-password") return { category: "password", literal: true };
    if (rest === "generic-api-key") return { category: "api-key", literal: true };
    const category = getRule(rest)?.category ?? "token";
    return {
      category: category === "connection-string" ? "url-credential" : category,
      literal: true,
    };
  }
  if (family === "config" || family === "flow") {
    return { category: `${family}-${rest}`, literal: CONFIG_LITERAL_RULES.has(finding.ruleId) };
  }
  return { category: `${family}-${rest}`, literal: false };
}

interface Tally {
  tp: number;
  fn: number;
  fp: number;
}

const ratio = (a: number, b: number): number => (b === 0 ? Number.NaN : a / b);
function scores(t: Tally): { precision: number; recall: number; f1: number } {
  const precision = ratio(t.tp, t.tp + t.fp);
  const recall = ratio(t.tp, t.tp + t.fn);
  return { precision, recall, f1: ratio(2 * precision * recall, precision + recall) };
}

const fmt = (x: number): string => (Number.isNaN(x) ? "   -" : x.toFixed(2));

function groupOf(category: string): string {
  if (CREDENTIAL_CATEGORIES.has(category)) return "secrets";
  if (category.startsWith("flow-")) return "flow";
  if (category.startsWith("config-")) return "config";
  return "unlabelled";
}

async function main(): Promise<void> {
  const started = performance.now();
  const labels = loadLabels();
  const dir = mkdtempSync(join(tmpdir(), "keyward-corpus-"));
  try {
    const files = materialiseCorpus(dir);
    for (const [path, list] of Object.entries(labels)) {
      const file = files.get(path);
      if (file === undefined)
        throw new Error(`labels.json names ${path}, which is not in the corpus`);
      for (const label of list) {
        if (label.line < 1 || label.line > file.templateLines)
          throw new Error(`labels.json: ${path}:${label.line} is outside the file`);
      }
    }
    const report = await audit({ root: dir });

    /** labels hit, by "path:line:index" */
    const hit = new Set<string>();
    const mismatches: string[] = [];
    const unlabelled = new Map<string, string>();
    for (const finding of report.findings) {
      const path = finding.location.path;
      const line = files.get(path)?.lineMap[finding.location.line - 1] ?? finding.location.line;
      const { category, literal } = classify(finding);
      const here = (labels[path] ?? [])
        .map((label, index) => ({ label, index }))
        .filter(({ label }) => label.line === line);
      const match =
        here.find(({ label }) => label.category === category) ??
        (literal ? here.find(({ label }) => CREDENTIAL_CATEGORIES.has(label.category)) : undefined);
      if (match === undefined) {
        unlabelled.set(`${path}:${line}:${category}`, `${path}:${line}  ${finding.ruleId}`);
        continue;
      }
      const key = `${path}:${match.label.line}:${match.index}`;
      if (match.label.category !== category && match.label.positive && !hit.has(key)) {
        mismatches.push(`${path}:${line}  ${finding.ruleId} on a ${match.label.category} line`);
      }
      hit.add(key);
    }

    const tallies = new Map<string, Tally>();
    const tally = (category: string): Tally => {
      let t = tallies.get(category);
      if (t === undefined) {
        t = { tp: 0, fn: 0, fp: 0 };
        tallies.set(category, t);
      }
      return t;
    };
    const misses: string[] = [];
    const falsePositives: string[] = [];
    let positives = 0;
    let negatives = 0;
    for (const [path, list] of Object.entries(labels)) {
      list.forEach((label: Label, index) => {
        const found = hit.has(`${path}:${label.line}:${index}`);
        const t = tally(label.category);
        if (label.positive) {
          positives++;
          if (found) t.tp++;
          else {
            t.fn++;
            misses.push(`${path}:${label.line}  ${label.category}`);
          }
        } else {
          negatives++;
          if (found) {
            t.fp++;
            const rules = report.findings
              .filter(
                (f) =>
                  f.location.path === path &&
                  (files.get(path)?.lineMap[f.location.line - 1] ?? f.location.line) === label.line,
              )
              .map((f) => f.ruleId);
            falsePositives.push(
              `${path}:${label.line}  ${[...new Set(rules)].join(", ")} (labelled negative ${label.category})`,
            );
          }
        }
      });
    }
    tally("unlabelled").fp += unlabelled.size;
    falsePositives.push(...[...unlabelled.values()].map((s) => `${s} (unlabelled line)`));

    const groups = new Map<string, Tally>();
    const overall: Tally = { tp: 0, fn: 0, fp: 0 };
    for (const [category, t] of tallies) {
      const group = groupOf(category);
      const g = groups.get(group) ?? { tp: 0, fn: 0, fp: 0 };
      for (const sum of [g, overall]) {
        sum.tp += t.tp;
        sum.fn += t.fn;
        sum.fp += t.fp;
      }
      groups.set(group, g);
    }

    const row = (name: string, t: Tally): string => {
      const s = scores(t);
      return `${name.padEnd(40)} ${String(t.tp + t.fn).padStart(4)} ${String(t.tp).padStart(4)} ${String(t.fn).padStart(4)} ${String(t.fp).padStart(4)}   ${fmt(s.precision)}  ${fmt(s.recall)}  ${fmt(s.f1)}`;
    };
    console.log(
      `corpus: ${files.size} files, ${positives} positive and ${negatives} negative labels; ` +
        `${report.findings.length} findings, ${report.skipped.length} skipped`,
    );
    for (const skip of report.skipped) console.log(`  skipped ${skip.path}: ${skip.reason}`);
    console.log(`\n${"category".padEnd(40)}  pos   tp   fn   fp   prec   rec    f1`);
    for (const group of ["secrets", "config", "flow", "unlabelled"]) {
      const names = [...tallies.keys()].filter((c) => groupOf(c) === group).sort();
      for (const name of names) console.log(row(`  ${name}`, tallies.get(name) as Tally));
      const g = groups.get(group);
      if (g !== undefined && group !== "unlabelled") console.log(row(`${group} (all)`, g));
    }
    const all = scores(overall);
    console.log(row("overall", overall));
    const secrets = scores(groups.get("secrets") ?? { tp: 0, fn: 0, fp: 0 });
    const verdict = (value: number, target: number): string =>
      `${fmt(value)} (target ≥ ${target.toFixed(2)} ${value >= target ? "ok" : "MISSED"})`;
    console.log(
      `\noverall precision ${verdict(all.precision, TARGET.precision)}, recall ${verdict(all.recall, TARGET.recall)}` +
        `\nsecrets precision ${verdict(secrets.precision, TARGET.precision)}, recall ${verdict(secrets.recall, TARGET.recall)}` +
        `\nfixture rule: every positive found and no negative flagged — ${misses.length} misses, ${falsePositives.length} false positives` +
        " (published CredData figures for comparison: gitleaks 0.53 precision / 0.24 recall)",
    );
    console.log(`\nmisses (${misses.length}):`);
    for (const miss of misses.sort()) console.log(`  ${miss}`);
    console.log(`\nfalse positives (${falsePositives.length}):`);
    for (const fp of falsePositives.sort()) console.log(`  ${fp}`);
    if (mismatches.length > 0) {
      console.log(`\ncategory mismatches (found, counted as found; ${mismatches.length}):`);
      for (const m of mismatches.sort()) console.log(`  ${m}`);
    }
    console.log(`\nTotal ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
