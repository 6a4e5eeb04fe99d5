/**
 * Every analyzer `keyward audit` runs. Adding one is one file (src/scan/analyzers/<name>.ts or
 * src/scan/flow/<language>.ts, exporting an Analyzer) and one line here; the orchestrator
 * (audit.ts) and the reporters need no change.
 */
import { readdirSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { configAnalyzers } from "./analyzers/config-index.js";
import { secretsAnalyzer } from "./analyzers/secrets.js";
import type { AnyAnalyzer } from "./file-pass.js";
import { createFlowTreeAnalyzers } from "./flow/index.js";
import { type DirectoryListings, readSourceSync } from "./walk.js";

/** Files the flow analyzers read to follow imports are held to the walker's own size limit. */
const MAX_IMPORTED_FILE_BYTES = 1024 * 1024;

/** `listings`: directories the audit's walk read already (filled as it walks). */
export function analyzersFor(root: string, listings?: DirectoryListings): AnyAnalyzer[] {
  const files = new DirectoryFiles(root, listings);
  // A root that is a file is audited under its base name; it imports nothing of the audit.
  const single = isFile(root) ? basename(root) : undefined;
  return [
    // Literal credentials in any text file: token formats (src/detect) and the keyword detector.
    secretsAnalyzer,
    // MCP client configs, .env files, Dockerfiles, workflows, docs.
    ...configAnalyzers,
    // Credential flow in TS/JS and Python; imports are followed within the audited tree. Files
    // are read (and decoded) as the walker reads them, so a file has one text whichever reads it.
    ...createFlowTreeAnalyzers({
      readFile: (path) => {
        if (single === undefined ? !files.has(path) : path !== single) return undefined;
        const read = readSourceSync(
          root,
          single === undefined ? path : "",
          MAX_IMPORTED_FILE_BYTES,
        );
        return read.kind === "file" ? read.file.text : undefined;
      },
      filesIn: (dir) => (single === undefined ? files.filesIn(dir) : NO_FILES),
    }),
  ];
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

/**
 * Which regular files exist, from one listing per directory: resolving an import tries up to a
 * dozen names (`./x` → x.ts, x.tsx, x.mts, x.js, x/index.ts…), most of which do not exist, and a
 * failed lookup per name cost more than the parsing it guards. A directory is listed only when
 * its parent's listing has it, so candidates under directories that do not exist (`x.js/index.ts`)
 * cost no system call, and no failed one.
 */
class DirectoryFiles {
  private readonly listings = new Map<string, Listing>();

  constructor(
    private readonly root: string,
    /** listings read by the walk: a directory in them is not read again */
    private readonly walked: DirectoryListings = new Map(),
  ) {}

  has(candidate: string): boolean {
    if (candidate.startsWith("/")) return false;
    const slash = candidate.lastIndexOf("/");
    return this.filesIn(slash === -1 ? "" : candidate.slice(0, slash)).has(
      candidate.slice(slash + 1),
    );
  }

  /** The regular files in a root-relative directory, by name. */
  filesIn(dir: string): ReadonlySet<string> {
    // `./index.ts` is what resolving `.` from a file at the root gives.
    const path = dir === "." ? "" : dir.startsWith("./") ? dir.slice(2) : dir;
    // An import that climbs out of the audited root names a file the user did not ask about.
    if (path === ".." || path.startsWith("../") || path.startsWith("/")) return NO_FILES;
    return this.listing(path).files;
  }

  private listing(dir: string): Listing {
    let listing = this.listings.get(dir) ?? this.walked.get(dir);
    if (listing !== undefined) return listing;
    listing = EMPTY;
    const slash = dir.lastIndexOf("/");
    const parent = slash === -1 ? "" : dir.slice(0, slash);
    if (dir === "" || this.listing(parent).dirs.has(dir.slice(slash + 1))) {
      try {
        const entries = readdirSync(join(this.root, dir), { withFileTypes: true });
        listing = {
          files: new Set(entries.filter((entry) => entry.isFile()).map((entry) => entry.name)),
          dirs: new Set(entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name)),
        };
      } catch {
        // unreadable: nothing in it can be imported
      }
    }
    this.listings.set(dir, listing);
    return listing;
  }
}

interface Listing {
  files: ReadonlySet<string>;
  dirs: ReadonlySet<string>;
}

const NO_FILES: ReadonlySet<string> = new Set();
const EMPTY: Listing = { files: NO_FILES, dirs: new Set() };
