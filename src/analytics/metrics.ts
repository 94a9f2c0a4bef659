import type { Tx } from "../core/db.js";
import { local, metricRows, ratePercent, sums as sumsOf, totalsColumns, type AnalyticsWindow, type SumsRow } from "./window.js";

/**
 * Overview, realtime and post timeline: counts of posts and targets, and sums of each published target's latest
 * metrics (kept per target in `post_metric_rollups` and per hour in `post_metric_hourly` by triggers). The
 * engagement rate of a group is its engagements over its rate bases (impressions, else reach, else video views:
 * src/analytics/model.ts), in percent, counting only the targets whose network reports a base.
 */

function totalsOf(r: SumsRow | undefined) {
  const n = (v: number | undefined) => Math.round(v ?? 0);
  return {
    postsWithMetrics: r?.posts_with_metrics ?? 0,
    impressions: n(r?.impressions),
    reach: n(r?.reach),
    likes: n(r?.likes),
    comments: n(r?.comments),
    shares: n(r?.shares),
    saves: n(r?.saves),
    clicks: n(r?.clicks),
    videoViews: n(r?.video_views),
    engagements: n(r?.engagements),
    engagementRate: ratePercent(r?.rated_engagements ?? 0, r?.rate_base ?? 0),
  };
}

/** Adds up rows of sums (e.g. per platform into a total). */
export function addSums(rows: SumsRow[]): SumsRow {
  const acc = {
    published: 0, posts_with_metrics: 0, impressions: 0, reach: 0, likes: 0, comments: 0, shares: 0, saves: 0, clicks: 0,
    video_views: 0, engagements: 0, rated_engagements: 0, rate_base: 0, rated_posts: 0, rate_sum: 0, rated_post_engagements: 0,
    older_posts: 0, older_engagements: 0, after_24h_engagements: 0, decay_posts: 0, decay_sum: 0,
  } satisfies SumsRow;
  for (const r of rows) for (const k of Object.keys(acc) as (keyof SumsRow)[]) acc[k] += Number(r[k] ?? 0);
  return acc;
}

const nonEmpty = "having sum(published) > 0 or sum(posts_with_metrics) > 0";

// ---------------------------------------------------------------------------------------------------------------------
// Overview
// ---------------------------------------------------------------------------------------------------------------------

export interface OverviewFilter {
  profileId: string;
  platform: string | null;
  /** Only posts created (targets created, targets published) since then; all time when null. */
  since: Date | null;
  days: number | null;
}

export async function overview(tx: Tx, f: OverviewFilter) {
  const since = (column: string) => (f.since ? tx`and ${tx(column)} >= ${f.since}` : tx``);
  const platformFilter = f.platform ? tx`and platform = ${f.platform}` : tx``;
  const posts = await tx<{ status: string; n: number }[]>`
    select p.status, count(*)::int as n from public.posts p
    where p.profile_id = ${f.profileId} ${since("p.created_at")}
      ${f.platform ? tx`and exists (select from public.post_targets t where t.post_id = p.id and t.profile_id = p.profile_id and t.platform = ${f.platform})` : tx``}
    group by p.status`;
  const targets = await tx<{ platform: string; status: string; n: number }[]>`
    select platform, status, count(*)::int as n from public.post_targets
    where profile_id = ${f.profileId} ${since("created_at")} ${platformFilter}
    group by platform, status`;
  // No local days here: the hourly sums are exact whenever the start is a whole UTC hour (or there is none).
  const w: AnalyticsWindow = {
    profileId: f.profileId, timezone: "UTC", days: f.days ?? 0, platform: f.platform, from: f.since ?? new Date(0), to: new Date(),
    hourly: !f.since || f.since.getTime() % 3_600_000 === 0,
  };
  const sums = await tx<(SumsRow & { platform: string })[]>`
    with src as (${metricRows(tx, w)})
    select platform, ${tx.unsafe(sumsOf(totalsColumns))} from src group by platform ${tx.unsafe(nonEmpty)}`;

  const postCount = (...statuses: string[]) => posts.filter((p) => statuses.includes(p.status)).reduce((s, p) => s + p.n, 0);
  const targetCount = (...statuses: string[]) => targets.filter((t) => statuses.includes(t.status)).reduce((s, t) => s + t.n, 0);
  const platforms = [...new Set([...targets.map((t) => t.platform), ...sums.map((s) => s.platform)])].sort();
  return {
    totalPosts: postCount(...posts.map((p) => p.status)),
    // Every post is scheduled or published when it is created: there are no drafts (yet).
    draftPosts: 0,
    scheduledPosts: postCount("scheduled"),
    publishingPosts: postCount("publishing"),
    publishedPosts: postCount("published"),
    partiallyPublishedPosts: postCount("partially_published"),
    failedPosts: postCount("failed"),
    canceledPosts: postCount("canceled"),
    totalTargets: targetCount(...targets.map((t) => t.status)),
    successfulTargets: targetCount("published"),
    failedTargets: targetCount("failed"),
    pendingTargets: targetCount("pending", "publishing"),
    platformBreakdown: platforms.map((platform) => {
      const mine = targets.filter((t) => t.platform === platform);
      const s = sums.find((x) => x.platform === platform);
      return {
        platform,
        targets: mine.reduce((n, t) => n + t.n, 0),
        published: mine.filter((t) => t.status === "published").reduce((n, t) => n + t.n, 0),
        failed: mine.filter((t) => t.status === "failed").reduce((n, t) => n + t.n, 0),
        impressions: Math.round(s?.impressions ?? 0),
        engagements: Math.round(s?.engagements ?? 0),
      };
    }),
    engagement: totalsOf(addSums(sums)),
    days: f.days,
    platform: f.platform,
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Realtime dashboard
// ---------------------------------------------------------------------------------------------------------------------

export async function realtime(tx: Tx, w: AnalyticsWindow) {
  const l = local(tx, w);
  // Only the two marginals are answered (per platform, per local day): one pass over the window's rows grouped by
  // platform and by UTC hour (grouping sets), then only the hour groups (at most 24 a day, all networks together) get
  // a local day. Converting every row's time (networks × hours) costs more than the sums themselves. The sums are of
  // integers, exact in float8 in any order.
  const cells = await tx<(SumsRow & { by_day: number; platform: string | null; date: string | null })[]>`
    with src as (${metricRows(tx, w)}),
    g as (select grouping(platform) as by_day, platform, at, ${tx.unsafe(sumsOf(totalsColumns))}
          from src group by grouping sets ((platform), (at))),
    s as (select g.*, case when by_day = 1 then ${l.day} end as day from g)
    select by_day, platform, to_char(day, 'YYYY-MM-DD') as date, ${tx.unsafe(sumsOf(totalsColumns))}
    from s group by by_day, platform, day ${tx.unsafe(nonEmpty)}`;
  const byPlatform = cells.filter((c) => c.by_day === 0).map((c) => ({ ...addSums([c]), platform: c.platform! }));
  const byDay = new Map(cells.filter((c) => c.by_day === 1).map((c) => [c.date!, addSums([c])]));
  const days = await tx<{ date: string }[]>`
    select to_char(d, 'YYYY-MM-DD') as date
    from generate_series((${w.from}::timestamptz at time zone ${w.timezone})::date, (${w.to}::timestamptz at time zone ${w.timezone})::date, interval '1 day') d`;
  const followers = await tx<{ platform: string; followers: number }[]>`
    select c.platform, sum(a.followers)::float8 as followers
    from public.connections c
    cross join lateral (
      select followers from public.account_metric_snapshots s
      where s.connection_id = c.id and s.followers is not null order by s.captured_at desc limit 1
    ) a
    where c.profile_id = ${w.profileId} ${w.platform ? tx`and c.platform = ${w.platform}` : tx``}
    group by c.platform`;
  const top = await topPosts(tx, w);

  return {
    totals: {
      posts: byPlatform.reduce((n, p) => n + p.published, 0),
      ...totalsOf(addSums(byPlatform)),
      followers: Math.round(followers.reduce((n, f) => n + f.followers, 0)),
    },
    platformBreakdown: byPlatform
      .sort((a, b) => a.platform.localeCompare(b.platform))
      .map((p) => {
        const s = totalsOf(p);
        const f = followers.find((x) => x.platform === p.platform);
        return {
          platform: p.platform,
          posts: p.published,
          postsWithMetrics: s.postsWithMetrics,
          impressions: s.impressions,
          engagements: s.engagements,
          engagementRate: s.engagementRate,
          followers: f ? Math.round(f.followers) : null,
        };
      }),
    dailyTrend: days.map(({ date }) => {
      const d = byDay.get(date);
      const s = totalsOf(d);
      return { date, posts: d?.published ?? 0, impressions: s.impressions, engagements: s.engagements, engagementRate: s.engagementRate };
    }),
    topPosts: top,
  };
}

/** The ten targets of the window with the most engagements (newest first on ties). */
async function topPosts(tx: Tx, w: AnalyticsWindow) {
  const top = await tx<
    { post_id: string; target_id: string; platform: string; content: string; external_url: string | null; published_at: Date;
      impressions: number; engagements: number; rate_base: number | null; last_captured_at: Date }[]
  >`
    select r.post_id, r.target_id, r.platform, left(p.content, 280) as content, t.external_url, r.published_at,
           r.impressions::float8 as impressions, r.engagements::float8 as engagements, r.rate_base::float8 as rate_base,
           r.last_captured_at
    from (
      select * from public.post_metric_rollups
      where profile_id = ${w.profileId} and published_at >= ${w.from} ${w.platform ? tx`and platform = ${w.platform}` : tx``}
      order by engagements desc, published_at desc, target_id
      limit 10
    ) r
    -- The profile as a constant, not r.profile_id: joined on the outer row's profile, the planner (its estimates
    -- thrown by the RLS policy's profile test) probed post_targets by (profile_id, platform, status) and filtered
    -- 40,000 targets per top post (~300 ms at 100,000 posts) instead of one primary-key probe.
    join public.posts p on p.id = r.post_id and p.profile_id = ${w.profileId}
    join public.post_targets t on t.id = r.target_id and t.profile_id = ${w.profileId}
    order by r.engagements desc, r.published_at desc, r.target_id`;
  return top.map((r) => ({
    postId: r.post_id,
    targetId: r.target_id,
    platform: r.platform,
    content: r.content,
    externalUrl: r.external_url,
    publishedAt: r.published_at.toISOString(),
    impressions: Math.round(r.impressions),
    engagements: Math.round(r.engagements),
    engagementRate: r.rate_base === null ? null : ratePercent(r.engagements, r.rate_base),
    lastMetricAt: r.last_captured_at.toISOString(),
  }));
}

// ---------------------------------------------------------------------------------------------------------------------
// Post timeline
// ---------------------------------------------------------------------------------------------------------------------

/** Per day (profile time zone) and platform: targets published that day and the sums of their latest metrics. */
export async function postTimeline(tx: Tx, w: AnalyticsWindow) {
  const l = local(tx, w);
  const rows = await tx<(SumsRow & { date: string; platform: string })[]>`
    with src as (${metricRows(tx, w)}), s as (select src.*, ${l.day} as day from src)
    select to_char(day, 'YYYY-MM-DD') as date, platform, ${tx.unsafe(sumsOf(totalsColumns))}
    from s group by day, platform ${tx.unsafe(nonEmpty)}
    order by day, platform`;
  return rows.map((r) => ({ date: r.date, platform: r.platform, posts: r.published, ...totalsOf(r) }));
}
