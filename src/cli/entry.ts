import { extname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * This installation's keyward entry point, for whatever starts keyward again (the MCP client
 * configs adopt writes, the demo's client): bin beside this module, which holds in dist/src/cli,
 * in the flat bundle (dist/bundle, scripts/bundle.mjs) and in src/cli under tsx.
 */
export function keywardBin(): string {
  const ext = extname(fileURLToPath(import.meta.url));
  return fileURLToPath(new URL(`./bin${ext}`, import.meta.url));
}
