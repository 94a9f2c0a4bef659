import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/local/server.js";

/**
 * `npm start` as a person runs it (npm → node → the local home with its embedded PostgreSQL): it talks (a line per
 * request, every answer with X-Request-Id), and a SIGTERM to the npm process, whoever sends it, stops the server, the
 * emulators and Postgres: the port is freed and no process it started is left.
 */

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** Every process descended from `root` (Linux /proc). */
function descendants(root: number): number[] {
  const parents = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      parents.set(Number(entry), ppid);
    } catch {
      // gone meanwhile
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length) {
    const pid = queue.shift()!;
    for (const [child, parent] of parents) if (parent === pid) (found.push(child), queue.push(child));
  }
  return found;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    // a zombie has exited: only its parent has not collected it yet
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

function portAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe("npm start", () => {
  let child: ChildProcess | undefined;
  let started: number[] = [];
  const dataDirs: string[] = [];

  afterAll(async () => {
    const left = child?.pid ? [...descendants(child.pid), ...started] : started;
    for (const pid of [child?.pid, ...left]) if (pid && alive(pid)) process.kill(pid, "SIGKILL");
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  });

  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`logs each request and stops everything on ${signal} to the npm process`, { timeout: 240_000 }, async () => {
      const port = await freePort();
      const dataDir = await mkdtemp(path.join(os.tmpdir(), "amplify-start-"));
      dataDirs.push(dataDir);
      const env: Record<string, string | undefined> = { ...process.env, PORT: String(port), AMPLIFY_DATA_DIR: dataDir, LOG_LEVEL: "info" };
      delete env.LOG_FORMAT;
      delete env.DATABASE_URL;
      child = spawn("npm", ["start"], { cwd: projectRoot, env, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));

      await until("the start banner", () => output.includes("is ready"), 180_000);

      const api = await fetch(`http://127.0.0.1:${port}/api/v1`);
      expect(api.status).toBe(200);
      const apiId = api.headers.get("x-request-id");
      expect(apiId).toMatch(/^[0-9a-f-]{36}$/);
      const missing = await fetch(`http://127.0.0.1:${port}/no-such-file.txt`);
      expect(missing.status).toBe(404);
      const missingId = missing.headers.get("x-request-id");
      expect(missingId).toMatch(/^[0-9a-f-]{36}$/);
      expect(((await missing.json()) as { requestId: string }).requestId).toBe(missingId);
      await until("the request lines", () => output.includes(missingId!), 5_000);
      expect(output).toMatch(new RegExp(`GET +/api/v1 200 \\d+ms req=${apiId}`));
      expect(output).toMatch(new RegExp(`GET +/no-such-file.txt 404 \\d+ms req=${missingId}`));

      started = descendants(child.pid!);
      expect(output).not.toContain("stopping…");
      expect(started.length).toBeGreaterThan(1); // node and PostgreSQL at least
      child.kill(signal); // the npm process only, as `kill <pid>` would

      await exited;
      await until("the stop message", () => output.includes("stopped cleanly"), 30_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${output}`);
      });
      await until("every process it started to end", () => started.every((pid) => !alive(pid)), 30_000).catch((error: Error) => {
        throw new Error(`${error.message}: still running ${started.filter(alive).join(", ")}\n${output}`);
      });
      expect(await portAnswers(port)).toBe(false);
    });
  }
});
