import { runClientAdapterConformance } from "./conformance.js";
import { vscode } from "./vscode.js";

const workspace = ["cwd:.vscode/mcp.json", "cwd:.vscode/settings.json"];
runClientAdapterConformance(vscode, {
  paths: {
    linux: [
      "home:.config/Code/User/mcp.json",
      "home:.config/Code/User/settings.json",
      ...workspace,
    ],
    darwin: [
      "home:Library/Application Support/Code/User/mcp.json",
      "home:Library/Application Support/Code/User/settings.json",
      ...workspace,
    ],
    win32: [
      "home:AppData/Roaming/Code/User/mcp.json",
      "home:AppData/Roaming/Code/User/settings.json",
      ...workspace,
    ],
  },
});
