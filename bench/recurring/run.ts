/**
 * Recurring-schedules benchmark: what one run of the occurrence job (src/recurring/job.ts, `materialiseDue`) costs
 * with 10,000 active schedules. Results and how to read them: bench/recurring/README.md.
 *
 *   1. An embedded PostgreSQL in a temp dir (fsync off) and a full local home on it (its sweep put off, so only the
 *      runs measured here touch the schedules).
 *   2. RECURRING_PROFILES customers (default 100: an Unlimited user with one profile each), each with a sandbox X account connected through
 *      the real OAuth flow, and RECURRING_SCHEDULES schedules (default 10,000) spread over them, seeded set-based.
 *   3. Three runs of the job, each timed, each beside a floor measured in the same database:
 *      - quiet: no occurrence near (the usual minute): the job's one indexed read. Floor: that bare SELECT.
 *      - a busy minute: RECURRING_DUE schedules (default 100) due within the horizon, each made into its post with
 *        every check of an API post (rate limit, posting rules, ready connection, quota in the same transaction as
 *        the post). Floor: the same posts and targets inserted by one set-based SQL statement.
 *      - all due at once: every schedule due in the same run (the worst case).
 *   The occurrences are 4 minutes ahead, outside the publish lookahead, so no publishing runs during the measurement.
 *
 * Not a test: no vitest. Target: one run handles the 10,000 active schedules in ≤ 2 s. The all-due run stops at its
 * budget (RECURRING_ALL_DUE_SECONDS, default 120; the job's own is 20 s a run), and prints its rate.
 *
 *   npm run bench:recurring
 *   RECURRING_SCHEDULES=2000 RECURRING_DUE=50 npm run bench:recurring
 */
import { chmod, mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { performance } from "node:perf_hooks";
import postgres from "postgres";
import { jobContext } from "../../src/core/jobs/index.js";
import { startEmbeddedPostgres } from "../../src/local/embedded-postgres.js";
import { generateSecrets, startLocalHome, type LocalHome } from "../../src/local/home.js";
import { materialiseDue } from "../../src/recurring/materialise.js";
import { fmt, intEnv, say, table } from "../sweep/report.js";

process.env.LOG_LEVEL ??= "warn";

const config = {
  profiles: intEnv("RECURRING_PROFILES", 100, 1),
  schedules: intEnv("RECURRING_SCHEDULES", 10_000, 1),
  due: intEnv("RECURRING_DUE", 100, 1),
  allDue: intEnv("RECURRING_ALL_DUE", 1, 0) > 0,
  allDueBudgetSeconds: intEnv("RECURRING_ALL_DUE_SECONDS", 120, 1),
};
const TARGET_MS = 2_000;

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

async function connectX(home: LocalHome, apiKey: string, sandboxUser: string): Promise<void> {
  const returnUrl = new URL("/connected", home.url).toString();
  const init = await call<{ url: string }>(home, "POST", "/api/v1/connect/init", { headers: { "x-api-key": apiKey }, body: { platform: "twitter", returnUrl } });
  const consentUrl = new URL(init.url);
  consentUrl.searchParams.set("sandbox_user", sandboxUser);
  const consent = await fetch(consentUrl, { redirect: "manual" });
  const callback = await fetch(consent.headers.get("location")!, { redirect: "manual" });
  const back = new URL(callback.headers.get("location")!);
  if (!back.searchParams.get("connectionId")) throw new Error(`connecting X did not succeed: ${back.toString()}`);
}

const timed = async <T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> => {
  const started = performance.now();
  const value = await fn();
  return { ms: performance.now() - started, value };
};

async function main() {
  const dir = await mkdtemp(path.join(os.tmpdir(), "amplify-bench-recurring-"));
  await chmod(dir, 0o755);
  say(`Node ${process.version} · ${os.availableParallelism()} CPUs · load average ${fmt(os.loadavg()[0]!, 2)}`);
  const pg = await startEmbeddedPostgres(path.join(dir, "pg"), { fast: true });
  let home: LocalHome | undefined;
  let admin: postgres.Sql | undefined;
  try {
    const admin0 = postgres(pg.url, { max: 1, onnotice: () => {} });
    await admin0.unsafe("create database bench_recurring");
    await admin0.end();
    const url = new URL(pg.url);
    url.pathname = "/bench_recurring";
    home = await startLocalHome({ port: 0, databaseUrl: url.toString(), secrets: generateSecrets(), env: { SWEEP_INTERVAL_SECONDS: "86400" } });
    admin = postgres(url.toString(), { max: 2, onnotice: () => {} });

    const tag = Date.now().toString(36);
    // One customer per profile (a paid user with one profile and one sandbox X account), as a busy instance has them.
    say(`seeding ${config.profiles} customers, each with a profile and a connected sandbox X account`);
    for (let i = 0; i < config.profiles; i++) {
      const me = await call<{ access_token: string; user: { id: string } }>(home, "POST", "/auth/v1/signup", {
        headers: { apikey: home.anonKey },
        body: { email: `bench-recurring-${tag}-${i}@example.com`, password: "correct horse battery" },
      });
      await admin`update public.billing_subscriptions set plan = 'unlimited', status = 'active' where user_id = ${me.user.id}`;
      const bearer = { authorization: `Bearer ${me.access_token}` };
      const { profile } = await call<{ profile: { id: string } }>(home, "POST", "/api/v1/profiles", { headers: bearer, body: { name: `Recurring ${i + 1}` } });
      const { apiKey } = await call<{ apiKey: { key: string } }>(home, "POST", "/api/api-keys", { headers: bearer, body: { name: "bench", profileId: profile.id } });
      await connectX(home, apiKey.key, `recurring-${tag}-${i + 1}`);
    }
    say(`seeding ${fmt(config.schedules)} active daily schedules`);
    await admin`
      insert into public.recurring_schedules (profile_id, name, content, platforms, recurrence_pattern, time_of_day, timezone,
        anchor_at, next_occurrence_at, created_by)
      select p.id, 'Bench ' || n, 'Recurring bench post #' || n, '{twitter}', 'daily',
        to_char(now() + interval '1 day' + (n % 1440) * interval '1 minute', 'HH24:MI:00'), 'UTC',
        now() - interval '1 day', date_trunc('minute', now()) + interval '1 day' + (n % 1440) * interval '1 minute', p.created_by
      from generate_series(1, ${config.schedules}) n
      join (select id, created_by, row_number() over (order by id) - 1 as i from public.profiles) p on p.i = n % ${config.profiles}`;
    await admin`vacuum analyze public.recurring_schedules`;

    const ctx = jobContext();
    await admin`delete from public.rate_limit_counters`;
    const rows: string[][] = [];

    // 1. Quiet: nothing within the horizon.
    const quiet = await timed(() => materialiseDue(ctx));
    const quietFloor = await timed(() => admin!`
      select * from public.recurring_schedules where is_active and next_occurrence_at is not null
        and next_occurrence_at <= now() + interval '15 minutes' order by next_occurrence_at limit 200`);
    say(`quiet run: ${fmt(quiet.ms, 1)} ms (floor ${fmt(quietFloor.ms, 1)} ms)`);
    rows.push(["quiet (none due)", fmt(config.schedules), "0", fmt(quiet.ms, 1), fmt(quietFloor.ms, 1), quiet.ms <= TARGET_MS ? "yes" : "NO"]);

    // 2. A busy minute: RECURRING_DUE due, one per profile first (the posts rate limit is per profile).
    const bring = (n: number) => admin!`
      update public.recurring_schedules s set next_occurrence_at = date_trunc('second', now()) + interval '4 minutes',
        time_of_day = to_char(now() + interval '4 minutes', 'HH24:MI:SS')
      where s.id in (select id from public.recurring_schedules where next_occurrence_at > now() + interval '20 minutes'
                     order by next_occurrence_at limit ${n})`;
    await bring(config.due);
    const busy = await timed(() => materialiseDue(ctx));
    // Floor: the same number of posts and targets in one set-based statement (no checks, no quota, no rate limit).
    const floor = await timed(() => admin!.begin(async (tx) => {
      await tx`
        with s as (
          select s.id, s.profile_id, s.content, s.created_by, c.id as connection_id, now() + interval '1 hour' as at
          from public.recurring_schedules s
          join lateral (select id from public.connections c where c.profile_id = s.profile_id and c.platform = 'twitter' limit 1) c on true
          limit ${config.due}
        ), p as (
          insert into public.posts (profile_id, content, status, scheduled_for, created_by)
          select profile_id, content, 'scheduled', at, created_by from s returning id, profile_id, scheduled_for
        )
        insert into public.post_targets (post_id, profile_id, platform, connection_id, scheduled_for, due_at)
        select p.id, p.profile_id, 'twitter', (select id from public.connections c where c.profile_id = p.profile_id limit 1), p.scheduled_for, p.scheduled_for
        from p`;
      throw new Error("rollback");
    }).catch(() => undefined));
    rows.push([`busy minute (${fmt(config.due)} due)`, fmt(config.schedules), fmt(busy.value.posted), fmt(busy.ms, 1), fmt(floor.ms, 1), busy.ms <= TARGET_MS ? "yes" : "NO"]);
    say(`busy minute: ${fmt(busy.ms, 1)} ms for ${busy.value.posted} posts (floor ${fmt(floor.ms, 1)} ms)`);
    if (busy.value.skipped || busy.value.paused) say(`warning: busy minute skipped ${busy.value.skipped}, paused ${busy.value.paused}`);

    // 3. Every schedule due in one run.
    if (config.allDue) {
      await admin`delete from public.rate_limit_counters`;
      await bring(config.schedules);
      const all = await timed(() => materialiseDue(ctx, { budgetMs: config.allDueBudgetSeconds * 1000 }));
      rows.push([`all due at once (budget ${config.allDueBudgetSeconds} s)`, fmt(config.schedules), fmt(all.value.posted), fmt(all.ms, 1), "", all.ms <= TARGET_MS ? "yes" : "NO"]);
      if (all.value.skipped) say(`note: all due: ${all.value.skipped} skipped (the posts rate limit: 100 an hour per profile)`);
      say(`all due: ${fmt((all.value.posted / all.ms) * 1000, 0)} occurrences/s`);
    }

    say();
    say(table([["run", "active schedules", "posts made", "job run (ms)", "floor: bare SQL (ms)", `≤ ${TARGET_MS} ms`], ...rows]));
  } finally {
    await admin?.end({ timeout: 5 });
    await home?.stop();
    await pg.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
