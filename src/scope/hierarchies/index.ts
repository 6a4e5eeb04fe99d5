import type { ScopeHierarchy } from "../algebra.js";
import { atlassianHierarchy } from "./atlassian.js";
import { githubHierarchy } from "./github.js";
import { slackHierarchy } from "./slack.js";

/** One line per provider whose scopes relate to each other; others get a flat hierarchy. */
const HIERARCHIES: readonly ScopeHierarchy[] = [
  githubHierarchy,
  slackHierarchy,
  atlassianHierarchy,
];

export function hierarchyFor(provider: string): ScopeHierarchy {
  return (
    HIERARCHIES.find((h) => h.provider === provider) ?? {
      provider,
      children: {},
      fullAccessMeaning: "everything the identity can do",
    }
  );
}
