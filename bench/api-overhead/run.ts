/**
 * API overhead benchmark: what our request pipeline costs on top of the database work it cannot avoid.
 *
 *   (a) ours:  GET /api/v1/profiles with an API key, through the local home's HTTP server (netlify.toml routing →
 *              the profiles function → zod query → one message to Postgres: the key lookup by hash, the caller's
 *              claims, and the SELECT under RLS as `amplify_api`, in one transaction → the key's 401s, billing gate,
 *              rate limit and quota → JSON).
 *   (b) floor: a bare node:http server + postgres.js pool of the same size running the same SELECT for the same user,
 *              with no auth, no RLS, no validation, writing the same JSON.
 *
 * Both run in this process against one embedded PostgreSQL in a temp dir, seeded once; autocannon drives them one
 * after the other with identical settings from a child process (load.ts). Every response must be a 200 with the exact
 * body the pipeline returned before the run, and ours must have metered every request, or the benchmark fails.
 * See bench/README.md.
 *
 *   npm run bench
 *   BENCH_DURATION=30 BENCH_CONNECTIONS=20 npm run bench
 */
import { fork, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import postgres from "postgres";
import { env } from "../../src/core/env.js";
import { limiterBackend } from "../../src/core/ratelimit/limiter.js";
import { startEmbeddedPostgres, type RunningPostgres } from "../../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome, type LocalHome } from "../../src/local/home.js";
import { postgresCpu } from "./cpu.js";
import { startFloor, type Floor } from "./floor.js";
import type { LoadJob, LoadReply } from "./load.js";
import { seed, type Seeded } from "./seed.js";
import { measureStages, type StageRow } from "./stages.js";
import { apiUsageMeter, flushApiUsage } from "../../src/core/ratelimit/api-usage.js";

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
  users: intEnv("BENCH_USERS", 200, 0),
  profilesPerUser: intEnv("BENCH_PROFILES_PER_USER", 5, 1),
  /** Other profiles the key's owner is a member of (0: just its own). */
  ownerMemberships: intEnv("BENCH_OWNER_MEMBERSHIPS", 0, 0),
  /** Calls per stage in the "where the time goes" table (0 skips it). */
  stageCalls: intEnv("BENCH_STAGE_CALLS", 300, 0),
};

const ENDPOINT = "/api/v1/profiles";

/**
 * The home's environment for a load test. The per-key rate limit (1,000 an hour) would answer 429 within seconds, so
 * it is raised out of reach: the limiter (the local home's in-process one) still counts every request, it never
 * refuses. BENCH_RATE_LIMIT_STORE=postgres measures the Postgres limiter instead (a deploy without Upstash). The local
 * scheduler's sweep (every 5 s by default) is put off so background work does not land in one side's measurement.
 */
const homeEnv: Record<string, string> = {
  RATE_LIMIT_OVERRIDES: "api_requests=1000000000/1h",
  SWEEP_INTERVAL_SECONDS: "3600",
  ...(process.env.BENCH_RATE_LIMIT_STORE ? { RATE_LIMIT_STORE: process.env.BENCH_RATE_LIMIT_STORE } : {}),
};
const say = (line: string) => process.stdout.write(`${line}\n`);
let rateLimitStore = "";

interface Side {
  name: string;
  url: string;
  headers: Record<string, string>;
}

interface Measured {
  result: autocannon.Result;
  /** Share of wall time the main thread's event loop (where both servers run) was busy. */
  serverLoopBusy: number;
  /** CPU ms this process used meanwhile (user + system, all its threads; the load generator is another process). */
  serverCpuMs: number;
  /** CPU ms used by PostgreSQL meanwhile, when it can be read (Linux). */
  postgresCpuMs?: number;
}

/**
 * Lets the requests still in flight when the load generator stopped finish (their sockets are gone, their queries are
 * not), so one side's tail never overlaps the next measurement and nothing is still queued for a pool when it closes:
 * postgres.js' end() lets queries waiting for a connection reconnect after it resolves.
 */
const settle = () => new Promise((resolve) => setTimeout(resolve, 500));

let readPostgresCpu: (() => number) | undefined;

/** The load generator's process (load.ts), forked once; it inherits tsx's loader through execArgv. */
let generator: ChildProcess | undefined;

function runInGenerator(job: LoadJob): Promise<autocannon.Result> {
  const child = (generator ??= fork(fileURLToPath(new URL("./load.ts", import.meta.url)), { stdio: "inherit" }));
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code}) mid-run`));
    child.once("exit", onExit);
    child.once("message", (reply: LoadReply) => {
      child.off("exit", onExit);
      if (reply.ok) resolve(reply.result);
      else reject(new Error(`autocannon: ${reply.error}`));
    });
    child.send(job);
  });
}

async function load(side: Side, seconds: number, expectBody: string): Promise<Measured> {
  const elu = performance.eventLoopUtilization();
  const cpu = process.cpuUsage();
  const pgBefore = readPostgresCpu?.();
  const result = await runInGenerator({
    url: side.url + ENDPOINT,
    headers: side.headers,
    connections: config.connections,
    duration: seconds,
    expectBody,
    timeout: 10,
    title: side.name,
  });
  const busy = performance.eventLoopUtilization(elu);
  const used = process.cpuUsage(cpu);
  const pgAfter = readPostgresCpu?.();
  await settle();
  return {
    result,
    serverLoopBusy: busy.utilization,
    serverCpuMs: (used.user + used.system) / 1000,
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
  const line = (r: string[]) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!)));
  return rows.map((r) => line(r).join("   ").trimEnd()).join("\n");
}

const fmt = (n: number, digits: number) =>
  n.toLocaleString("en-GB", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const ratio = (a: number, b: number) => (b > 0 ? `${fmt(a / b, 2)}×` : "n/a");
/** A table row comparing one figure: ours, the floor's, and their ratio. */
const compare = (label: string, a: number, b: number, digits: number) => [label, fmt(a, digits), fmt(b, digits), ratio(a, b)];

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
  non2xx: number;
  loopBusy: number;
  /** Per response: CPU ms of this process (the server under test) and of PostgreSQL (NaN when unreadable). */
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
    non2xx: runs.reduce((sum, m) => sum + m.result.non2xx, 0),
    loopBusy: median(runs.map((m) => m.serverLoopBusy)),
    serverMsPerReq: median(runs.map((m) => m.serverCpuMs / m.result.latency.totalCount)),
    postgresMsPerReq: median(runs.map((m) => (m.postgresCpuMs ?? Number.NaN) / m.result.latency.totalCount)),
  };
}

interface RunContext {
  poolMax: number;
  counts: Seeded["counts"];
  loadBefore: number;
  /** The key owner's API request counter for this month, after the run. */
  metered: number;
  stages: StageRow[];
  /** Batched writes of the monthly counter during the run (src/core/ratelimit/api-usage.ts). */
  flushes: number;
}

function stageTable(rows: StageRow[]): string {
  return table([
    ["stage (one call at a time)", "statements", "round trips", "wall ms", "node CPU ms", "postgres CPU ms"],
    ...rows.map((r) => [
      r.stage,
      fmt(r.statements, 1),
      fmt(r.roundTrips, 1),
      fmt(r.wallMs, 2),
      fmt(r.nodeCpuMs, 2),
      Number.isNaN(r.postgresCpuMs) ? "n/a" : fmt(r.postgresCpuMs, 2),
    ]),
  ]);
}

function report(ours: Summary, floor: Summary, context: RunContext) {
  const { poolMax, counts, loadBefore, metered, stages, flushes } = context;
  const rounds = config.rounds > 1 ? ` · median of ${config.rounds} rounds` : "";
  say("");
  const floorSql = config.ownerMemberships ? "the same SELECT, plus the key's profile in its WHERE" : "the same SELECT";
  say(`GET ${ENDPOINT} with an API key: our full pipeline vs a bare node:http + postgres.js floor running ${floorSql}`);
  say(
    `${config.connections} connections × ${config.duration} s per side after ${config.warmup} s warm-up${rounds} · ` +
      `DB pool ${poolMax} per side · ${counts.users} users, ${counts.profiles} profiles, ${counts.members} memberships, ` +
      `${counts.apiKeys} keys` +
      (config.ownerMemberships ? ` · key's owner in ${config.ownerMemberships + 1} profiles` : "") +
      ` · Node ${process.version} · ${os.availableParallelism()} CPUs · load average ${fmt(loadBefore, 2)} before, ` +
      `${fmt(os.loadavg()[0]!, 2)} after · rate limits counted ${rateLimitStore}`,
  );
  say("");
  say(
    table([
      ["", "ours", "floor", "ours/floor"],
      compare("requests/s", ours.rps, floor.rps, 0),
      compare("latency p50 (ms)", ours.p50, floor.p50, 0),
      compare("latency p99 (ms)", ours.p99, floor.p99, 0),
      ["responses (non-2xx)", ...[ours, floor].map((x) => `${fmt(x.responses, 0)} (${fmt(x.non2xx, 0)})`), ""],
      ["server event loop busy", ...[ours, floor].map((x) => `${fmt(x.loopBusy * 100, 0)}%`), ""],
      compare("server CPU ms/request", ours.serverMsPerReq, floor.serverMsPerReq, 2),
      ...(Number.isNaN(ours.postgresMsPerReq)
        ? []
        : [compare("postgres CPU ms/request", ours.postgresMsPerReq, floor.postgresMsPerReq, 2)]),
    ]),
  );
  say("");
  say(
    `Ours counted every request against the key's rate limit and its owner's monthly quota, as in production ` +
      `(this month's counter: ${fmt(metered, 0)}, warm-up and stage calls included, written in ${fmt(flushes, 0)} batches); ` +
      `the owner's Unlimited plan and RATE_LIMIT_OVERRIDES only keep the counts from ever refusing one.`,
  );
  if (stages.length) {
    say("");
    say(`Where the time goes (${config.stageCalls} calls per stage, after 20 unmeasured; statements and round trips counted on the wire):`);
    say("");
    say(stageTable(stages));
  }
  say("");
  say(
    "The difference pays for: the key lookup by SHA-256 hash (the PL/pgSQL function verify_api_key), which also reads " +
      "the owner's subscription and this month's API counter (and, on the Postgres limiter only, counts the key's " +
      "rate-limit window); the caller's claims, built in SQL from the key, and the switch to `amplify_api`, so that RLS " +
      "enforces tenancy; BEGIN and COMMIT around them and the SELECT (under two RLS policies) — all sent as one " +
      "message, one round trip against the floor's two (with prepare: false, which Supabase's transaction pooler needs, " +
      "postgres.js sends a statement with parameters in two); the rate limit (in-process in the local home) and the " +
      "monthly quota (counted in-process, written in batches); the billing gate; zod query validation; and routing " +
      "through netlify.toml plus the local server's Request/Response adapter (and its request log line, unless " +
      "LOG_LEVEL=warn). Routes whose work is not one read known up front take the usual steps: the lookup, then " +
      "BEGIN, the setup with the first statement, COMMIT (the stage table's \"other routes' steps\" rows).",
  );
}

/** Runs the benchmark; true when every response on both sides was a 200 with the expected body. */
async function main(): Promise<boolean> {
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const cleanUp = () =>
    (stopping ??= (async () => {
      if (generator && generator.exitCode === null) {
        generator.kill();
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
  // embedded-postgres (through async-exit-hook) also listens for these signals, stops its servers and exits on its
  // own schedule; the temp dir is removed on exit below whichever of us gets there first.
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
    process.once("exit", () => rmSync(dir, { recursive: true, force: true }));
    // As root, Postgres runs as the `postgres` user, which must be able to enter this directory.
    await chmod(dir, 0o755);

    say(`starting embedded PostgreSQL in ${dir}`);
    const pg: RunningPostgres = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
    cleanups.push({ name: "stop embedded PostgreSQL", run: () => pg.stop() });
    readPostgresCpu = postgresCpu(path.join(dir, "pg"));

    const home: LocalHome = await startLocalHome({ databaseUrl: pg.url, port: 0, secrets: generateSecrets(), env: homeEnv });
    cleanups.push({ name: "stop local home", run: () => home.stop() });
    const poolMax = env().DATABASE_POOL_MAX;
    rateLimitStore = limiterBackend(env()) === "memory" ? "in-process" : limiterBackend(env());

    const admin = postgres(pg.url, { max: 1, onnotice: () => {} });
    cleanups.push({ name: "close admin connection", run: () => admin.end({ timeout: 5 }) });
    say(
      `seeding: 1 paid user with a profile and an API key` +
        (config.ownerMemberships ? ` (and a member of ${config.ownerMemberships} other profiles)` : "") +
        `, ${config.users} other users × ${config.profilesPerUser} profiles`,
    );
    const seeded = await seed(home, admin, config);

    const floorServer: Floor = await startFloor({
      databaseUrl: pg.url,
      poolMax,
      userId: seeded.userId,
      onlyProfileId: config.ownerMemberships > 0 ? seeded.profileId : undefined,
    });
    cleanups.push({ name: "close floor server", run: () => floorServer.close() });

    // The load generator talks to 127.0.0.1 on both sides (the home's URL says localhost, which may resolve to ::1).
    const homeUrl = new URL(home.url);
    homeUrl.hostname = "127.0.0.1";
    const ours: Side = { name: "ours", url: homeUrl.origin, headers: { "x-api-key": seeded.apiKey } };
    const floor: Side = { name: "floor", url: floorServer.url, headers: {} };

    const expected = await probe(ours);
    const floorBody = await probe(floor);
    if (floorBody !== expected) {
      throw new Error(
        `the floor's response differs from ours, so they are not doing the same work:\nours:  ${expected}\nfloor: ${floorBody}`,
      );
    }
    const listed = (JSON.parse(expected) as { profiles: unknown[] }).profiles.length;
    if (listed !== 1) throw new Error(`expected the key to see exactly its one profile, saw ${listed}`);

    let stages: StageRow[] = [];
    if (config.stageCalls > 0) {
      say(`where the time goes: ${config.stageCalls} calls per stage, one at a time`);
      stages = await measureStages({
        home,
        apiKey: seeded.apiKey,
        oursUrl: ours.url,
        floorUrl: floor.url,
        endpoint: ENDPOINT,
        postgresPort: pg.port,
        calls: config.stageCalls,
        readPostgresCpu,
      });
    }

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
      const sides = order.map((side) => side.name).join(" then ");
      say(`${which}measuring ${sides}: ${config.duration} s each, ${config.connections} connections`);
      for (const side of order) runs[side.name]!.push(await load(side, config.duration, expected));
    }

    // Every request ours served was metered: once this process has written its batches, the month's counter holds at
    // least that many.
    await flushApiUsage();
    const [usage] = await admin<{ used: number }[]>`
      select coalesce(sum(used), 0)::int as used from public.usage_counters
      where user_id = ${seeded.userId} and metric = 'api_requests'`;
    report(summarise(runs.ours!), summarise(runs.floor!), {
      poolMax,
      counts: seeded.counts,
      loadBefore,
      metered: usage!.used,
      stages,
      flushes: apiUsageMeter().stats.flushes,
    });
    const problems = [...runs.ours!, ...runs.floor!].flatMap(failures);
    const served = runs.ours!.reduce((sum, m) => sum + m.result["2xx"], 0);
    if (usage!.used < served) {
      problems.push(
        `ours: served ${served} requests but counted only ${usage!.used}: the pipeline is not metering as in production`,
      );
    }
    if (problems.length) {
      process.stderr.write(`\nBENCHMARK FAILED: the figures above are not valid.\n  ${problems.join("\n  ")}\n`);
      return false;
    }
    return true;
  } finally {
    await cleanUp();
  }
}

// Exit explicitly: embedded-postgres turns a natural exit into exit code 0 (async-exit-hook on `beforeExit`), which
// would hide a failed run from scripts and CI.
main().then(
  (ok) => process.exit(ok ? 0 : 1),
  (error: unknown) => {
    process.stderr.write(`\nBENCHMARK FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
