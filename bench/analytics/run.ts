/**
 * Analytics benchmark: every analytics endpoint against a busy profile. See bench/README.md ("analytics").
 *
 *   1. An embedded PostgreSQL in a temp dir (fsync off) and a full local home on it (sweep put off).
 *   2. Seeding with set-based SQL: one profile with ANALYTICS_POSTS posts (default 100,000) published over the last
 *      180 days, one target each over 10 networks, ANALYTICS_SNAPSHOTS_PER_POST cumulative snapshots each (default 10:
 *      1,000,000), plus ANALYTICS_OTHER_PROFILES other profiles (default 1,000) with ANALYTICS_OTHER_POSTS posts each
 *      (default 20) and the same snapshots per post. Loaded in bulk with triggers off, then the rollups and hourly sums
 *      are built set-based as the migration's backfill does; VACUUM ANALYZE.
 *   3. Each endpoint, with an API key over real HTTP, ANALYTICS_ROUNDS times (default 40) after 3 warm-ups, with the
 *      widest window (days=180); beside it, its bare SQL: the same domain functions run in a plain transaction as the
 *      table owner (no HTTP, authentication, metering, RLS or validation). p50/p95/max in ms.
 *
 * Not a test: no vitest. Fails (exit code 1) when an endpoint answers anything but 200.
 *
 *   npm run bench:analytics
 *   ANALYTICS_POSTS=20000 ANALYTICS_OTHER_PROFILES=100 npm run bench:analytics
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import postgres from "postgres";
import { capabilities, syncHealth } from "../../src/analytics/accounts.js";
import { contentDecay } from "../../src/analytics/decay.js";
import { overview, postTimeline, realtime } from "../../src/analytics/metrics.js";
import { bestTime, postingFrequency, schedulingBestTimes } from "../../src/analytics/timing.js";
import { analyticsWindow } from "../../src/analytics/window.js";
import type { Tx } from "../../src/core/db.js";
import { startEmbeddedPostgres } from "../../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome, type LocalHome } from "../../src/local/home.js";
import { fmt, intEnv, percentile, say, table } from "../sweep/report.js";

process.env.LOG_LEVEL ??= "warn";

const config = {
  posts: intEnv("ANALYTICS_POSTS", 100_000, 1),
  snapshotsPerPost: intEnv("ANALYTICS_SNAPSHOTS_PER_POST", 10, 1),
  otherProfiles: intEnv("ANALYTICS_OTHER_PROFILES", 1_000, 0),
  otherPosts: intEnv("ANALYTICS_OTHER_POSTS", 20, 0),
  rounds: intEnv("ANALYTICS_ROUNDS", 40, 1),
  days: intEnv("ANALYTICS_DAYS", 180, 1),
};
const TARGET_P95_MS = 200;
const networks = ["twitter", "linkedin", "instagram", "facebook", "threads", "tiktok", "youtube", "pinterest", "reddit", "bluesky"];

async function call<T>(home: LocalHome, method: string, p: string, init: { headers?: Record<string, string>; body?: unknown } = {}): Promise<T> {
  const res = await fetch(new URL(p, home.url), {
    method,
    headers: { "content-type": "application/json", ...init.headers },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${p} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** Connections (one per network), posts, published targets and cumulative snapshots for one profile, in batches. */
async function seedProfile(sql: postgres.Sql, profileId: string, posts: number, snapshotsPerPost: number, batch = 10_000) {
  await sql`
    insert into public.connections (profile_id, platform, external_account_id, username, access_token_enc, scopes)
    select ${profileId}, n, 'bench-' || n || '-' || ${profileId}, '@bench_' || n, 'not-a-token', '{}'
    from unnest(${networks}::text[]) n
    on conflict do nothing`;
  for (let done = 0; done < posts; done += batch) {
    const n = Math.min(batch, posts - done);
    await sql.begin(async (tx) => {
      // Bulk load: no triggers (foreign-key checks and the rollup triggers); buildRollups does their work afterwards.
      await tx`set local session_replication_role = replica`;
      await tx`create temp table bench_targets (id uuid, post_id uuid, connection_id uuid, platform text, published_at timestamptz) on commit drop`;
      await tx`
        with p as (
          insert into public.posts (profile_id, content, status, scheduled_for, published_at, created_at)
          select ${profileId}, 'Benchmark post ' || g, 'published', at, at, at
          from (select g, now() - random() * interval '180 days' - interval '1 minute' as at from generate_series(1, ${n}) g) s
          returning id, published_at
        )
        , t as (
        insert into public.post_targets (post_id, profile_id, platform, connection_id, status, scheduled_for, due_at, published_at,
                                         external_post_id, attempts, created_at)
        select p.id, ${profileId}, c.platform, c.id, 'published', p.published_at, p.published_at, p.published_at,
               'ext-' || p.id, 1, p.published_at
        from p join public.connections c
          on c.profile_id = ${profileId} and c.platform = (${networks}::text[])[1 + abs(hashtext(p.id::text)) % ${networks.length}]
        returning id, post_id, connection_id, platform, published_at
        )
        insert into bench_targets select id, post_id, connection_id, platform, published_at from t`;
      // Capture k of K at published + window × (k/K)², window = the post's age up to 30 days: young posts more often.
      await tx`
        insert into public.post_metric_snapshots (profile_id, post_id, target_id, connection_id, platform, published_at, captured_at,
          impressions, reach, likes, comments, shares, saves, clicks, video_views, engagements, engagement_rate)
        select ${profileId}, t.post_id, t.id, t.connection_id, t.platform, t.published_at, m.at,
               m.impressions, (m.impressions * 0.7)::bigint, m.likes, m.comments, m.shares, m.saves, (m.e * 0.3)::bigint, null,
               m.likes + m.comments + m.shares + m.saves,
               round((m.likes + m.comments + m.shares + m.saves)::numeric / m.impressions, 6)
        from bench_targets t
        cross join generate_series(1, ${snapshotsPerPost}) k
        cross join lateral (
          select t.published_at + least(now() - t.published_at, interval '30 days') * ((k::float8 / ${snapshotsPerPost}) ^ 2) as at,
                 50 + abs(hashtext(t.id::text)) % 500 as total, 2 + abs(hashtext(t.id::text || 'tau')) % 20 as tau
        ) s
        cross join lateral (select extract(epoch from s.at - t.published_at)::float8 / 3600 as h) a
        cross join lateral (select s.total * (1 - exp(-a.h / s.tau)) as e) b
        cross join lateral (
          select s.at, b.e,
                 (s.total * 30 * (1 - exp(-a.h / (s.tau * 3))))::bigint + 10 as impressions,
                 (b.e * 0.6)::bigint as likes, (b.e * 0.2)::bigint as comments, (b.e * 0.15)::bigint as shares, (b.e * 0.05)::bigint as saves
        ) m`;
    });
  }
}

/**
 * What the triggers skipped during the bulk load, done as the migration's backfill does it: the rollups of every
 * target from its snapshots (10,000 targets per statement; the rollups' own trigger fills the hourly metric sums), then
 * the hourly published counts.
 */
async function buildRollups(sql: postgres.Sql) {
  const ids = (await sql<{ id: string }[]>`select distinct target_id as id from public.post_metric_snapshots order by 1`).map((r) => r.id);
  for (let i = 0; i < ids.length; i += 10_000) {
    await sql`select public.refresh_post_metric_rollups(${ids.slice(i, i + 10_000)}::uuid[])`;
  }
  await sql`select public.add_published_hourly(array(select t from public.post_targets t where t.status = 'published'), 1)`;
}

interface Measured {
  name: string;
  http: number[];
  bare: number[];
}

async function main() {
  const cleanups: { name: string; run: () => Promise<void> }[] = [];
  const cleanUp = async () => {
    for (const step of cleanups.splice(0).reverse()) {
      try {
        await step.run();
      } catch (error) {
        process.stderr.write(`cleanup: ${step.name} failed: ${String(error)}\n`);
      }
    }
  };
  process.once("SIGINT", () => void cleanUp().finally(() => process.exit(130)));
  let ok = true;
  try {
    say(`Node ${process.version} · ${os.availableParallelism()} CPUs · load average ${fmt(os.loadavg()[0]!, 2)}`);
    const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-analytics-"));
    cleanups.push({ name: "remove temp dir", run: () => rm(dir, { recursive: true, force: true }) });
    await chmod(dir, 0o755);
    const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
    cleanups.push({ name: "stop embedded PostgreSQL", run: () => pg.stop() });
    const admin0 = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin0.unsafe("create database bench_analytics");
    await admin0.end();
    const url = new URL(pg.url);
    url.pathname = "/bench_analytics";
    const databaseUrl = url.toString();
    const home = await startLocalHome({
      port: 0,
      databaseUrl,
      secrets: generateSecrets(),
      env: { SWEEP_INTERVAL_SECONDS: "3600", RATE_LIMIT_OVERRIDES: "api_requests=1000000000/1h" },
    });
    cleanups.push({ name: "stop the local home", run: () => home.stop() });
    const sql = postgres(databaseUrl, { max: 3, onnotice: () => {} });
    cleanups.push({ name: "close the admin pool", run: () => sql.end({ timeout: 5 }) });

    // The key's owner, through the API as a user would; Unlimited, so the monthly quota never refuses a request.
    const me = await call<{ access_token: string; user: { id: string } }>(home, "POST", "/auth/v1/signup", {
      headers: { apikey: home.anonKey },
      body: { email: `bench-analytics-${Date.now()}@example.com`, password: "correct horse battery" },
    });
    await sql`update public.billing_subscriptions set plan = 'unlimited', status = 'active' where user_id = ${me.user.id}`;
    const bearer = { authorization: `Bearer ${me.access_token}` };
    const { profile } = await call<{ profile: { id: string } }>(home, "POST", "/api/v1/profiles", { headers: bearer, body: { name: "Busy", timezone: "Europe/London" } });
    const { apiKey } = await call<{ apiKey: { key: string } }>(home, "POST", "/api/api-keys", { headers: bearer, body: { name: "bench", profileId: profile.id } });

    let started = performance.now();
    say(`seeding ${fmt(config.posts)} posts × ${config.snapshotsPerPost} snapshots for the profile …`);
    await seedProfile(sql, profile.id, config.posts, config.snapshotsPerPost);
    say(`  ${fmt((performance.now() - started) / 1000, 1)} s`);
    started = performance.now();
    if (config.otherProfiles > 0) {
      say(`seeding ${fmt(config.otherProfiles)} other profiles × ${config.otherPosts} posts × ${config.snapshotsPerPost} snapshots …`);
      // Owned by another user, so the key owner's memberships stay those of a normal account.
      const someoneElse = await call<{ user: { id: string } }>(home, "POST", "/auth/v1/signup", {
        headers: { apikey: home.anonKey },
        body: { email: `bench-analytics-other-${Date.now()}@example.com`, password: "correct horse battery" },
      });
      const others = await sql<{ id: string }[]>`
        with p as (
          insert into public.profiles (name, created_by)
          select 'Other ' || g, ${someoneElse.user.id} from generate_series(1, ${config.otherProfiles}) g
          returning id
        ), m as (insert into public.profile_members (profile_id, user_id, role) select id, ${someoneElse.user.id}, 'owner' from p)
        select id from p`;
      for (const o of others) if (config.otherPosts > 0) await seedProfile(sql, o.id, config.otherPosts, config.snapshotsPerPost);
      say(`  ${fmt((performance.now() - started) / 1000, 1)} s`);
    }
    started = performance.now();
    say("building the rollups and hourly sums …");
    await buildRollups(sql);
    say(`  ${fmt((performance.now() - started) / 1000, 1)} s`);
    await sql.unsafe("vacuum analyze");
    const [counts] = await sql<{ posts: number; snapshots: number; rollups: number; mine: number }[]>`
      select (select count(*)::int from public.posts) as posts, (select count(*)::int from public.post_metric_snapshots) as snapshots,
             (select count(*)::int from public.post_metric_rollups) as rollups,
             (select count(*)::int from public.post_metric_snapshots where profile_id = ${profile.id}) as mine`;
    say(`database: ${fmt(counts!.posts)} posts, ${fmt(counts!.snapshots)} snapshots (${fmt(counts!.mine)} of the busy profile), ${fmt(counts!.rollups)} rollups`);

    const now = () => new Date();
    const pid = profile.id;
    const d = config.days;
    const win = (tx: Tx) => analyticsWindow(tx, pid, { days: d, now: now() });
    const cases: { name: string; path: string; bare: (tx: Tx) => Promise<unknown> }[] = [
      { name: "GET /api/v1/analytics/overview", path: "/api/v1/analytics/overview", bare: (tx) => overview(tx, { profileId: pid, platform: null, since: null, days: null }) },
      { name: "GET /api/analytics/realtime", path: `/api/analytics/realtime?days=${d}`, bare: async (tx) => realtime(tx, await win(tx)) },
      { name: "GET /api/analytics/post-timeline", path: `/api/analytics/post-timeline?days=${d}`, bare: async (tx) => postTimeline(tx, await win(tx)) },
      { name: "GET /api/analytics/content-decay", path: `/api/analytics/content-decay?days=${d}`, bare: async (tx) => contentDecay(tx, await win(tx)) },
      { name: "GET /api/analytics/posting-frequency", path: `/api/analytics/posting-frequency?days=${d}`, bare: async (tx) => postingFrequency(tx, await win(tx)) },
      { name: "GET /api/analytics/best-time", path: `/api/analytics/best-time?days=${d}`, bare: async (tx) => bestTime(tx, await win(tx)) },
      { name: "GET /api/analytics/capabilities", path: "/api/analytics/capabilities", bare: (tx) => capabilities(tx, pid, undefined) },
      { name: "GET /api/analytics/sync-health", path: "/api/analytics/sync-health", bare: (tx) => syncHealth(tx, pid, undefined, now()) },
      { name: "GET /api/v1/scheduling/best-times", path: "/api/v1/scheduling/best-times", bare: (tx) => schedulingBestTimes(tx, pid, undefined, now()) },
    ];
    const results: Measured[] = [];
    say(`measuring: ${config.rounds} rounds per endpoint after 3 warm-ups, days=${d}, one request at a time`);
    for (const c of cases) {
      const m: Measured = { name: c.name, http: [], bare: [] };
      for (let i = 0; i < config.rounds + 3; i++) {
        let t0 = performance.now();
        const res = await fetch(new URL(c.path, home.url), { headers: { "x-api-key": apiKey.key } });
        await res.arrayBuffer();
        const httpMs = performance.now() - t0;
        if (res.status !== 200) {
          ok = false;
          say(`  ${c.name} answered ${res.status}`);
          break;
        }
        t0 = performance.now();
        await sql.begin((tx) => c.bare(tx));
        const bareMs = performance.now() - t0;
        if (i >= 3) {
          m.http.push(httpMs);
          m.bare.push(bareMs);
        }
      }
      results.push(m);
    }
    const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
    const rows = [["endpoint", "p50 ms", "p95 ms", "max ms", "bare SQL p50", "bare SQL p95", `≤ ${TARGET_P95_MS} ms p95`]];
    for (const m of results) {
      const h = sorted(m.http);
      const b = sorted(m.bare);
      const p95 = percentile(h, 95);
      rows.push([m.name, fmt(percentile(h, 50), 1), fmt(p95, 1), fmt(h[h.length - 1]!, 1), fmt(percentile(b, 50), 1), fmt(percentile(b, 95), 1), p95 <= TARGET_P95_MS ? "yes" : "NO"]);
    }
    say("");
    say(table(rows));
    say("");
    say(`load average after: ${fmt(os.loadavg()[0]!, 2)}`);
  } finally {
    await cleanUp();
  }
  if (!ok) {
    process.stderr.write("\nBENCHMARK FAILED: an endpoint did not answer 200 (see above).\n");
    process.exitCode = 1;
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`\nBENCHMARK FAILED: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
