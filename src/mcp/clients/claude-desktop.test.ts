import { claudeDesktop } from "./claude-desktop.js";
import { runClientAdapterConformance } from "./conformance.js";

runClientAdapterConformance(claudeDesktop, {
  paths: {
    darwin: ["home:Library/Application Support/Claude/claude_desktop_config.json"],
    win32: ["home:AppData/Roaming/Claude/claude_desktop_config.json"],
    linux: ["home:.config/Claude/claude_desktop_config.json"],
  },
});
