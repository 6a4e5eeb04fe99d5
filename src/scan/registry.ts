/**
 * Every analyzer `keyward audit` runs. Adding one is one file (src/scan/analyzers/<name>.ts or
 * src/scan/flow/<language>.ts, exporting an Analyzer) and one line here; the orchestrator
 * (audit.ts) and the reporters need no change.
 */
import { readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { configAnalyzers } from "./analyzers/config-index.js";
import { secretsAnalyzer } from "./analyzers/secrets.js";
import { createFlowAnalyzers } from "./flow/index.js";
import type { Analyzer } from "./types.js";

/** Files the flow analyzers read to follow imports are held to the walker's own size limit. */
const MAX_IMPORTED_FILE_BYTES = 1024 * 1024;

export function analyzersFor(root: string): Analyzer[] {
  return [
    // Literal credentials in any text file: token formats (src/detect) and the keyword detector.
    secretsAnalyzer,
    // MCP client configs, .env files, Dockerfiles, workflows, docs.
    ...configAnalyzers,
    // Credential flow in TS/JS and Python; imports are followed within the audited tree.
    ...createFlowAnalyzers({
      readFile: (path) => {
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
