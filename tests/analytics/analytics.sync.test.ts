import postgres from "postgres";
import { describe, expect, it } from "vitest";
import { nextCaptureAt, parseCadence } from "../../src/analytics/sync/sync.js";
import { connectAccount, eventually, sandboxControl } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * The metrics sync (src/analytics/sync): publish through the API, let the sweep and the job run against the sandbox,
 * and read what was stored. Sandbox values are set per post with its control endpoint, so every number checked here
 * is one the network said.
 */
const t = useTestHome({
  env: {
    SWEEP_INTERVAL_SECONDS: "0.3",
    ANALYTICS_SYNC_INTERVAL_SECONDS: "1",
    RATE_LIMIT_OVERRIDES: "analytics_sync=100/1h",
  },
});

interface SyncState {
  health: string;
  status: string;
  last_success_at: Date | null;
  last_error: string | null;
  last_error_category: string | null;
  last_error_at: Date | null;
  consecutive_failures: number;
  next_sync_at: Date | null;
}

const stateOf = async (connectionId: string) => {
  const [row] = await t.sql<SyncState[]>`
    select health, status, last_success_at, last_error, last_error_category, last_error_at, consecutive_failures, next_sync_at
    from public.analytics_sync_state where connection_id = ${connectionId}`;
  return row!;
};

async function publishedTweet(text = `Metrics ${Math.random().toString(36).slice(2)}`) {
  const { apiKey, profileId } = await paidUserWithKey(t);
  const connectionId = await connectAccount(t, { apiKey }, "twitter");
  const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: text } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const [target] = await t.sql<{ id: string; external_post_id: string }[]>`
    select id, external_post_id from public.post_targets where post_id = ${res.body.postId} and status = 'published'`;
  return { apiKey, profileId, connectionId, postId: res.body.postId as string, targetId: target!.id, tweetId: target!.external_post_id };
}

async function setSandboxMetrics(network: string, postId: string, body: Record<string, unknown>) {
  const res = await fetch(`${t.home.url}/sandbox/${network}/__sandbox/posts/${encodeURIComponent(postId)}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

const snapshotsOf = (targetId: string) =>
  t.sql<Record<string, unknown>[]>`select * from public.post_metric_snapshots where target_id = ${targetId} order by captured_at`;

describe("the metrics sync", () => {
  it("stores the network's numbers in the one model within an interval of publishing, and again when asked", async () => {
    const p = await publishedTweet();
    // The first capture comes by itself (the publish made the account due).
    await eventually(async () => ((await snapshotsOf(p.targetId)).length ? true : undefined), 10_000, "a first snapshot");
    expect(await stateOf(p.connectionId)).toMatchObject({ health: "healthy", consecutive_failures: 0 });

    await setSandboxMetrics("twitter", p.tweetId, { impressions: 1000, likes: 50, comments: 5, shares: 10, quotes: 2, saves: 3, clicks: 7 });
    const asked = await t.call("POST", "/api/v1/analytics/sync", { apiKey: p.apiKey });
    expect(asked.status, JSON.stringify(asked.body)).toBe(200);
    expect(asked.body).toMatchObject({ success: true, accounts: 1 });
    const latest = await eventually(async () => {
      const rows = await snapshotsOf(p.targetId);
      const last = rows.at(-1);
      return last && Number(last.likes) === 50 ? last : undefined;
    }, 10_000, "a snapshot with the set metrics");
    expect(latest).toMatchObject({
      profile_id: p.profileId,
      post_id: p.postId,
      connection_id: p.connectionId,
      platform: "twitter",
      reach: null,
      video_views: null,
    });
    // X: impressions from non_public_metrics, shares = retweets + quotes, saves = bookmarks, clicks = link clicks.
    expect(["impressions", "likes", "comments", "shares", "saves", "clicks", "engagements"].map((k) => Number(latest[k]))).toEqual([
      1000, 50, 5, 12, 3, 7, 70,
    ]);
    expect(Number(latest.engagement_rate)).toBeCloseTo(0.07, 6);
    expect(latest.raw).toMatchObject({ public_metrics: { like_count: 50, retweet_count: 10, quote_count: 2 } });
    // Snapshots are kept over time, not replaced.
    expect((await snapshotsOf(p.targetId)).length).toBeGreaterThanOrEqual(2);
    // Followers are read too.
    const [account] = await t.sql`select followers from public.account_metric_snapshots where connection_id = ${p.connectionId}`;
    expect(Number(account!.followers)).toBeGreaterThan(0);
    // The next capture of a young post is due within the cadence's first step.
    const [target] = await t.sql<{ next_metrics_at: Date }[]>`select next_metrics_at from public.post_targets where id = ${p.targetId}`;
    expect(target!.next_metrics_at.getTime()).toBeGreaterThan(Date.now() + 50 * 60_000);
  });

  it("stores its reading while a publish on the same account settles: neither is aborted as a deadlock", async () => {
    const p = await publishedTweet();
    await eventually(async () => ((await snapshotsOf(p.targetId)).length ? true : undefined), 10_000, "a first snapshot");
    const before = (await snapshotsOf(p.targetId)).length;

    // Two transactions held open side by side, on connections of their own.
    const db = postgres(t.home.databaseUrl, { max: 2, onnotice: () => {} });
    const account = await db.reserve();
    const publish = await db.reserve();
    try {
      const pidOf = async (c: postgres.ReservedSql) => (await c<{ pid: number }[]>`select pg_backend_pid() as pid`)[0]!.pid;
      const [accountPid, publishPid] = [await pidOf(account), await pidOf(publish)];
      const somethingWaitsFor = (pid: number, what: string) =>
        eventually(
          async () => ((await t.sql`select 1 from pg_stat_activity where ${pid}::integer = any(pg_blocking_pids(pid))`).length ? true : undefined),
          10_000,
          what,
        );

      // New numbers on the network, so the sync's reading changes the hour's sums; and the connection's row held, so
      // the sync asked for stops after its claim, before it reads the network.
      await setSandboxMetrics("twitter", p.tweetId, { impressions: 500, likes: 20 });
      await account`begin`;
      await account`select 1 from public.connections where id = ${p.connectionId} for update`;
      const asked = await t.call("POST", "/api/v1/analytics/sync", { apiKey: p.apiKey });
      expect(asked.status, JSON.stringify(asked.body)).toBe(200);
      await somethingWaitsFor(accountPid, "the sync to wait for the connection's row");

      // A publish on the same account settles with two locks, in this order: its trigger marks the account's sync due
      // (the upsert of arm_metrics_on_publish) ...
      await publish`begin`;
      await publish`
        update public.analytics_sync_state set next_sync_at = least(next_sync_at, now()) where connection_id = ${p.connectionId}`;
      // ... while the sync reads the network and comes to store what it read ...
      await account`commit`;
      await somethingWaitsFor(publishPid, "the sync to wait for the publish");
      // ... then the publish adds its target to the hour's published count (add_published_hourly, here adding nothing).
      // Had the sync taken the hour's sums before the account's sync row, this would wait for the sync while the sync
      // waits for it, and Postgres would abort one of the two.
      await publish`select public.add_published_hourly(array(select t from public.post_targets t where t.id = ${p.targetId}), 0)`;
      await publish`commit`;
    } finally {
      account.release();
      publish.release();
      await db.end();
    }

    await eventually(async () => ((await snapshotsOf(p.targetId)).length > before ? true : undefined), 10_000, "the sync's snapshot");
    // Stored by the sync asked for, not by a later one after it failed.
    expect(await stateOf(p.connectionId)).toMatchObject({ health: "healthy", consecutive_failures: 0, last_error: null, last_error_at: null });
  });

  it("healthy → needs reconnect when the network revokes the token → healthy again after reconnecting", async () => {
    const sandboxUser = `sync-${Math.random().toString(36).slice(2, 8)}`;
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "twitter", { sandboxUser });
    const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content: "Revocable" } });
    expect(res.status).toBe(201);
    await eventually(async () => ((await stateOf(connectionId)).health === "healthy" ? true : undefined), 10_000, "a healthy sync");

    await sandboxControl(t, connectionId, "revoke-all-tokens");
    expect((await t.call("POST", "/api/v1/analytics/sync", { apiKey })).status).toBe(200);
    const failed = await eventually(async () => {
      const s = await stateOf(connectionId);
      return s.health === "needs_reconnect" ? s : undefined;
    }, 10_000, "the sync to find the authorization gone");
    expect(failed).toMatchObject({ status: "idle", last_error_category: "auth", next_sync_at: null });
    const [connection] = await t.sql`select status from public.connections where id = ${connectionId}`;
    expect(connection!.status).toBe("needs_reconnect");
    const [event] = await t.sql`select payload from public.events where event_type = 'connection.needs_reconnect' and payload->'data'->>'connection_id' = ${connectionId}`;
    expect(event).toBeDefined();

    // Reconnecting the same account makes it due again; the next sync succeeds and keeps the failure on record.
    expect(await connectAccount(t, { apiKey }, "twitter", { sandboxUser })).toBe(connectionId);
    const healed = await eventually(async () => {
      const s = await stateOf(connectionId);
      return s.health === "healthy" ? s : undefined;
    }, 10_000, "a healthy sync after reconnecting");
    expect(healed.last_success_at!.getTime()).toBeGreaterThan(failed.last_error_at!.getTime());
    expect(healed).toMatchObject({ consecutive_failures: 0, last_error_category: "auth" });
  });

  it("backs off on the network's rate limit until its reset, then syncs again", async () => {
    const p = await publishedTweet();
    await eventually(async () => ((await stateOf(p.connectionId)).health === "healthy" ? true : undefined), 10_000, "a healthy sync");
    await setSandboxMetrics("twitter", p.tweetId, { likes: 9, fail: "rate_limited", times: 1 });
    const before = Date.now();
    expect((await t.call("POST", "/api/v1/analytics/sync", { apiKey: p.apiKey })).status).toBe(200);
    const limited = await eventually(async () => {
      const s = await stateOf(p.connectionId);
      return s.health === "rate_limited" ? s : undefined;
    }, 10_000, "the rate limit to be recorded");
    expect(limited).toMatchObject({ status: "pending", last_error_category: "rate_limit", consecutive_failures: 1 });
    // The sandbox's limit resets 3 s later: the next sync is not before then.
    expect(limited.next_sync_at!.getTime()).toBeGreaterThanOrEqual(before + 2000);
    const recovered = await eventually(async () => {
      const s = await stateOf(p.connectionId);
      return s.health === "healthy" ? s : undefined;
    }, 15_000, "a sync after the reset");
    expect(recovered.last_success_at!.getTime()).toBeGreaterThanOrEqual(limited.next_sync_at!.getTime() - 1000);
    expect(Number((await snapshotsOf(p.targetId)).at(-1)!.likes)).toBe(9);
  });

  it("records an answer that is not the network's format as a failed sync, and recovers", async () => {
    const p = await publishedTweet();
    await eventually(async () => ((await stateOf(p.connectionId)).health === "healthy" ? true : undefined), 10_000, "a healthy sync");
    const count = (await snapshotsOf(p.targetId)).length;
    await setSandboxMetrics("twitter", p.tweetId, { likes: 4, fail: "garbage", times: 1 });
    expect((await t.call("POST", "/api/v1/analytics/sync", { apiKey: p.apiKey })).status).toBe(200);
    const failing = await eventually(async () => {
      const s = await stateOf(p.connectionId);
      return s.health === "failing" ? s : undefined;
    }, 10_000, "the garbage answer to be recorded");
    expect(failing).toMatchObject({ status: "pending", last_error_category: "invalid_response", consecutive_failures: 1 });
    expect(failing.last_error).toMatch(/X answered 200 with a body that is not its metrics format/);
    // Nothing was stored from it.
    expect((await snapshotsOf(p.targetId)).length).toBe(count);
    await eventually(async () => ((await stateOf(p.connectionId)).health === "healthy" ? true : undefined), 15_000, "recovery");
    expect(Number((await snapshotsOf(p.targetId)).at(-1)!.likes)).toBe(4);
  });

  it("lets publishing go first: an account with publishing due waits before its metrics are read", async () => {
    const p = await publishedTweet();
    await eventually(async () => ((await stateOf(p.connectionId)).health === "healthy" ? true : undefined), 10_000, "a healthy sync");
    const count = (await snapshotsOf(p.targetId)).length;
    // Another post of the account is being published right now (claimed by a worker, due).
    const later = await t.call("POST", "/api/v1/post", {
      apiKey: p.apiKey,
      body: { platform: "twitter", content: "Going out now", scheduleDate: new Date(Date.now() + 86_400_000).toISOString() },
    });
    expect(later.status).toBe(201);
    await t.sql`
      update public.post_targets set status = 'publishing', lease_until = now() + interval '10 minutes', due_at = now() - interval '1 second'
      where post_id = ${later.body.postId}`;
    const asked = Date.now();
    expect((await t.call("POST", "/api/v1/analytics/sync", { apiKey: p.apiKey })).status).toBe(200);
    const deferred = await eventually(async () => {
      const [row] = await t.sql<{ next_sync_at: Date; status: string; looked: boolean }[]>`
        select next_sync_at, status, last_attempt_at > requested_at as looked
        from public.analytics_sync_state where connection_id = ${p.connectionId}`;
      return row!.looked && row!.status === "pending" ? row : undefined;
    }, 10_000, "the sync to look and step aside");
    expect(deferred.next_sync_at.getTime()).toBeGreaterThan(asked + 20_000);
    expect((await snapshotsOf(p.targetId)).length).toBe(count);
    expect((await stateOf(p.connectionId)).health).toBe("healthy");
    await t.sql`update public.post_targets set status = 'canceled', lease_until = null where post_id = ${later.body.postId}`;
  });

  it("marks an account without metrics as unsupported, with the reason (LinkedIn, the app not approved for its metrics scope)", async () => {
    const { apiKey } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "linkedin");
    const s = await eventually(async () => {
      const row = await stateOf(connectionId);
      return row.health === "unsupported" ? row : undefined;
    }, 10_000, "the sync to record that LinkedIn has no metrics here");
    expect(s).toMatchObject({ status: "idle", last_error_category: "unsupported" });
    expect(s.last_error).toMatch(/r_member_postAnalytics/);
  });

  it("POST /api/v1/analytics/sync acts on the caller's own profile only, and snapshots are not writable by the API's role", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const other = await paidUserWithKey(t);
    for (const who of [{ apiKey: other.apiKey }, { token: other.user.token }]) {
      const foreign = await t.call("POST", `/api/v1/analytics/sync?profileId=${profileId}`, who);
      expect(foreign.status, JSON.stringify(foreign.body)).toBe(404);
    }
    const bad = await t.call("POST", "/api/v1/analytics/sync?profileId=nope", { apiKey });
    expect(bad.status).toBe(400);
    const none = await t.call("POST", "/api/v1/analytics/sync", { apiKey });
    expect(none.body).toEqual({ success: true, accounts: 0, queued: 0, message: "No connected account to sync" });
    const own = await t.call("POST", `/api/v1/analytics/sync?profileId=${profileId}`, { apiKey });
    expect(own.status).toBe(200);
    // Direct writes through the data API's roles are refused (the boundary suite checks every table); our own role
    // cannot write snapshots either.
    await expect(
      t.sql.begin(async (tx) => {
        await tx`select set_config('request.jwt.claims', ${JSON.stringify({ role: "authenticated", sub: other.user.id })}, true)`;
        await tx.unsafe("set local role amplify_api");
        await tx`update public.analytics_sync_state set health = 'healthy'`;
        await tx`insert into public.account_metric_snapshots (profile_id, connection_id, platform, followers) values (${other.profileId}, ${other.profileId}, 'twitter', 1)`;
      }),
    ).rejects.toMatchObject({ code: "42501" });
  });
});

describe("the sync request's rate limit", () => {
  it("answers 429 past the profile's analytics_sync limit", async () => {
    const { apiKey } = await paidUserWithKey(t);
    // 100 an hour in this file; the production table says 10.
    const results = [];
    for (let i = 0; i < 101; i++) results.push((await t.call("POST", "/api/v1/analytics/sync", { apiKey })).status);
    expect(results.slice(0, 100).every((s) => s === 200)).toBe(true);
    expect(results[100]).toBe(429);
  });
});

describe("the cadence", () => {
  it("reads young posts more often than old ones and stops after the last step", () => {
    const steps = parseCadence("1h@1d,6h@7d,1d@30d");
    const published = new Date("2026-12-01T00:00:00Z");
    const at = (hours: number) => new Date(published.getTime() + hours * 3_600_000);
    const gap = (hours: number) => (nextCaptureAt(published, at(hours), steps)!.getTime() - at(hours).getTime()) / 3_600_000;
    expect([gap(0), gap(23), gap(24), gap(24 * 6.9), gap(24 * 7), gap(24 * 29)]).toEqual([1, 1, 6, 6, 24, 24]);
    expect(nextCaptureAt(published, at(24 * 30), steps)).toBeNull();
  });
});
