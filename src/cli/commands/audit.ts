import { writeFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import type { Command } from "commander";
import { KeywardError } from "../../core/errors.js";
import { rotationDueAt } from "../../core/types.js";
import type { CliContext } from "../context.js";
import { wholeNumber } from "../options.js";

const FORMATS = ["text", "json", "sarif", "markdown"] as const;
type Format = (typeof FORMATS)[number];

export function registerAudit(program: Command, ctx: CliContext): void {
  program
    .command("audit [path]")
    .description(
      "grade an MCP server's credential handling A–F on Credential Exposure and Security",
    )
    .option("--history", "also scan every commit on every ref (git log -p)")
    .option(
      "--since <rev>",
      "with history, only the commits after <rev> (git log <rev>..HEAD: a pull request's); implies --history",
    )
    .option("--format <format>", `output: ${FORMATS.join(", ")}`, "text")
    .option("--output <file>", "write the report to a file instead of stdout")
    .option(
      "--exclude <pattern>",
      "leave out paths matching this .gitignore-style pattern (repeatable; .keywardignore at the root is read too)",
      (pattern: string, patterns: string[]) => [...patterns, pattern],
      [] as string[],
    )
    .option("--baseline <file>", "suppress the findings whose fingerprints this baseline lists")
    .option(
      "--write-baseline <file>",
      "write every current finding's fingerprint to a baseline file",
    )
    .option(
      "--fail-on <grade|severity>",
      "exit 1 when a grade is this or worse (A–F), or a finding is this severe or more",
    )
    .option(
      "--max-file-size <bytes>",
      "skip (and report) files larger than this",
      String(2 * 1024 * 1024),
    )
    .option(
      "--threads <n>",
      "threads that read and scan files (default: one per CPU core not busy with other work)",
    )
    .option(
      "--with-store",
      "add live facts from the keyward store (overdue rotations); needs the master key",
    )
    .option("--color", "color the text report even when not on a terminal")
    .action(async (path: string | undefined, opts) => {
      const format = parseFormat(opts.format);
      const maxFileBytes = wholeNumber("--max-file-size", opts.maxFileSize);
      const threads =
        opts.threads === undefined ? undefined : wholeNumber("--threads", opts.threads, 64);
      // An audit is a run of a few seconds over many code paths (analyzers, parsers, the flow
      // engine), each made hot by the tree, in one isolate per thread. TurboFan compiling them
      // took about 0.8 s of CPU per isolate on node_modules (measured with
      // --no-concurrent-recompilation), on a 2-core machine the core a worker thread needed.
      // Without inlining, and with an interrupt budget of 1 MB (V8's default is 132 KB) so that
      // only code that stays hot is optimised, the CLI took 17-20% less time on the 34 MB tree
      // and 10-15% less on node_modules, with 20-30% less CPU (bench/audit-speed). V8's flags
      // are the process's: this process only audits.
      setFlagsFromString("--no-turbo-inlining");
      setFlagsFromString("--interrupt-budget=1000000");
      // The scanner loads parsers and grammars: import it only for this command.
      const scan = await import("../../scan/index.js");
      if (opts.failOn) scan.failOn(emptyReportForValidation(), opts.failOn);
      const facts = opts.withStore ? await storeFacts(ctx) : undefined;
      const progress = ctx.io.stderr.isTTY
        ? (p: { files: number; commits?: number }) =>
            ctx.io.stderr.write(
              `\r\u001b[2Kauditing: ${p.files} files${p.commits === undefined ? "" : `, ${p.commits} commits`}`,
            )
        : undefined;
      const report = await scan.audit({
        root: path ?? ctx.io.cwd,
        history: Boolean(opts.history) || opts.since !== undefined,
        ...(opts.since === undefined ? {} : { historySince: opts.since }),
        maxFileBytes,
        ...(threads === undefined ? {} : { workers: threads }),
        ...(opts.exclude.length > 0 ? { exclude: opts.exclude } : {}),
        ...(opts.baseline ? { baseline: opts.baseline } : {}),
        ...(facts ? { facts } : {}),
        ...(progress ? { onProgress: progress } : {}),
      });
      if (progress) ctx.io.stderr.write("\r\u001b[2K");
      const rendered =
        format === "json"
          ? scan.renderJson(report)
          : format === "sarif"
            ? scan.renderSarif(report, { toolVersion: ctx.version })
            : format === "markdown"
              ? scan.renderMarkdown(report)
              : scan.renderText(report, { color: Boolean(opts.color) || ctx.out.color });
      if (opts.output)
        writeFileSync(opts.output, rendered.endsWith("\n") ? rendered : `${rendered}\n`);
      else ctx.out.line(rendered.replace(/\n$/, ""));
      if (opts.writeBaseline) {
        await scan.writeBaseline(report, opts.writeBaseline);
        ctx.out.info(
          `wrote ${report.findings.length + (report.baselined?.length ?? 0)} fingerprints to ${opts.writeBaseline}`,
        );
      }
      if (opts.failOn && scan.failOn(report, opts.failOn)) ctx.exitCode = 1;
    });
}

function parseFormat(text: string): Format {
  if ((FORMATS as readonly string[]).includes(text)) return text as Format;
  throw new KeywardError("usage", `unknown format "${text}"`, `use one of ${FORMATS.join(", ")}`);
}

/** An empty report, so a bad --fail-on is reported before a long scan rather than after it. */
function emptyReportForValidation() {
  return {
    root: "",
    grades: { exposure: "A", security: "A", reasons: { exposure: [], security: [] } },
    findings: [],
    skipped: [],
    suppressed: 0,
    stats: { files: 0, bytes: 0, durationMs: 0 },
  } as const satisfies import("../../scan/types.js").AuditReport;
}

async function storeFacts(ctx: CliContext) {
  return ctx.withSession("audit", async (session) => {
    const records = await session.store.list();
    const now = Date.now();
    return {
      usesSecretsManager: true,
      secretsManaged: records.length,
      overdueRotations: records.filter((r) => {
        const due = rotationDueAt(r);
        return due !== undefined && Date.parse(due) < now;
      }).length,
    };
  });
}
