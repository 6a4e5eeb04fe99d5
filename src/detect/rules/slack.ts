import type { TokenRule } from "../types.js";
import { TOKEN_START, tokenPattern } from "./boundary.js";
import { DIGITS, exampleChars, HEX } from "./examples.js";

// Prefixes are assembled at run time so no token-shaped literal sits in this file.
const XOX = "xox";
const team = exampleChars("slack/team", 11, DIGITS);
const bot = `${XOX}b-${team}-${exampleChars("slack/bot", 12, DIGITS)}-${exampleChars("slack/bot-secret", 24)}`;
const user = `${XOX}p-${team}-${exampleChars("slack/user", 12, DIGITS)}-${exampleChars("slack/user2", 13, DIGITS)}-${exampleChars("slack/user-secret", 32, HEX)}`;
const app = `xapp-1-A${exampleChars("slack/app-id", 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")}-${exampleChars("slack/app-n", 13, DIGITS)}-${exampleChars("slack/app-secret", 64, HEX)}`;
const webhook = `https://hooks.slack.com/services/T${exampleChars("slack/hook-t", 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")}/B${exampleChars("slack/hook-b", 10, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")}/${exampleChars("slack/hook-secret", 24)}`;

export const slackRules: TokenRule[] = [
  {
    id: "slack-bot-token",
    title: "Slack bot token",
    provider: "slack",
    category: "token",
    pattern: tokenPattern("xoxb-[0-9]{10,13}-[0-9]{10,13}-[A-Za-z0-9]{24,34}", "[A-Za-z0-9-]"),
    secretGroup: 0,
    keywords: ["xoxb-"],
    entropy: 3,
    truePositives: [`SLACK_BOT_TOKEN=${bot}`, `{"token":"${bot}"}`],
    falsePositives: [
      "SLACK_BOT_TOKEN=xoxb-xxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxx",
      `SLACK_BOT_TOKEN=${XOX}b-1234567890-1234567890-${"a".repeat(24)}`,
      "SLACK_BOT_TOKEN=xoxb-your-bot-token",
    ],
  },
  {
    id: "slack-user-token",
    title: "Slack user token",
    provider: "slack",
    category: "token",
    pattern: tokenPattern("xox[pe](?:-[0-9]{10,13}){3}-[A-Za-z0-9-]{28,34}", "[A-Za-z0-9-]"),
    secretGroup: 0,
    keywords: ["xoxp-", "xoxe-"],
    entropy: 3,
    truePositives: [`SLACK_USER_TOKEN=${user}`],
    falsePositives: [
      "SLACK_USER_TOKEN=xoxp-xxxxxxxxxxx-xxxxxxxxxxxx-xxxxxxxxxxxxx-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
      `SLACK_USER_TOKEN=${user.slice(0, 40)}`,
    ],
  },
  {
    id: "slack-app-token",
    title: "Slack app-level token",
    provider: "slack",
    category: "token",
    pattern: tokenPattern(
      "xapp-[0-9]-[A-Z0-9]{1,20}-[0-9]{1,20}-[A-Za-z0-9]{32,128}",
      "[A-Za-z0-9-]",
    ),
    secretGroup: 0,
    keywords: ["xapp-"],
    entropy: 3,
    truePositives: [`SLACK_APP_TOKEN=${app}`],
    falsePositives: [
      "SLACK_APP_TOKEN=xapp-1-A0000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ],
  },
  {
    id: "slack-webhook-url",
    title: "Slack incoming webhook URL",
    provider: "slack",
    category: "url-credential",
    pattern: new RegExp(
      `${TOKEN_START}(?:https?://)?hooks\\.slack\\.com/(?:services|workflows|triggers)/[A-Za-z0-9+/]{43,56}(?![A-Za-z0-9+/])`,
      "g",
    ),
    secretGroup: 0,
    keywords: ["hooks.slack.com"],
    entropy: 3.5,
    truePositives: [`SLACK_WEBHOOK=${webhook}`, `curl -X POST ${webhook} -d '{}'`],
    falsePositives: [
      "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX",
      "see https://hooks.slack.com/services/ for details",
    ],
  },
];
