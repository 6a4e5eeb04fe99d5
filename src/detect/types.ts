/** Offline verdict on a candidate: "valid" = its checksum or structure checks out, "invalid" = it fails them, "unknown" = the format carries nothing to check. */
export type Validation = "valid" | "invalid" | "unknown";

export type TokenCategory =
  | "token"
  | "api-key"
  | "private-key"
  | "cloud-key"
  | "jwt"
  | "password"
  | "url-credential"
  | "connection-string";

/**
 * One token format. Like a gitleaks rule, it carries its own examples: every true positive must be
 * found and no false positive may be (src/detect/rules.test.ts enforces it for every registered rule).
 */
export interface TokenRule {
  id: string;
  /** human name */
  title: string;
  provider: string;
  category: TokenCategory;
  /** a global, sticky-free regex for scanning text */
  pattern: RegExp;
  /** which capture group is the secret (0 = whole match) */
  secretGroup: number;
  /** offline validation where the format allows it: checksum etc. */
  validate?(secret: string): Validation;
  /** keywords, any of which must appear (lower-case) in the text for the rule to run — a cheap prefilter like gitleaks' keywords */
  keywords: string[];
  /**
   * Minimum Shannon entropy (bits per character) of the secret, gitleaks-style: a candidate at or
   * below it is dropped. Not applied to candidates whose validation is "valid".
   */
  entropy?: number;
  /**
   * True for a well-formed value that is no secret: public by design (a Supabase anon key, shipped
   * to every browser) or a published sample (jwt.io's example token). Dropped whatever its
   * validation.
   */
  notSecret?(secret: string): boolean;
  /** Whole secret values (compared case-insensitively) that are known defaults or samples, not leaks. */
  stopwords?: string[];
  /**
   * A literal every match holds once, and where a match holding an occurrence of it can start
   * (offsets in left-to-right order): the pattern is tried there only, as a sticky regex, instead
   * of at every offset of the text. The matches must be the ones the global pattern finds.
   */
  anchor?: { text: string; starts(text: string, at: number): readonly number[] };
  truePositives: string[];
  falsePositives: string[];
}

export interface TokenMatch {
  ruleId: string;
  /** UTF-16 offset of the secret span in the scanned text */
  start: number;
  /** end offset (exclusive) of the secret span */
  end: number;
  /** the secret span */
  secret: string;
  validation: Validation;
}
