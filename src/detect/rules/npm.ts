import { validateClassicToken, withClassicChecksum } from "../checksum.js";
import type { TokenRule } from "../types.js";
import { tokenPattern } from "./boundary.js";
import { exampleChars } from "./examples.js";

const token = withClassicChecksum("npm_", exampleChars("npm-access-token", 30));

export const npmRules: TokenRule[] = [
  {
    id: "npm-access-token",
    title: "npm access token",
    provider: "npm",
    category: "token",
    // Same layout and CRC-32 base62 checksum as GitHub's classic tokens.
    pattern: tokenPattern("npm_[0-9A-Za-z]{36}"),
    secretGroup: 0,
    validate: validateClassicToken,
    keywords: ["npm_"],
    truePositives: [`//registry.npmjs.org/:_authToken=${token}`, `NPM_TOKEN: "${token}"`],
    falsePositives: [
      `//registry.npmjs.org/:_authToken=${token.slice(0, -2)}zz`,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a literal ${VAR} reference is the example
      "//registry.npmjs.org/:_authToken=${NPM_TOKEN}",
      `NPM_TOKEN=npm_${"0".repeat(36)}`,
    ],
  },
];
