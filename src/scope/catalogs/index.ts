import type { Catalog, ProfileView } from "../catalog.js";
import { githubMcpServer } from "./github-mcp-server.js";
import { mcpAtlassian } from "./mcp-atlassian.js";
import { serverGithubNpm } from "./server-github-npm.js";
import { slackReference } from "./slack-reference.js";

/** Every catalog keyward knows; adding a server is one new file and one line here. */
export const CATALOGS: readonly Catalog[] = [
  githubMcpServer,
  serverGithubNpm,
  slackReference,
  mcpAtlassian,
];

export function getCatalog(id: string): Catalog | undefined {
  return CATALOGS.find((c) => c.id === id);
}

/** The catalog of the server a profile starts (or bridges to), if keyward knows it. */
export function detectCatalog(profile: ProfileView): Catalog | undefined {
  return CATALOGS.find((c) => c.detect(profile));
}
