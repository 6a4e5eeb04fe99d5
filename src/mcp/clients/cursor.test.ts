import { runClientAdapterConformance } from "./conformance.js";
import { cursor } from "./cursor.js";

const files = ["home:.cursor/mcp.json", "cwd:.cursor/mcp.json"];
runClientAdapterConformance(cursor, { paths: { darwin: files, win32: files, linux: files } });
