import { awsAccountId } from "../checksum.js";
import type { TokenRule, Validation } from "../types.js";
import { TOKEN_START, tokenPattern } from "./boundary.js";
import { BASE64_CHARS, exampleChars, UPPER_BASE32 } from "./examples.js";

// Prefixes are assembled at run time so no token-shaped literal sits in this file.
const AK = "AK";
const keyId = `${AK}IA${exampleChars("aws/key-id", 16, UPPER_BASE32)}`;
const sessionKeyId = `AS${"IA"}${exampleChars("aws/session-key-id", 16, UPPER_BASE32)}`;
const documentedExample = `${AK}IAIOSFODNN7EXAMPLE`;
const secretKey = exampleChars("aws/secret", 40, BASE64_CHARS);
const bedrockLong = `ABSK${exampleChars("aws/bedrock", 132, BASE64_CHARS)}`;
const bedrockShort = `bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t${exampleChars("aws/bedrock-short", 600, BASE64_CHARS)}`;

/** The 16 chars after the type prefix are base32 and decode to an account id; there is no checksum to fail. */
function validateKeyId(secret: string): Validation {
  return awsAccountId(secret) === undefined ? "invalid" : "unknown";
}

export const awsRules: TokenRule[] = [
  {
    id: "aws-access-key-id",
    title: "AWS access key ID",
    provider: "aws",
    category: "cloud-key",
    // Only prefixes that carry credentials; AIDA/AROA/ANPA… name users, roles and policies.
    pattern: tokenPattern("(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}", "[A-Za-z0-9]"),
    secretGroup: 0,
    validate: validateKeyId,
    keywords: ["akia", "asia", "abia", "acca", "a3t"],
    entropy: 3,
    truePositives: [`aws_access_key_id = ${keyId}`, `"AccessKeyId": "${sessionKeyId}"`],
    falsePositives: [
      `aws_access_key_id = ${documentedExample}`,
      `"RoleId": "AROA${exampleChars("aws/role-id", 16, UPPER_BASE32)}"`,
      `aws_access_key_id = ${AK}IA${"X".repeat(16)}`,
      `${keyId}Z`,
    ],
  },
  {
    id: "aws-secret-access-key",
    title: "AWS secret access key",
    provider: "aws",
    category: "cloud-key",
    // 40 base64 chars carry no prefix, so only an explicit secret-access-key assignment counts
    // (git-secrets' keyed form, narrowed to names that say "secret access key").
    pattern:
      /secret[_.-]?access[_.-]?key(?:\\?["'])?[ \t]{0,8}(?::|=>|=)[ \t]{0,8}(?:\\?["'])?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/gi,
    secretGroup: 1,
    keywords: ["secret_access_key", "secretaccesskey", "secret-access-key", "secret.access.key"],
    entropy: 3.5,
    truePositives: [
      `aws_secret_access_key = ${secretKey}`,
      `AWS_SECRET_ACCESS_KEY="${secretKey}"`,
      `{"SecretAccessKey": "${secretKey}"}`,
      `"{\\"secretAccessKey\\":\\"${secretKey}\\"}"`,
    ],
    falsePositives: [
      "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      `some_key = ${secretKey}`,
      `aws_secret_access_key = ${"A".repeat(40)}`,
      `aws_secret_access_key = ${secretKey}xyz`,
    ],
  },
  {
    id: "aws-bedrock-api-key",
    title: "Amazon Bedrock long-term API key",
    provider: "aws",
    category: "cloud-key",
    pattern: new RegExp(`${TOKEN_START}ABSK[A-Za-z0-9+/]{109,1024}={0,2}(?![A-Za-z0-9+/=])`, "g"),
    secretGroup: 0,
    keywords: ["absk"],
    entropy: 4,
    truePositives: [`AWS_BEARER_TOKEN_BEDROCK=${bedrockLong}`],
    falsePositives: [
      `AWS_BEARER_TOKEN_BEDROCK=ABSK${"A".repeat(120)}`,
      // inside a longer base64 blob
      `data:image/png;base64,iVBOR${bedrockLong}`,
    ],
  },
  {
    id: "aws-bedrock-short-term-api-key",
    title: "Amazon Bedrock short-term API key",
    provider: "aws",
    category: "cloud-key",
    // base64("bedrock.amazonaws.com") follows the fixed prefix; the rest is a presigned request.
    pattern: new RegExp(
      `${TOKEN_START}bedrock-api-key-YmVkcm9jay5hbWF6b25hd3MuY29t[A-Za-z0-9+/]{20,8192}={0,2}(?![A-Za-z0-9+/=])`,
      "g",
    ),
    secretGroup: 0,
    keywords: ["bedrock-api-key-"],
    truePositives: [`AWS_BEARER_TOKEN_BEDROCK=${bedrockShort}`],
    falsePositives: ["AWS_BEARER_TOKEN_BEDROCK=bedrock-api-key-<token>"],
  },
];
