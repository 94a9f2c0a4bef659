import type { Tx } from "../core/db.js";
import { metricRows, round2, sums as sumsOf, type AnalyticsWindow, type SumsRow } from "./window.js";

/** Snapshot engagement rates are fractions (src/analytics/model.ts); the API answers rates in percent. */
export const ratePercentOf = (fraction: number) => round2(fraction * 100);

const round4 = (n: number) => Math.round(n * 10_000) / 10_000;

/**
 * Content decay per platform, over the targets published in the window (from `post_metric_rollups`):
 *
 * - `medianHoursToPeak`: median hours from publishing to the capture where engagements grew fastest per hour;
 * - `medianHalfLifeHours`: median hours from publishing until half of the latest engagements had arrived;
 * - `shareAfter24h`: of the engagements of posts already measured beyond 24 h, the share that arrived after their
 *   first 24 h (0–1);
 * - `avgEngagementRateDecay`: mean of (peak rate − latest rate) ÷ peak rate (0–1);
 *
 * the first two over posts with at least two snapshots and some engagement. `mostDecayed`: the ten posts whose
 * engagement rate fell furthest from its peak.
 */
export async function contentDecay(tx: Tx, w: AnalyticsWindow) {
  const platformFilter = w.platform ? tx`and platform = ${w.platform}` : tx``;
  // Sums (posts, engagements after 24 h, decay) from the hourly sums; medians need the targets themselves.
  const sums = await tx<(SumsRow & { platform: string })[]>`
    with src as (${metricRows(tx, w)})
    select platform, ${tx.unsafe(sumsOf(["posts_with_metrics", "older_posts", "older_engagements", "after_24h_engagements", "decay_posts", "decay_sum"]))}
    from src group by platform having sum(posts_with_metrics) > 0 order by platform`;
  const medians = await tx<{ platform: string; median_hours_to_peak: number | null; median_half_life_hours: number | null }[]>`
    select platform,
      (percentile_cont(0.5) within group (order by hours_to_peak))::float8 as median_hours_to_peak,
      (percentile_cont(0.5) within group (order by half_life_hours))::float8 as median_half_life_hours
    from public.post_metric_rollups
    where profile_id = ${w.profileId} and published_at >= ${w.from} ${platformFilter} and snapshots >= 2 and engagements > 0
    group by platform`;
  const decayed = await tx<
    { post_id: string; target_id: string; platform: string; published_at: Date; peak: number; peak_at: Date; latest: number;
      last_captured_at: Date; decay: number; hours_to_peak: number | null; half_life_hours: number | null }[]
  >`
    select post_id, target_id, platform, published_at, peak_engagement_rate::float8 as peak, peak_at,
           engagement_rate::float8 as latest, last_captured_at, engagement_rate_decay::float8 as decay,
           hours_to_peak::float8 as hours_to_peak, half_life_hours::float8 as half_life_hours
    from public.post_metric_rollups
    where profile_id = ${w.profileId} and published_at >= ${w.from} ${platformFilter} and engagement_rate_decay is not null
    order by engagement_rate_decay desc, published_at desc, target_id
    limit 10`;
  const hours = (n: number | null | undefined) => (n === null || n === undefined ? null : round2(n));
  return {
    platforms: sums.map((p) => {
      const m = medians.find((x) => x.platform === p.platform);
      return {
        platform: p.platform,
        posts: p.posts_with_metrics,
        medianHoursToPeak: hours(m?.median_hours_to_peak),
        medianHalfLifeHours: hours(m?.median_half_life_hours),
        shareAfter24h: p.older_engagements ? round4(p.after_24h_engagements / p.older_engagements) : null,
        postsOlderThan24h: p.older_posts,
        avgEngagementRateDecay: p.decay_posts ? round4(p.decay_sum / p.decay_posts) : null,
      };
    }),
    mostDecayed: decayed.map((d) => ({
      postId: d.post_id,
      targetId: d.target_id,
      platform: d.platform,
      publishedAt: d.published_at.toISOString(),
      peakEngagementRate: ratePercentOf(d.peak),
      peakAt: d.peak_at.toISOString(),
      latestEngagementRate: ratePercentOf(d.latest),
      lastMetricAt: d.last_captured_at.toISOString(),
      decay: round4(d.decay),
      hoursToPeak: hours(d.hours_to_peak),
      halfLifeHours: hours(d.half_life_hours),
    })),
  };
}
