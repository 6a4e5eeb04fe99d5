import type { TokenRule } from "../types.js";
import { tokenPattern, URL_SAFE } from "./boundary.js";
import { exampleChars, URL_SAFE_CHARS } from "./examples.js";

const key = `AIza${exampleChars("google-api-key", 35, URL_SAFE_CHARS)}`;

export const googleRules: TokenRule[] = [
  {
    id: "google-api-key",
    title: "Google API key",
    provider: "google",
    category: "cloud-key",
    pattern: tokenPattern("AIza[0-9A-Za-z_-]{35}", URL_SAFE),
    secretGroup: 0,
    keywords: ["aiza"],
    entropy: 3.5,
    truePositives: [
      `GOOGLE_API_KEY=${key}`,
      `https://maps.googleapis.com/maps/api/geocode/json?key=${key}`,
    ],
    falsePositives: [`GOOGLE_API_KEY=AIza${"X".repeat(35)}`, `GOOGLE_API_KEY=${key}abc`],
  },
];
