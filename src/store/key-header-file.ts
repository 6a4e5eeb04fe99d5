import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { KeywardError } from "../core/errors.js";
import type { KeyHeader } from "../crypto/envelope.js";
import { assertPrivateDir, assertPrivateFile, replaceFileAtomic, writeNew } from "./fsperm.js";

export const KEY_HEADER_FILE = "key-header.json";

/**
 * The master key's header kept in the keyward home as `key-header.json` (0600), for stores that
 * keep none beside their data: the managers (Vault, AWS, GCP) encrypt server-side, but keyward's
 * own access log is still sealed under the master key. It holds no key: salts, KDF parameters
 * and a check value (src/crypto/envelope.ts).
 */
export class KeyHeaderFile {
  private constructor(
    private readonly path: string,
    private header: KeyHeader,
  ) {}

  static read(home: string): KeyHeader | undefined {
    const path = join(home, KEY_HEADER_FILE);
    if (!existsSync(path)) return undefined;
    assertPrivateDir(home);
    assertPrivateFile(path);
    try {
      const header = JSON.parse(readFileSync(path, "utf8")) as KeyHeader;
      if (header.v !== 1 || typeof header.check !== "string") throw new Error("shape");
      return header;
    } catch {
      throw new KeywardError(
        "corrupt_store",
        `${path} is not a keyward key header`,
        "restore it from a backup; without it the access log cannot be opened",
      );
    }
  }

  /** Writes a new header file; refuses when one is there (two inits never both succeed). */
  static create(home: string, header: KeyHeader): KeyHeaderFile {
    const path = join(home, KEY_HEADER_FILE);
    try {
      writeNew(path, `${JSON.stringify(header, null, 2)}\n`, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") {
        throw new KeywardError(
          "already_initialized",
          `a keyward home already exists in ${home}`,
          "use it as it is, or `keyward rekey` to change its master key",
        );
      }
      throw e;
    }
    return new KeyHeaderFile(path, header);
  }

  static open(home: string): KeyHeaderFile | undefined {
    const header = KeyHeaderFile.read(home);
    return header === undefined
      ? undefined
      : new KeyHeaderFile(join(home, KEY_HEADER_FILE), header);
  }

  keyHeader(): KeyHeader {
    return this.header;
  }

  /** Replaces the header atomically: there are no data keys here to rewrap. */
  async rekey(newHeader: KeyHeader): Promise<number> {
    replaceFileAtomic(this.path, `${JSON.stringify(newHeader, null, 2)}\n`);
    this.header = newHeader;
    return 0;
  }
}
