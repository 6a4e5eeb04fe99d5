/**
 * The rule registry. Adding a format = one rule file (or one entry in its family's file) + one line
 * here; src/detect/rules.test.ts then holds it to its own true- and false-positive examples.
 * Order matters only for ties: when two rules match the same span, scanText keeps the earlier one,
 * so specific token formats come before the generic URL-password rules.
 */
import type { TokenRule } from "../types.js";
import { anthropicRules } from "./anthropic.js";
import { atlassianRules } from "./atlassian.js";
import { awsRules } from "./aws.js";
import { connectionStringRules } from "./connection-string.js";
import { githubRules } from "./github.js";
import { gitlabRules } from "./gitlab.js";
import { googleRules } from "./google.js";
import { grafanaRules } from "./grafana.js";
import { jwtRules } from "./jwt.js";
import { npmRules } from "./npm.js";
import { openaiRules } from "./openai.js";
import { privateKeyRules } from "./private-key.js";
import { slackRules } from "./slack.js";
import { stripeRules } from "./stripe.js";

export const tokenRules: readonly TokenRule[] = [
  ...githubRules,
  ...npmRules,
  ...gitlabRules,
  ...grafanaRules,
  ...atlassianRules,
  ...slackRules,
  ...stripeRules,
  ...openaiRules,
  ...anthropicRules,
  ...awsRules,
  ...googleRules,
  ...privateKeyRules,
  ...jwtRules,
  ...connectionStringRules,
];

const byId = new Map(tokenRules.map((rule) => [rule.id, rule]));

export function getRule(id: string): TokenRule | undefined {
  return byId.get(id);
}
