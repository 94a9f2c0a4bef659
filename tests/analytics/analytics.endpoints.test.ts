import { beforeAll, describe, expect, it } from "vitest";
import { connectAccount } from "../helpers/connect.js";
import { useTestHome } from "../helpers/home.js";
import { assertEnvelope } from "../helpers/security.js";
import { paidUserWithKey } from "../helpers/users.js";
import {
  baseOf,
  curve,
  DAY,
  decayOf,
  engagementsOf,
  HOUR,
  insertCaptures,
  insertPost,
  insertTarget,
  latest,
  localParts,
  median,
  rateOf,
  rng,
  round2,
  round4,
  windowStart,
  type SeededTarget,
} from "./seed.js";

// The sweep is put off: these tests seed metrics themselves and nothing may sync over them.
const t = useTestHome({ env: { SWEEP_INTERVAL_SECONDS: "3600" } });

/**
 * Every endpoint's numbers, checked against values computed here from the seeded snapshots, in two time zones: New
 * York (whole-hour offsets: the endpoints sum the hourly table) and Kolkata (UTC+5:30: they read the per-target
 * rollups), so both stores are held to the same answers.
 */
for (const TZ of ["America/New_York", "Asia/Kolkata"]) {
  describe(`in ${TZ}`, () => {
    const platforms = ["twitter", "linkedin", "reddit"] as const;

    const f = {} as {
      apiKey: string;
      token: string;
      profileId: string;
      connections: Record<string, string>;
      targets: SeededTarget[];
      now: Date;
      other: { apiKey: string; profileId: string };
    };

    /** Targets published at or after `from` (and their posts' ids). */
    const inWindow = (from: Date, platform?: string) =>
      f.targets.filter((x) => x.publishedAt >= from && (!platform || x.platform === platform));

    function sums(targets: SeededTarget[]) {
      const withMetrics = targets.filter((x) => x.captures.length);
      const sum = (fn: (x: SeededTarget) => number) => withMetrics.reduce((s, x) => s + fn(x), 0);
      const rated = withMetrics.filter((x) => baseOf(latest(x)) !== null);
      const base = rated.reduce((s, x) => s + baseOf(latest(x))!, 0);
      const ratedEng = rated.reduce((s, x) => s + engagementsOf(latest(x)), 0);
      return {
        postsWithMetrics: withMetrics.length,
        impressions: sum((x) => latest(x).impressions ?? 0),
        reach: sum((x) => latest(x).reach ?? 0),
        likes: sum((x) => latest(x).likes),
        comments: sum((x) => latest(x).comments),
        shares: sum((x) => latest(x).shares),
        saves: sum((x) => latest(x).saves),
        clicks: sum((x) => latest(x).clicks ?? 0),
        videoViews: sum((x) => latest(x).videoViews ?? 0),
        engagements: sum((x) => engagementsOf(latest(x))),
        engagementRate: base > 0 ? round2((ratedEng / base) * 100) : null,
      };
    }

    beforeAll(async () => {
      const owner = await paidUserWithKey(t);
      f.apiKey = owner.apiKey;
      f.token = owner.user.token;
      f.profileId = owner.profileId;
      await t.sql`update public.profiles set timezone = ${TZ} where id = ${f.profileId}`;
      f.connections = {};
      for (const p of platforms) f.connections[p] = await connectAccount(t, { apiKey: f.apiKey }, p);
      f.now = new Date();
      const random = rng(13);
      f.targets = [];
      // 24 posts over the last 26 days (one of every four also on LinkedIn), and 3 older than 40 days.
      const ages = [...Array.from({ length: 24 }, (_, i) => 1 * DAY + i * 1.05 * DAY + ((i * 7) % 24) * HOUR), 41 * DAY, 44 * DAY + 5 * HOUR, 50 * DAY];
      for (const [i, age] of ages.entries()) {
        const publishedAt = new Date(f.now.getTime() - age);
        const content = `Post number ${i}`;
        const postId = await insertPost(t.sql, f.profileId, content, "published", publishedAt);
        const onPlatforms: string[] = i % 4 === 0 && platforms[i % 3] !== "linkedin" ? [platforms[i % 3]!, "linkedin"] : [platforms[i % 3]!];
        for (const platform of onPlatforms) {
          const connectionId = f.connections[platform]!;
          const targetId = await insertTarget(t.sql, { postId, profileId: f.profileId, platform, connectionId, status: "published", publishedAt, createdAt: publishedAt });
          // Post 5 is published but not measured yet.
          const captures = i === 5 ? [] : curve(publishedAt, f.now, random, { impressions: platform !== "reddit" });
          f.targets.push({ postId, targetId, platform, connectionId, publishedAt, captures, content });
        }
      }
      // Snapshots: most targets in one statement each; two one capture at a time, newest first (the rollup must not care).
      for (const [i, target] of f.targets.entries()) {
        if (i === 2 || i === 7) {
          for (const c of [...target.captures].reverse()) await insertCaptures(t.sql, f.profileId, target, [c]);
        } else {
          await insertCaptures(t.sql, f.profileId, target);
        }
      }
      // Posts in other states, for the overview.
      const soon = new Date(f.now.getTime() + DAY);
      const scheduled = await insertPost(t.sql, f.profileId, "Scheduled", "scheduled", soon);
      await insertTarget(t.sql, { postId: scheduled, profileId: f.profileId, platform: "twitter", connectionId: f.connections.twitter!, status: "pending", publishedAt: null, createdAt: f.now });
      const failed = await insertPost(t.sql, f.profileId, "Failed", "failed", new Date(f.now.getTime() - 2 * DAY));
      await insertTarget(t.sql, { postId: failed, profileId: f.profileId, platform: "reddit", connectionId: f.connections.reddit!, status: "failed", publishedAt: null, createdAt: new Date(f.now.getTime() - 2 * DAY) });
      const canceled = await insertPost(t.sql, f.profileId, "Canceled", "canceled", new Date(f.now.getTime() - 3 * DAY));
      await insertTarget(t.sql, { postId: canceled, profileId: f.profileId, platform: "linkedin", connectionId: f.connections.linkedin!, status: "canceled", publishedAt: null, createdAt: new Date(f.now.getTime() - 3 * DAY) });
      // Another tenant with metrics of its own: never counted above.
      const other = await paidUserWithKey(t);
      f.other = { apiKey: other.apiKey, profileId: other.profileId };
      const otherConnection = await connectAccount(t, { apiKey: other.apiKey }, "twitter");
      const otherAt = new Date(f.now.getTime() - 3 * DAY);
      const otherPost = await insertPost(t.sql, other.profileId, "Other tenant", "published", otherAt);
      const otherTarget = await insertTarget(t.sql, { postId: otherPost, profileId: other.profileId, platform: "twitter", connectionId: otherConnection, status: "published", publishedAt: otherAt, createdAt: otherAt });
      await insertCaptures(t.sql, other.profileId, {
        postId: otherPost, targetId: otherTarget, platform: "twitter", connectionId: otherConnection, publishedAt: otherAt, content: "x",
        captures: curve(otherAt, f.now, rng(99), { impressions: true }),
      });
    }, 120_000);

    const get = (path: string, who: { apiKey?: string; token?: string } = { apiKey: f.apiKey }) => t.call("GET", path, who);

    describe("GET /api/v1/analytics/overview", () => {
      it("counts posts and targets by status and platform, with engagement totals, for the key's profile only", async () => {
        const res = await get("/api/v1/analytics/overview");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const a = res.body.analytics;
        const postIds = new Set(f.targets.map((x) => x.postId));
        expect(a).toMatchObject({
          totalPosts: postIds.size + 3,
          draftPosts: 0,
          scheduledPosts: 1,
          publishingPosts: 0,
          publishedPosts: postIds.size,
          failedPosts: 1,
          canceledPosts: 1,
          totalTargets: f.targets.length + 3,
          successfulTargets: f.targets.length,
          failedTargets: 1,
          pendingTargets: 1,
          days: null,
          platform: null,
        });
        const expectedBreakdown = platforms
          .map((p) => {
            const mine = f.targets.filter((x) => x.platform === p);
            const s = sums(mine);
            return {
              platform: p,
              targets: mine.length + (p === "twitter" || p === "reddit" || p === "linkedin" ? 1 : 0),
              published: mine.length,
              failed: p === "reddit" ? 1 : 0,
              impressions: s.impressions,
              engagements: s.engagements,
            };
          })
          .sort((x, y) => x.platform.localeCompare(y.platform));
        expect(a.platformBreakdown).toEqual(expectedBreakdown);
        expect(a.engagement).toEqual(sums(f.targets));
      });

      it("narrows to a platform and a window when asked", async () => {
        const res = await get("/api/v1/analytics/overview?platform=twitter&days=30");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const from = windowStart(new Date(), 30, TZ);
        const mine = inWindow(from, "twitter");
        expect(res.body.analytics.successfulTargets).toBe(mine.length);
        expect(res.body.analytics.engagement).toEqual(sums(mine));
        expect(res.body.analytics.platformBreakdown.map((p: { platform: string }) => p.platform)).toEqual(["twitter"]);
      });
    });

    describe("GET /api/analytics/realtime", () => {
      it("answers totals, per-platform figures, a daily trend in the profile's time zone and the top posts", async () => {
        const res = await get("/api/analytics/realtime?days=30");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const r = res.body.realtime;
        const from = windowStart(new Date(), 30, TZ);
        expect(r.from).toBe(from.toISOString());
        expect(r.timezone).toBe(TZ);
        const mine = inWindow(from);
        expect(r.totals).toMatchObject({ posts: mine.length, ...sums(mine) });
        for (const p of platforms) {
          const row = r.platformBreakdown.find((b: { platform: string }) => b.platform === p);
          const s = sums(inWindow(from, p));
          expect(row).toMatchObject({ posts: inWindow(from, p).length, postsWithMetrics: s.postsWithMetrics, impressions: s.impressions, engagements: s.engagements, engagementRate: s.engagementRate });
        }
        // The trend has one entry per local day of the window, oldest first.
        expect(r.dailyTrend).toHaveLength(30);
        expect(r.dailyTrend[0].date).toBe(localParts(from, TZ).date);
        expect(r.dailyTrend[29].date).toBe(localParts(new Date(), TZ).date);
        for (const day of r.dailyTrend) {
          const those = mine.filter((x) => localParts(x.publishedAt, TZ).date === day.date);
          const s = sums(those);
          expect(day, day.date).toEqual({ date: day.date, posts: those.length, impressions: s.impressions, engagements: s.engagements, engagementRate: s.engagementRate });
        }
        const top = mine
          .filter((x) => x.captures.length)
          .sort((a, b) => engagementsOf(latest(b)) - engagementsOf(latest(a)) || b.publishedAt.getTime() - a.publishedAt.getTime())
          .slice(0, 10);
        expect(r.topPosts.map((p: { targetId: string }) => p.targetId)).toEqual(top.map((x) => x.targetId));
        expect(r.topPosts[0]).toMatchObject({
          postId: top[0]!.postId,
          platform: top[0]!.platform,
          content: top[0]!.content,
          engagements: engagementsOf(latest(top[0]!)),
          lastMetricAt: latest(top[0]!).at.toISOString(),
        });
      });

      it("a longer window takes in the older posts", async () => {
        const res = await get("/api/analytics/realtime?days=60");
        const from = windowStart(new Date(), 60, TZ);
        expect(res.body.realtime.totals).toMatchObject({ posts: inWindow(from).length, ...sums(inWindow(from)) });
        expect(inWindow(from).length).toBeGreaterThan(inWindow(windowStart(new Date(), 30, TZ)).length);
      });
    });

    describe("GET /api/analytics/post-timeline", () => {
      it("answers one row per local day and platform with that day's posts and their latest metrics", async () => {
        const res = await get("/api/analytics/post-timeline?days=30");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const from = windowStart(new Date(), 30, TZ);
        const groups = new Map<string, SeededTarget[]>();
        for (const x of inWindow(from)) {
          const key = `${localParts(x.publishedAt, TZ).date}|${x.platform}`;
          groups.set(key, [...(groups.get(key) ?? []), x]);
        }
        const expected = [...groups.entries()]
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([key, xs]) => {
            const [date, platform] = key.split("|");
            return { date, platform, posts: xs.length, ...sums(xs) };
          });
        expect(res.body.timeline.series).toEqual(expected);
      });

      it("filters by platform", async () => {
        const res = await get("/api/analytics/post-timeline?days=30&platform=linkedin");
        expect(res.body.timeline.platform).toBe("linkedin");
        expect(res.body.timeline.series.every((s: { platform: string }) => s.platform === "linkedin")).toBe(true);
        expect(res.body.timeline.series.reduce((n: number, s: { posts: number }) => n + s.posts, 0)).toBe(inWindow(windowStart(new Date(), 30, TZ), "linkedin").length);
      });
    });

    describe("GET /api/analytics/content-decay", () => {
      it("answers per platform median time to peak, half-life, share after 24 h, and the most decayed posts", async () => {
        const res = await get("/api/analytics/content-decay?days=30");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const from = windowStart(new Date(), 30, TZ);
        const d = res.body.decay;
        for (const p of platforms) {
          const xs = inWindow(from, p).filter((x) => x.captures.length).map((x) => ({ x, d: decayOf(x) }));
          const timed = xs.filter(({ d }) => d.snapshots >= 2 && d.engagements > 0);
          const older = xs.filter(({ d }) => d.e24 !== null);
          const total = older.reduce((s, { d }) => s + d.engagements, 0);
          const decays = xs.map(({ d }) => d.decay).filter((v): v is number => v !== null);
          const row = d.platforms.find((r: { platform: string }) => r.platform === p);
          expect(row.posts, p).toBe(xs.length);
          expect(row.medianHoursToPeak, p).toBeCloseTo(median(timed.map(({ d }) => d.hoursToPeak))!, 1);
          expect(row.medianHalfLifeHours, p).toBeCloseTo(median(timed.map(({ d }) => d.halfLife!))!, 1);
          expect(row.postsOlderThan24h, p).toBe(older.length);
          expect(row.shareAfter24h, p).toBeCloseTo(round4(older.reduce((s, { d }) => s + d.engagements - d.e24!, 0) / total), 3);
          if (decays.length) expect(row.avgEngagementRateDecay, p).toBeCloseTo(decays.reduce((a, b) => a + b, 0) / decays.length, 3);
          else expect(row.avgEngagementRateDecay, p).toBeNull();
        }
        // Reddit reports no impressions: no engagement rate, so none of its posts can be among the most decayed.
        const ranked = inWindow(from)
          .filter((x) => x.captures.length)
          .map((x) => ({ x, d: decayOf(x) }))
          .filter(({ d }) => d.decay !== null)
          .sort((a, b) => b.d.decay! - a.d.decay! || b.x.publishedAt.getTime() - a.x.publishedAt.getTime())
          .slice(0, 10);
        expect(d.mostDecayed.map((m: { targetId: string }) => m.targetId)).toEqual(ranked.map(({ x }) => x.targetId));
        const first = d.mostDecayed[0];
        expect(first.decay).toBeCloseTo(ranked[0]!.d.decay!, 3);
        expect(first.peakEngagementRate).toBe(round2(ranked[0]!.d.peak! * 100));
        expect(first.latestEngagementRate).toBe(round2(ranked[0]!.d.latestRate! * 100));
        expect(first.peakAt).toBe(ranked[0]!.d.peakAt!.toISOString());
      });
    });

    describe("GET /api/analytics/posting-frequency", () => {
      it("counts published posts by weekday, hour (profile time zone) and platform", async () => {
        const res = await get("/api/analytics/posting-frequency?days=30");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const from = windowStart(new Date(), 30, TZ);
        const mine = inWindow(from);
        const fr = res.body.frequency;
        expect(fr.totalTargets).toBe(mine.length);
        expect(fr.totalPosts).toBe(new Set(mine.map((x) => x.postId)).size);
        expect(fr.postsPerWeek).toBe(round2(new Set(mine.map((x) => x.postId)).size / (30 / 7)));
        expect(fr.byWeekday).toEqual(Array.from({ length: 7 }, (_, d) => ({ dayOfWeek: d, posts: mine.filter((x) => localParts(x.publishedAt, TZ).dayOfWeek === d).length })));
        expect(fr.byHour).toEqual(Array.from({ length: 24 }, (_, h) => ({ hourOfDay: h, posts: mine.filter((x) => localParts(x.publishedAt, TZ).hour === h).length })));
        expect(fr.byPlatform).toEqual(
          [...platforms].sort().map((p) => {
            const n = mine.filter((x) => x.platform === p).length;
            return { platform: p, posts: n, postsPerWeek: round2(n / (30 / 7)), share: round4(n / mine.length) };
          }),
        );
      });
    });

    /** The slots as the contract's best-time computations define them (see README "## Analytics"), from the seed. */
    function expectedSlots(targets: SeededTarget[]) {
      const rated = targets.filter((x) => x.captures.length && rateOf(latest(x)) !== null);
      const mean = rated.reduce((s, x) => s + rateOf(latest(x))!, 0) / rated.length;
      const slots = new Map<string, SeededTarget[]>();
      for (const x of rated) {
        const { dayOfWeek, hour } = localParts(x.publishedAt, TZ);
        slots.set(`${dayOfWeek}|${hour}`, [...(slots.get(`${dayOfWeek}|${hour}`) ?? []), x]);
      }
      return {
        posts: rated.length,
        mean,
        slots: [...slots.entries()]
          .map(([key, xs]) => {
            const [day, hour] = key.split("|").map(Number);
            const rateSum = xs.reduce((s, x) => s + rateOf(latest(x))!, 0);
            const score = (rateSum + 3 * mean) / (xs.length + 3);
            return { dayOfWeek: day!, hourOfDay: hour!, posts: xs.length, avg: rateSum / xs.length, score, confidence: xs.length / (xs.length + 3) };
          })
          .sort((a, b) => b.score - a.score || b.posts - a.posts || a.dayOfWeek - b.dayOfWeek || a.hourOfDay - b.hourOfDay),
      };
    }

    describe("GET /api/analytics/best-time", () => {
      it("ranks weekday × hour slots by engagement rate with the posts behind each and a confidence", async () => {
        const res = await get("/api/analytics/best-time?days=60");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const from = windowStart(new Date(), 60, TZ);
        const exp = expectedSlots(inWindow(from));
        const b = res.body.bestTime;
        expect(b.postsAnalysed).toBe(exp.posts);
        expect(b.baselineEngagementRate).toBe(round2(exp.mean * 100));
        expect(b.slots.map((s: { dayOfWeek: number; hourOfDay: number }) => [s.dayOfWeek, s.hourOfDay])).toEqual(
          exp.slots.slice(0, 10).map((s) => [s.dayOfWeek, s.hourOfDay]),
        );
        for (const [i, s] of b.slots.entries()) {
          const e = exp.slots[i]!;
          expect(s.posts).toBe(e.posts);
          expect(s.avgEngagementRate).toBe(round2(e.avg * 100));
          expect(s.score).toBe(round2(e.score * 100));
          expect(s.confidence).toBe(round2(e.confidence));
          expect(s.confidenceLevel).toBe(e.confidence < 0.5 ? "low" : e.confidence < 0.75 ? "medium" : "high");
        }
      });
    });

    describe("GET /api/v1/scheduling/best-times", () => {
      it("answers learned slots, in the profile's time zone, once there are enough posts with metrics", async () => {
        const res = await get("/api/v1/scheduling/best-times");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        const exp = expectedSlots(f.targets.filter((x) => x.publishedAt.getTime() >= Date.now() - 90 * DAY));
        expect(exp.posts).toBeGreaterThanOrEqual(10);
        expect(res.body).toMatchObject({ isDefault: false, timezone: TZ, platform: null, basedOnPosts: exp.posts });
        expect(res.body.message).toContain(TZ);
        expect(res.body.bestTimes).toEqual(
          exp.slots.slice(0, 5).map((s) => ({ dayOfWeek: s.dayOfWeek, hourOfDay: s.hourOfDay, avgEngagementScore: round2(s.score * 100), postsCount: s.posts })),
        );
      });

      it("falls back to the network's defaults with reasons when the platform has too little data", async () => {
        const res = await get("/api/v1/scheduling/best-times?platform=reddit");
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        // Reddit reports no impressions, so none of its posts has an engagement rate to learn from.
        expect(res.body).toMatchObject({ isDefault: true, timezone: TZ, platform: "reddit", basedOnPosts: 0 });
        expect(res.body.message).toMatch(/No historical data yet/);
        expect(res.body.bestTimes.length).toBeGreaterThan(0);
        for (const b of res.body.bestTimes) {
          expect(b).toEqual({ day_of_week: expect.any(Number), hour_of_day: expect.any(Number), reason: expect.any(String), platform: "reddit" });
          expect(b.day_of_week).toBeGreaterThanOrEqual(0);
          expect(b.day_of_week).toBeLessThanOrEqual(6);
        }
      });

      it("a profile without posts gets the defaults of its connected networks", async () => {
        const res = await get("/api/v1/scheduling/best-times", { apiKey: f.other.apiKey });
        // The other tenant has one measured post: below the threshold.
        expect(res.body).toMatchObject({ isDefault: true, basedOnPosts: 1, timezone: "UTC" });
        expect(res.body.message).toMatch(/Not enough historical data yet \(1 of 10/);
        expect(new Set(res.body.bestTimes.map((b: { platform: string }) => b.platform))).toEqual(new Set(["twitter"]));
      });
    });

    describe("GET /api/analytics/capabilities", () => {
      it("lists every network's metrics and each connected account's support and connection state", async () => {
        await t.sql`update public.connections set status = 'needs_reconnect' where id = ${f.connections.reddit!}`;
        try {
          const res = await get("/api/analytics/capabilities");
          expect(res.status, JSON.stringify(res.body)).toBe(200);
          const snapchat = res.body.platforms.find((p: { platform: string }) => p.platform === "snapchat");
          expect(snapchat).toMatchObject({ supported: false, postMetrics: [], connectedAccounts: 0, reason: expect.stringMatching(/Snapchat/) });
          const twitter = res.body.platforms.find((p: { platform: string }) => p.platform === "twitter");
          expect(twitter).toMatchObject({ supported: true, connectedAccounts: 1, accountMetrics: ["followers"], reason: null });
          expect(twitter.postMetrics).toContain("impressions");
          expect(res.body.accounts).toHaveLength(3);
          const tw = res.body.accounts.find((a: { platform: string }) => a.platform === "twitter");
          expect(tw).toMatchObject({ connectionId: f.connections.twitter, connectionStatus: "connected", supported: true, canSync: true, reason: null });
          const bs = res.body.accounts.find((a: { platform: string }) => a.platform === "reddit");
          expect(bs).toMatchObject({ connectionId: f.connections.reddit, connectionStatus: "needs_reconnect", canSync: false, reason: expect.stringMatching(/Reconnect/) });
          const filtered = await get("/api/analytics/capabilities?platform=twitter");
          expect(filtered.body.platforms.map((p: { platform: string }) => p.platform)).toEqual(["twitter"]);
          expect(filtered.body.accounts.map((a: { platform: string }) => a.platform)).toEqual(["twitter"]);
        } finally {
          await t.sql`update public.connections set status = 'connected' where id = ${f.connections.reddit!}`;
        }
      });
    });


    if (TZ !== "America/New_York") return;

      describe("bad input is refused in the error envelope", () => {
        const endpoints = [
          "/api/v1/analytics/overview",
          "/api/analytics/realtime",
          "/api/analytics/post-timeline",
          "/api/analytics/content-decay",
          "/api/analytics/posting-frequency",
          "/api/analytics/best-time",
          "/api/analytics/capabilities",
          "/api/analytics/sync-health",
          "/api/v1/scheduling/best-times",
        ];
        const windowed = endpoints.slice(0, 6);
        for (const path of endpoints) {
          it(`${path}: unknown platform, unknown parameter, malformed profileId (400)`, async () => {
            for (const query of ["platform=myspace", "platform=", "color=blue", "profileId=not-a-uuid"]) {
              const res = await get(`${path}?${query}`);
              assertEnvelope(res, 400, "validation_error");
              expect(res.body.details[0].field, query).toBe(query.split("=")[0]);
            }
          });
          it(`${path}: a profile the caller cannot see is 404; a session must name one (400)`, async () => {
            assertEnvelope(await get(`${path}?profileId=${f.other.profileId}`), 404, "not_found");
            assertEnvelope(await get(`${path}?profileId=00000000-0000-4000-8000-000000000000`, { token: f.token }), 404, "not_found");
            assertEnvelope(await get(`${path}?profileId=${f.other.profileId}`, { token: f.token }), 404, "not_found");
            const none = await get(path, { token: f.token });
            assertEnvelope(none, 400, "validation_error");
            expect(none.body.details[0].field).toBe("profileId");
            const mine = await get(`${path}?profileId=${f.profileId}`, { token: f.token });
            expect(mine.status, JSON.stringify(mine.body)).toBe(200);
          });
        }
        for (const path of windowed) {
          it(`${path}: days must be a whole number from 1 to 180 (400)`, async () => {
            for (const days of ["0", "181", "-1", "1.5", "abc", "1e3", ""]) {
              const res = await get(`${path}?days=${days}`);
              assertEnvelope(res, 400, "validation_error");
              expect(res.body.details[0].field, days).toBe("days");
            }
            expect((await get(`${path}?days=180`)).status).toBe(200);
            expect((await get(`${path}?days=1`)).status).toBe(200);
          });
        }
      });

      describe("the hourly sums", () => {
      const compare = async (profileId: string) => {
        const [h] = await t.sql`
          select coalesce(sum(published), 0)::int as published, coalesce(sum(posts_with_metrics), 0)::int as measured,
                 coalesce(sum(engagements), 0)::int as engagements, coalesce(sum(rate_base), 0)::int as base,
                 coalesce(sum(older_engagements), 0)::int as older
          from public.post_metric_hourly where profile_id = ${profileId}`;
        const [r] = await t.sql`
          select (select count(*)::int from public.post_targets where profile_id = ${profileId} and status = 'published') as published,
                 count(*)::int as measured, coalesce(sum(engagements), 0)::int as engagements,
                 coalesce(sum(rate_base), 0)::int as base,
                 coalesce(sum(engagements) filter (where engagements_24h is not null), 0)::int as older
          from public.post_metric_rollups where profile_id = ${profileId}`;
        expect(h).toEqual(r);
      };
      it("match the targets and rollups, also after snapshots arrive, a target stops being published and a post is removed", async () => {
        await compare(f.profileId);
        const x = f.targets.find((y) => y.captures.length >= 3)!;
        await insertCaptures(t.sql, f.profileId, x, [{ ...latest(x), at: new Date(), likes: latest(x).likes + 50 }]);
        await compare(f.profileId);
        await t.sql`update public.post_targets set status = 'failed' where id = ${f.targets[1]!.targetId}`;
        await compare(f.profileId);
        await t.sql`delete from public.posts where id = ${f.targets[3]!.postId}`;
        await compare(f.profileId);
        expect((await t.sql`select count(*)::int as n from public.post_metric_hourly where profile_id = ${f.profileId}`)[0]!.n).toBeGreaterThan(0);
      });
    });

    describe("tenancy", () => {
        it("another tenant's key sees only its own profile's numbers", async () => {
          const realtime = await get("/api/analytics/realtime?days=30", { apiKey: f.other.apiKey });
          expect(realtime.status).toBe(200);
          expect(realtime.body.realtime.totals.posts).toBe(1);
          expect(realtime.body.realtime.topPosts.map((p: { content: string }) => p.content)).toEqual(["Other tenant"]);
          const overview = await get("/api/v1/analytics/overview", { apiKey: f.other.apiKey });
          expect(overview.body.analytics.totalPosts).toBe(1);
          const health = await get("/api/analytics/sync-health", { apiKey: f.other.apiKey });
          expect(health.body.byAccount).toHaveLength(1);
          const caps = await get("/api/analytics/capabilities", { apiKey: f.other.apiKey });
          expect(caps.body.accounts).toHaveLength(1);
        });
      });
  });
}
