/**
 * Writes adopted profiles into keyward.yaml with the yaml package's Document API, so comments,
 * key order and everything else in the file survive. The result is checked against the config
 * schema before it is written; keyward.json files are written back as JSON.
 */
import { existsSync, readFileSync } from "node:fs";
import { Document, isSeq, parseDocument, visit } from "yaml";
import { CONFIG_VERSION, ConfigSchema } from "../config/schema.js";
import { KeywardError } from "../core/errors.js";
import { replaceFileAtomic } from "../store/fsperm.js";
import type { AdoptProfiles, ProfileInput } from "./types.js";

export class ProfilesFile implements AdoptProfiles {
  private constructor(
    readonly path: string,
    private readonly doc: Document,
  ) {}

  /** Opens the config file, or starts a new one (`version: 1`) when it does not exist. */
  static open(path: string): ProfilesFile {
    if (!existsSync(path)) {
      return new ProfilesFile(path, new Document({ version: CONFIG_VERSION, profiles: {} }));
    }
    const doc = parseDocument(readFileSync(path, "utf8"));
    if (doc.errors.length > 0) {
      throw new KeywardError(
        "config_invalid",
        `${path} is not valid YAML; no profile was written`,
        "fix it (keyward status shows where) and run keyward adopt again",
      );
    }
    return new ProfilesFile(path, doc);
  }

  upsert(name: string, profile: ProfileInput): void {
    const node = this.doc.createNode(profile);
    // Lists read best on one line: args: [run, -i, --rm, …]
    visit(node, {
      Seq(_, seq) {
        if (isSeq(seq)) seq.flow = true;
      },
    });
    this.doc.setIn(["profiles", name], node);
  }

  save(): void {
    const parsed = ConfigSchema.safeParse(this.doc.toJS());
    if (!parsed.success) {
      const where = parsed.error.issues.map((i) => i.path.join(".")).join(", ");
      throw new KeywardError(
        "config_invalid",
        `the profiles adopt would write leave ${this.path} invalid at ${where}; nothing was written`,
        "fix the config file (keyward status shows the problems) and run keyward adopt again",
      );
    }
    const text = this.path.endsWith(".json")
      ? `${JSON.stringify(this.doc.toJS(), null, 2)}\n`
      : this.doc.toString();
    replaceFileAtomic(this.path, text, 0o644);
  }
}
