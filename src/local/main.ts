import { existsSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { ensureDashboardBuilt } from "./dashboard.js";
import { setLogSink } from "../core/log.js";
import { startLocalHome, type LocalHome } from "./home.js";
import { terminalSink } from "./terminal-log.js";

/**
 * `npm start`: the whole API on http://localhost:8888 (PORT to change), data kept under .data/ (AMPLIFY_DATA_DIR),
 * embedded PostgreSQL unless DATABASE_URL is set. Ctrl-C stops everything cleanly; the next start keeps every row.
 */
if (existsSync(".env")) process.loadEnvFile(".env");
process.env.LOG_LEVEL ??= "info";
// A line per request, publish attempt, webhook attempt and queue retry, for people (LOG_FORMAT=json: JSON lines).
if (process.env.LOG_FORMAT !== "json") setLogSink(terminalSink());

const started = Date.now();
const dataDir = path.resolve(process.env.AMPLIFY_DATA_DIR || ".data");
const runtimeFile = path.join(dataDir, "runtime.json");

// Signal handlers go in first: Ctrl-C during start-up waits for the start to finish, then stops cleanly.
let home: LocalHome | undefined;
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping…`);
  try {
    await ready;
    await rm(runtimeFile, { force: true });
    await home?.stop();
    console.log("stopped cleanly");
    process.exit(0);
  } catch (error) {
    console.error("failed to stop cleanly:", error);
    process.exit(1);
  }
}
process.on("SIGINT", () => void shutdown("SIGINT"));
process.on("SIGTERM", () => void shutdown("SIGTERM"));

// The dashboard is served from dist/: rebuilt here when its sources changed since the last build (src/local/dashboard.ts).
await ensureDashboardBuilt((line) => console.log(`  ${line}`)).catch((error: unknown) => {
  console.error("  the dashboard did not build (the API still starts):", error);
});

const ready = startLocalHome({
  dataDir,
  databaseUrl: process.env.DATABASE_URL || undefined,
  port: Number(process.env.PORT ?? 8888),
  log: (line) => console.log(`  ${line}`),
}).then((h) => (home = h));
await ready;
if (!home) throw new Error("the local home did not start");

// Where local tools (npm run local:plan) find the running home.
await writeFile(runtimeFile, JSON.stringify({ url: home.url, databaseUrl: home.databaseUrl, pid: process.pid }, null, 2));

console.log(`
Amplify Scheduler (local home) is ready in ${((Date.now() - started) / 1000).toFixed(1)} s

  Dashboard      ${home.url}/
  API            ${home.url}/api/v1
  Supabase URL   ${home.url}            (local Auth emulator at /auth/v1)
  anon key       ${home.anonKey}
  Postgres       ${home.databaseUrl}

  Try:  curl ${home.url}/api/v1
  Stop: Ctrl-C
`);

