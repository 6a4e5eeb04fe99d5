// Runs the compiled benchmarks in bench/ one after another (each prints ratios to its own
// baseline). Arguments narrow the run: `npm run bench -- store` runs bench/store only.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";

const filters = process.argv.slice(2);
const benches = readdirSync("dist/bench")
  .filter((f) => f.endsWith(".js") && !f.includes(".test."))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
let failed = 0;
for (const file of benches) {
  console.log(`\n=== bench/${file.replace(/\.js$/, "")}`);
  const r = spawnSync(process.execPath, ["--expose-gc", `dist/bench/${file}`], {
    stdio: "inherit",
  });
  if (r.status !== 0) failed++;
}
process.exit(failed ? 1 : 0);
