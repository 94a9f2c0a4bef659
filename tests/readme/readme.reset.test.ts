import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { projectRoot } from "../../src/local/server.js";

/** `npm run reset` (scripts/reset.ts), as the README's walkthrough describes it: asks, `--yes` does not, never under a running home. */
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function dataDir(): Promise<string> {
  const dir = path.join(await mkdtemp(path.join(os.tmpdir(), "amplify-reset-")), "data");
  dirs.push(path.dirname(dir));
  await mkdir(path.join(dir, "postgres"), { recursive: true });
  await writeFile(path.join(dir, "local-secrets.json"), "{}");
  return dir;
}

function reset(dir: string, args: string[], input = "") {
  const tsx = path.join(projectRoot, "node_modules/.bin/tsx");
  return spawnSync(tsx, ["scripts/reset.ts", ...args], {
    cwd: projectRoot,
    input,
    encoding: "utf8",
    env: { ...process.env, AMPLIFY_DATA_DIR: dir },
  });
}

describe("npm run reset", () => {
  it("asks, and keeps the data unless told yes", { timeout: 30_000 }, async () => {
    const dir = await dataDir();
    const no = reset(dir, [], "n\n");
    expect(no.status).toBe(0);
    expect(no.stdout).toContain(`Remove ${dir}`);
    expect(existsSync(dir)).toBe(true);
    const yes = reset(dir, [], "y\n");
    expect(yes.status).toBe(0);
    expect(existsSync(dir)).toBe(false);
  });

  it("--yes removes without asking", { timeout: 30_000 }, async () => {
    const dir = await dataDir();
    const result = reset(dir, ["--yes"]);
    expect(result.status).toBe(0);
    expect(result.stdout).not.toContain("[y/N]");
    expect(existsSync(dir)).toBe(false);
  });

  it("refuses while the local home runs on the data", { timeout: 30_000 }, async () => {
    const dir = await dataDir();
    await writeFile(path.join(dir, "runtime.json"), JSON.stringify({ pid: process.pid }));
    const result = reset(dir, ["--yes"]);
    expect(result.status).toBe(1);
    expect(result.stderr).toContain(`pid ${process.pid}`);
    expect(existsSync(dir)).toBe(true);
  });
});
