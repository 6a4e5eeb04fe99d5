import { atlassianChecksum, validateAtlassianToken } from "../checksum.js";
import type { TokenRule } from "../types.js";
import { TOKEN_START } from "./boundary.js";
import { exampleChars } from "./examples.js";

/** One token character, or `=` escaped as `\=` or `%3D` (unescaped before the checksum). */
const TOKEN_CHAR = String.raw`(?:[A-Za-z0-9_=-]|%3[dD]|\\=)`;
const END = "(?![A-Za-z0-9_=-])";

function atlassianPattern(prefix: string, min: number, max: number): RegExp {
  return new RegExp(`${TOKEN_START}${prefix}${TOKEN_CHAR}{${min},${max}}${END}`, "g");
}

// Prefixes are assembled at run time so no token-shaped literal sits in this file.
const apiHead = `AT${"ATT3"}${exampleChars("atlassian-api-token", 177)}=`;
const apiToken = apiHead + atlassianChecksum(apiHead);
const bitbucketHead = `AT${"BB"}${exampleChars("bitbucket-app-password", 24)}`;
const bitbucketToken = bitbucketHead + atlassianChecksum(bitbucketHead);

export const atlassianRules: TokenRule[] = [
  {
    id: "atlassian-api-token",
    title: "Atlassian API token",
    provider: "atlassian",
    category: "api-key",
    // Seen publicly at 192 chars (ATATT3 + 186); Atlassian says lengths vary, and the CRC-32 tail
    // keeps a wider range precise.
    pattern: atlassianPattern("ATATT3", 150, 300),
    secretGroup: 0,
    validate: validateAtlassianToken,
    keywords: ["atatt3"],
    truePositives: [
      `JIRA_API_TOKEN=${apiToken}`,
      `jira.token=${apiToken.replace("=", "\\=")}`,
      `https://api.example.test/?token=${apiToken.replace("=", "%3D")}`,
    ],
    falsePositives: [`JIRA_API_TOKEN=${apiHead}00000000`, `JIRA_API_TOKEN=${apiHead.slice(0, 40)}`],
  },
  {
    id: "bitbucket-app-password",
    title: "Bitbucket app password",
    provider: "bitbucket",
    category: "api-key",
    pattern: atlassianPattern("ATBB", 24, 120),
    secretGroup: 0,
    validate: validateAtlassianToken,
    keywords: ["atbb"],
    truePositives: [`BITBUCKET_APP_PASSWORD=${bitbucketToken}`, `"password": "${bitbucketToken}"`],
    falsePositives: [
      `BITBUCKET_APP_PASSWORD=${bitbucketHead}FFFFFFFF`,
      `BITBUCKET_APP_PASSWORD=${bitbucketToken}0`,
      "ATBBXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    ],
  },
];
