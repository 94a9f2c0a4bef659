/**
 * Sweep benchmark: how the publish pipeline's scheduling side holds up. See bench/sweep/README.md.
 *
 *   1. Enqueue cost: N due targets seeded in bulk; how long `sweep()` takes, run after run within its time budget, to
 *      put all of them on the queue (QStash emulator storing, not delivering), how that grows with N, against two
 *      floors measured in the same run (the queue calls alone; one set-based SQL statement).
 *   2. Lateness: M posts scheduled through POST /api/v1/post in a full local home, published by the emulator's
 *      deliveries to the sandbox X; published_at − scheduled_for p50/p95/p99/max, and how many were early.
 *
 * One embedded PostgreSQL in a temp dir (fsync off), one database per part. Not a test: no vitest.
 *
 *   npm run bench:sweep
 *   SWEEP_SIZES=1000,10000 SWEEP_MAX_SECONDS=120 LATENESS_POSTS=100 npm run bench:sweep
 *   SWEEP_PARTS=enqueue npm run bench:sweep
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import postgres from "postgres";
import { startEmbeddedPostgres } from "../../src/local/embedded-postgres.js";
import { postgresCpu } from "../api-overhead/cpu.js";
import { reportEnqueue, runEnqueue, setUpQueueOnly, type EnqueueConfig } from "./enqueue.js";
import { reportBurst, reportWebhookLatency, runBurst, runWebhookLatency, startBurstHome, type BurstConfig } from "./burst.js";
import { reportLateness, runLateness, startLatenessHome, type LatenessConfig } from "./lateness.js";
import { fmt, intEnv, say, sizesEnv } from "./report.js";

// The product logs JSON to stderr; a benchmark wants its warnings, not one line per request.
process.env.LOG_LEVEL ??= "warn";

const known = ["enqueue", "lateness", "burst", "webhooks"];
const parts = (process.env.SWEEP_PARTS ?? known.join(",")).split(",").map((p) => p.trim());
for (const p of parts) if (!known.includes(p)) throw new Error(`SWEEP_PARTS: unknown part '${p}' (${known.join(", ")})`);

const enqueueConfig: EnqueueConfig = {
  sizes: sizesEnv("SWEEP_SIZES", [1_000, 10_000, 100_000]),
  maxSeconds: intEnv("SWEEP_MAX_SECONDS", 240, 1),
  floors: intEnv("SWEEP_FLOORS", 1, 0) > 0,
  floorSeconds: intEnv("SWEEP_FLOOR_SECONDS", 30, 1),
};

const latenessConfig: LatenessConfig = {
  posts: intEnv("LATENESS_POSTS", 200, 1),
  spreadSeconds: intEnv("LATENESS_SPREAD_SECONDS", 20, 1),
  leadSeconds: intEnv("LATENESS_LEAD_SECONDS", 5, 1),
  concurrency: intEnv("LATENESS_CONCURRENCY", 4, 1),
};

const burstConfig: BurstConfig = {
  posts: intEnv("BURST_POSTS", 1_000, 1),
  profiles: intEnv("BURST_PROFILES", 50, 1),
  networks: (process.env.BURST_NETWORKS ?? "twitter,linkedin,threads").split(",").map((n) => n.trim()),
  leadSeconds: intEnv("BURST_LEAD_SECONDS", 20, 5),
  concurrency: intEnv("BURST_CONCURRENCY", 8, 1),
  webhookPosts: intEnv("WEBHOOK_POSTS", 50, 1),
};

async function main() {
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const cleanUp = (from = 0) =>
    (stopping ??= (async () => {
      for (const step of cleanups.splice(from).reverse()) {
        try {
          await step.run();
        } catch (error) {
          process.stderr.write(`cleanup: ${step.name} failed: ${String(error)}\n`);
        }
      }
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    process.stderr.write(`\n${signal}: shutting down\n`);
    void cleanUp().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  let ok = true;
  try {
    const loadBefore = os.loadavg()[0]!;
    say(`Node ${process.version} · ${os.availableParallelism()} CPUs · load average ${fmt(loadBefore, 2)}`);
    if (loadBefore > os.availableParallelism()) {
      say(`warning: the machine is busy (load average above its ${os.availableParallelism()} CPUs): expect slower, noisier figures`);
    }
    const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-sweep-"));
    cleanups.push({ name: "remove temp dir", run: () => rm(dir, { recursive: true, force: true }) });
    // As root, Postgres runs as the `postgres` user, which must be able to enter this directory.
    await chmod(dir, 0o755);
    say(`starting embedded PostgreSQL in ${dir}`);
    const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
    cleanups.push({ name: "stop embedded PostgreSQL", run: () => pg.stop() });
    const readPostgresCpu = postgresCpu(path.join(dir, "pg"));
    const admin0 = postgres(pg.url, { max: 1, onnotice: () => {} });
    cleanups.push({ name: "close the server admin connection", run: () => admin0.end({ timeout: 5 }) });

    if (parts.includes("enqueue")) {
      const mark = cleanups.length;
      say("");
      say(`part 1: enqueue cost, N = ${enqueueConfig.sizes.map((n) => fmt(n)).join(", ")} (SWEEP_MAX_SECONDS = ${enqueueConfig.maxSeconds} per measurement)`);
      const fixture = await setUpQueueOnly(pg.url, admin0, cleanups);
      const results = await runEnqueue(fixture, enqueueConfig, readPostgresCpu);
      reportEnqueue(results, enqueueConfig, { loadBefore, loadAfter: os.loadavg()[0]! });
      // Everything of part 1 (its emulator server, pools, the product's pool on its database) goes before part 2.
      for (const step of cleanups.splice(mark).reverse()) await step.run();
    }

    if (parts.includes("lateness")) {
      const mark = cleanups.length;
      say("");
      say(`part 2: lateness, ${latenessConfig.posts} posts over ${latenessConfig.spreadSeconds} s in a full local home`);
      const { home, admin } = await startLatenessHome(pg.url, admin0, cleanups);
      const result = await runLateness(home, admin, latenessConfig);
      ok = reportLateness(result, latenessConfig) && ok;
      // Part 2's home stops before parts 3/4 start theirs. The environment the functions read is the process's, so it
      // belongs to the home started last: left running, part 2's emulator would deliver its pending messages (metrics
      // syncs, periodic runs) to its server signed with its own keys, which would check them with part 3's keys and
      // answer 401; and its scheduler (every second) would sweep part 3's database, so parts 3/4 would not run with
      // the sweep once a minute they state.
      for (const step of cleanups.splice(mark).reverse()) await step.run();
    }

    if (parts.includes("burst") || parts.includes("webhooks")) {
      say("");
      say("parts 3 and 4: a burst of posts due on one second, and webhook latency, in a full local home (sweep once a minute)");
      const { home, admin } = await startBurstHome(pg.url, admin0, cleanups);
      if (parts.includes("burst")) ok = reportBurst(await runBurst(home, admin, burstConfig), burstConfig) && ok;
      if (parts.includes("webhooks")) ok = reportWebhookLatency(await runWebhookLatency(home, admin, burstConfig)) && ok;
    }
  } finally {
    await cleanUp();
  }
  if (!ok) {
    process.stderr.write("\nBENCHMARK FAILED: a post was published early or not at all (see above).\n");
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\nBENCHMARK FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
