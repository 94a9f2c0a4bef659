import { beforeAll, describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";
import { HOUR, insertCaptures, insertPost, insertTarget } from "./seed.js";

// The sweep is put off: the sync state below is arranged by hand, and no sync may run over it.
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "3600" } });

const f = {} as { apiKey: string; profileId: string; c: Record<string, string> };

/** A published target of the account with one capture `hoursAgo`, still in its metrics collection window. */
async function measuredPost(platform: string, connectionId: string | null, hoursAgo: number, inWindow = true) {
  const now = Date.now();
  const publishedAt = new Date(now - (hoursAgo + 2) * HOUR);
  const postId = await insertPost(t.sql, f.profileId, `On ${platform}`, "published", publishedAt);
  const targetId = await insertTarget(t.sql, { postId, profileId: f.profileId, platform, connectionId, status: "published", publishedAt, createdAt: publishedAt });
  if (inWindow) await t.sql`update public.post_targets set next_metrics_at = now() + interval '1 hour' where id = ${targetId}`;
  const at = new Date(now - hoursAgo * HOUR);
  await insertCaptures(t.sql, f.profileId, { postId, targetId, platform, connectionId, publishedAt, content: "", captures: [
    { at, impressions: 100, reach: 80, likes: 5, comments: 1, shares: 1, saves: 0, clicks: 2, videoViews: null },
  ] });
  return { targetId, at };
}

async function state(connectionId: string, values: Record<string, unknown>) {
  await t.sql`update public.analytics_sync_state set ${t.sql(values)} where connection_id = ${connectionId}`;
}

const health = async () => {
  const res = await t.call("GET", "/api/analytics/sync-health", { apiKey: f.apiKey });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  return res.body as { summary: Record<string, number>; staleAfterHours: number; byAccount: any[] };
};
const account = (body: { byAccount: any[] }, connectionId: string | null, platform?: string) =>
  body.byAccount.find((a) => a.connectionId === connectionId && (!platform || a.platform === platform));

beforeAll(async () => {
  const owner = await paidUserWithKey(t);
  f.apiKey = owner.apiKey;
  f.profileId = owner.profileId;
  f.c = {};
  for (const p of ["twitter", "reddit", "youtube", "tiktok", "linkedin"]) f.c[p] = await connectAccount(t, { apiKey: f.apiKey }, p);
  // A second X account, which publishes nothing.
  f.c.quiet = await connectAccount(t, { apiKey: f.apiKey }, "twitter");
}, 120_000);

describe("GET /api/analytics/sync-health", () => {
  it("puts each account in one bucket with its freshness and the reason", async () => {
    const now = Date.now();
    // twitter: metrics an hour old → healthy.
    const fresh = await measuredPost("twitter", f.c.twitter!, 1);
    await state(f.c.twitter!, { health: "healthy", last_success_at: fresh.at, last_attempt_at: fresh.at, last_metric_at: fresh.at });
    // reddit: nothing for 40 hours while a post is still collected → stale.
    const old = await measuredPost("reddit", f.c.reddit!, 40);
    await state(f.c.reddit!, { health: "healthy", last_success_at: old.at, last_attempt_at: old.at, last_metric_at: old.at });
    // youtube: authorization lost → needs attention.
    await t.sql`update public.connections set status = 'needs_reconnect' where id = ${f.c.youtube!}`;
    await state(f.c.youtube!, { health: "needs_reconnect", last_error: "token revoked", last_error_at: new Date(), consecutive_failures: 1 });
    // tiktok: three failed syncs in a row → needs attention.
    await measuredPost("tiktok", f.c.tiktok!, 3);
    await state(f.c.tiktok!, { health: "failing", last_error: "The network answered garbage", last_error_at: new Date(), consecutive_failures: 3 });
    // the second X account: connected, nothing published → no data.
    // linkedin: member post analytics need a scope LinkedIn grants approved apps only → unsupported.
    // facebook: published through an account that was removed since → disconnected.
    await measuredPost("facebook", null, 5);

    const body = await health();
    expect(body.staleAfterHours).toBe(36);
    expect(body.summary).toEqual({ total: 7, healthy: 1, stale: 1, needsAttention: 2, noData: 1, unsupported: 1, disconnected: 1 });
    const tw = account(body, f.c.twitter!);
    expect(tw).toMatchObject({ platform: "twitter", status: "healthy", lastMetricAt: fresh.at.toISOString(), reason: null, consecutiveFailures: 0 });
    expect(tw.freshnessHours).toBeCloseTo((Date.now() - fresh.at.getTime()) / HOUR, 1);
    const rd = account(body, f.c.reddit!);
    expect(rd).toMatchObject({ status: "stale", lastMetricAt: old.at.toISOString(), reason: expect.stringMatching(/36 hours/) });
    expect(rd.freshnessHours).toBeGreaterThanOrEqual(40);
    expect(account(body, f.c.youtube!)).toMatchObject({ status: "needsAttention", reason: expect.stringMatching(/Reconnect/), lastError: "token revoked" });
    expect(account(body, f.c.tiktok!)).toMatchObject({
      status: "needsAttention",
      consecutiveFailures: 3,
      reason: "The last 3 syncs failed: The network answered garbage",
    });
    expect(account(body, f.c.quiet!)).toMatchObject({ status: "noData", lastMetricAt: null, freshnessHours: null, reason: expect.any(String) });
    expect(account(body, f.c.linkedin!)).toMatchObject({ status: "unsupported", reason: expect.stringMatching(/r_member_postAnalytics/) });
    expect(account(body, null, "facebook")).toMatchObject({ status: "disconnected", username: null, reason: expect.stringMatching(/disconnected/) });
    expect(now).toBeLessThanOrEqual(Date.now());
  });

  it("follows one account through healthy → stale → needsAttention (revoked) → healthy (reconnected)", async () => {
    const id = f.c.twitter!;
    expect(account(await health(), id).status).toBe("healthy");
    // A day and a half without metrics or a successful sync.
    const longAgo = new Date(Date.now() - 48 * HOUR);
    await t.sql`update public.post_metric_rollups set last_captured_at = ${longAgo} where connection_id = ${id}`;
    await state(id, { last_success_at: longAgo, last_metric_at: longAgo });
    expect(account(await health(), id).status).toBe("stale");
    // The network revokes the token: the sync marks the connection.
    await t.sql`update public.connections set status = 'needs_reconnect' where id = ${id}`;
    await state(id, { health: "needs_reconnect" });
    expect(account(await health(), id)).toMatchObject({ status: "needsAttention", reason: expect.stringMatching(/Reconnect/) });
    // Reconnected, and the next sync stores fresh metrics.
    await t.sql`update public.connections set status = 'connected' where id = ${id}`;
    const fresh = await measuredPost("twitter", id, 0.1);
    await state(id, { health: "healthy", last_success_at: fresh.at, last_metric_at: fresh.at, consecutive_failures: 0 });
    expect(account(await health(), id)).toMatchObject({ status: "healthy", lastMetricAt: fresh.at.toISOString() });
  });

  it("an account whose posts are all past their collection window stays healthy, saying so", async () => {
    await t.sql`update public.post_targets set next_metrics_at = null where connection_id = ${f.c.reddit!}`;
    expect(account(await health(), f.c.reddit!)).toMatchObject({ status: "healthy", reason: expect.stringMatching(/collection window/) });
  });

  it("filters by platform", async () => {
    const res = await t.call("GET", "/api/analytics/sync-health?platform=twitter", { apiKey: f.apiKey });
    expect(res.body.byAccount.map((a: { connectionId: string }) => a.connectionId)).toEqual([f.c.twitter, f.c.quiet]);
    expect(res.body.summary).toMatchObject({ total: 2, healthy: 1, noData: 1 });
  });
});
