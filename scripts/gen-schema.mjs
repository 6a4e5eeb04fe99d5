// Writes schema/keyward.schema.json from the zod schema in src/config/schema.ts.
// Run: node --import tsx scripts/gen-schema.mjs   (src/config/schema.test.ts fails when it is stale)
import { mkdirSync, writeFileSync } from "node:fs";
import { configJsonSchema } from "../src/config/schema.js";

const target = new URL("../schema/keyward.schema.json", import.meta.url);
mkdirSync(new URL(".", target), { recursive: true });
writeFileSync(target, `${JSON.stringify(configJsonSchema(), null, 2)}\n`);
console.log(`wrote ${target.pathname}`);
