import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startLocalHome } from "../../src/local/home.js";
import { projectRoot } from "../../src/local/server.js";
import { cloneTemplateDatabase } from "../helpers/home.js";

/**
 * README.md's walkthrough, executed: the shell blocks whose first line is `# walkthrough: …` are joined in order and
 * run with bash against a local home started on a free port, as a reader pasting them into a shell would. Then the
 * home is stopped, started again on the same database and data directory (as `npm start` after Ctrl-C), and the
 * walkthrough runs a second time: it must work on data a previous run left (sign-in instead of sign-up, the profile
 * found again, the plan paid for again after the last step cancelled it).
 */

/** The marked blocks of README.md, in order. */
export function walkthroughBlocks(readme: string): { title: string; code: string }[] {
  const blocks: { title: string; code: string }[] = [];
  for (const match of readme.matchAll(/^```(?:sh|bash)\n([\s\S]*?)^```$/gm)) {
    const code = match[1]!;
    const marker = /^# walkthrough: (.+)$/.exec(code.split("\n")[0] ?? "");
    if (marker) blocks.push({ title: marker[1]!, code });
  }
  return blocks;
}

/**
 * What each step shows, in the order the README shows it: every pattern must match after the previous one did.
 * The comments in the README (`# → …`, `# published`, …) say the same.
 */
const expectations: [step: string, pattern: RegExp][] = [
  ["2: the profile", /^profile [0-9a-f-]{36}$/m],
  ["3: paid for Starter", /^starter active$/m],
  ["5: X connected", /\/\?connected=twitter&connectionId=[0-9a-f-]{36}$/m],
  ["5: LinkedIn connected", /\/\?connected=linkedin&connectionId=[0-9a-f-]{36}$/m],
  ["5: both ready", /"linkedin: ready","twitter: ready"|"twitter: ready".*"linkedin: ready"|"linkedin: ready".*"twitter: ready"/],
  ["6: created", /^HTTP\/1\.1 201 Created\r?$/m],
  ["6: rate-limit headers", /^x-ratelimit-limit: \d+\r?$/im],
  ["6: published to both", /"status":"published","targets":\[.*"platform":"(linkedin|twitter)","status":"published"/],
  ["6b: the public URL serves the file", /^70$/m],
  ["6b: X received the image", /"mimeType":"image\/png","sizeBytes":70/],
  ["6c: the photo everywhere", /"A photo \(\d\d:\d\d:\d\d\): published [a-z=,]*twitter=published/],
  ["7: on its second", /^published Right on time \(\d\d:\d\d:\d\d\): scheduled \S+, published \S+$/m],
  ["8: the failed attempt answered", /^publishing network_error$/m],
  ["8: the job log", /^failed network_error will_retry=true next_retry_at=\d{4}-\d\d-\d\dT/m],
  ["8b: sync requested", /"success":true,"accounts":\d+,"queued":\d+/],
  ["8b: overview", /^[1-9]\d* published posts, [1-9]\d* targets$/m],
  ["9: published with a webhook", /^published$/m],
  ["9: the receiver verified and logged it", /^Received post\.published \(webhook-id [^)]+\) for post [0-9a-f-]{36}$/m],
  ["9: retrying a delivered delivery", /"code":"conflict"/],
  ["10: posted from the template", /^This week \(\d{4}-\d\d-\d\d\): shipped templates \(\d\d:\d\d:\d\d\)$/m],
  ["11: the invitation mail", /Acme/],
  ["11: accepted", /^member$/m],
  ["11: the members", /"sam@example\.com member"/],
  ["11: Sam left", /^\{"success":true\}$/m],
  ["12: the schedule's post published", /^published$/m],
  ["12: schedule deleted", /^\{"success":true,"canceledPosts":\d+\}$/m],
  ["13: the portal form", /^303$/m],
  ["13: back on Free", /^free canceled$/m],
  ["13: API keys need a paid plan", /^402$/m],
];

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

/** Runs the script with bash in its own process group (so a receiver left behind by a failure can be stopped). */
function runBash(script: string, cwd: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", ["-c", script], { cwd, env: { ...process.env, ...env }, detached: true });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      try {
        process.kill(-child.pid!, "SIGTERM"); // anything the script left running (the webhook receiver)
      } catch {
        // the group is gone already
      }
      resolve({ code, output });
    });
  });
}

describe("README walkthrough", () => {
  let databaseUrl: string;
  let dataDir: string;
  let workDir: string;
  let script: string;

  beforeAll(async () => {
    databaseUrl = await cloneTemplateDatabase();
    dataDir = await mkdtemp(path.join(os.tmpdir(), "amplify-readme-data-"));
    // The walkthrough runs from the repository's folder; a folder of links to it keeps the files it writes out of the tree.
    workDir = await mkdtemp(path.join(os.tmpdir(), "amplify-readme-cwd-"));
    for (const entry of ["package.json", "node_modules", "scripts", "src", "tests", "tsconfig.json", "webhook-receiver.example.js"]) {
      await symlink(path.join(projectRoot, entry), path.join(workDir, entry));
    }
    const blocks = walkthroughBlocks(await readFile(path.join(projectRoot, "README.md"), "utf8"));
    expect(blocks.map((b) => b.title)).toEqual(["setup and steps 1–8", "webhooks", "team and templates", "recurring schedules", "cancel"]);
    script = ["set -eo pipefail", ...blocks.map((b) => b.code)].join("\n");
  });

  afterAll(async () => {
    await rm(dataDir, { recursive: true, force: true });
    await rm(workDir, { recursive: true, force: true });
  });

  for (const run of [1, 2]) {
    it(`runs from start to end (run ${run}, same data)`, { timeout: 150_000 }, async () => {
      const home = await startLocalHome({ port: 0, databaseUrl, dataDir });
      let result: { code: number | null; output: string };
      try {
        result = await runBash(script, workDir, { BASE: home.url, RECEIVER_PORT: String(await freePort()) });
      } finally {
        await home.stop();
      }
      if (process.env.README_WALKTHROUGH_OUTPUT) await writeFile(`${process.env.README_WALKTHROUGH_OUTPUT}.${run}`, result.output);
      expect(result.code, result.output).toBe(0);
      let from = 0;
      for (const [step, pattern] of expectations) {
        const match = pattern.exec(result.output.slice(from));
        expect(match, `step ${step}: ${pattern} not found after offset ${from} in:\n${result.output.slice(from, from + 4000)}`).not.toBeNull();
        from += match!.index + match![0].length;
      }
    });
  }
});
