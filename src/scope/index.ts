export {
  algebraFor,
  FULL_ACCESS,
  isPermissionLevel,
  type Narrowing,
  type ScopeAlgebra,
  type ScopeHierarchy,
  scopeAlgebra,
} from "./algebra.js";
export {
  type Catalog,
  type EnabledTools,
  enabledTools,
  type ProfileView,
  type Restriction,
  type ToolScopes,
} from "./catalog.js";
export { CATALOGS, detectCatalog, getCatalog } from "./catalogs/index.js";
export {
  checkScope,
  renderScopeCheck,
  type ScopeCheck,
  type ScopeCheckInput,
  type ScopeRecipe,
  type Verdict,
} from "./check.js";
export { hierarchyFor } from "./hierarchies/index.js";
