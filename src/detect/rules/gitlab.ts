import type { TokenRule } from "../types.js";
import { tokenPattern, URL_SAFE } from "./boundary.js";
import { exampleChars, URL_SAFE_CHARS } from "./examples.js";

const token = `glpat-${exampleChars("gitlab-pat", 20, URL_SAFE_CHARS)}`;

export const gitlabRules: TokenRule[] = [
  {
    id: "gitlab-pat",
    title: "GitLab personal access token",
    provider: "gitlab",
    category: "token",
    pattern: tokenPattern("glpat-[0-9A-Za-z_-]{20}", URL_SAFE),
    secretGroup: 0,
    keywords: ["glpat-"],
    entropy: 3,
    truePositives: [`GITLAB_TOKEN=${token}`, `PRIVATE-TOKEN: ${token}\r\n`],
    falsePositives: [
      "GITLAB_TOKEN=glpat-xxxxxxxxxxxxxxxxxxxx",
      `GITLAB_TOKEN=${token}abc`,
      "GITLAB_TOKEN=glpat-<your-token-here>",
    ],
  },
];
