/**
 * The process whose memory rss.ts watches: what `npm start` runs (src/local/main.ts), minus the dashboard build and
 * the banner: the terminal log sink, then the local home with its own embedded PostgreSQL under the data directory it
 * is given, on a free port. It tells its parent the URL and database URL over IPC and stops cleanly on SIGTERM.
 */
import { setLogSink } from "../../src/core/log.js";
import { startLocalHome } from "../../src/local/home.js";
import { terminalSink } from "../../src/local/terminal-log.js";

process.env.LOG_LEVEL ??= "info";
setLogSink(terminalSink({ colour: false }));

const home = await startLocalHome({ dataDir: process.env.AMPLIFY_DATA_DIR!, port: 0 });
process.send!({ url: home.url, databaseUrl: home.databaseUrl, anonKey: home.anonKey });
process.on("SIGTERM", () => {
  void home.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
});
process.on("disconnect", () => process.kill(process.pid, "SIGTERM"));
