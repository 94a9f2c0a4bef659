// Profiles only the main thread while autocannon (worker) drives ours.
import { Session } from "node:inspector/promises";
import { writeFileSync, chmodSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome } from "../src/local/home.js";
import { seed } from "./api-overhead/seed.js";

const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-scratch-"));
chmodSync(dir, 0o755);
const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
const home = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets() });
const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
try {
  const s = await seed(home, admin, { users: 200, profilesPerUser: 5 });
  const url = home.url.replace("localhost", "127.0.0.1") + "/api/v1/profiles";
  await autocannon({ url, headers: { "x-api-key": s.apiKey }, duration: 3, connections: 10, workers: 1 });
  const session = new Session();
  session.connect();
  await session.post("Profiler.enable");
  await session.post("Profiler.start");
  const r = await autocannon({ url, headers: { "x-api-key": s.apiKey }, duration: 6, connections: 10, workers: 1 });
  const { profile } = await session.post("Profiler.stop");
  writeFileSync("/tmp/ours.cpuprofile", JSON.stringify(profile));
  console.log("responses", r.latency.totalCount, "non2xx", r.non2xx);
  // self time by function, and by url
  const nodes = profile.nodes;
  const dt = new Map<number, number>();
  const samples = profile.samples!, deltas = profile.timeDeltas!;
  for (let i = 0; i < samples.length; i++) dt.set(samples[i]!, (dt.get(samples[i]!) ?? 0) + deltas[i]!);
  const byFn = new Map<string, number>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const n of nodes) {
    const t = (dt.get(n.id) ?? 0) / 1000;
    total += t;
    const f = n.callFrame;
    const file = f.url.replace(/^file:\/\/\/work\/main\//, "").replace(/node_modules\/([^/]+)\/.*/, "nm:$1");
    const key = `${f.functionName || "(anon)"} ${file}:${f.lineNumber}`;
    byFn.set(key, (byFn.get(key) ?? 0) + t);
    byFile.set(file || f.functionName, (byFile.get(file || f.functionName) ?? 0) + t);
  }
  console.log("total sampled ms", total.toFixed(0));
  console.log([...byFile].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, v]) => `${(v / total * 100).toFixed(1).padStart(5)}%  ${k}`).join("\n"));
  console.log("----");
  console.log([...byFn].sort((a, b) => b[1] - a[1]).slice(0, 30).map(([k, v]) => `${(v / total * 100).toFixed(1).padStart(5)}%  ${k}`).join("\n"));
} finally {
  await admin.end();
  await home.stop();
  await pg.stop();
  await rm(dir, { recursive: true, force: true });
}
