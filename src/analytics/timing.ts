import type { Tx } from "../core/db.js";
import type { Platform } from "../platforms/catalog.js";
import { defaultBestTimes } from "./defaults.js";
import { ratePercentOf } from "./decay.js";
import { local, metricRows, round2, windowFrom, type AnalyticsWindow } from "./window.js";

/**
 * When a profile posts and when its posts do best, in the profile's time zone (day of week 0 = Sunday … 6 = Saturday,
 * hour 0–23 of local time).
 */

// ---------------------------------------------------------------------------------------------------------------------
// Posting frequency: published targets in the window
// ---------------------------------------------------------------------------------------------------------------------

export async function postingFrequency(tx: Tx, w: AnalyticsWindow) {
  const l = local(tx, w);
  // The answer is marginals only (per platform; per local weekday and hour): grouped by platform and by UTC hour in
  // one pass (grouping sets), so only the hour groups (all networks together) get a local weekday and hour.
  const cells = await tx<{ by_hour: number; platform: string | null; dow: number | null; hour: number | null; targets: number }[]>`
    with src as (${metricRows(tx, w)}),
    g as (select grouping(platform) as by_hour, platform, at, sum(published) as published
          from src group by grouping sets ((platform), (at)))
    select by_hour, platform, case when by_hour = 1 then ${l.dow} end as dow, case when by_hour = 1 then ${l.hour} end as hour,
           sum(published)::int as targets
    from g group by 1, 2, 3, 4 having sum(published) > 0`;
  const byPlatformRows = cells.filter((c) => c.by_hour === 0);
  const bySlotRows = cells.filter((c) => c.by_hour === 1);
  // Distinct posts (a post on three networks counts once) need the targets themselves (an index-only scan).
  const [distinct] = await tx<{ posts: number }[]>`
    select count(*)::int as posts from (
      select distinct post_id from public.post_targets
      where profile_id = ${w.profileId} and status = 'published' and published_at >= ${w.from}
        ${w.platform ? tx`and platform = ${w.platform}` : tx``}
    ) p`;
  const weeks = w.days / 7;
  const total = byPlatformRows.reduce((n, r) => n + r.targets, 0);
  const sum = (rows: (typeof cells)[number][], pred: (r: (typeof cells)[number]) => boolean) => rows.filter(pred).reduce((n, r) => n + r.targets, 0);
  const platforms = [...new Set(byPlatformRows.map((r) => r.platform!))].sort();
  return {
    totalPosts: distinct?.posts ?? 0,
    totalTargets: total,
    postsPerWeek: round2((distinct?.posts ?? 0) / weeks),
    byWeekday: Array.from({ length: 7 }, (_, d) => ({ dayOfWeek: d, posts: sum(bySlotRows, (r) => r.dow === d) })),
    byHour: Array.from({ length: 24 }, (_, h) => ({ hourOfDay: h, posts: sum(bySlotRows, (r) => r.hour === h) })),
    byPlatform: platforms.map((platform) => {
      const n = sum(byPlatformRows, (r) => r.platform === platform);
      return { platform, posts: n, postsPerWeek: round2(n / weeks), share: total ? Math.round((n / total) * 10_000) / 10_000 : 0 };
    }),
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Best time: slots (day of week × hour) ranked by engagement rate, shrunk towards the profile's mean
// ---------------------------------------------------------------------------------------------------------------------

/**
 * How many posts' worth of the profile's mean a slot's average is blended with: score = (n × slot mean + K × profile
 * mean) ÷ (n + K). A slot with one lucky post does not outrank one with twenty good ones. The confidence of a slot is
 * n ÷ (n + K), the weight its own posts carry: low below 0.5 (fewer than 3 posts), medium below 0.75 (fewer than 9),
 * high from there.
 */
export const PRIOR_POSTS = 3;

export interface Slot {
  dayOfWeek: number;
  hourOfDay: number;
  posts: number;
  /** Percent. */
  avgEngagementRate: number;
  avgEngagements: number;
  /** Percent: the shrunk engagement rate the slots are ranked by. */
  score: number;
  confidence: number;
  confidenceLevel: "low" | "medium" | "high";
}

interface SlotRow {
  dow: number;
  hour: number;
  n: number;
  rate_sum: number;
  engagement_sum: number;
}

/** Slots from the window's targets whose latest snapshot has an engagement rate. */
async function slotRows(tx: Tx, w: AnalyticsWindow) {
  const l = local(tx, w);
  return tx<SlotRow[]>`
    with src as (${metricRows(tx, w)})
    select ${l.dow} as dow, ${l.hour} as hour, sum(rated_posts)::int as n, sum(rate_sum)::float8 as rate_sum,
           sum(rated_post_engagements)::float8 as engagement_sum
    from src group by 1, 2 having sum(rated_posts) > 0`;
}

export function rankSlots(rows: SlotRow[]): { posts: number; baseline: number | null; slots: Slot[] } {
  const posts = rows.reduce((n, r) => n + r.n, 0);
  if (posts === 0) return { posts: 0, baseline: null, slots: [] };
  const mean = rows.reduce((s, r) => s + r.rate_sum, 0) / posts;
  const slots = rows.map((r): Slot & { raw: number } => {
    const raw = (r.rate_sum + PRIOR_POSTS * mean) / (r.n + PRIOR_POSTS);
    const confidence = r.n / (r.n + PRIOR_POSTS);
    return {
      dayOfWeek: r.dow,
      hourOfDay: r.hour,
      posts: r.n,
      avgEngagementRate: ratePercentOf(r.rate_sum / r.n),
      avgEngagements: round2(r.engagement_sum / r.n),
      score: ratePercentOf(raw),
      confidence: round2(confidence),
      confidenceLevel: confidence < 0.5 ? "low" : confidence < 0.75 ? "medium" : "high",
      raw,
    };
  });
  slots.sort((a, b) => b.raw - a.raw || b.posts - a.posts || a.dayOfWeek - b.dayOfWeek || a.hourOfDay - b.hourOfDay);
  return { posts, baseline: ratePercentOf(mean), slots: slots.map(({ raw: _raw, ...s }) => s) };
}

export async function bestTime(tx: Tx, w: AnalyticsWindow) {
  const ranked = rankSlots(await slotRows(tx, w));
  return { postsAnalysed: ranked.posts, baselineEngagementRate: ranked.baseline, slots: ranked.slots.slice(0, 10) };
}

// ---------------------------------------------------------------------------------------------------------------------
// GET /api/v1/scheduling/best-times: learned slots when there is enough data, the networks' defaults otherwise
// ---------------------------------------------------------------------------------------------------------------------

/** Learned slots need this many published posts with metrics in the last LEARNING_DAYS days. */
export const MIN_POSTS_FOR_LEARNED = 10;
export const LEARNING_DAYS = 90;
const LEARNED_SLOTS = 5;

export async function schedulingBestTimes(tx: Tx, profileId: string, platform: Platform | undefined, now: Date) {
  const [profile] = await tx<{ timezone: string }[]>`select timezone from public.profiles where id = ${profileId}`;
  const timezone = profile?.timezone ?? "UTC";
  // From the start of the UTC hour LEARNING_DAYS days ago.
  const from = new Date(Math.floor((now.getTime() - LEARNING_DAYS * 86_400_000) / 3_600_000) * 3_600_000);
  const w = await windowFrom(tx, profileId, timezone, { days: LEARNING_DAYS, platform: platform ?? null, from, to: now });
  const ranked = rankSlots(await slotRows(tx, w));
  if (ranked.posts >= MIN_POSTS_FOR_LEARNED) {
    return {
      bestTimes: ranked.slots.slice(0, LEARNED_SLOTS).map((s) => ({
        dayOfWeek: s.dayOfWeek,
        hourOfDay: s.hourOfDay,
        avgEngagementScore: s.score,
        postsCount: s.posts,
      })),
      isDefault: false as const,
      timezone,
      platform: platform ?? null,
      basedOnPosts: ranked.posts,
      message: `Learned from ${ranked.posts} published posts of the last ${LEARNING_DAYS} days; times are in ${timezone}.`,
    };
  }
  let platforms: Platform[];
  if (platform) platforms = [platform];
  else {
    const connected = await tx<{ platform: Platform }[]>`
      select distinct platform from public.connections where profile_id = ${profileId} order by platform`;
    platforms = connected.map((c) => c.platform);
    if (platforms.length === 0) platforms = Object.keys(defaultBestTimes) as Platform[];
  }
  return {
    bestTimes: platforms.flatMap((p) =>
      defaultBestTimes[p].map((d) => ({ day_of_week: d.day, hour_of_day: d.hour, reason: d.reason, platform: p })),
    ),
    isDefault: true as const,
    timezone,
    platform: platform ?? null,
    basedOnPosts: ranked.posts,
    message:
      ranked.posts === 0
        ? `No historical data yet. Using recommended defaults; times are in ${timezone}.`
        : `Not enough historical data yet (${ranked.posts} of ${MIN_POSTS_FOR_LEARNED} posts with metrics in the last ${LEARNING_DAYS} days). Using recommended defaults; times are in ${timezone}.`,
  };
}
