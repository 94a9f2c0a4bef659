import type { Tx } from "../core/db.js";

/** The period an analytics answer covers, in the profile's time zone. */
export interface AnalyticsWindow {
  profileId: string;
  timezone: string;
  days: number;
  platform: string | null;
  /** Midnight (profile time zone) `days - 1` days before today. */
  from: Date;
  /** Now. */
  to: Date;
  /**
   * Whether the hourly sums (`post_metric_hourly`, by UTC hour) give exact local days and hours for this window: the
   * zone's offset is a whole number of hours throughout it (then `from`, a local midnight, is a UTC hour too).
   */
  hourly: boolean;
}

/**
 * The window of `days` days ending now, today included, in the profile's time zone: it starts at local midnight
 * `days - 1` days ago. The profile is read as the caller (RLS), so an invisible profile cannot get this far.
 */
export async function analyticsWindow(
  tx: Tx,
  profileId: string,
  options: { days: number; platform?: string | null; now: Date },
): Promise<AnalyticsWindow> {
  const [row] = await tx<{ timezone: string; from: Date }[]>`
    select p.timezone,
           (date_trunc('day', ${options.now}::timestamptz at time zone p.timezone) - make_interval(days => ${options.days - 1}))
             at time zone p.timezone as "from"
    from public.profiles p where p.id = ${profileId}`;
  if (!row) throw new Error("analyticsWindow: the profile is not visible (the pipeline checks it first)");
  return windowFrom(tx, profileId, row.timezone, { days: options.days, platform: options.platform ?? null, from: row.from, to: options.now });
}

/** A window with a given start (whole hours keep it exact on the hourly sums). */
export async function windowFrom(
  tx: Tx,
  profileId: string,
  timezone: string,
  w: { days: number; platform: string | null; from: Date; to: Date },
): Promise<AnalyticsWindow> {
  // A zone's offset changes at most a few times a year and lasts months: one sample a day finds every offset in force.
  const [check] = await tx<{ whole: boolean }[]>`
    select coalesce(bool_and(extract(epoch from (d at time zone ${timezone}) - (d at time zone 'UTC'))::bigint % 3600 = 0), true)
           and extract(epoch from ${w.from}::timestamptz)::bigint % 3600 = 0 as whole
    from generate_series(${w.from}::timestamptz, ${w.to}::timestamptz + interval '1 day', interval '1 day') d`;
  return { profileId, timezone, ...w, hourly: check?.whole ?? false };
}

/**
 * The rows every windowed figure is summed from, one shape from either store:
 *
 * - `hourly`: `post_metric_hourly` rows of the window (at most 24 a day per network);
 * - otherwise one row per published target (`published` = 1) and one per rollup (the metric columns), for zones
 *   whose local hours are not whole UTC hours.
 *
 * `at` is the UTC hour (or the instant) of publishing; callers derive local days and hours from it.
 */
export function metricRows(tx: Tx, w: AnalyticsWindow) {
  const platform = w.platform ? tx`and platform = ${w.platform}` : tx``;
  if (w.hourly) {
    return tx`
      select platform, hour as at, published, posts_with_metrics, impressions, reach, likes, comments, shares, saves, clicks,
             video_views, engagements, rated_engagements, rate_base, rated_posts, rate_sum, rated_post_engagements,
             older_posts, older_engagements, after_24h_engagements, decay_posts, decay_sum
      from public.post_metric_hourly
      where profile_id = ${w.profileId} and hour >= ${w.from} ${platform}`;
  }
  return tx`
    select platform, published_at as at, 1 as published, 0 as posts_with_metrics, 0::bigint as impressions, 0::bigint as reach,
           0::bigint as likes, 0::bigint as comments, 0::bigint as shares, 0::bigint as saves, 0::bigint as clicks,
           0::bigint as video_views, 0::bigint as engagements, 0::bigint as rated_engagements, 0::bigint as rate_base,
           0 as rated_posts, 0::numeric as rate_sum, 0::bigint as rated_post_engagements, 0 as older_posts,
           0::bigint as older_engagements, 0::bigint as after_24h_engagements, 0 as decay_posts, 0::numeric as decay_sum
    from public.post_targets
    where profile_id = ${w.profileId} and status = 'published' and published_at >= ${w.from} ${platform}
    union all
    select platform, published_at, 0, 1, impressions, reach, likes, comments, shares, saves, clicks, video_views, engagements,
           case when rate_base is not null then engagements else 0 end, coalesce(rate_base, 0),
           (engagement_rate is not null)::int, coalesce(engagement_rate, 0),
           case when engagement_rate is not null then engagements else 0 end,
           (engagements_24h is not null)::int, case when engagements_24h is not null then engagements else 0 end,
           coalesce(engagements - engagements_24h, 0),
           (engagement_rate_decay is not null)::int, coalesce(engagement_rate_decay, 0)
    from public.post_metric_rollups
    where profile_id = ${w.profileId} and published_at >= ${w.from} ${platform}`;
}

const countColumns = ["published", "posts_with_metrics", "rated_posts", "older_posts", "decay_posts"] as const;

/**
 * Sums over `metricRows` as a select list, of the given columns (all by default): counts as int, the rest as float8,
 * which accumulates far faster than numeric (what sum(bigint) gives) and is exact for integers below 2^53.
 */
export function sums(columns: readonly (keyof SumsRow)[] = allSumColumns): string {
  return columns
    .map((c) => ((countColumns as readonly string[]).includes(c) ? `coalesce(sum(${c}), 0)::int as ${c}` : `coalesce(sum(${c}::float8), 0) as ${c}`))
    .join(", ");
}

/** What the engagement totals need. */
export const totalsColumns = [
  "published", "posts_with_metrics", "impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views",
  "engagements", "rated_engagements", "rate_base",
] as const satisfies readonly (keyof SumsRow)[];

const allSumColumns: readonly (keyof SumsRow)[] = [
  ...totalsColumns, "rated_posts", "rate_sum", "rated_post_engagements", "older_posts", "older_engagements",
  "after_24h_engagements", "decay_posts", "decay_sum",
];

export interface SumsRow {
  published: number;
  posts_with_metrics: number;
  impressions: number;
  reach: number;
  likes: number;
  comments: number;
  shares: number;
  saves: number;
  clicks: number;
  video_views: number;
  engagements: number;
  rated_engagements: number;
  rate_base: number;
  rated_posts: number;
  rate_sum: number;
  rated_post_engagements: number;
  older_posts: number;
  older_engagements: number;
  after_24h_engagements: number;
  decay_posts: number;
  decay_sum: number;
}

/**
 * Local day (a `date`: group by it and format the groups, which is cheaper than formatting every row), weekday
 * (0 = Sunday) and hour of `at` in the window's zone, as SQL.
 */
export const local = (tx: Tx, w: AnalyticsWindow) => ({
  day: tx`(at at time zone ${w.timezone})::date`,
  dow: tx`extract(dow from at at time zone ${w.timezone})::int`,
  hour: tx`extract(hour from at at time zone ${w.timezone})::int`,
});

/** `engagements ÷ base × 100`, rounded to 2 decimals; null without a base. */
export function ratePercent(engagements: number, base: number): number | null {
  return base > 0 ? round2((engagements / base) * 100) : null;
}

export function round2(n: number): number {
  return Math.round(n * 100) / 100;
}

export const windowFields = (w: AnalyticsWindow) => ({
  days: w.days,
  platform: w.platform,
  timezone: w.timezone,
  from: w.from.toISOString(),
  to: w.to.toISOString(),
});
