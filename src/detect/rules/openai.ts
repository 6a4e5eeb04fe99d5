import type { TokenRule } from "../types.js";
import { tokenPattern, URL_SAFE } from "./boundary.js";
import { exampleChars, URL_SAFE_CHARS } from "./examples.js";

/** base64("OpenAI"): a fixed marker in the middle of every OpenAI key; the regex requires it in place. */
const MARKER = "T3BlbkFJ";

const project = `sk-proj-${exampleChars("openai/proj-a", 74, URL_SAFE_CHARS)}${MARKER}${exampleChars("openai/proj-b", 74, URL_SAFE_CHARS)}`;
const serviceAccount = `sk-svcacct-${exampleChars("openai/svc-a", 58, URL_SAFE_CHARS)}${MARKER}${exampleChars("openai/svc-b", 58, URL_SAFE_CHARS)}`;
const legacy = `sk-${exampleChars("openai/legacy-a", 20)}${MARKER}${exampleChars("openai/legacy-b", 20)}`;

export const openaiRules: TokenRule[] = [
  {
    id: "openai-api-key",
    title: "OpenAI API key",
    provider: "openai",
    category: "api-key",
    pattern: tokenPattern(
      `sk-(?:(?:proj|svcacct|admin)-(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})${MARKER}(?:[A-Za-z0-9_-]{74}|[A-Za-z0-9_-]{58})|[A-Za-z0-9]{20}${MARKER}[A-Za-z0-9]{20})`,
      URL_SAFE,
    ),
    secretGroup: 0,
    keywords: [MARKER.toLowerCase()],
    truePositives: [
      `OPENAI_API_KEY=${project}`,
      `{"apiKey":"${serviceAccount}"}`,
      `openai.api_key = '${legacy}'`,
    ],
    falsePositives: [
      // same length, no marker
      `OPENAI_API_KEY=sk-proj-${exampleChars("openai/fp", 156, URL_SAFE_CHARS)}`,
      // marker out of place
      `OPENAI_API_KEY=sk-${exampleChars("openai/fp2", 19)}${MARKER}${exampleChars("openai/fp3", 21)}`,
      "OPENAI_API_KEY=sk-...T3BlbkFJ...",
    ],
  },
];
