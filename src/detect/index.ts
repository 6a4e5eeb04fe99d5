/** Token formats, checksums, entropy and placeholders: shared by the redaction engine's pattern layer and the audit scanner. */

export { isAlphanumeric, isLetter } from "./ascii.js";
export {
  atlassianChecksum,
  awsAccountId,
  classicChecksum,
  grafanaChecksum,
  validateAtlassianToken,
  validateClassicToken,
  validateGrafanaToken,
  withClassicChecksum,
} from "./checksum.js";
export { shannonEntropy } from "./entropy.js";
export { execAll } from "./exec-all.js";
export { KeywordLists, KeywordSearch, searchOnFirstUse, type WordHits } from "./keywords.js";
export { mask } from "./mask.js";
export { hasNonAscii, nonAsciiJudged, noteJudged } from "./non-ascii.js";
export { isPlaceholder } from "./placeholder.js";
export { getRule, tokenRules } from "./rules/index.js";
export { validateJwt } from "./rules/jwt.js";
export { validatePrivateKey } from "./rules/private-key.js";
export { keywordsInBytes, type ScanOptions, scanText } from "./scan.js";
export type { TokenCategory, TokenMatch, TokenRule, Validation } from "./types.js";
