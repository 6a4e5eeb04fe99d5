// Bundles the keyward CLI into dist/bundle/ (run by `npm run build`, after tsc): bin.js, which
// package.json's bin runs, the audit's worker script (file-worker.js), and one chunk per group of
// modules the commands load on demand. One file per chunk instead of hundreds of modules cuts
// start-up (bench/startup). The output is flat so that `new URL("./bin.js" | "./file-worker.js",
// import.meta.url)` finds the entry points from any chunk, as it finds them beside the compiled
// sources in dist/src. Dependencies are bundled only when listed in BUNDLED (pure JavaScript,
// loaded by most commands); the others (native bindings, wasm, SDKs loaded by one backend or
// command) are imported from node_modules at run time as before.
import { rmSync } from "node:fs";
import { build } from "esbuild";

const OUT = "dist/bundle";
const BUNDLED = new Set(["commander", "zod", "yaml", "jsonc-parser", "eventsource-parser"]);

/** "zod" from "zod/v4/core", "@scope/name" from "@scope/name/sub". */
const packageName = (specifier) =>
  specifier
    .split("/")
    .slice(0, specifier.startsWith("@") ? 2 : 1)
    .join("/");

rmSync(OUT, { recursive: true, force: true });
await build({
  entryPoints: { bin: "src/cli/bin.ts", "file-worker": "src/scan/file-worker.ts" },
  outdir: OUT,
  chunkNames: "[name]-[hash]",
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // The bundled CommonJS packages (commander, yaml) call require() for Node's built-ins.
  banner: {
    js: 'import { createRequire as __keywardCreateRequire } from "node:module"; const require = __keywardCreateRequire(import.meta.url);',
  },
  plugins: [
    {
      name: "bundle-only-listed-packages",
      setup(b) {
        b.onResolve({ filter: /^[^./]/ }, (args) =>
          args.kind === "entry-point" || BUNDLED.has(packageName(args.path))
            ? undefined
            : { external: true },
        );
      },
    },
  ],
  logLevel: "warning",
});
