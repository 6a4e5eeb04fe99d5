import { homedir } from "node:os";
import { join } from "node:path";

/** Where keyward keeps its files: KEYWARD_HOME, else ~/.keyward. */
export function keywardHome(env: NodeJS.ProcessEnv): string {
  return env.KEYWARD_HOME || join(homedir(), ".keyward");
}
