/**
 * Part 1: what it costs the sweep to put a backlog of N due targets on the queue.
 *
 * No local home here: the home always starts the QStash emulator's delivery loop, which would publish what the sweep
 * enqueues and mix delivery into the figures. Instead: the migrated database, a QStash emulator mounted on a bare
 * node:http server and never started (messages are stored exactly as the home stores them, nothing is delivered),
 * and the environment the queue port reads. `sweep()` runs in this process, as the scheduled function would.
 */
import type http from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import postgres from "postgres";
import { env, resetEnvForTests } from "../../src/core/env.js";
import type { QueueJob } from "../../src/core/queue.js";
import { closeServices, services } from "../../src/core/services.js";
import { generateSecrets, roleKey } from "../../src/local/home.js";
import { migrate } from "../../src/local/migrate.js";
import { createQStashEmulator } from "../../src/local/qstash-emulator.js";
import { listen } from "../../src/local/server.js";
import { BATCH, dedupId, LOOKAHEAD_SECONDS, sweep } from "../../src/core/jobs/index.js";
import { publishJob } from "../../src/publishing/job.js";
import { fmt, say, table } from "./report.js";

/** The outbox's batch size: one dispatch transaction takes at most this many targets (src/core/jobs/outbox.ts). */
const SWEEP_BATCH = BATCH;
/** sweep()'s default time budget per run (ms), which the scheduled function uses. */
const SWEEP_BUDGET_MS = 20_000;
/** How often the cloud runs the sweep (netlify/functions/sweep.ts: every minute). */
const CLOUD_INTERVAL_SECONDS = 60;

export interface EnqueueConfig {
  sizes: number[];
  /** Per size and per measurement: stop after this many seconds and project the rest. */
  maxSeconds: number;
  /** Also measure the floors (queue calls alone, set-based SQL). */
  floors: boolean;
  /** The queue-calls floor costs the same per message at any N: measure it this long at most, then project. */
  floorSeconds: number;
}

interface Fixture {
  databaseUrl: string;
  admin: postgres.Sql;
  userId: string;
  profileId: string;
  connectionId: string;
  callbackUrl: string;
}

interface Timed {
  seconds: number;
  done: number;
  /** Set when the cap stopped the measurement before `done` reached N. */
  projectedSeconds?: number;
}

interface SweepMeasurement extends Timed {
  runs: { ms: number; enqueued: number }[];
  /** Per batch (from post_targets.queued_at, the start of each batch's transaction): ms until the next one started. */
  batchGapsMs: number[];
  /** One more run once everything is queued (and still pending, as it is until delivery): what an idle sweep costs. */
  idleRunMs: number;
  /** EXPLAIN ANALYZE of the sweep's due query once the run stopped: rows it read and threw away, and its time. */
  dueQuery: DueQuery;
  model: Model;
  nodeCpuSeconds: number;
  postgresCpuSeconds?: number;
}

interface SizeResult {
  n: number;
  sweep: SweepMeasurement;
  queueCalls?: Timed;
  sqlFloor?: Timed;
}

function withDatabase(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const median = (values: number[]) => {
  if (!values.length) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

/** Total seconds for all N: measured, or projected (marked with ~) when the cap stopped the run. */
const totalOf = (t: Timed) => t.projectedSeconds ?? t.seconds;
const shown = (t: Timed | undefined, digits = 2) =>
  t === undefined ? "-" : t.projectedSeconds !== undefined ? `~${fmt(t.projectedSeconds, 0)} (proj.)` : fmt(t.seconds, digits);

interface DueQuery {
  rowsRemovedByFilter: number;
  ms: number;
  scan: string;
}

/**
 * A batch that starts with k targets already queued costs baseMs + rereadMsPerRow × k: the due query reads every
 * queued-but-undelivered target again before it finds pending ones (measured by EXPLAIN ANALYZE), everything else
 * (the queue calls, the update) costs the same per batch. baseMs is what is left of the measured time per batch.
 */
interface Model {
  baseMs: number;
  rereadMsPerRow: number;
  /** Seconds of the measured time the due query spent re-reading queued targets (by the model). */
  rereadSeconds: number;
}

/** Σ k over the batches that start at from, from + 500, … below to. */
function queuedBeforeBatches(from: number, to: number): number {
  let sum = 0;
  for (let k = from; k < to; k += SWEEP_BATCH) sum += k;
  return sum;
}

function modelOf(seconds: number, done: number, due: DueQuery): Model {
  const rereadMsPerRow = due.rowsRemovedByFilter > 0 ? due.ms / due.rowsRemovedByFilter : 0;
  const rereadSeconds = (rereadMsPerRow * queuedBeforeBatches(0, done)) / 1000;
  const batches = Math.max(1, Math.ceil(done / SWEEP_BATCH));
  return { baseMs: Math.max(0, ((seconds - rereadSeconds) * 1000) / batches), rereadMsPerRow, rereadSeconds };
}

/** Seconds for the batches that move the queued count from `from` to `to`, by the model. */
function modelSeconds(m: Model, from: number, to: number): { total: number; reread: number } {
  const batches = Math.max(0, Math.ceil((to - from) / SWEEP_BATCH));
  const reread = (m.rereadMsPerRow * queuedBeforeBatches(from, to)) / 1000;
  return { total: (m.baseMs * batches) / 1000 + reread, reread };
}

export async function setUpQueueOnly(serverUrl: string, admin0: postgres.Sql, cleanups: { name: string; run: () => Promise<void> }[]): Promise<Fixture> {
  await admin0.unsafe("create database sweep_enqueue");
  const databaseUrl = withDatabase(serverUrl, "sweep_enqueue");
  await migrate(databaseUrl);

  const secrets = generateSecrets();
  // As the home does: the emulator keeps its state in the same database, in schema local_qstash.
  const emulatorSql = postgres(databaseUrl, { max: 6, prepare: false, onnotice: () => {} });
  cleanups.push({ name: "close the emulator's pool", run: () => emulatorSql.end({ timeout: 5 }) });
  const qstash = await createQStashEmulator({
    sql: emulatorSql,
    token: secrets.qstashToken,
    currentSigningKey: secrets.qstashCurrentSigningKey,
    nextSigningKey: secrets.qstashNextSigningKey,
  });
  // qstash.start() is never called: messages are stored, none is delivered.
  const server: http.Server = await listen(qstash.handler, 0);
  cleanups.push({
    name: "close the emulator's server",
    run: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  });
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  Object.assign(process.env, {
    AMPLIFY_HOME: "local",
    DATABASE_URL: databaseUrl,
    SUPABASE_URL: url,
    SUPABASE_ANON_KEY: await roleKey("anon", secrets.jwtSecret),
    SUPABASE_JWT_SECRET: secrets.jwtSecret,
    ENCRYPTION_KEY: secrets.encryptionKey,
    APP_URL: url,
    QSTASH_URL: `${url}/qstash`,
    QSTASH_TOKEN: secrets.qstashToken,
    QSTASH_CURRENT_SIGNING_KEY: secrets.qstashCurrentSigningKey,
    QSTASH_NEXT_SIGNING_KEY: secrets.qstashNextSigningKey,
    // Nothing is delivered, so nothing ever calls this back.
    QUEUE_CALLBACK_BASE_URL: url,
  });
  resetEnvForTests();
  // The product's pool is created on first use from DATABASE_URL; close it when this part ends so that the home of
  // part 2 gets a pool on its own database.
  cleanups.push({ name: "close the product's pool", run: () => closeServices() });

  const admin = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  cleanups.push({ name: "close the admin pool", run: () => admin.end({ timeout: 5 }) });
  const [user] = await admin<{ id: string }[]>`
    insert into auth.users (id, aud, role, email, created_at, updated_at)
    values (gen_random_uuid(), 'authenticated', 'authenticated', 'sweep-bench@example.com', now(), now())
    returning id`;
  const [profile] = await admin<{ id: string }[]>`
    insert into public.profiles (name, created_by) values ('Sweep benchmark', ${user!.id}) returning id`;
  await admin`insert into public.profile_members (profile_id, user_id, role) values (${profile!.id}, ${user!.id}, 'owner')`;
  const [connection] = await admin<{ id: string }[]>`
    insert into public.connections (profile_id, platform, external_account_id, username, access_token_enc)
    values (${profile!.id}, 'twitter', 'sweep-bench', 'sweep_bench', 'never decrypted by the sweep')
    returning id`;
  return {
    databaseUrl,
    admin,
    userId: user!.id,
    profileId: profile!.id,
    connectionId: connection!.id,
    callbackUrl: new URL(publishJob.path, url).href,
  };
}

async function truncateAll(admin: postgres.Sql): Promise<void> {
  await admin`
    truncate public.posts, public.post_targets, public.post_media, public.job_logs, public.events,
             local_qstash.attempts, local_qstash.messages, local_qstash.deduplication cascade`;
}

async function truncateQueue(admin: postgres.Sql): Promise<void> {
  await admin`truncate local_qstash.attempts, local_qstash.messages, local_qstash.deduplication`;
  await admin`vacuum analyze local_qstash.messages, local_qstash.deduplication`;
}

/**
 * N scheduled posts with one pending X target each, due over the next 10 to 110 s (inside the 120 s lookahead, and
 * still due however long the run takes), never queued: one `insert … select generate_series` per table.
 */
async function seed(f: Fixture, n: number): Promise<number> {
  const started = performance.now();
  await f.admin`
    insert into public.posts (profile_id, content, status, scheduled_for, created_by)
    select ${f.profileId}, 'Sweep benchmark post #' || g, 'scheduled',
           date_trunc('second', now()) + interval '10 seconds' + (g % 100) * interval '1 second', ${f.userId}
    from generate_series(1, ${n}::int) as g`;
  await f.admin`
    insert into public.post_targets (post_id, profile_id, platform, connection_id, scheduled_for, due_at)
    select id, profile_id, 'twitter', ${f.connectionId}, scheduled_for, scheduled_for from public.posts`;
  // Statistics and the visibility map as autovacuum would leave them shortly after such a burst of inserts.
  await f.admin`vacuum analyze public.posts, public.post_targets`;
  return (performance.now() - started) / 1000;
}

/**
 * Floor 1: the same messages through the queue port the sweep uses (`services().queue.enqueue`: Client.batchJSON, 100
 * per call) without the sweep.
 */
async function measureQueueCalls(f: Fixture, n: number, maxSeconds: number): Promise<Timed> {
  await truncateQueue(f.admin);
  const rows = await f.admin<{ id: string; due_at: Date }[]>`
    select id, due_at from public.post_targets order by due_at`;
  const jobs: QueueJob[] = rows.map((t) => ({
    path: publishJob.path,
    body: publishJob.outbox!.message(t.id),
    notBefore: t.due_at,
    deduplicationId: dedupId(publishJob.name, t.id, t.due_at),
  }));
  const { queue } = services();
  const started = performance.now();
  let done = 0;
  // In chunks of the sweep's batch size, so a cap can stop it; the queue port still calls QStash 100 at a time.
  while (done < jobs.length && performance.now() - started < maxSeconds * 1000) {
    const chunk = jobs.slice(done, done + SWEEP_BATCH);
    await queue.enqueue(chunk);
    done += chunk.length;
  }
  const seconds = (performance.now() - started) / 1000;
  await truncateQueue(f.admin);
  return { seconds, done, ...(done < n ? { projectedSeconds: (seconds / done) * n } : {}) };
}

/**
 * Floor 2: the same end state in one set-based statement: select the due targets as the sweep does, write the
 * messages and deduplication ids the emulator would store, and mark the targets queued (the sweep then gets a fresh seed).
 */
async function measureSqlFloor(f: Fixture): Promise<Timed> {
  await truncateQueue(f.admin);
  const started = performance.now();
  const [row] = await f.admin<{ marked: number }[]>`
    with due as materialized (
      select id, due_at, 'msg_' || md5(id::text) as message_id,
             'publish:' || id || ':' || (extract(epoch from due_at) * 1000)::bigint as dedup_id
      from public.post_targets
      where status = 'pending' and queued_for is distinct from due_at
        and due_at <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
      order by due_at
      for no key update
    ), dedup as (
      insert into local_qstash.deduplication (id, message_id, expires_at)
      select dedup_id, message_id, now() + interval '10 minutes' from due
    ), messages as (
      insert into local_qstash.messages (id, url, method, header, body, max_retries, timeout_ms, state, not_before, deduplication_id)
      select message_id, ${f.callbackUrl}, 'POST', '{"Content-Type": ["application/json"]}'::jsonb,
             convert_to(json_build_object('targetId', id)::text, 'UTF8'), 3, 15000, 'CREATED',
             to_timestamp(ceil(extract(epoch from due_at))), dedup_id
      from due
    ), marked as (
      update public.post_targets t set queued_for = t.due_at, queued_at = now() from due where t.id = due.id returning 1
    )
    select count(*)::int as marked from marked`;
  const seconds = (performance.now() - started) / 1000;
  await truncateQueue(f.admin);
  return { seconds, done: row!.marked };
}

interface PlanNode {
  "Node Type": string;
  "Index Name"?: string;
  "Rows Removed by Filter"?: number;
  Plans?: PlanNode[];
}

/**
 * EXPLAIN ANALYZE of the outbox's first due read as `publishJob.dispatch("all-due")` runs it (the SQL of
 * src/core/jobs/outbox.ts for post_targets): how many rows it reads only to discard them.
 */
async function explainDueQuery(admin: postgres.Sql): Promise<DueQuery> {
  let best: DueQuery | undefined;
  // The least of three: the figure of the query, not of whatever else this shared machine was doing at that moment.
  for (let i = 0; i < 3; i++) {
    const once = await explainOnce(admin);
    if (!best || once.ms < best.ms) best = once;
  }
  return best!;
}

async function explainOnce(admin: postgres.Sql): Promise<DueQuery> {
  const [row] = await admin.unsafe<{ "QUERY PLAN": [{ Plan: PlanNode; "Execution Time": number }] }[]>(`
    explain (analyze, format json)
    select id, due_at as due, queued_for from public.post_targets
    where status = 'pending' and queued_for is distinct from due_at and true
      and due_at <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
    order by due_at
    limit ${SWEEP_BATCH}
    for no key update skip locked`);
  const plan = row!["QUERY PLAN"][0];
  let removed = 0;
  const scans: string[] = [];
  const walk = (node: PlanNode) => {
    removed += node["Rows Removed by Filter"] ?? 0;
    if (node["Node Type"].includes("Scan")) scans.push(node["Index Name"] ? `${node["Node Type"]} on ${node["Index Name"]}` : node["Node Type"]);
    node.Plans?.forEach(walk);
  };
  walk(plan.Plan);
  return { rowsRemovedByFilter: removed, ms: plan["Execution Time"], scan: scans.join(", ") };
}

async function measureSweep(f: Fixture, n: number, maxSeconds: number, readPostgresCpu?: () => number): Promise<SweepMeasurement> {
  const runs: { ms: number; enqueued: number }[] = [];
  const cpuBefore = process.cpuUsage();
  const pgBefore = readPostgresCpu?.();
  const { queue } = services();
  const started = performance.now();
  let done = 0;
  // As the scheduler would: one run after another until nothing is left (here back to back, not a minute apart).
  while (done < n && performance.now() - started < maxSeconds * 1000) {
    const t0 = performance.now();
    const enqueued = (await sweep([publishJob])).publish!.enqueued;
    runs.push({ ms: performance.now() - t0, enqueued });
    done += enqueued;
    if (enqueued === 0) break;
  }
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const pgAfter = readPostgresCpu?.();

  const [left] = await f.admin<{ count: number }[]>`
    select count(*)::int as count from public.post_targets where status = 'pending' and queued_for is null`;
  if (done >= n && left!.count !== 0) throw new Error(`the sweep reported ${done} enqueued but ${left!.count} targets are not queued`);
  if (done < n && runs.at(-1)?.enqueued === 0) {
    throw new Error(`the sweep stopped finding targets after ${done} of ${n} (${left!.count} still not queued)`);
  }
  const [messages] = await f.admin<{ count: number }[]>`select count(*)::int as count from local_qstash.messages`;
  if (messages!.count !== done) throw new Error(`${done} targets marked queued but the emulator holds ${messages!.count} messages`);

  // Each batch's transaction start is its targets' queued_at: the gaps between them are the batches' durations.
  const batches = await f.admin<{ at: Date }[]>`
    select queued_at as at from public.post_targets where queued_at is not null group by queued_at order by queued_at`;
  const gaps: number[] = [];
  for (let i = 0; i + 1 < batches.length; i++) gaps.push(batches[i + 1]!.at.getTime() - batches[i]!.at.getTime());

  // With everything queued, the due query skips all N; when capped, the `done` queued so far before it finds more.
  const dueQuery = await explainDueQuery(f.admin);
  const model = modelOf(seconds, done, dueQuery);

  let idleRunMs = Number.NaN;
  if (done >= n) {
    const t0 = performance.now();
    const idle = (await sweep([publishJob])).publish!.enqueued;
    idleRunMs = performance.now() - t0;
    if (idle !== 0) throw new Error(`an idle sweep enqueued ${idle} targets again`);
  }
  return {
    seconds,
    done,
    runs,
    batchGapsMs: gaps,
    idleRunMs,
    dueQuery,
    model,
    nodeCpuSeconds: (cpu.user + cpu.system) / 1e6,
    ...(pgBefore !== undefined && pgAfter !== undefined ? { postgresCpuSeconds: (pgAfter - pgBefore) / 1000 } : {}),
    ...(done < n ? { projectedSeconds: seconds + modelSeconds(model, done, n).total } : {}),
  };
}

/** JIT, pools and the emulator's first statements warm, unmeasured: a small backlog through both paths. */
async function warmUp(f: Fixture): Promise<void> {
  await truncateAll(f.admin);
  await seed(f, 2 * SWEEP_BATCH);
  await measureQueueCalls(f, 2 * SWEEP_BATCH, 60);
  await measureSweep(f, 2 * SWEEP_BATCH, 60);
  await truncateAll(f.admin);
}

export async function runEnqueue(f: Fixture, config: EnqueueConfig, readPostgresCpu?: () => number): Promise<SizeResult[]> {
  const results: SizeResult[] = [];
  say(`  warming up (${fmt(2 * SWEEP_BATCH)} targets through the queue port and the sweep, not measured)`);
  await warmUp(f);
  for (const n of config.sizes) {
    say("");
    say(`N = ${fmt(n)}`);
    const previous = results.at(-1);
    if (previous) {
      const projected = modelSeconds(previous.sweep.model, 0, n).total;
      if (projected > config.maxSeconds) {
        say(
          `  projected from N = ${fmt(previous.n)}: ~${fmt(projected, 0)} s, more than SWEEP_MAX_SECONDS = ${config.maxSeconds}: ` +
            `measuring for ${config.maxSeconds} s, then projecting the rest from the batches measured`,
        );
      }
    }
    await truncateAll(f.admin);
    const result: SizeResult = { n, sweep: undefined as never };
    if (config.floors) {
      say(`  seeding ${fmt(n)} due targets: ${fmt(await seed(f, n), 1)} s`);
      result.queueCalls = await measureQueueCalls(f, n, Math.min(config.floorSeconds, config.maxSeconds));
      say(`  floor, queue calls alone (enqueue, no sweep): ${shown(result.queueCalls)} s`);
      result.sqlFloor = await measureSqlFloor(f);
      say(`  floor, one set-based SQL statement: ${shown(result.sqlFloor, 3)} s`);
      await truncateAll(f.admin);
    }
    say(`  seeding ${fmt(n)} due targets: ${fmt(await seed(f, n), 1)} s`);
    result.sweep = await measureSweep(f, n, config.maxSeconds, readPostgresCpu);
    const s = result.sweep;
    say(
      `  sweep: ${fmt(s.done)} enqueued in ${fmt(s.seconds, 2)} s over ${s.runs.length} run(s)` +
        (s.projectedSeconds !== undefined ? ` (capped; projected total ~${fmt(s.projectedSeconds, 0)} s)` : ""),
    );
    results.push(result);
  }
  return results;
}

export function reportEnqueue(results: SizeResult[], config: EnqueueConfig, context: { loadBefore: number; loadAfter: number }): void {
  say("");
  say("1. Enqueue cost of the sweep: N due targets (pending, due within the lookahead, never queued) put on the queue");
  say(
    `   sweep() in this process, default budget ${SWEEP_BUDGET_MS / 1000} s per run, called again until nothing is left; ` +
      `batches of ${SWEEP_BATCH}; QStash emulator storing messages, delivery stopped · DB pool ${env().DATABASE_POOL_MAX} · ` +
      `machine load average ${fmt(context.loadBefore, 2)} → ${fmt(context.loadAfter, 2)}`,
  );
  say("");
  const rows: string[][] = [
    ["N", "total s", "targets/s", "runs", "longest run s", "× prev N", "× prev time", "1st batches ms", "last batches ms", "idle run ms", "due query: rows skipped", "ms"],
  ];
  results.forEach((r, i) => {
    const s = r.sweep;
    const prev = results[i - 1];
    const gaps = s.batchGapsMs;
    rows.push([
      fmt(r.n),
      s.projectedSeconds !== undefined ? `~${fmt(s.projectedSeconds, 0)} (proj.)` : fmt(s.seconds, 2),
      fmt(s.done / s.seconds, 0),
      s.projectedSeconds !== undefined ? `≥ ${s.runs.length}` : String(s.runs.length),
      fmt(Math.max(...s.runs.map((x) => x.ms)) / 1000, 2),
      prev ? `${fmt(r.n / prev.n, 1)}×` : "",
      prev ? `${fmt(totalOf(s) / totalOf(prev.sweep), 1)}×` : "",
      fmt(median(gaps.slice(0, 5)), 0),
      fmt(median(gaps.slice(-5)), 0),
      fmt(s.idleRunMs, 0),
      s.dueQuery ? fmt(s.dueQuery.rowsRemovedByFilter) : "n/a",
      s.dueQuery ? fmt(s.dueQuery.ms, 1) : "n/a",
    ]);
  });
  say(table(rows));
  say("");
  say(
    "   targets/s is over the time measured (up to the cap); 1st/last batches: median duration of the first and last 5 batches " +
      `(from the targets' queued_at); idle run: one more sweep once all N are queued but not yet delivered; due query: EXPLAIN ANALYZE ` +
      `of the sweep's select at that point (${results.at(-1)?.sweep.dueQuery?.scan ?? "?"}), rows read and discarded by its filter.`,
  );
  say("");
  const costs: string[][] = [
    ["N", "base ms/batch", "re-read µs/queued row", "s re-reading", "share", "node CPU s", "postgres CPU s", "drain at 1 run/min"],
  ];
  for (const r of results) {
    const s = r.sweep;
    const total = totalOf(s);
    const reread = s.projectedSeconds !== undefined ? modelSeconds(s.model, 0, r.n).reread : s.model.rereadSeconds;
    costs.push([
      fmt(r.n),
      fmt(s.model.baseMs, 0),
      fmt(s.model.rereadMsPerRow * 1000, 2),
      fmt(reread, 1),
      `${fmt((reread / total) * 100, 1)}%`,
      fmt(s.nodeCpuSeconds, 1),
      s.postgresCpuSeconds === undefined ? "n/a" : fmt(s.postgresCpuSeconds, 1),
      s.projectedSeconds !== undefined
        ? "-"
        : `~${fmt((Math.max(0, s.runs.length - 1) * CLOUD_INTERVAL_SECONDS + (s.runs.at(-1)?.ms ?? 0) / 1000) / 60, 1)} min`,
    ]);
  }
  say(table(costs));
  say("");
  say(
    "   the sweep's due query walks post_targets_unqueued_due_idx (pending targets by due_at with no message for it yet): queued targets, which stay " +
      "pending until delivered, leave that index, so 'rows skipped' is 0 and the re-read term vanishes. The model is kept to show it: " +
      "a backlog costs base × N/500 + re-read × N²/1000. base = the rest of a batch (5 queue calls, the update), from the measured total; " +
      `two batches are in flight per sweep (SWEEP_LANES), so base is per batch of wall time; CPU = this process (sweep + emulator) and PostgreSQL.`,
  );
  const largest = results.at(-1);
  if (largest) {
    const m = largest.sweep.model;
    for (const n of [1_000_000]) {
      if (n <= largest.n) continue;
      const projected = modelSeconds(m, 0, n);
      say(
        `   the same model at N = ${fmt(n)}: ~${fmt(projected.total, 0)} s, of which ~${fmt(projected.reread, 0)} s (${fmt((projected.reread / projected.total) * 100, 0)}%) re-reading; ` +
          `with real QStash the base per batch is 5 HTTPS round trips to QStash instead of 5 calls to the emulator (one store statement each), so the re-read share is larger.`,
      );
    }
  }
  if (config.floors) {
    say("");
    const floors: string[][] = [["N", "sweep s", "queue calls alone s", "one SQL statement s", "sweep / queue calls", "sweep / SQL"]];
    for (const r of results) {
      floors.push([
        fmt(r.n),
        shown(r.sweep),
        shown(r.queueCalls),
        shown(r.sqlFloor, 3),
        r.queueCalls ? `${fmt(totalOf(r.sweep) / totalOf(r.queueCalls), 2)}×` : "-",
        r.sqlFloor ? `${fmt(totalOf(r.sweep) / totalOf(r.sqlFloor), 0)}×` : "-",
      ]);
    }
    say(table(floors));
    say("");
    say(
      "   floors, same N, same run: 'queue calls alone' sends the same messages through the queue port (Client.batchJSON, 100 per call) " +
        "to the same emulator without selecting or marking targets; 'one SQL statement' reaches the sweep's end state (messages, " +
        "deduplication ids, targets marked queued) in one set-based insert/update, the least the database can do.",
    );
  }
}
