import { claudeCode } from "./claude-code.js";
import { runClientAdapterConformance } from "./conformance.js";

const files = ["home:.claude.json", "cwd:.mcp.json"];
runClientAdapterConformance(claudeCode, { paths: { darwin: files, win32: files, linux: files } });
