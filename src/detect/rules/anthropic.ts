import type { TokenRule } from "../types.js";
import { tokenPattern, URL_SAFE } from "./boundary.js";
import { exampleChars, URL_SAFE_CHARS } from "./examples.js";

// The prefix is assembled at run time so no token-shaped literal sits in this file.
const ANT = "sk-ant-";
const apiKey = `${ANT}api03-${exampleChars("anthropic/api", 93, URL_SAFE_CHARS)}AA`;
const adminKey = `${ANT}admin01-${exampleChars("anthropic/admin", 93, URL_SAFE_CHARS)}AA`;

export const anthropicRules: TokenRule[] = [
  {
    id: "anthropic-api-key",
    title: "Anthropic API key",
    provider: "anthropic",
    category: "api-key",
    // 108 chars with the constant "AA" tail (gitleaks); api0N covers older and newer versions (secretlint).
    pattern: tokenPattern("sk-ant-api0[0-9]-[A-Za-z0-9_-]{93}AA", URL_SAFE),
    secretGroup: 0,
    keywords: ["sk-ant-api0"],
    entropy: 3.5,
    truePositives: [`ANTHROPIC_API_KEY=${apiKey}`, `{"x-api-key":"${apiKey}"}`],
    falsePositives: [
      `ANTHROPIC_API_KEY=${apiKey.slice(0, -2)}AB`,
      `ANTHROPIC_API_KEY=${apiKey}A`,
      `ANTHROPIC_API_KEY=${ANT}api03-...`,
    ],
  },
  {
    id: "anthropic-admin-key",
    title: "Anthropic Admin API key",
    provider: "anthropic",
    category: "api-key",
    pattern: tokenPattern("sk-ant-admin01-[A-Za-z0-9_-]{93}AA", URL_SAFE),
    secretGroup: 0,
    keywords: ["sk-ant-admin01-"],
    entropy: 3.5,
    truePositives: [`ANTHROPIC_ADMIN_KEY=${adminKey}`],
    falsePositives: [`ANTHROPIC_ADMIN_KEY=${ANT}admin01-${"x".repeat(93)}AA`],
  },
];
