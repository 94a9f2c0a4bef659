import { describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * End to end in the local home: posts are published to the sandbox X, the sandbox is told each post's metrics, the
 * sync job (run by the local scheduler) stores them, and every endpoint's numbers are checked against values computed
 * here from what the sandbox was told.
 */
const t = useTestHome({ env: { ANALYTICS_SYNC_INTERVAL_SECONDS: "1", SWEEP_INTERVAL_SECONDS: "0.5" } });

describe("publish → sync → analytics", () => {
  it("answers the sandbox's metrics through every endpoint", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const connectionId = await connectAccount(t, { apiKey }, "twitter");
    const contents = ["First analytics post", "Second analytics post", "Third analytics post"];
    for (const content of contents) {
      const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "twitter", content } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const targets = await eventually(
      async () => {
        const rows = await t.sql<{ id: string; post_id: string; external_post_id: string; content: string }[]>`
          select t.id, t.post_id, t.external_post_id, p.content from public.post_targets t join public.posts p on p.id = t.post_id
          where t.profile_id = ${profileId} and t.status = 'published' order by p.content`;
        return rows.length === contents.length && rows;
      },
      30_000,
      "the posts to be published",
    );

    // What the network will report for each post (X: impressions, likes, replies, retweets + quotes, bookmarks, clicks).
    const told = targets.map((target, i) => ({
      target,
      metrics: { impressions: 1000 * (i + 1), likes: 40 + i * 7, comments: 5 + i, shares: 3 * (i + 1), quotes: 0, saves: 2 + i, clicks: 11 * (i + 1), videoViews: 0 },
    }));
    for (const { target, metrics } of told) {
      const res = await fetch(`${t.home.url}/sandbox/twitter/__sandbox/posts/${encodeURIComponent(target.external_post_id)}/metrics`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(metrics),
      });
      expect(res.status, await res.clone().text()).toBe(200);
    }
    const sync = await t.call("POST", "/api/v1/analytics/sync", { apiKey, body: {} });
    expect(sync.status, JSON.stringify(sync.body)).toBeLessThan(300);

    const engagementsOf = (m: (typeof told)[number]["metrics"]) => m.likes + m.comments + m.shares + m.quotes + m.saves;
    // Wait until the latest snapshot of every post carries what the sandbox was told.
    await eventually(
      async () => {
        const rows = await t.sql<{ target_id: string; likes: number; impressions: number }[]>`
          select target_id, likes::int, impressions::int from public.post_metric_rollups where profile_id = ${profileId}`;
        return told.every(({ target, metrics }) => rows.some((r) => r.target_id === target.id && r.likes === metrics.likes && r.impressions === metrics.impressions));
      },
      45_000,
      "the sync to store the sandbox's metrics",
    );

    const impressions = told.reduce((s, x) => s + x.metrics.impressions, 0);
    const engagements = told.reduce((s, x) => s + engagementsOf(x.metrics), 0);
    const rate = Math.round((engagements / impressions) * 100 * 100) / 100;

    const realtime = await t.call("GET", "/api/analytics/realtime?days=7", { apiKey });
    expect(realtime.status, JSON.stringify(realtime.body)).toBe(200);
    expect(realtime.body.realtime.totals).toMatchObject({
      posts: 3,
      postsWithMetrics: 3,
      impressions,
      likes: told.reduce((s, x) => s + x.metrics.likes, 0),
      comments: told.reduce((s, x) => s + x.metrics.comments, 0),
      saves: told.reduce((s, x) => s + x.metrics.saves, 0),
      clicks: told.reduce((s, x) => s + x.metrics.clicks, 0),
      engagements,
      engagementRate: rate,
    });
    const best = told.reduce((a, b) => (engagementsOf(b.metrics) > engagementsOf(a.metrics) ? b : a));
    expect(realtime.body.realtime.topPosts[0]).toMatchObject({ targetId: best.target.id, engagements: engagementsOf(best.metrics), content: best.target.content });
    expect(realtime.body.realtime.dailyTrend.reduce((s: number, d: { engagements: number }) => s + d.engagements, 0)).toBe(engagements);

    const overview = await t.call("GET", "/api/v1/analytics/overview", { apiKey });
    expect(overview.body.analytics).toMatchObject({ totalPosts: 3, publishedPosts: 3, successfulTargets: 3 });
    expect(overview.body.analytics.engagement).toMatchObject({ impressions, engagements, engagementRate: rate });

    const timeline = await t.call("GET", "/api/analytics/post-timeline?platform=twitter", { apiKey });
    expect(timeline.body.timeline.series.reduce((s: number, d: { engagements: number }) => s + d.engagements, 0)).toBe(engagements);
    expect(timeline.body.timeline.series.reduce((s: number, d: { posts: number }) => s + d.posts, 0)).toBe(3);

    const frequency = await t.call("GET", "/api/analytics/posting-frequency", { apiKey });
    expect(frequency.body.frequency).toMatchObject({ totalPosts: 3, totalTargets: 3 });
    expect(frequency.body.frequency.byPlatform).toEqual([{ platform: "twitter", posts: 3, postsPerWeek: 0.7, share: 1 }]);

    const bestTime = await t.call("GET", "/api/analytics/best-time", { apiKey });
    expect(bestTime.body.bestTime.postsAnalysed).toBe(3);
    const slotPosts = bestTime.body.bestTime.slots.reduce((s: number, x: { posts: number }) => s + x.posts, 0);
    expect(slotPosts).toBe(3);

    const decay = await t.call("GET", "/api/analytics/content-decay", { apiKey });
    expect(decay.status).toBe(200);
    expect(decay.body.decay.platforms).toEqual([expect.objectContaining({ platform: "twitter", posts: 3 })]);

    // Three posts are below the 10 that learned best times need: the network's defaults, saying why.
    const bestTimes = await t.call("GET", "/api/v1/scheduling/best-times", { apiKey });
    expect(bestTimes.body).toMatchObject({ isDefault: true, basedOnPosts: 3, timezone: "UTC" });

    const caps = await t.call("GET", "/api/analytics/capabilities", { apiKey });
    expect(caps.body.accounts).toEqual([expect.objectContaining({ connectionId, platform: "twitter", supported: true, canSync: true })]);

    const health = await t.call("GET", "/api/analytics/sync-health", { apiKey });
    expect(health.body.summary).toMatchObject({ total: 1, healthy: 1 });
    expect(health.body.byAccount[0]).toMatchObject({ connectionId, status: "healthy", lastMetricAt: expect.any(String) });
    expect(health.body.byAccount[0].freshnessHours).toBeLessThan(1);
  }, 120_000);
});
