import type { Command } from "commander";
import type { CliContext } from "../context.js";

export function registerProviders(program: Command, ctx: CliContext): void {
  program
    .command("providers")
    .description(
      "what each provider can do with a key: identify, read scope and expiry, verify, mint, rotate, revoke",
    )
    .option("--notes", "also print each capability's caveats and the manual rotation steps")
    .option("--json", "print as JSON")
    .action(async (opts) => {
      const { capabilityMatrix, matrixJson, renderMatrixText } = await import(
        "../../providers/matrix.js"
      );
      const { providers } = await import("../../providers/registry.js");
      const matrix = capabilityMatrix(providers.map((p) => p.info));
      if (opts.json) ctx.out.json(matrixJson(matrix));
      else ctx.out.line(renderMatrixText(matrix, { notes: Boolean(opts.notes) }).trimEnd());
    });
}
