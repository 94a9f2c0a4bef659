import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectAccount, eventually } from "../helpers/connect.js";
import { fakeMp4 } from "../helpers/fake-mp4.js";
import { useTestHome } from "../helpers/home.js";
import { paidUserWithKey } from "../helpers/users.js";

/**
 * LinkedIn member posts and a Facebook Page video, published through the API in the local home whose LinkedIn app is
 * approved for member post analytics (LINKEDIN_ANALYTICS_SCOPES): the sandboxes are told each post's metrics, the sync
 * job stores them, and the analytics endpoints answer them, per platform, with the Facebook video's views.
 */
const t = useTestHome({
  env: { ANALYTICS_SYNC_INTERVAL_SECONDS: "1", SWEEP_INTERVAL_SECONDS: "0.5", LINKEDIN_ANALYTICS_SCOPES: "r_member_postAnalytics" },
});

const CLIP = fakeMp4({ durationSeconds: 8, totalBytes: 48 * 1024 });
let mediaHost: Server;
let videoUrl: string;

beforeAll(async () => {
  mediaHost = createServer((req, res) => {
    if (req.url === "/clip.mp4") res.writeHead(200, { "content-type": "video/mp4", "content-length": CLIP.length }).end(CLIP);
    else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => mediaHost.listen(0, "127.0.0.1", resolve));
  videoUrl = `http://127.0.0.1:${(mediaHost.address() as AddressInfo).port}/clip.mp4`;
});
afterAll(async () => {
  await new Promise<void>((resolve) => mediaHost.close(() => resolve()));
});

async function tell(platform: string, externalPostId: string, metrics: Record<string, number>) {
  const res = await fetch(`${t.home.url}/sandbox/${platform}/__sandbox/posts/${encodeURIComponent(externalPostId)}/metrics`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(metrics),
  });
  expect(res.status, await res.clone().text()).toBe(200);
}

describe("LinkedIn and Facebook video metrics flow into the analytics endpoints", () => {
  it("publishes, syncs and answers them", async () => {
    const { apiKey, profileId } = await paidUserWithKey(t);
    const linkedin = await connectAccount(t, { apiKey }, "linkedin");
    const facebook = await connectAccount(t, { apiKey }, "facebook");

    for (const content of ["LinkedIn analytics one", "LinkedIn analytics two"]) {
      const res = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "linkedin", content } });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
    }
    const media = [{ public_url: videoUrl, mime_type: "video/mp4", file_name: "clip.mp4", file_size: CLIP.length }];
    const video = await t.call("POST", "/api/v1/post", { apiKey, body: { platform: "facebook", content: "A Page video", media } });
    expect(video.status, JSON.stringify(video.body)).toBe(201);

    const targets = await eventually(
      async () => {
        const rows = await t.sql<{ id: string; platform: string; external_post_id: string; content: string }[]>`
          select t.id, t.platform, t.external_post_id, p.content from public.post_targets t join public.posts p on p.id = t.post_id
          where t.profile_id = ${profileId} and t.status = 'published' order by p.content`;
        return rows.length === 3 && rows;
      },
      40_000,
      "the LinkedIn posts and the Facebook video to be published",
    );
    const li = targets.filter((r) => r.platform === "linkedin");
    const fb = targets.find((r) => r.platform === "facebook")!;
    expect(li.map((r) => r.external_post_id)).toEqual([expect.stringMatching(/^urn:li:share:\d+$/), expect.stringMatching(/^urn:li:share:\d+$/)]);
    expect(fb.external_post_id).toMatch(/^\d+$/); // a video is its own Graph object

    const told = new Map<string, { impressions: number; reach: number; likes: number; comments: number; shares: number; videoViews: number }>([
      [li[0]!.id, { impressions: 1200, reach: 900, likes: 60, comments: 9, shares: 4, videoViews: 0 }],
      [li[1]!.id, { impressions: 800, reach: 700, likes: 30, comments: 3, shares: 2, videoViews: 0 }],
      [fb.id, { impressions: 2000, reach: 1500, likes: 80, comments: 12, shares: 6, videoViews: 1700 }],
    ]);
    for (const target of targets) await tell(target.platform, target.external_post_id, { ...told.get(target.id)!, quotes: 0, saves: 0, clicks: 0 });
    const sync = await t.call("POST", "/api/v1/analytics/sync", { apiKey, body: {} });
    expect(sync.status, JSON.stringify(sync.body)).toBeLessThan(300);

    await eventually(
      async () => {
        const rows = await t.sql<{ target_id: string; likes: number; impressions: number }[]>`
          select target_id, likes::int, impressions::int from public.post_metric_rollups where profile_id = ${profileId}`;
        return [...told].every(([id, m]) => rows.some((r) => r.target_id === id && r.likes === m.likes && r.impressions === m.impressions));
      },
      45_000,
      "the sync to store the LinkedIn and Facebook video metrics",
    );

    const sumOf = (ids: string[], key: "impressions" | "reach" | "likes" | "comments" | "shares" | "videoViews") =>
      ids.reduce((s, id) => s + told.get(id)![key], 0);
    const engagementsOf = (ids: string[]) => sumOf(ids, "likes") + sumOf(ids, "comments") + sumOf(ids, "shares");
    const liIds = li.map((r) => r.id);

    const realtime = await t.call("GET", "/api/analytics/realtime?days=7", { apiKey });
    expect(realtime.status, JSON.stringify(realtime.body)).toBe(200);
    expect(realtime.body.realtime.totals).toMatchObject({
      posts: 3,
      postsWithMetrics: 3,
      impressions: sumOf([...told.keys()], "impressions"),
      videoViews: 1700,
      engagements: engagementsOf([...told.keys()]),
    });
    const breakdown = Object.fromEntries(realtime.body.realtime.platformBreakdown.map((p: { platform: string }) => [p.platform, p]));
    expect(breakdown.linkedin).toMatchObject({ posts: 2, postsWithMetrics: 2, impressions: sumOf(liIds, "impressions"), engagements: engagementsOf(liIds) });
    expect(breakdown.facebook).toMatchObject({ posts: 1, postsWithMetrics: 1, impressions: 2000, engagements: engagementsOf([fb.id]) });

    const timeline = await t.call("GET", "/api/analytics/post-timeline?platform=facebook", { apiKey });
    const fbDays = timeline.body.timeline.series;
    expect(fbDays.reduce((s: number, d: { videoViews: number }) => s + d.videoViews, 0)).toBe(1700);
    const liTimeline = await t.call("GET", "/api/analytics/post-timeline?platform=linkedin", { apiKey });
    expect(liTimeline.body.timeline.series.reduce((s: number, d: { reach: number }) => s + d.reach, 0)).toBe(sumOf(liIds, "reach"));

    const overview = await t.call("GET", "/api/v1/analytics/overview", { apiKey });
    const overviewByPlatform = Object.fromEntries(overview.body.analytics.platformBreakdown.map((p: { platform: string }) => [p.platform, p]));
    expect(overviewByPlatform.linkedin).toMatchObject({ published: 2, impressions: sumOf(liIds, "impressions"), engagements: engagementsOf(liIds) });

    const caps = await t.call("GET", "/api/analytics/capabilities", { apiKey });
    const capsByPlatform = Object.fromEntries(caps.body.accounts.map((a: { platform: string }) => [a.platform, a]));
    expect(capsByPlatform.linkedin).toMatchObject({
      connectionId: linkedin,
      supported: true,
      canSync: true,
      postMetrics: ["impressions", "reach", "likes", "comments", "shares"],
      reason: null,
    });
    expect(capsByPlatform.facebook).toMatchObject({ connectionId: facebook, supported: true, postMetrics: expect.arrayContaining(["video_views"]) });
    expect(caps.body.platforms.find((p: { platform: string }) => p.platform === "linkedin")).toMatchObject({ supported: true, reason: null });

    const health = await t.call("GET", "/api/analytics/sync-health?platform=linkedin", { apiKey });
    expect(health.body.byAccount).toEqual([expect.objectContaining({ connectionId: linkedin, status: "healthy", lastMetricAt: expect.any(String) })]);
  }, 150_000);
});
