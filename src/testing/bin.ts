import { extname } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The keyward CLI as tests and benchmarks spawn it. Compiled (tests run from dist/), it is the
 * bundle `npm run build` makes, dist/bundle/bin.js, which package.json's bin runs: the tests run
 * what users run. Under tsx, the source.
 */
export const KEYWARD_BIN = fileURLToPath(
  extname(fileURLToPath(import.meta.url)) === ".ts"
    ? new URL("../cli/bin.ts", import.meta.url)
    : new URL("../../bundle/bin.js", import.meta.url),
);
