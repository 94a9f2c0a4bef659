/**
 * Part 2: how late scheduled posts publish in the local home, end to end.
 *
 * A full local home (QStash emulator delivering, sandbox networks, the sweep every second), a paid user with an API
 * key per profile and a connected sandbox X account per profile, M scheduled posts created through POST /api/v1/post
 * over the next ~20 s, each on a whole second with unique content. Lateness is post_targets.published_at −
 * scheduled_for, as the database recorded it.
 */
import os from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import postgres from "postgres";
import { generateSecrets, startLocalHome, type LocalHome } from "../../src/local/home.js";
import { call, connect } from "./client.js";
import { fmt, percentile, say, table } from "./report.js";

/**
 * Posts per profile (each with its own X account): under the sandbox X's 100 tweets per 15 minutes per user and the
 * API's 100 posts per hour per profile, so no production limit has to be overridden and no retry muddies the figures.
 */
const POSTS_PER_ACCOUNT = 90;
/** The QStash emulator's defaults as the home starts it (src/local/qstash-emulator.ts). */
const EMULATOR_POLL_MS = 250;
const EMULATOR_CONCURRENCY = 16;

export interface LatenessConfig {
  posts: number;
  spreadSeconds: number;
  leadSeconds: number;
  concurrency: number;
}

interface Row {
  post_id: string;
  status: string;
  attempts: number;
  error_category: string | null;
  lateness_ms: number | null;
  rounding_ms: number | null;
  pickup_ms: number | null;
  delivery_ms: number | null;
  adapter_ms: number | null;
  deliveries: number;
}

export interface LatenessResult {
  rows: Row[];
  /** Posts whose creation was answered only after their scheduled time (the machine could not keep up). */
  createdLate: Set<string>;
  accounts: number;
  createSeconds: number;
  minLeadMs: number;
  waitedSeconds: number;
  sweepIntervalSeconds: number;
  /** The home runs in this process: how late its event loop ran timers and callbacks from creation to the last publish. */
  loopDelayMs: { p50: number; p99: number; max: number };
  /** CPU this process used over that window, per second of wall time (2.0 = both cores of this machine). */
  cpuPerSecond: number;
  loadAverage: { before: number; after: number };
}

export async function startLatenessHome(serverUrl: string, admin0: postgres.Sql, cleanups: { name: string; run: () => Promise<void> }[]) {
  await admin0.unsafe("create database sweep_lateness");
  const url = new URL(serverUrl);
  url.pathname = "/sweep_lateness";
  const databaseUrl = url.toString();
  const home = await startLocalHome({ port: 0, databaseUrl, secrets: generateSecrets(), env: { SWEEP_INTERVAL_SECONDS: "1" } });
  cleanups.push({ name: "stop the local home", run: () => home.stop() });
  const admin = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  cleanups.push({ name: "close the lateness admin pool", run: () => admin.end({ timeout: 5 }) });
  return { home, admin };
}

export async function runLateness(home: LocalHome, admin: postgres.Sql, config: LatenessConfig): Promise<LatenessResult> {
  const runTag = Date.now().toString(36);
  const accounts = Math.ceil(config.posts / POSTS_PER_ACCOUNT);

  // A paid user (Unlimited: Starter's 150 posts a month would stop a large M), as the Stripe webhook leaves it.
  const me = await call<{ access_token: string; user: { id: string } }>(home, "POST", "/auth/v1/signup", {
    headers: { apikey: home.anonKey },
    body: { email: `sweep-lateness-${runTag}@example.com`, password: "correct horse battery" },
  });
  await admin`update public.billing_subscriptions set plan = 'unlimited', status = 'active' where user_id = ${me.user.id}`;
  const bearer = { authorization: `Bearer ${me.access_token}` };
  const keys: string[] = [];
  for (let i = 0; i < accounts; i++) {
    const { profile } = await call<{ profile: { id: string } }>(home, "POST", "/api/v1/profiles", { headers: bearer, body: { name: `Lateness ${i + 1}` } });
    const { apiKey } = await call<{ apiKey: { key: string } }>(home, "POST", "/api/api-keys", {
      headers: bearer,
      body: { name: `Lateness key ${i + 1}`, profileId: profile.id },
    });
    await connect(home, apiKey.key, "twitter", `lateness-${runTag}-${i + 1}`);
    keys.push(apiKey.key);
  }
  say(`  ${accounts} profile(s), each with an API key and a connected sandbox X account (≤ ${POSTS_PER_ACCOUNT} posts each)`);

  // Whole seconds from T0 on, spread evenly over spreadSeconds, created in schedule order.
  const t0 = Math.ceil((Date.now() + config.leadSeconds * 1000) / 1000) * 1000;
  const at = (i: number) => new Date(t0 + Math.floor((i * config.spreadSeconds) / config.posts) * 1000);
  const postIds: string[] = new Array(config.posts);
  let minLeadMs = Number.POSITIVE_INFINITY;
  const createdLate = new Set<string>();
  let next = 0;
  const loadBefore = os.loadavg()[0]!;
  const loop = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const createStarted = performance.now();
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= config.posts) return;
      const scheduleDate = at(i).toISOString();
      const res = await call<{ postId: string; scheduled: boolean; scheduledAt: string }>(home, "POST", "/api/v1/post", {
        headers: { "x-api-key": keys[i % accounts]! },
        body: { platform: "twitter", content: `Lateness benchmark ${runTag} #${i + 1}, scheduled for ${scheduleDate}`, scheduleDate },
      });
      if (!res.scheduled || res.scheduledAt !== scheduleDate) throw new Error(`post ${i + 1} was not scheduled for ${scheduleDate}: ${JSON.stringify(res)}`);
      const leadMs = at(i).getTime() - Date.now();
      minLeadMs = Math.min(minLeadMs, leadMs);
      if (leadMs < 0) createdLate.add(res.postId);
      postIds[i] = res.postId;
    }
  }
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  const createSeconds = (performance.now() - createStarted) / 1000;
  say(`  ${config.posts} posts created in ${fmt(createSeconds, 1)} s; the tightest was answered ${fmt(minLeadMs, 0)} ms before its time`);

  const waitStarted = performance.now();
  const deadline = t0 + config.spreadSeconds * 1000 + 120_000;
  for (;;) {
    const [open] = await admin<{ open: number }[]>`
      select count(*)::int as open from public.post_targets
      where post_id = any(${postIds}::uuid[]) and status in ('pending', 'publishing')`;
    if (open!.open === 0) break;
    if (Date.now() > deadline) throw new Error(`${open!.open} of ${config.posts} targets still not settled 2 minutes after the last was due`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const waitedSeconds = (performance.now() - waitStarted) / 1000;
  loop.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPerSecond = (cpu.user + cpu.system) / 1000 / (performance.now() - createStarted);
  const loopDelayMs = { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 };

  // Per target: the lateness, and where it went. The emulator's messages and attempts say when the publishing
  // delivery was due (not_before) and when it started; the job log says how long the network call took.
  const rows = await admin<Row[]>`
    select t.post_id, t.status, t.attempts, t.error_category,
      extract(epoch from (t.published_at - t.scheduled_for)) * 1000 as lateness_ms,
      extract(epoch from (d.not_before - t.scheduled_for)) * 1000 as rounding_ms,
      extract(epoch from (d.started_at - d.not_before)) * 1000 as pickup_ms,
      extract(epoch from (t.published_at - d.started_at)) * 1000 as delivery_ms,
      (select j.duration_ms from public.job_logs j where j.target_id = t.id and j.status = 'success' limit 1) as adapter_ms,
      (select count(*)::int from local_qstash.attempts a join local_qstash.messages m on m.id = a.message_id
         where convert_from(m.body, 'UTF8')::jsonb ->> 'targetId' = t.id::text) as deliveries
    from public.post_targets t
    left join lateral (
      select m.not_before, a.started_at
      from local_qstash.messages m join local_qstash.attempts a on a.message_id = m.id
      where convert_from(m.body, 'UTF8')::jsonb ->> 'targetId' = t.id::text and a.started_at <= t.published_at
      order by a.started_at desc limit 1
    ) d on true
    where t.post_id = any(${postIds}::uuid[])`;
  return {
    rows,
    createdLate,
    accounts,
    createSeconds,
    minLeadMs,
    waitedSeconds,
    sweepIntervalSeconds: 1,
    loopDelayMs,
    cpuPerSecond,
    loadAverage: { before: loadBefore, after: os.loadavg()[0]! },
  };
}

export function reportLateness(r: LatenessResult, config: LatenessConfig): boolean {
  // A post answered after its own time was late before publishing had a chance: its lateness says nothing here.
  const published = r.rows.filter((x) => x.status === "published" && !r.createdLate.has(x.post_id));
  const num = (v: number | null) => (v === null ? Number.NaN : Number(v));
  const sorted = (pick: (x: Row) => number | null) =>
    published.map((x) => num(pick(x))).filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  const lateness = sorted((x) => x.lateness_ms);
  const early = r.rows
    .filter((x) => x.status === "published" && x.lateness_ms !== null && Number(x.lateness_ms) < 0).length;
  say("");
  say("2. Lateness of scheduled publishing in the local home, end to end (published_at − scheduled_for)");
  say(
    `   ${config.posts} posts via POST /api/v1/post over ${config.spreadSeconds} s on whole seconds (≈${fmt(config.posts / config.spreadSeconds, 1)} per second), ` +
      `${r.accounts} sandbox X account(s), sweep every ${r.sweepIntervalSeconds} s · all published ${fmt(r.waitedSeconds, 1)} s after creation ended`,
  );
  say("");
  const rows: string[][] = [["ms", "p50", "p95", "p99", "max", "min"]];
  const line = (name: string, values: number[]) =>
    rows.push([name, ...[50, 95, 99, 100].map((p) => fmt(percentile(values, p), 0)), fmt(values[0] ?? Number.NaN, 0)]);
  line("lateness", lateness);
  line("  not-before rounding (QStash whole seconds)", sorted((x) => x.rounding_ms));
  line("  emulator pickup (attempt start − not-before)", sorted((x) => x.pickup_ms));
  line("  delivery → published_at (HTTP, verify, claim, X call)", sorted((x) => x.delivery_ms));
  line("    of which the X call (job_logs.duration_ms)", sorted((x) => x.adapter_ms));
  say(table(rows));
  say("");
  const failed = r.rows.filter((x) => x.status !== "published");
  const retried = r.rows.filter((x) => x.attempts > 1).length;
  const extraDeliveries = r.rows.reduce((s, x) => s + Math.max(0, x.deliveries - 1), 0);
  say(
    `   published ${r.rows.length - failed.length}/${r.rows.length} · early: ${early} (must be 0) · retried: ${retried} · deliveries beyond one per target: ${extraDeliveries}` +
      (failed.length ? ` · not published: ${failed.map((x) => `${x.status}/${x.error_category ?? "?"}`).join(", ")}` : ""),
  );
  if (r.createdLate.size) {
    say(
      `   warning: ${r.createdLate.size} post(s) were created only after their scheduled time (this machine could not create ` +
        `${fmt(config.posts / config.spreadSeconds, 1)} a second); they are left out of the percentiles above. ` +
        "Raise LATENESS_LEAD_SECONDS or LATENESS_SPREAD_SECONDS, or lower LATENESS_POSTS.",
    );
  }
  say(
    `   context: the emulator looks at the queue at least every ${EMULATOR_POLL_MS} ms and otherwise sleeps until the next not-before, ` +
      `with ${EMULATOR_CONCURRENCY} deliveries in flight; QStash counts not-before in whole seconds (rounded up, so never early). ` +
      "Targets due within the 120 s lookahead are enqueued by POST /api/v1/post itself, so the sweep is not on this path.",
  );
  say(
    `   the whole home (emulator, functions, sandbox, sweep) shares this one process: its event loop ran late by p50 ${fmt(r.loopDelayMs.p50, 0)} / ` +
      `p99 ${fmt(r.loopDelayMs.p99, 0)} / max ${fmt(r.loopDelayMs.max, 0)} ms meanwhile, using ${fmt(r.cpuPerSecond, 2)} CPU s per s; ` +
      `machine load average ${fmt(r.loadAverage.before, 2)} → ${fmt(r.loadAverage.after, 2)} on ${os.availableParallelism()} CPUs.`,
  );
  return early === 0 && failed.length === 0;
}
