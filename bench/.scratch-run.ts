/**
 * API overhead benchmark: what our request pipeline costs on top of the database work it cannot avoid.
 *
 *   (a) ours:  GET /api/v1/profiles with an API key, through the local home's HTTP server (netlify.toml routing →
 *              the profiles function → key lookup by hash → billing gate → zod query → RLS transaction as
 *              `authenticated` → JSON).
 *   (b) floor: a bare node:http server + postgres.js pool of the same size running the same SELECT for the same user,
 *              with no auth, no RLS, no validation, writing the same JSON.
 *
 * Both run in this process against one embedded PostgreSQL in a temp dir, seeded once; autocannon drives them one
 * after the other with identical settings from a worker thread. Every response must be a 200 with the exact body the
 * pipeline returned before the run, or the benchmark fails. See bench/README.md.
 *
 *   npm run bench
 *   BENCH_DURATION=30 BENCH_CONNECTIONS=20 npm run bench
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import autocannon from "autocannon";
import postgres from "postgres";
import { env } from "../src/core/env.js";
import { startEmbeddedPostgres, type RunningPostgres } from "../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome, type LocalHome } from "../src/local/home.js";
import { postgresCpu } from "./api-overhead/cpu.js";
import { startFloor, type Floor } from "./api-overhead/floor.js";
import { seed, type Seeded } from "./api-overhead/seed.js";

function intEnv(name: string, fallback: number, min: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got '${raw}'`);
  return value;
}

const config = {
  /** Seconds of measured load per side. */
  duration: intEnv("BENCH_DURATION", 10, 1),
  connections: intEnv("BENCH_CONNECTIONS", 10, 1),
  /** Seconds of unmeasured load per side before measuring. */
  warmup: intEnv("BENCH_WARMUP", 3, 0),
  /** Measured rounds; each runs both sides (alternating which goes first) and the table shows per-side medians. */
  rounds: intEnv("BENCH_ROUNDS", 1, 1),
  /** autocannon worker threads; 0 fires requests from the main thread, where the servers also run. */
  loadWorkers: intEnv("BENCH_LOAD_WORKERS", 1, 0),
  users: intEnv("BENCH_USERS", 200, 0),
  profilesPerUser: intEnv("BENCH_PROFILES_PER_USER", 5, 1),
};

const ENDPOINT = "/api/v1/profiles";
const say = (line: string) => process.stdout.write(`${line}\n`);

interface Side {
  name: string;
  url: string;
  headers: Record<string, string>;
}

interface Measured {
  result: autocannon.Result;
  /** Share of wall time the main thread's event loop (where both servers run) was busy. */
  serverLoopBusy: number;
  /** ms the main thread's event loop was busy (the servers' JavaScript, request parsing, JSON, postgres.js). */
  serverBusyMs: number;
  /** CPU ms used by PostgreSQL meanwhile, when it can be read (Linux). */
  postgresCpuMs?: number;
}

let running: autocannon.Instance | undefined;

/**
 * Lets the requests still in flight when the load generator stopped finish (their sockets are gone, their queries are
 * not), so one side's tail never overlaps the next measurement and nothing is still queued for a pool when it closes:
 * postgres.js' end() lets queries waiting for a connection reconnect after it resolves.
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));
let readPostgresCpu: (() => number) | undefined;

async function load(side: Side, seconds: number, expectBody: string): Promise<Measured> {
  const elu = performance.eventLoopUtilization();
  const pgBefore = readPostgresCpu?.();
  running = autocannon({
    url: side.url + ENDPOINT,
    headers: side.headers,
    connections: config.connections,
    duration: seconds,
    ...(config.loadWorkers > 0 ? { workers: config.loadWorkers } : {}),
    expectBody,
    timeout: 10,
    title: side.name,
  });
  const result = await running;
  running = undefined;
  const busy = performance.eventLoopUtilization(elu);
  const pgAfter = readPostgresCpu?.();
  await settle();
  return {
    result,
    serverLoopBusy: busy.utilization,
    serverBusyMs: busy.active,
    postgresCpuMs: pgBefore !== undefined && pgAfter !== undefined ? pgAfter - pgBefore : undefined,
  };
}

/** One request outside the load generator: the status and exact body a side answers with. */
async function probe(side: Side): Promise<string> {
  const res = await fetch(side.url + ENDPOINT, { headers: side.headers });
  const body = await res.text();
  if (res.status !== 200) throw new Error(`${side.name}: GET ${ENDPOINT} answered ${res.status}: ${body}`);
  return body;
}

/** Non-2xx responses, body mismatches, socket errors and timeouts: any of them means the figures are not comparable. */
function failures(m: Measured): string[] {
  const r = m.result;
  const problems: string[] = [];
  if (r.non2xx > 0) {
    const codes = Object.entries(r.statusCodeStats)
      .filter(([code]) => !code.startsWith("2"))
      .map(([code, { count }]) => `${count}×${code}`)
      .join(", ");
    problems.push(`${r.non2xx} non-2xx responses (${codes})`);
  }
  if (r.mismatches > 0) problems.push(`${r.mismatches} responses whose body differed from the expected one`);
  if (r.errors > 0) problems.push(`${r.errors} connection errors`);
  if (r.timeouts > 0) problems.push(`${r.timeouts} timeouts`);
  if (r.latency.totalCount === 0) problems.push("no responses at all");
  return problems.map((p) => `${r.title}: ${p}`);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("   ")).join("\n");
}

const fmt = (n: number, digits: number) => n.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number, b: number) => (b > 0 ? `${fmt(a / b, 2)}×` : "n/a");

const median = (values: number[]) => {
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Summary {
  rps: number;
  p50: number;
  p99: number;
  responses: number;
  loopBusy: number;
  /** Per response: ms of the servers' event loop and of PostgreSQL CPU (NaN when unreadable). */
  serverMsPerReq: number;
  postgresMsPerReq: number;
}

/** One side's figures: the run itself, or the median of each figure over the rounds. */
function summarise(runs: Measured[]): Summary {
  return {
    rps: median(runs.map((m) => m.result.requests.average)),
    p50: median(runs.map((m) => m.result.latency.p50)),
    p99: median(runs.map((m) => m.result.latency.p99)),
    responses: runs.reduce((sum, m) => sum + m.result.latency.totalCount, 0),
    loopBusy: median(runs.map((m) => m.serverLoopBusy)),
    serverMsPerReq: median(runs.map((m) => m.serverBusyMs / m.result.latency.totalCount)),
    postgresMsPerReq: median(runs.map((m) => (m.postgresCpuMs ?? Number.NaN) / m.result.latency.totalCount)),
  };
}

function report(ours: Summary, floor: Summary, context: { poolMax: number; counts: Seeded["counts"]; loadBefore: number }) {
  const { poolMax, counts, loadBefore } = context;
  const rounds = config.rounds > 1 ? ` · median of ${config.rounds} rounds` : "";
  say("");
  say(`GET ${ENDPOINT} with an API key: our full pipeline vs a bare node:http + postgres.js floor running the same SELECT`);
  say(
    `${config.connections} connections × ${config.duration} s per side after ${config.warmup} s warm-up${rounds} · ` +
      `DB pool ${poolMax} per side · ${counts.users} users, ${counts.profiles} profiles, ${counts.members} memberships, ` +
      `${counts.apiKeys} keys · Node ${process.version} · ${os.availableParallelism()} CPUs · load average ${fmt(loadBefore, 2)} before`,
  );
  say("");
  say(
    table([
      ["", "ours", "floor", "ours/floor"],
      ["requests/s", fmt(ours.rps, 0), fmt(floor.rps, 0), ratio(ours.rps, floor.rps)],
      ["latency p50 (ms)", fmt(ours.p50, 0), fmt(floor.p50, 0), ratio(ours.p50, floor.p50)],
      ["latency p99 (ms)", fmt(ours.p99, 0), fmt(floor.p99, 0), ratio(ours.p99, floor.p99)],
      ["responses (all 200)", fmt(ours.responses, 0), fmt(floor.responses, 0), ""],
      ["server event loop busy", `${fmt(ours.loopBusy * 100, 0)}%`, `${fmt(floor.loopBusy * 100, 0)}%`, ""],
      ["server ms/request", fmt(ours.serverMsPerReq, 2), fmt(floor.serverMsPerReq, 2), ratio(ours.serverMsPerReq, floor.serverMsPerReq)],
      ...(Number.isNaN(ours.postgresMsPerReq)
        ? []
        : [["postgres CPU ms/request", fmt(ours.postgresMsPerReq, 2), fmt(floor.postgresMsPerReq, 2), ratio(ours.postgresMsPerReq, floor.postgresMsPerReq)]]),
    ]),
  );
  say("");
  say(
    "The difference pays for: finding the key by its SHA-256 hash with the owner's subscription (1 round trip), the billing gate, " +
      "zod query validation, and a transaction as `authenticated` with the caller's claims so RLS enforces tenancy " +
      "(BEGIN, set_config, SET LOCAL ROLE, the SELECT under two RLS policies, COMMIT): 6 database round trips against the floor's 1, " +
      "plus routing through netlify.toml and the Request/Response adapter of the local server.",
  );
}

async function main() {
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const cleanUp = () =>
    (stopping ??= (async () => {
      if (running) {
        running.stop();
        await settle();
      }
      for (const step of cleanups.reverse()) {
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

  try {
    const loadBefore = os.loadavg()[0]!;
    const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-"));
    cleanups.push({ name: "remove temp dir", run: () => rm(dir, { recursive: true, force: true }) });
    // As root, Postgres runs as the `postgres` user, which must be able to enter this directory.
    await chmod(dir, 0o755);

    say(`starting embedded PostgreSQL in ${dir}`);
    const pg: RunningPostgres = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
    cleanups.push({ name: "stop embedded PostgreSQL", run: () => pg.stop() });
    readPostgresCpu = postgresCpu(path.join(dir, "pg"));

    const home: LocalHome = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets() });
    cleanups.push({ name: "stop local home", run: () => home.stop() });
    const poolMax = env().DATABASE_POOL_MAX;

    const admin = postgres(pg.url, { max: 2, onnotice: () => {} });
    cleanups.push({ name: "close admin connection", run: () => admin.end({ timeout: 5 }) });
    say(`seeding: 1 paid user with a profile and an API key, ${config.users} other users × ${config.profilesPerUser} profiles`);
    const seeded = await seed(home, admin, { users: config.users, profilesPerUser: config.profilesPerUser });
    if (process.env.SCRATCH_SQL) await admin.unsafe(process.env.SCRATCH_SQL);
    await admin.end({ timeout: 5 });

    const floorServer: Floor = await startFloor({ databaseUrl: pg.url, poolMax, userId: seeded.userId });
    cleanups.push({ name: "close floor server", run: () => floorServer.close() });

    // The load generator talks to 127.0.0.1 on both sides (the home's URL says localhost, which may resolve to ::1).
    const homeUrl = new URL(home.url);
    homeUrl.hostname = "127.0.0.1";
    const ours: Side = { name: "ours", url: homeUrl.origin, headers: { "x-api-key": seeded.apiKey } };
    const floor: Side = { name: "floor", url: floorServer.url, headers: {} };

    const expected = await probe(ours);
    const floorBody = await probe(floor);
    if (floorBody !== expected) {
      throw new Error(`the floor's response differs from ours, so they are not doing the same work:\nours:  ${expected}\nfloor: ${floorBody}`);
    }
    const listed = (JSON.parse(expected) as { profiles: unknown[] }).profiles.length;
    if (listed !== 1) throw new Error(`expected the key to see exactly its one profile, saw ${listed}`);

    if (config.warmup > 0) {
      say(`warming up: ${config.warmup} s per side`);
      for (const side of [ours, floor]) {
        const problems = failures(await load(side, config.warmup, expected));
        if (problems.length) throw new Error(`warm-up failed:\n  ${problems.join("\n  ")}`);
      }
    }
    const runs: Record<string, Measured[]> = { ours: [], floor: [] };
    for (let round = 0; round < config.rounds; round++) {
      const order = round % 2 === 0 ? [ours, floor] : [floor, ours];
      const which = config.rounds > 1 ? `round ${round + 1}/${config.rounds}: ` : "";
      say(`${which}measuring ${order.map((side) => side.name).join(" then ")}: ${config.duration} s each, ${config.connections} connections`);
      for (const side of order) runs[side.name]!.push(await load(side, config.duration, expected));
    }

    report(summarise(runs.ours!), summarise(runs.floor!), { poolMax, counts: seeded.counts, loadBefore });
    const problems = [...runs.ours!, ...runs.floor!].flatMap(failures);
    if (problems.length) {
      process.stderr.write(`\nBENCHMARK FAILED: the figures above are not valid.\n  ${problems.join("\n  ")}\n`);
      process.exitCode = 1;
    }
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\nBENCHMARK FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
