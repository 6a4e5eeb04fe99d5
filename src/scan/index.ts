/** keyward audit: the orchestrator, failOn, baselines and the four reporters. */
export { type AuditOptions, audit } from "./audit.js";
export { failOn } from "./grade.js";
export { loadBaseline, writeBaseline } from "./ignore.js";
export { renderJson } from "./report/json.js";
export { renderMarkdown } from "./report/markdown.js";
export { renderSarif } from "./report/sarif.js";
export { renderText } from "./report/text.js";
export type { AuditReport, Finding, Grades } from "./types.js";
