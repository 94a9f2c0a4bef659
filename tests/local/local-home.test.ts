import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../../src/local/embedded-postgres.js";

const root = path.resolve(import.meta.dirname, "../..");
const tsx = path.join(root, "node_modules/.bin/tsx");

interface Running {
  child: ChildProcess;
  output: () => string;
}

/** Runs `npm start`'s entry point exactly as a user would, in its own data directory and port. */
async function start(dataDir: string, port: number): Promise<Running> {
  const child = spawn(tsx, ["src/local/main.ts"], {
    cwd: root,
    env: { ...process.env, PORT: String(port), AMPLIFY_DATA_DIR: dataDir, DATABASE_URL: "", LOG_LEVEL: "silent" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  await new Promise<void>((resolve, reject) => {
    const timer = setInterval(() => {
      if (out.includes("is ready")) {
        clearInterval(timer);
        resolve();
      }
    }, 50);
    child.once("exit", (code) => {
      clearInterval(timer);
      reject(new Error(`exited with ${code} before it was ready:\n${out}`));
    });
  });
  return { child, output: () => out };
}

async function stop(r: Running): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => r.child.once("exit", (code) => resolve(code)));
  r.child.kill("SIGINT");
  return exited;
}

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe("npm start: the local home", () => {
  it("serves the API, stops cleanly on Ctrl-C and keeps every row across a restart", { timeout: 120_000 }, async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), "amplify-home-"));
    await chmod(dataDir, 0o755);
    dirs.push(dataDir);
    const port = await freePort();
    const base = `http://localhost:${port}`;

    const first = await start(dataDir, port);
    expect(first.output()).toContain(`${base}/api/v1`);
    expect(first.output()).toMatch(/anon key\s+eyJ/);
    const discovery = await fetch(`${base}/api/v1`);
    expect(discovery.status).toBe(200);
    const { supabaseAnonKey } = (await (await fetch(`${base}/api/config`)).json()) as { supabaseAnonKey: string };

    const signup = await fetch(`${base}/auth/v1/signup`, {
      method: "POST",
      headers: { apikey: supabaseAnonKey, "content-type": "application/json" },
      body: JSON.stringify({ email: "keeper@example.com", password: "correct horse" }),
    });
    const { access_token: token } = (await signup.json()) as { access_token: string };
    const made = await fetch(`${base}/api/v1/profiles`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "Survives restarts" }),
    });
    expect(made.status).toBe(201);

    // The local plan tool finds the running home through .data/runtime.json.
    const plan = spawn(tsx, ["scripts/set-plan.ts", "keeper@example.com", "growth"], {
      cwd: root,
      env: { ...process.env, AMPLIFY_DATA_DIR: dataDir, DATABASE_URL: "" },
    });
    expect(await new Promise((resolve) => plan.once("exit", resolve))).toBe(0);

    expect(await stop(first)).toBe(0);
    expect(first.output()).toContain("stopped cleanly");

    const second = await start(dataDir, port);
    expect(second.output()).not.toContain("applied migration");
    const list = await fetch(`${base}/api/v1/profiles`, { headers: { authorization: `Bearer ${token}` } });
    expect(list.status).toBe(200);
    const body = (await list.json()) as { profiles: { name: string }[] };
    expect(body.profiles.map((p) => p.name)).toEqual(["Survives restarts"]);
    // The plan set before the restart is still there: a paid plan may create API keys.
    const key = await fetch(`${base}/api/api-keys`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
      body: JSON.stringify({ name: "after restart", profileId: (body.profiles[0] as unknown as { id: string }).id }),
    });
    expect(key.status).toBe(201);
    expect(await stop(second)).toBe(0);
  });
});
