import { validateClassicToken, withClassicChecksum } from "../checksum.js";
import type { TokenRule } from "../types.js";
import { TOKEN_START, tokenPattern } from "./boundary.js";
import { exampleChars, URL_SAFE_CHARS } from "./examples.js";
import { validateJwt } from "./jwt.js";

// Prefixes are assembled from GH so no token-shaped literal sits in this file (repository hook).
const GH = "gh";

function classicRule(id: string, title: string, prefix: string): TokenRule {
  const token = withClassicChecksum(prefix, exampleChars(id, 30));
  const lastChar = token.endsWith("0") ? "1" : "0";
  return {
    id,
    title,
    provider: "github",
    category: "token",
    pattern: tokenPattern(`${prefix}[0-9A-Za-z]{36}`),
    secretGroup: 0,
    validate: validateClassicToken,
    keywords: [prefix],
    truePositives: [
      `GITHUB_TOKEN=${token}`,
      `{"headers":{"Authorization":"Bearer ${token}"}}`,
      `"env": "line one\\n${token}\\n"`,
      `https://x-access-token:${token}@github.com/acme/repo.git`,
    ],
    falsePositives: [
      // checksum fails: a typo, a fake or a hand-edited value
      `GITHUB_TOKEN=${token.slice(0, -1)}${lastChar}`,
      // one character too long for the classic format
      `GITHUB_TOKEN=${token}A`,
      `GITHUB_TOKEN=${prefix}${"x".repeat(36)}`,
      `my${token}`,
    ],
  };
}

const fineGrained = `github_pat_11${exampleChars("github-fine-grained-pat/a", 20)}_${exampleChars("github-fine-grained-pat/b", 59)}`;

const appHeader = Buffer.from(JSON.stringify({ alg: "RS256", typ: "JWT" })).toString("base64url");
const appPayload = Buffer.from(
  JSON.stringify({ iss: "12345", iat: 1767225600, exp: 1767229200, sub: "installation" }),
).toString("base64url");
const appToken = `${GH}s_123456_${appHeader}.${appPayload}.${exampleChars("github-app-installation-token", 342, URL_SAFE_CHARS)}`;

export const githubRules: TokenRule[] = [
  classicRule("github-pat", "GitHub personal access token (classic)", `${GH}p_`),
  classicRule("github-oauth-token", "GitHub OAuth access token", `${GH}o_`),
  classicRule("github-user-to-server-token", "GitHub App user access token", `${GH}u_`),
  classicRule(
    "github-server-to-server-token",
    "GitHub App installation token (classic)",
    `${GH}s_`,
  ),
  classicRule("github-refresh-token", "GitHub App refresh token", `${GH}r_`),
  {
    id: "github-fine-grained-pat",
    title: "GitHub fine-grained personal access token",
    provider: "github",
    category: "token",
    // 93 chars: github_pat_ + 22 + _ + 59. GitHub documents no checksum, so shape only.
    pattern: tokenPattern("github_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}"),
    secretGroup: 0,
    keywords: ["github_pat_"],
    entropy: 4,
    truePositives: [`GH_TOKEN="${fineGrained}"`, `token: ${fineGrained}\n`],
    falsePositives: [
      `GH_TOKEN="github_pat_11${"X".repeat(20)}_${"X".repeat(59)}"`,
      `GH_TOKEN="${fineGrained}0"`,
      `GH_TOKEN="github_pat_<your-token>"`,
    ],
  },
  {
    id: "github-app-installation-token",
    title: "GitHub App installation token (JWT format)",
    provider: "github",
    category: "token",
    // Rolled out from 2026-04: ghs_<app id>_<JWT>, about 520 chars (secretlint's shape).
    pattern: new RegExp(
      `${TOKEN_START}ghs_[0-9]{1,20}_ey[A-Za-z0-9_-]{10,2000}\\.[A-Za-z0-9_-]{10,4000}\\.[A-Za-z0-9_-]{10,2000}(?![A-Za-z0-9_-])`,
      "g",
    ),
    secretGroup: 0,
    // The embedded JWT's layout is not documented; a decodable one confirms it, anything else stays unknown.
    validate: (secret) =>
      validateJwt(secret.slice(secret.indexOf("_ey") + 1)) === "valid" ? "valid" : "unknown",
    keywords: ["ghs_"],
    truePositives: [`GITHUB_TOKEN=${appToken}`],
    falsePositives: [`GITHUB_TOKEN=ghs_123456_eyJhbGciOi`, `ghs_123456_not.a.token`],
  },
];
