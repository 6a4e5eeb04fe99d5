/** The configuration analyzers of `keyward audit`, for the engine's registry (README-config.md lists their rules). */
import type { Analyzer, Axis, Severity } from "../types.js";
import { dockerfileAnalyzer } from "./config-dockerfile.js";
import { docsTokenScopeAnalyzer } from "./config-docs.js";
import { dotenvAnalyzer } from "./config-dotenv.js";
import { mcpConfigAnalyzer } from "./config-mcp.js";
import { workflowAnalyzer } from "./config-workflow.js";

export const configAnalyzers: Analyzer[] = [
  mcpConfigAnalyzer,
  dotenvAnalyzer,
  dockerfileAnalyzer,
  workflowAnalyzer,
  docsTokenScopeAnalyzer,
];

export interface ConfigRule {
  id: string;
  axis: Axis;
  /** the severities the rule emits; literal-secret rules are critical when a checksum proves the token */
  severities: readonly Severity[];
  title: string;
}

/** Every rule the configuration analyzers emit: for SARIF rule lists and docs; a test keeps it in step with the fixtures. */
export const configRules: readonly ConfigRule[] = [
  {
    id: "config/mcp-literal-secret",
    axis: "exposure",
    severities: ["critical", "high"],
    title: "Literal credential in an MCP server's env or headers",
  },
  {
    id: "config/mcp-url-secret",
    axis: "exposure",
    severities: ["critical", "high"],
    title: "Credential inside an MCP server URL (query string or user-info)",
  },
  {
    id: "config/mcp-argv-secret",
    axis: "exposure",
    severities: ["critical", "high"],
    title: "Literal credential in an MCP server's command line",
  },
  {
    id: "config/mcp-secret-reference-exposed",
    axis: "exposure",
    severities: ["low"],
    title: "Credential reference expanded into argv or a URL query",
  },
  {
    id: "config/mcp-input-not-password",
    axis: "exposure",
    severities: ["low"],
    title: 'VS Code input for a credential without "password": true',
  },
  {
    id: "config/mcp-unpinned-package",
    axis: "security",
    severities: ["medium"],
    title: "MCP server package run through npx/uvx without an exact version",
  },
  {
    id: "config/mcp-env-file-forwarding",
    axis: "security",
    severities: ["medium"],
    title: "MCP server receives the project's whole .env file",
  },
  {
    id: "config/dotenv-literal-secret",
    axis: "exposure",
    severities: ["critical", "high"],
    title: "Credential in a committed .env file",
  },
  {
    id: "config/dotenv-committed",
    axis: "exposure",
    severities: ["medium"],
    title: ".env file with real credentials in the repository",
  },
  {
    id: "config/dockerfile-secret-env",
    axis: "exposure",
    severities: ["critical", "high"],
    title: "Credential in a Dockerfile ENV",
  },
  {
    id: "config/dockerfile-secret-arg",
    axis: "exposure",
    severities: ["critical", "high"],
    title: "Credential as a Dockerfile ARG default",
  },
  {
    id: "config/dockerfile-arg-to-env",
    axis: "exposure",
    severities: ["medium"],
    title: "Secret build argument copied into ENV",
  },
  {
    id: "config/workflow-write-all",
    axis: "security",
    severities: ["medium"],
    title: "GitHub Actions permissions: write-all",
  },
  {
    id: "config/workflow-secret-echo",
    axis: "exposure",
    severities: ["high", "medium"],
    title: "Secret printed by a workflow run step",
  },
  {
    id: "config/workflow-secrets-dump",
    axis: "exposure",
    severities: ["high"],
    title: "toJSON(secrets) in a workflow",
  },
  {
    id: "config/docs-broad-token-scope",
    axis: "security",
    severities: ["medium", "low"],
    title: "Setup docs ask for a broad GitHub classic token",
  },
];
