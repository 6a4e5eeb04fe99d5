import type { Command } from "commander";
import { parseDuration } from "../../core/duration.js";
import { KeywardError } from "../../core/errors.js";
import {
  rotationDueAt,
  SENSITIVITIES,
  type SecretRecord,
  type Sensitivity,
  STAGES,
  type Stage,
} from "../../core/types.js";
import { SecretService } from "../../secrets/service.js";
import type { VersionSelector } from "../../store/types.js";
import type { CliContext } from "../context.js";
import { age, due, list } from "../format.js";
import { wholeNumber } from "../options.js";

export function registerSecret(program: Command, ctx: CliContext): void {
  const secret = program.command("secret").description("store, read and manage secrets");

  secret
    .command("set <name>")
    .description(
      "store a new version of a secret; the value comes from stdin or a hidden prompt, never argv",
    )
    .option("--sensitivity <level>", `one of ${SENSITIVITIES.join(", ")}`)
    .option("--scope <scopes>", "declared scope, comma-separated (e.g. repo:read,read:org)")
    .option(
      "--provider <name>",
      "the upstream that issued the key (github, slack, atlassian, http, command)",
    )
    .option("--owner <owner>", "who answers for this key")
    .option("--description <text>", "what the key is for")
    .option("--tag <key=value...>", "a tag; repeat for more")
    .option("--ttl <duration>", "rotation TTL (e.g. 90d, 30d, 12h); default by sensitivity")
    .option("--stage <stage>", `stage for the new version: ${STAGES.join(", ")}`, "current")
    .option("--raw", "keep a trailing newline from stdin as part of the value")
    .option("--json", "print the result as JSON")
    .action(async (name: string, opts) => {
      const value = await ctx.readValue(name, Boolean(opts.raw));
      await ctx.withSession("secret set", async (session) => {
        const result = await new SecretService(session).set(name, value, {
          ...(opts.sensitivity ? { sensitivity: parseSensitivity(opts.sensitivity) } : {}),
          ...(opts.scope ? { scope: splitList(opts.scope) } : {}),
          ...(opts.provider ? { provider: opts.provider } : {}),
          ...(opts.owner ? { owner: opts.owner } : {}),
          ...(opts.description ? { description: opts.description } : {}),
          ...(opts.tag ? { tags: parseTags(opts.tag) } : {}),
          ...(opts.ttl ? { ttlSeconds: parseDuration(opts.ttl) } : {}),
          stage: parseStage(opts.stage),
        });
        for (const w of result.warnings) ctx.out.warn(w);
        if (opts.json)
          ctx.out.json({
            name,
            version: result.version,
            created: result.created,
            stage: opts.stage,
          });
        else
          ctx.out.success(
            `${result.created ? "Created" : "Updated"} ${name}: version ${result.version} is ${opts.stage}`,
          );
      });
    });

  secret
    .command("get <name>")
    .description("print a secret's value (refuses a terminal without --reveal)")
    .option("--version <n>", "a version number instead of the current stage")
    .option("--stage <stage>", `a stage: ${STAGES.join(", ")}`)
    .option("--reveal", "allow printing the value to a terminal")
    .option("--json", "print value and version as JSON")
    .action(async (name: string, opts) => {
      if (ctx.out.stdoutIsTTY && !opts.reveal) {
        throw new KeywardError(
          "refused",
          `refusing to print ${name} to a terminal`,
          "pipe it (keyward secret get NAME | ...) or add --reveal if you mean to show it on screen",
        );
      }
      const selector = parseSelector(opts);
      await ctx.withSession("secret get", async (session) => {
        const result = await new SecretService(session).get(name, selector);
        ctx.out.remember(result.value);
        if (opts.json) {
          // The JSON form carries the value on purpose; it bypasses scrubbing like value() does.
          ctx.io.stdout.write(
            `${JSON.stringify({ name, version: result.version.version, stages: result.version.stages, value: result.value })}\n`,
          );
        } else ctx.out.value(result.value);
      });
    });

  secret
    .command("ls [prefix]")
    .alias("list")
    .description("list secrets with age, stage, sensitivity, scope and when rotation is due")
    .option("--json", "print as JSON")
    .action(async (prefix: string | undefined, opts) => {
      await ctx.withSession("secret ls", async (session) => {
        const records = await new SecretService(session).list(prefix);
        if (opts.json) {
          ctx.out.json(records.map((r) => ({ ...r, rotationDueAt: rotationDueAt(r) ?? null })));
          return;
        }
        if (records.length === 0) {
          ctx.out.info(
            prefix
              ? `no secrets under ${prefix}`
              : "no secrets yet: store one with `keyward secret set NAME`",
          );
          return;
        }
        ctx.out.table(records, [
          { header: "NAME", get: (r) => r.name },
          { header: "CURRENT", get: (r) => stageVersion(r, "current") },
          { header: "PENDING", get: (r) => stageVersion(r, "pending") },
          { header: "AGE", get: (r) => age(r.rotatedAt ?? r.createdAt) },
          { header: "SENSITIVITY", get: (r) => r.metadata.sensitivity },
          { header: "SCOPE", get: (r) => list(r.metadata.scope) },
          { header: "ROTATION DUE", get: (r) => due(rotationDueAt(r)) },
        ]);
      });
    });

  secret
    .command("history <name>")
    .description("versions of a secret with their stages and states, and its access-log entries")
    .option("--json", "print as JSON")
    .action(async (name: string, opts) => {
      await ctx.withSession("secret history", async (session) => {
        const service = new SecretService(session);
        const record = await service.describe(name);
        const entries = service.history(name);
        if (opts.json) {
          ctx.out.json({ secret: record, accessLog: entries });
          return;
        }
        const versions = [...record.versions].sort((a, b) => b.version - a.version);
        ctx.out.table(versions, [
          { header: "VERSION", get: (v) => String(v.version) },
          { header: "STAGES", get: (v) => list(v.stages) },
          { header: "STATE", get: (v) => (v.compromised ? `${v.state} (compromised)` : v.state) },
          { header: "CREATED", get: (v) => v.createdAt },
        ]);
        ctx.out.line();
        ctx.out.line(`${entries.length} access-log entries (keyward log --secret ${name})`);
      });
    });

  for (const state of ["disable", "enable"] as const) {
    secret
      .command(`${state} <name>`)
      .description(
        state === "disable"
          ? "disable a version (reversible); reads of it are refused"
          : "re-enable a disabled version",
      )
      .option("--version <n>", "the version (default: current)")
      .option("--json", "print as JSON")
      .action(async (name: string, opts) => {
        await ctx.withSession(`secret ${state}`, async (session) => {
          const v = await new SecretService(session).setState(
            name,
            state === "disable" ? "disabled" : "enabled",
            opts.version === undefined ? undefined : wholeNumber("--version", opts.version),
          );
          if (opts.json) ctx.out.json({ name, version: v.version, state: v.state });
          else ctx.out.success(`${name} version ${v.version} is ${v.state}`);
        });
      });
  }

  secret
    .command("rm <name>")
    .description(
      "destroy one version (--version) or delete the whole secret; values are erased for good",
    )
    .option("--version <n>", "destroy only this version")
    .option("-y, --yes", "do not ask for confirmation")
    .action(async (name: string, opts) => {
      const version =
        opts.version === undefined ? undefined : wholeNumber("--version", opts.version);
      if (!opts.yes) {
        throw new KeywardError(
          "refused",
          `${version === undefined ? `deleting ${name}` : `destroying ${name} version ${version}`} erases its value for good`,
          "add --yes to confirm",
        );
      }
      await ctx.withSession("secret rm", async (session) => {
        await new SecretService(session).remove(name, version);
        ctx.out.success(
          version === undefined ? `Deleted ${name}` : `Destroyed ${name} version ${version}`,
        );
      });
    });
}

function stageVersion(record: SecretRecord, stage: Stage): string {
  const v = record.versions.find((x) => x.stages.includes(stage));
  return v ? `v${v.version}${v.state === "enabled" ? "" : ` (${v.state})`}` : "-";
}

function parseSensitivity(text: string): Sensitivity {
  if ((SENSITIVITIES as readonly string[]).includes(text)) return text as Sensitivity;
  throw new KeywardError(
    "usage",
    `unknown sensitivity "${text}"`,
    `use one of ${SENSITIVITIES.join(", ")}`,
  );
}

function parseStage(text: string): Stage {
  if ((STAGES as readonly string[]).includes(text)) return text as Stage;
  throw new KeywardError("usage", `unknown stage "${text}"`, `use one of ${STAGES.join(", ")}`);
}

function parseSelector(opts: { version?: string; stage?: string }): VersionSelector | undefined {
  if (opts.version !== undefined && opts.stage !== undefined) {
    throw new KeywardError("usage", "give --version or --stage, not both");
  }
  if (opts.version !== undefined) return { version: wholeNumber("--version", opts.version) };
  if (opts.stage !== undefined) return { stage: parseStage(opts.stage) };
  return undefined;
}

function splitList(text: string): string[] {
  return text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
}

function parseTags(items: string[]): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const item of items) {
    const eq = item.indexOf("=");
    if (eq <= 0) throw new KeywardError("usage", `tag "${item}" is not key=value`);
    tags[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return tags;
}
