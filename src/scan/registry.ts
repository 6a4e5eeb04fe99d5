/**
 * Every analyzer `keyward audit` runs. Adding one is one file (src/scan/analyzers/<name>.ts or
 * src/scan/flow/<language>.ts, exporting an Analyzer) and one line here; the orchestrator
 * (audit.ts) and the reporters need no change.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { configAnalyzers } from "./analyzers/config-index.js";
import { secretsAnalyzer } from "./analyzers/secrets.js";
import { createFlowAnalyzers } from "./flow/index.js";
import type { Analyzer } from "./types.js";

/** Files the flow analyzers read to follow imports are held to the walker's own size limit. */
const MAX_IMPORTED_FILE_BYTES = 1024 * 1024;

export function analyzersFor(root: string): Analyzer[] {
  const files = new DirectoryFiles(root);
  return [
    // Literal credentials in any text file: token formats (src/detect) and the keyword detector.
    secretsAnalyzer,
    // MCP client configs, .env files, Dockerfiles, workflows, docs.
    ...configAnalyzers,
    // Credential flow in TS/JS and Python; imports are followed within the audited tree.
    ...createFlowAnalyzers({
      readFile: (path) => {
        if (!files.has(path)) return undefined;
        try {
          const full = join(root, path);
          if (statSync(full).size > MAX_IMPORTED_FILE_BYTES) return undefined;
          return readFileSync(full, "utf8");
        } catch {
          return undefined;
        }
      },
    }),
  ];
}

/**
 * Which regular files exist, from one listing per directory: resolving an import tries up to a
 * dozen names (`./x` → x.ts, x.tsx, x.mts, x.js, x/index.ts…), most of which do not exist, and a
 * failed lookup per name cost more than the parsing it guards.
 */
class DirectoryFiles {
  private readonly listings = new Map<string, ReadonlySet<string>>();

  constructor(private readonly root: string) {}

  has(path: string): boolean {
    // An import that climbs out of the audited root names a file the user did not ask about.
    if (path === ".." || path.startsWith("../") || path.startsWith("/")) return false;
    const slash = path.lastIndexOf("/");
    const dir = slash === -1 ? "" : path.slice(0, slash);
    let names = this.listings.get(dir);
    if (names === undefined) {
      try {
        const entries = readdirSync(join(this.root, dir), { withFileTypes: true });
        names = new Set(entries.filter((entry) => entry.isFile()).map((entry) => entry.name));
      } catch {
        names = new Set();
      }
      this.listings.set(dir, names);
    }
    return names.has(path.slice(slash + 1));
  }
}
