/**
 * The capability matrix `keyward providers` prints: one row per provider and key kind, one
 * column per capability, as a text table or JSON. Pure: the CLI passes the registry's infos and
 * prints the result through its output layer.
 */
import { CAPABILITIES, type Capability, type ProviderInfo, type Support } from "./types.js";

export interface MatrixKind {
  kind: string;
  /** Every capability, "no" where the provider does not mention it. */
  capabilities: Record<Capability, Support>;
}

export interface MatrixProvider {
  id: string;
  title: string;
  kinds: MatrixKind[];
  manualRotation: string[];
}

/** Column headings: short, so the table fits 100 columns. */
const HEADINGS: Record<Capability, string> = {
  identify: "IDENTIFY",
  "introspect-scope": "SCOPE",
  "introspect-expiry": "EXPIRY",
  verify: "VERIFY",
  mint: "MINT",
  rotate: "ROTATE",
  revoke: "REVOKE",
};

export function capabilityMatrix(infos: readonly ProviderInfo[]): MatrixProvider[] {
  return infos.map((info) => ({
    id: info.id,
    title: info.title,
    kinds: Object.entries(info.capabilities).map(([kind, support]) => ({
      kind,
      capabilities: Object.fromEntries(
        CAPABILITIES.map((c) => [c, support[c] ?? { level: "no" }]),
      ) as Record<Capability, Support>,
    })),
    manualRotation: info.manualRotation ?? [],
  }));
}

/** The `--json` shape: `{ providers: MatrixProvider[] }`. */
export function matrixJson(matrix: readonly MatrixProvider[]): { providers: MatrixProvider[] } {
  return { providers: [...matrix] };
}

/** The table, then (with `notes`) each row's caveats and the provider's manual rotation steps. */
export function renderMatrixText(
  matrix: readonly MatrixProvider[],
  options: { notes?: boolean } = {},
): string {
  const header = ["PROVIDER", "KEY KIND", ...CAPABILITIES.map((c) => HEADINGS[c])];
  const rows = matrix.flatMap((provider) =>
    provider.kinds.map((k) => [
      provider.id,
      k.kind,
      ...CAPABILITIES.map((c) => k.capabilities[c].level),
    ]),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [line(header), ...rows.map(line)];
  if (!options.notes) {
    out.push("", "Caveats and manual rotation steps: keyward providers --notes (or --json).");
    return `${out.join("\n")}\n`;
  }
  for (const provider of matrix) {
    out.push("", `${provider.title} (${provider.id})`);
    for (const k of provider.kinds) {
      const noted = CAPABILITIES.filter((c) => k.capabilities[c].note !== undefined);
      if (noted.length === 0) continue;
      out.push(`  ${k.kind}`);
      for (const c of noted)
        out.push(`    ${c}: ${k.capabilities[c].level} (${k.capabilities[c].note})`);
    }
    if (provider.manualRotation.length > 0) {
      out.push("  manual rotation:");
      provider.manualRotation.forEach((step, i) => {
        out.push(`    ${i + 1}. ${step}`);
      });
    }
  }
  return `${out.join("\n")}\n`;
}
