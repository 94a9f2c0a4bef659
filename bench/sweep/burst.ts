/**
 * Part 3: a burst. 1,000 posts due on the same second across 50 profiles and 3 networks, in a full local home: are
 * they all published, none early, and how late (published_at − scheduled_for)?
 * Part 4: webhook latency. Posts published now with a webhook endpoint subscribed to post.published, while the
 * sweep runs only once a minute (as in the cloud): how long from the event to its delivery leaving and arriving.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import postgres from "postgres";
import { sweep } from "../../src/core/jobs/index.js";
import { jobs } from "../../src/jobs.js";
import { generateSecrets, startLocalHome, type LocalHome } from "../../src/local/home.js";
import { call, connect } from "./client.js";
import { fmt, percentile, say, table } from "./report.js";

export interface BurstConfig {
  posts: number;
  profiles: number;
  networks: string[];
  leadSeconds: number;
  concurrency: number;
  webhookPosts: number;
}

/** As in the cloud: the sweep once a minute, so anything faster than that was not the sweep's doing. */
const SWEEP_INTERVAL_SECONDS = 60;

export async function startBurstHome(serverUrl: string, admin0: postgres.Sql, cleanups: { name: string; run: () => Promise<void> }[]) {
  await admin0.unsafe("create database sweep_burst");
  const url = new URL(serverUrl);
  url.pathname = "/sweep_burst";
  const databaseUrl = url.toString();
  const home = await startLocalHome({
    port: 0,
    databaseUrl,
    secrets: generateSecrets(),
    env: { SWEEP_INTERVAL_SECONDS: String(SWEEP_INTERVAL_SECONDS), ...(process.env.BURST_POOL_MAX ? { DATABASE_POOL_MAX: process.env.BURST_POOL_MAX } : {}) },
  });
  cleanups.push({ name: "stop the burst home", run: () => home.stop() });
  const admin = postgres(databaseUrl, { max: 2, onnotice: () => {} });
  cleanups.push({ name: "close the burst admin pool", run: () => admin.end({ timeout: 5 }) });
  return { home, admin };
}

/** A paid user on Unlimited (Starter's monthly posts would stop the burst) with `profiles` profiles and API keys. */
async function paidUser(home: LocalHome, admin: postgres.Sql, tag: string, profiles: number) {
  const me = await call<{ access_token: string; user: { id: string } }>(home, "POST", "/auth/v1/signup", {
    headers: { apikey: home.anonKey },
    body: { email: `sweep-burst-${tag}@example.com`, password: "correct horse battery" },
  });
  await admin`update public.billing_subscriptions set plan = 'unlimited', status = 'active' where user_id = ${me.user.id}`;
  const bearer = { authorization: `Bearer ${me.access_token}` };
  const keys: { key: string; profileId: string }[] = [];
  for (let i = 0; i < profiles; i++) {
    const { profile } = await call<{ profile: { id: string } }>(home, "POST", "/api/v1/profiles", { headers: bearer, body: { name: `Burst ${i + 1}` } });
    const { apiKey } = await call<{ apiKey: { key: string } }>(home, "POST", "/api/api-keys", {
      headers: bearer,
      body: { name: `Burst key ${i + 1}`, profileId: profile.id },
    });
    keys.push({ key: apiKey.key, profileId: profile.id });
  }
  return keys;
}

export interface BurstResult {
  posts: number;
  created: number;
  createSeconds: number;
  minLeadMs: number;
  lateness: number[];
  early: number;
  notPublished: string[];
  extraDeliveries: number;
  settledSeconds: number;
  /** The most frequent (wait event · statement) of active database sessions while publishing, per sample. */
  waits: { what: string; perSample: number }[];
  /** Queue deliveries in flight (emulator messages ACTIVE), on average while publishing. */
  meanInFlight: number;
  loopDelayMs: { p50: number; p99: number; max: number };
  cpuPerSecond: number;
  loadAverage: { before: number; after: number };
}

export async function runBurst(home: LocalHome, admin: postgres.Sql, config: BurstConfig): Promise<BurstResult> {
  const tag = Date.now().toString(36);
  const keys = await paidUser(home, admin, tag, config.profiles);
  for (const [i, k] of keys.entries()) {
    for (const network of config.networks) await connect(home, k.key, network, `burst-${tag}-${i + 1}-${network}`);
  }
  say(`  ${config.profiles} profiles, each with an API key and connected sandbox ${config.networks.join(", ")} accounts`);

  // Created through the API for one second an hour ahead (beyond the lookahead, so nothing is queued yet), then moved
  // together to one second a little ahead and handed to the sweep, as the scheduled sweep finds a backlog: creating
  // 1,000 posts on a busy 2-core machine takes minutes, which would otherwise decide the due second.
  const scheduleDate = new Date(Math.ceil(Date.now() / 1000) * 1000 + 3_600_000).toISOString();
  const postIds: string[] = [];
  let minLeadMs = Number.POSITIVE_INFINITY;
  let next = 0;
  const loadBefore = os.loadavg()[0]!;
  const createStarted = performance.now();
  async function worker() {
    for (;;) {
      const i = next++;
      if (i >= config.posts) return;
      const profile = keys[i % config.profiles]!;
      const network = config.networks[Math.floor(i / config.profiles) % config.networks.length]!;
      const res = await call<{ postId: string; scheduled: boolean; scheduledAt: string }>(home, "POST", "/api/v1/post", {
        headers: { "x-api-key": profile.key },
        body: { platform: network, content: `Burst ${tag} #${i + 1} to ${network}, all due at ${scheduleDate}`, scheduleDate },
      });
      if (!res.scheduled || res.scheduledAt !== scheduleDate) throw new Error(`post ${i + 1} was not scheduled for ${scheduleDate}: ${JSON.stringify(res)}`);
      postIds.push(res.postId);
    }
  }
  await Promise.all(Array.from({ length: config.concurrency }, worker));
  const createSeconds = (performance.now() - createStarted) / 1000;
  const due = Math.ceil((Date.now() + config.leadSeconds * 1000) / 1000) * 1000;
  await admin.begin(async (tx) => {
    await tx`update public.posts set scheduled_for = ${new Date(due)} where id = any(${postIds}::uuid[])`;
    await tx`update public.post_targets set scheduled_for = ${new Date(due)}, due_at = ${new Date(due)} where post_id = any(${postIds}::uuid[])`;
  });
  const sweepStarted = performance.now();
  const swept = await sweep(jobs);
  const sweepSeconds = (performance.now() - sweepStarted) / 1000;
  minLeadMs = due - Date.now();
  say(
    `  ${config.posts} posts created in ${fmt(createSeconds, 1)} s, then all moved to ${new Date(due).toISOString()}; one sweep put ` +
      `${fmt(swept.publish?.enqueued ?? 0)} on the queue in ${fmt(sweepSeconds, 1)} s, ${fmt(minLeadMs / 1000, 1)} s before that second`,
  );
  if (minLeadMs < 0) throw new Error("the sweep finished after the due second: raise BURST_LEAD_SECONDS");

  const loop = monitorEventLoopDelay({ resolution: 10 });
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, due - Date.now() - 1000)));
  loop.enable();
  const cpuBefore = process.cpuUsage();
  const windowStarted = performance.now();
  const deadline = due + 180_000;
  // Where the database's sessions wait while the burst is published (sampled every 250 ms): the bottleneck, if any.
  const waits = new Map<string, number>();
  let samples = 0;
  let inFlight = 0;
  for (;;) {
    if (Date.now() >= due) {
      samples++;
      const sessions = await admin<{ what: string }[]>`
        select coalesce(wait_event_type || ':' || wait_event, 'on CPU') || ' · ' ||
               coalesce(nullif(translate(left(query, 48), chr(10) || chr(9), '  '), ''), '?') as what
        from pg_stat_activity where datname = current_database() and state = 'active' and pid <> pg_backend_pid()`;
      for (const { what } of sessions) waits.set(what, (waits.get(what) ?? 0) + 1);
      const [active] = await admin<{ n: number }[]>`select count(*)::int as n from local_qstash.messages where state = 'ACTIVE'`;
      inFlight += active!.n;
    }
    const [open] = await admin<{ open: number }[]>`
      select count(*)::int as open from public.post_targets
      where post_id = any(${postIds}::uuid[]) and status in ('pending', 'publishing')`;
    if (open!.open === 0) break;
    if (Date.now() > deadline) throw new Error(`${open!.open} of ${config.posts} targets still not settled 3 minutes after they were due`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const settledSeconds = (Date.now() - due) / 1000;
  loop.disable();
  const cpu = process.cpuUsage(cpuBefore);
  const cpuPerSecond = (cpu.user + cpu.system) / 1000 / (performance.now() - windowStarted);

  const rows = await admin<{ status: string; error_category: string | null; lateness_ms: number | null; deliveries: number }[]>`
    select t.status, t.error_category, extract(epoch from (t.published_at - t.scheduled_for)) * 1000 as lateness_ms,
      (select count(*)::int from local_qstash.attempts a join local_qstash.messages m on m.id = a.message_id
         where convert_from(m.body, 'UTF8')::jsonb ->> 'targetId' = t.id::text) as deliveries
    from public.post_targets t where t.post_id = any(${postIds}::uuid[])`;
  const published = rows.filter((r) => r.status === "published" && r.lateness_ms !== null);
  return {
    posts: config.posts,
    created: postIds.length,
    createSeconds,
    minLeadMs,
    lateness: published.map((r) => Number(r.lateness_ms)).sort((a, b) => a - b),
    early: published.filter((r) => Number(r.lateness_ms) < 0).length,
    notPublished: rows.filter((r) => r.status !== "published").map((r) => `${r.status}/${r.error_category ?? "?"}`),
    extraDeliveries: rows.reduce((s, r) => s + Math.max(0, r.deliveries - 1), 0),
    settledSeconds,
    waits: [...waits.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([what, n]) => ({ what, perSample: n / Math.max(1, samples) })),
    meanInFlight: inFlight / Math.max(1, samples),
    loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
    cpuPerSecond,
    loadAverage: { before: loadBefore, after: os.loadavg()[0]! },
  };
}

export function reportBurst(r: BurstResult, config: BurstConfig): boolean {
  say("");
  say(`3. Burst: ${fmt(r.posts)} posts due on the same second across ${config.profiles} profiles and ${config.networks.length} networks (${config.networks.join(", ")}), local home`);
  say("");
  const rows: string[][] = [["ms", "p50", "p95", "p99", "max", "min"]];
  rows.push(["lateness (published_at − scheduled_for)", ...[50, 95, 99, 100].map((p) => fmt(percentile(r.lateness, p), 0)), fmt(r.lateness[0] ?? Number.NaN, 0)]);
  say(table(rows));
  say("");
  const p99 = percentile(r.lateness, 99);
  say(
    `   published ${r.lateness.length}/${r.posts} · early: ${r.early} (must be 0) · deliveries beyond one per target: ${r.extraDeliveries} · ` +
      `all settled ${fmt(r.settledSeconds, 1)} s after the due second · p99 ${p99 <= 5000 ? "within" : "OVER"} the 5 s target` +
      (r.notPublished.length ? ` · not published: ${r.notPublished.slice(0, 10).join(", ")}` : ""),
  );
  say(
    `   the home shares this process: event loop late by p50 ${fmt(r.loopDelayMs.p50, 0)} / p99 ${fmt(r.loopDelayMs.p99, 0)} / max ${fmt(r.loopDelayMs.max, 0)} ms ` +
      `while publishing, ${fmt(r.cpuPerSecond, 2)} CPU s per s; machine load average ${fmt(r.loadAverage.before, 2)} → ${fmt(r.loadAverage.after, 2)}.`,
  );
  say(`   queue deliveries in flight: ${fmt(r.meanInFlight, 1)} on average; active database sessions per sample (wait · statement):`);
  for (const w of r.waits) say(`     ${fmt(w.perSample, 2).padStart(6)}  ${w.what}`);
  return r.early === 0 && r.notPublished.length === 0 && r.lateness.length === r.posts;
}

// --- part 4: webhook latency --------------------------------------------------------------------------------------

export interface WebhookResult {
  posts: number;
  /** Event recorded (events.created_at) → the delivery's attempt started (webhook_delivery_attempts.started_at). */
  toAttempt: number[];
  /** Event recorded → the receiver got it. */
  toArrival: number[];
  /** The target's published_at → the receiver got it. */
  publishToArrival: number[];
  missing: number;
  extra: number;
  loadAverage: { before: number; after: number };
}

export async function runWebhookLatency(home: LocalHome, admin: postgres.Sql, config: BurstConfig): Promise<WebhookResult> {
  const tag = `${Date.now().toString(36)}w`;
  const [profile] = await paidUser(home, admin, tag, 1);
  await connect(home, profile!.key, "twitter", `webhook-${tag}`);
  const arrivals = new Map<string, number[]>();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const at = Date.now();
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { data?: { post_id?: string } };
        const id = event.data?.post_id ?? "?";
        arrivals.set(id, [...(arrivals.get(id) ?? []), at]);
      } catch {
        // counted as missing below
      }
      res.writeHead(200).end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  try {
    const receiverUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
    await call(home, "POST", "/api/v1/webhook-endpoints", { headers: { "x-api-key": profile!.key }, body: { url: receiverUrl, events: ["post.published"] } });
    const loadBefore = os.loadavg()[0]!;
    const postIds: string[] = [];
    for (let i = 0; i < config.webhookPosts; i++) {
      const res = await call<{ postId: string }>(home, "POST", "/api/v1/post", {
        headers: { "x-api-key": profile!.key },
        body: { platform: "twitter", content: `Webhook latency ${tag} #${i + 1}` },
      });
      postIds.push(res.postId);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const deadline = Date.now() + 30_000;
    while (postIds.some((id) => !arrivals.has(id)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
    const rows = await admin<{ post_id: string; event_at: Date; attempt_at: Date | null; published_at: Date | null }[]>`
      select e.post_id, e.created_at as event_at, t.published_at,
        (select min(a.started_at) from public.webhook_deliveries d join public.webhook_delivery_attempts a on a.delivery_id = d.id
          where d.event_id = e.id) as attempt_at
      from public.events e join public.post_targets t on t.id = e.target_id
      where e.event_type = 'post.published' and e.post_id = any(${postIds}::uuid[])`;
    const sorted = (values: number[]) => values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
    return {
      posts: postIds.length,
      toAttempt: sorted(rows.map((r) => (r.attempt_at ? r.attempt_at.getTime() - r.event_at.getTime() : Number.NaN))),
      toArrival: sorted(rows.map((r) => (arrivals.get(r.post_id)?.[0] ?? Number.NaN) - r.event_at.getTime())),
      publishToArrival: sorted(rows.map((r) => (arrivals.get(r.post_id)?.[0] ?? Number.NaN) - (r.published_at?.getTime() ?? Number.NaN))),
      missing: postIds.filter((id) => !arrivals.has(id)).length,
      extra: [...arrivals.values()].reduce((s, a) => s + Math.max(0, a.length - 1), 0),
      loadAverage: { before: loadBefore, after: os.loadavg()[0]! },
    };
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

export function reportWebhookLatency(r: WebhookResult): boolean {
  say("");
  say(`4. Webhook latency: ${r.posts} posts published now, one endpoint subscribed to post.published, the sweep once every ${SWEEP_INTERVAL_SECONDS} s`);
  say("");
  const rows: string[][] = [["ms", "p50", "p95", "p99", "max", "min"]];
  const line = (name: string, values: number[]) =>
    rows.push([name, ...[50, 95, 99, 100].map((p) => fmt(percentile(values, p), 0)), fmt(values[0] ?? Number.NaN, 0)]);
  line("event recorded → delivery attempt starts", r.toAttempt);
  line("event recorded → receiver has it", r.toArrival);
  line("published_at → receiver has it", r.publishToArrival);
  say(table(rows));
  say("");
  const p99 = percentile(r.publishToArrival, 99);
  say(
    `   delivered ${r.posts - r.missing}/${r.posts} · duplicates: ${r.extra} · p99 publish → arrival ${p99 <= 1000 ? "within" : "OVER"} 1 s · ` +
      `machine load average ${fmt(r.loadAverage.before, 2)} → ${fmt(r.loadAverage.after, 2)}. events.created_at and published_at are ` +
      "their transaction's start, so these include the rest of that transaction.",
  );
  return r.missing === 0 && r.extra === 0;
}
