import { runClientAdapterConformance } from "./conformance.js";
import { windsurf } from "./windsurf.js";

const files = ["home:.codeium/windsurf/mcp_config.json"];
runClientAdapterConformance(windsurf, { paths: { darwin: files, win32: files, linux: files } });
