/**
 * Test support: the client config fixtures under src/mcp/clients/fixtures/<client>/<case>/.
 * Each case folder holds `input.json` (the file as the client writes it), `case.json` (where it
 * lives, which token goes where, what adopt should decide), and the expected results
 * `expected.json` (the file after adopt) and `profiles.json`. Adding a case is adding a folder.
 * The folder's biome.json keeps the formatter away: these files must stay byte for byte as the
 * clients write them.
 *
 * Token values are written as `@@NAME@@` markers and built at run time from a label, so no
 * token-shaped literal (let alone a checksum-valid one) is ever committed.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { withClassicChecksum } from "../../detect/checksum.js";
import { DIGITS, exampleChars, HEX } from "../../detect/rules/examples.js";
import type { ClientId } from "./types.js";

export interface FixtureCase {
  client: ClientId;
  name: string;
  dir: string;
  description: string;
  /** `home:<path>` or `cwd:<path>`: where the file goes */
  file: string;
  platform: NodeJS.Platform;
  /** marker → kind of value to build */
  secrets: Record<string, string>;
  /** server name → expected action (a list when the name occurs more than once) */
  servers: Record<string, string | string[]>;
  /** substrings each expected among the plan's warnings */
  warnings?: string[];
  input: string;
  /** undefined until recorded */
  expected?: string;
  profiles?: Record<string, unknown>;
}

/** The checkout root: src/mcp/clients under tsx, dist/src/mcp/clients when compiled. */
function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json not found above the fixtures module");
    dir = parent;
  }
  return dir;
}

export const FIXTURES_DIR = join(repoRoot(), "src", "mcp", "clients", "fixtures");

export function fixtureCases(): FixtureCase[] {
  const cases: FixtureCase[] = [];
  const folders = (dir: string) =>
    readdirSync(dir, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name)
      .sort();
  for (const client of folders(FIXTURES_DIR)) {
    for (const name of folders(join(FIXTURES_DIR, client))) {
      const dir = join(FIXTURES_DIR, client, name);
      const read = (file: string) =>
        existsSync(join(dir, file)) ? readFileSync(join(dir, file), "utf8") : undefined;
      const meta = JSON.parse(read("case.json") ?? "{}") as Omit<
        FixtureCase,
        "client" | "name" | "dir" | "input"
      >;
      const profiles = read("profiles.json");
      const expected = read("expected.json");
      const found: FixtureCase = {
        ...meta,
        client: client as ClientId,
        name,
        dir,
        input: read("input.json") ?? "",
      };
      if (expected !== undefined) found.expected = expected;
      if (profiles !== undefined) found.profiles = JSON.parse(profiles) as Record<string, unknown>;
      cases.push(found);
    }
  }
  return cases;
}

const GH = "gh";

function build(kind: string, label: string): string {
  switch (kind) {
    case "github-classic":
      return withClassicChecksum(`${GH}p_`, exampleChars(label, 30));
    case "github-fine-grained":
      return `github_pat_11${exampleChars(`${label}/a`, 20)}_${exampleChars(`${label}/b`, 59)}`;
    case "slack-bot":
      return `xox${"b"}-${exampleChars(`${label}/a`, 12, DIGITS)}-${exampleChars(`${label}/b`, 13, DIGITS)}-${exampleChars(`${label}/c`, 24)}`;
    case "gitlab":
      return `glpat-${exampleChars(label, 20)}`;
    case "uuid": {
      const h = exampleChars(label, 32, HEX);
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20)}`;
    }
    case "opaque":
      return exampleChars(label, 40);
    default:
      throw new Error(`unknown fixture secret kind ${kind}`);
  }
}

/** The value behind each marker of a case. */
export function fixtureValues(c: FixtureCase): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [marker, kind] of Object.entries(c.secrets)) {
    values[marker] = build(kind, `adopt-fixture/${c.client}/${c.name}/${marker}`);
  }
  return values;
}

/** Replaces `@@NAME@@` markers with their values. */
export function fillMarkers(text: string, values: Record<string, string>): string {
  return text.replace(/@@([A-Z0-9_]+)@@/g, (whole, marker: string) => values[marker] ?? whole);
}
