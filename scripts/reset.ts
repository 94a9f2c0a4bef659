import { existsSync, readFileSync } from "node:fs";
import { rm } from "node:fs/promises";
import path from "node:path";
import { createInterface } from "node:readline/promises";

/**
 * `npm run reset`: removes the local home's data (the embedded database, uploaded files, the local secrets: all of
 * `.data/`, or AMPLIFY_DATA_DIR) after asking; `npm run reset -- --yes` does not ask. Refuses while `npm start` is
 * running on that data (stop it first). The next `npm start` begins from nothing.
 */
if (existsSync(".env")) process.loadEnvFile(".env");
const dataDir = path.resolve(process.env.AMPLIFY_DATA_DIR || ".data");
const yes = process.argv.includes("--yes") || process.argv.includes("-y");

function runningPid(): number | undefined {
  try {
    const { pid } = JSON.parse(readFileSync(path.join(dataDir, "runtime.json"), "utf8")) as { pid?: number };
    if (typeof pid !== "number") return undefined;
    process.kill(pid, 0); // throws when no such process
    return pid;
  } catch {
    return undefined;
  }
}

if (!existsSync(dataDir)) {
  console.log(`Nothing to remove: ${dataDir} does not exist.`);
  process.exit(0);
}
const pid = runningPid();
if (pid !== undefined) {
  console.error(`The local home is running on this data (pid ${pid}): stop it (Ctrl-C, or kill ${pid}) and run this again.`);
  process.exit(1);
}
if (!yes) {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question(`Remove ${dataDir} (the local database, uploaded files and local secrets)? [y/N] `);
  rl.close();
  if (!/^y(es)?$/i.test(answer.trim())) {
    console.log("Kept it.");
    process.exit(0);
  }
}
await rm(dataDir, { recursive: true, force: true });
console.log(`Removed ${dataDir}. The next npm start begins from nothing.`);
