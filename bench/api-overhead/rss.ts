/**
 * Memory under load: the local home as `npm start` runs it (rss-home.ts, in a process of its own, with its embedded
 * PostgreSQL, request log lines and sweep as usual) serves the api-overhead request (GET /api/v1/profiles with an API
 * key) from autocannon for RSS_SECONDS (default 300), and this prints the home process's resident set size (and V8
 * heap, from /proc) at the start, every RSS_SAMPLE_SECONDS (30) and at the end. A flat line is the goal; growth points
 * at something kept per request.
 *
 *   npx tsx bench/api-overhead/rss.ts
 *   RSS_SECONDS=60 npx tsx bench/api-overhead/rss.ts
 */
import { fork } from "node:child_process";
import { readFileSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import type { LocalHome } from "../../src/local/home.js";
import type { LoadJob, LoadReply } from "./load.js";
import { seed } from "./seed.js";

const seconds = Number(process.env.RSS_SECONDS ?? 300);
const sampleEvery = Number(process.env.RSS_SAMPLE_SECONDS ?? 30);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 10);
const say = (line: string) => process.stdout.write(`${line}\n`);

/** Resident set size of a process in MiB, from /proc (Linux). */
function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-rss-"));
await chmod(dir, 0o755); // as root, Postgres runs as another user that must enter it
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
const home = fork(here("./rss-home.ts"), [], {
  env: {
    ...process.env,
    AMPLIFY_DATA_DIR: path.join(dir, "data"),
    // The key's hourly limit would refuse within seconds; the limiter still counts every request.
    RATE_LIMIT_OVERRIDES: "api_requests=1000000000/1h",
  },
  stdio: ["ignore", "ignore", "inherit", "ipc"],
});
const generator = fork(here("./load.ts"), [], { stdio: "inherit" });
let ok = false;
try {
  const started = await new Promise<{ url: string; databaseUrl: string; anonKey: string }>((resolve, reject) => {
    home.once("message", (m) => resolve(m as { url: string; databaseUrl: string; anonKey: string }));
    home.once("exit", (code) => reject(new Error(`the home exited (${code}) before it was ready`)));
  });
  const admin = postgres(started.databaseUrl, { max: 1, onnotice: () => {} });
  const seeded = await seed({ url: started.url, anonKey: started.anonKey } as LocalHome, admin, {
    users: 20,
    profilesPerUser: 5,
    ownerMemberships: 0,
  });
  const url = new URL("/api/v1/profiles", started.url);
  url.hostname = "127.0.0.1";
  const samples: { t: number; rss: number }[] = [{ t: 0, rss: rssMiB(home.pid!) }];
  say(`home pid ${home.pid}: RSS ${samples[0]!.rss.toFixed(1)} MiB after start and seeding · load average ${os.loadavg()[0]!.toFixed(2)}`);
  say(`load: ${connections} connections for ${seconds} s, sampling every ${sampleEvery} s`);
  const t0 = Date.now();
  const timer = setInterval(() => {
    const s = { t: Math.round((Date.now() - t0) / 1000), rss: rssMiB(home.pid!) };
    samples.push(s);
    say(`  ${String(s.t).padStart(4)} s  RSS ${s.rss.toFixed(1)} MiB`);
  }, sampleEvery * 1000);
  const result = await new Promise<LoadReply>((resolve) => {
    generator.once("message", (reply: LoadReply) => resolve(reply));
    generator.send({ url: url.href, headers: { "x-api-key": seeded.apiKey }, connections, duration: seconds, timeout: 10 } satisfies LoadJob);
  });
  clearInterval(timer);
  if (!result.ok) throw new Error(result.error);
  const end = rssMiB(home.pid!);
  const [usage] = await admin<{ used: number }[]>`select coalesce(sum(used), 0)::int as used from public.usage_counters where user_id = ${seeded.userId}`;
  await admin.end();
  const r = result.result;
  say("");
  say(
    `${r["2xx"].toLocaleString("en-GB")} responses (${r.non2xx} non-2xx, ${r.errors} errors), ${r.requests.average.toFixed(0)} req/s · ` +
      `RSS start ${samples[0]!.rss.toFixed(1)} MiB → end ${end.toFixed(1)} MiB (max ${Math.max(...samples.map((s) => s.rss), end).toFixed(1)}) · ` +
      `monthly counter ${usage!.used.toLocaleString("en-GB")} · load average ${os.loadavg()[0]!.toFixed(2)}`,
  );
  ok = r.non2xx === 0 && r.errors === 0;
} finally {
  generator.kill();
  home.kill("SIGTERM");
  await new Promise((resolve) => home.once("exit", resolve));
  await rm(dir, { recursive: true, force: true });
}
process.exit(ok ? 0 : 1);
