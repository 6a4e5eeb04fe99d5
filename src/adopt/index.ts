/** keyward adopt: move literal secrets out of MCP client config files into the store. See README.md. */
export { applyAdopt } from "./apply.js";
export { classifyValue, isCredentialName, splitHeaderValue } from "./classify.js";
export { adoptTable, locateFiles, planAdopt } from "./plan.js";
export { ProfilesFile } from "./profiles-file.js";
export type {
  AdoptOptions,
  AdoptPlan,
  AdoptProfiles,
  AdoptResult,
  AdoptStore,
  AdoptTableRow,
  AppliedFile,
  ItemKind,
  LocateOptions,
  PlannedFile,
  PlannedItem,
  PlannedServer,
  ProfileInput,
  ServerAction,
  UndoOptions,
  UndoResult,
} from "./types.js";
export { deleteBackups, findBackups, undoAdopt } from "./undo.js";
