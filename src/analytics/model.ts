import { env } from "../core/env.js";
import { catalog, type Platform } from "../platforms/catalog.js";
import type { PostMetricValues } from "../platforms/types.js";

/**
 * The one metrics model. Every network's answer is mapped to these counts (src/platforms/<network>.ts `metrics`),
 * stored as snapshots over time (`post_metric_snapshots`, one row per capture) and read by every analytics endpoint.
 *
 *   impressions  times the post was shown (X impression_count, LinkedIn IMPRESSION, Instagram/Threads/Facebook views,
 *                Pinterest IMPRESSION)
 *   reach        distinct accounts that saw it (Instagram reach, LinkedIn MEMBERS_REACHED, Facebook media views unique)
 *   likes        likes and reactions (X like_count, LinkedIn likes, Facebook reactions, Reddit score, …)
 *   comments     comments and replies
 *   shares       reposts, retweets, quotes, reshares, crossposts
 *   saves        bookmarks and saves (X bookmark_count, Instagram saved, Pinterest SAVE)
 *   clicks       link and post clicks (X url_link_clicks, LinkedIn clicks, Facebook post_clicks, Pinterest clicks)
 *   video_views  plays of a video (X view_count, TikTok view_count, YouTube viewCount)
 *
 * A count is null when the network does not report it for that post (unknown), never 0. All counts are lifetime
 * totals at the moment of capture, so a post's snapshots only grow (networks occasionally correct down; we store what
 * they say).
 *
 * Engagement (defined here once, used everywhere):
 *
 *   engagements     = likes + comments + shares + saves        (an unknown count adds 0; clicks and views are not
 *                                                                engagement: not every network reports them)
 *   engagement_rate = engagements / base, where base is impressions if known and > 0, else reach if known and > 0,
 *                     else video_views if known and > 0; null when there is no base (e.g. Bluesky and Reddit report
 *                     no impressions): a rate is never invented.
 */
export const metricNames = ["impressions", "reach", "likes", "comments", "shares", "saves", "clicks", "video_views"] as const;
export type MetricName = (typeof metricNames)[number];

export type { PostMetricValues };

/** The counts as stored (snake_case columns of post_metric_snapshots). */
export type MetricColumns = Record<MetricName, number | null>;

export const emptyMetrics = (): PostMetricValues => ({
  impressions: null,
  reach: null,
  likes: null,
  comments: null,
  shares: null,
  saves: null,
  clicks: null,
  videoViews: null,
});

/** Sum of likes, comments, shares and saves (unknown counts add 0). */
export function engagements(m: PostMetricValues): number {
  return (m.likes ?? 0) + (m.comments ?? 0) + (m.shares ?? 0) + (m.saves ?? 0);
}

/** engagements / (impressions, else reach, else video views); null without a positive base. Rounded to 6 places. */
export function engagementRate(m: PostMetricValues): number | null {
  const base = [m.impressions, m.reach, m.videoViews].find((v) => v !== null && v > 0);
  if (base === undefined || base === null) return null;
  return Math.round((engagements(m) / base) * 1e6) / 1e6;
}

export function toColumns(m: PostMetricValues): MetricColumns {
  return {
    impressions: m.impressions,
    reach: m.reach,
    likes: m.likes,
    comments: m.comments,
    shares: m.shares,
    saves: m.saves,
    clicks: m.clicks,
    video_views: m.videoViews,
  };
}

/**
 * A count from a network's answer: a non-negative safe integer, or a decimal string of one (YouTube sends strings);
 * anything else is null (unknown). Used by every adapter's mapping, so garbage never becomes a number.
 */
export function count(value: unknown): number | null {
  if (typeof value === "number") return Number.isSafeInteger(value) && value >= 0 ? value : null;
  if (typeof value === "string" && /^\d{1,15}$/.test(value)) return Number(value);
  return null;
}

/** Adds counts, where unknown + unknown stays unknown. */
export function sum(...values: (number | null)[]): number | null {
  const known = values.filter((v): v is number => v !== null);
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

// --- capabilities --------------------------------------------------------------------------------------------------

/** What a network's metrics call gives, and what an account needs for it. */
export interface NetworkAnalytics {
  /** Whether this app reads metrics from the network at all. */
  supported: boolean;
  /** The network's API the metrics come from. */
  source: string;
  /** The model's counts the network reports (others stay null). */
  metrics: readonly MetricName[];
  /** Whether the account's follower count is read. */
  followers: boolean;
  /** Scopes the token needs (any one of each inner list). */
  scopes: readonly (readonly string[])[];
  /**
   * Scopes asked for at connect besides the catalog's publishing scopes, so new connections can read metrics (a
   * connection made before lacks them: its capability says to reconnect). Only scopes the network grants every app
   * that may publish; LinkedIn's metrics scopes need LinkedIn's approval, so they are asked for only when
   * LINKEDIN_ANALYTICS_SCOPES names them (`metricsRequestScopes`).
   */
  requestScopes: readonly string[];
  /** Why not, when `supported` is false. */
  reason?: string;
  /** Why not, when the account's token lacks `scopes` (default: a reconnect grants them). */
  scopeReason?: string;
  /** Counts reported for video posts only (null for others). */
  videoOnly?: readonly MetricName[];
  /**
   * Account types whose metrics come from another API than the network's default, by the connection's
   * `metadata.accountType` (LinkedIn organization pages).
   */
  accountTypes?: Record<string, Pick<NetworkAnalytics, "source" | "metrics" | "followers" | "scopes" | "scopeReason">>;
  notes: readonly string[];
}

export const networkAnalytics: Record<Platform, NetworkAnalytics> = {
  twitter: {
    requestScopes: [],
    supported: true,
    source: "GET /2/tweets?ids=…&tweet.fields=public_metrics,non_public_metrics",
    metrics: ["impressions", "likes", "comments", "shares", "saves", "clicks", "video_views"],
    followers: true,
    scopes: [["tweet.read"], ["users.read"]],
    notes: ["Clicks (non_public_metrics) are given to the author only, for posts from the last 30 days."],
  },
  linkedin: {
    // Asked for only when LinkedIn approved this app for them (LINKEDIN_ANALYTICS_SCOPES): see linkedinAnalyticsScopes.
    requestScopes: [],
    supported: true,
    source:
      "GET /rest/memberCreatorPostAnalytics?q=entity&entity=(share:{urn})&queryType=IMPRESSION|MEMBERS_REACHED|REACTION|COMMENT|RESHARE&aggregation=TOTAL",
    metrics: ["impressions", "reach", "likes", "comments", "shares"],
    followers: false,
    scopes: [["r_member_postAnalytics"]],
    scopeReason:
      "LinkedIn gives a member's post metrics only with r_member_postAnalytics, a Community Management API permission it grants approved apps: once approved, set LINKEDIN_ANALYTICS_SCOPES=r_member_postAnalytics and reconnect the account",
    accountTypes: {
      organization: {
        source:
          "GET /rest/organizationalEntityShareStatistics?q=organizationalEntity&organizationalEntity={org}&shares=List(…)&ugcPosts=List(…) and GET /rest/socialActions/{urn}",
        metrics: ["impressions", "reach", "likes", "comments", "shares", "clicks"],
        followers: false,
        scopes: [["rw_organization_admin"], ["r_organization_social"]],
        scopeReason:
          "LinkedIn gives organization page statistics only to page administrators, with rw_organization_admin and r_organization_social (Community Management API): once approved, set LINKEDIN_ANALYTICS_SCOPES=r_organization_social,rw_organization_admin and reconnect the account",
      },
    },
    notes: [
      "Members: the five counts of memberCreatorPostAnalytics (one call per count); LinkedIn grants r_member_postAnalytics to approved apps only.",
      "Organization pages: organic share statistics (impressions, unique impressions, clicks, likes, comments, shares) for the last 12 months, likes and comments from socialActions.",
    ],
  },
  instagram: {
    requestScopes: ["instagram_business_manage_insights"],
    supported: true,
    source: "GET /{ig-media-id}/insights?metric=views,reach,likes,comments,shares,saved",
    metrics: ["impressions", "reach", "likes", "comments", "shares", "saves"],
    followers: true,
    scopes: [["instagram_business_manage_insights"]],
    notes: ["Insights exist for business and creator accounts only; Instagram can lag up to 48 hours."],
  },
  facebook: {
    requestScopes: ["read_insights"],
    supported: true,
    source:
      "GET /{page-post-id}?fields=shares,reactions.summary(total_count),comments.summary(total_count) and /{page-post-id}/insights; videos: GET /{video-id}/video_insights",
    metrics: ["impressions", "reach", "likes", "comments", "shares", "clicks", "video_views"],
    videoOnly: ["video_views"],
    followers: true,
    scopes: [["pages_read_engagement"], ["read_insights"]],
    notes: [
      "Counts need pages_read_engagement; views, reach and clicks need read_insights as well.",
      "Videos: views, impressions, unique impressions, reactions, comments and shares from video insights (average and total watch time kept in raw); no clicks.",
    ],
  },
  threads: {
    requestScopes: ["threads_manage_insights"],
    supported: true,
    source: "GET /{threads-media-id}/insights?metric=views,likes,replies,reposts,quotes,shares",
    metrics: ["impressions", "likes", "comments", "shares"],
    followers: true,
    // Threads' token answer names no permissions, so the stored scopes cannot tell: a connection made before insights
    // were asked for is refused by Threads at its first sync and marked for reconnection (which grants them).
    scopes: [],
    notes: ["Needs threads_manage_insights (asked for at connect since metrics exist): older connections need a reconnect."],
  },
  tiktok: {
    requestScopes: ["video.list", "user.info.stats"],
    supported: true,
    source: "POST /v2/video/query/?fields=id,like_count,comment_count,share_count,view_count",
    metrics: ["likes", "comments", "shares", "video_views"],
    followers: true,
    scopes: [["video.list"]],
    notes: ["TikTok gives no impressions: the engagement rate is per video view."],
  },
  youtube: {
    requestScopes: [],
    supported: true,
    source: "GET /youtube/v3/videos?part=statistics&id=…",
    metrics: ["likes", "comments", "video_views"],
    followers: true,
    scopes: [["https://www.googleapis.com/auth/youtube.readonly"]],
    notes: ["The Data API gives views, likes and comments; the engagement rate is per view."],
  },
  pinterest: {
    requestScopes: [],
    supported: true,
    source: "GET /v5/pins/{pin_id}/analytics?metric_types=IMPRESSION,OUTBOUND_CLICK,PIN_CLICK,SAVE,TOTAL_COMMENTS,TOTAL_REACTIONS",
    metrics: ["impressions", "likes", "comments", "saves", "clicks"],
    followers: true,
    scopes: [["pins:read"], ["user_accounts:read"]],
    notes: ["Pinterest's daily analytics are delayed; the window is the last 90 days."],
  },
  reddit: {
    requestScopes: ["read"],
    supported: true,
    source: "GET /api/info?id=t3_…",
    metrics: ["likes", "comments", "shares"],
    followers: false,
    scopes: [["read"]],
    notes: ["Reddit gives third parties no impressions or views: likes is the post's score, so no engagement rate."],
  },
  bluesky: {
    requestScopes: [],
    supported: true,
    source: "GET /xrpc/app.bsky.feed.getPosts?uris=…",
    metrics: ["likes", "comments", "shares"],
    followers: true,
    scopes: [],
    notes: ["Bluesky publishes like, repost, quote and reply counts only: no impressions, so no engagement rate."],
  },
  snapchat: {
    requestScopes: [],
    supported: false,
    source: "",
    metrics: [],
    followers: false,
    scopes: [],
    reason: "Snapchat offers no API for organic content, so there are no posts to read metrics for.",
    notes: [],
  },
};

/**
 * LinkedIn's metrics permissions this app was approved for (LINKEDIN_ANALYTICS_SCOPES): LinkedIn's consent refuses a
 * scope the app was not approved for, so none is asked for by default.
 */
export function linkedinAnalyticsScopes(): string[] {
  return env()
    .LINKEDIN_ANALYTICS_SCOPES.split(/[\s,]+/)
    .filter(Boolean);
}

/** Scopes asked for at connect for metrics, besides the catalog's publishing scopes. */
export function metricsRequestScopes(platform: Platform): readonly string[] {
  return platform === "linkedin" ? linkedinAnalyticsScopes() : networkAnalytics[platform].requestScopes;
}

/** The scopes a connect asks for: the catalog's (publishing) and the network's metrics scopes. */
export function connectScopes(platform: Platform): string[] {
  return [...new Set([...catalog[platform].scopes, ...metricsRequestScopes(platform)])];
}

/** What the network gives for one account type (`metadata.accountType`), e.g. a LinkedIn organization page. */
export function accountAnalytics(platform: Platform, metadata: Record<string, unknown>) {
  const network = networkAnalytics[platform];
  const type = typeof metadata.accountType === "string" ? network.accountTypes?.[metadata.accountType] : undefined;
  return { ...network, ...(type ?? {}) };
}

/** Whether one connected account can have metrics, and if not, why. */
export interface AnalyticsSupport {
  supported: boolean;
  reason: string | null;
  metrics: readonly MetricName[];
  followers: boolean;
}

/**
 * What one connection can give, from its network, scopes and the metadata of its last connect or sync (no network
 * call): the network's own limits (no API, account types without insights) and the permissions its token lacks.
 */
export function analyticsSupport(
  platform: string,
  connection: { scopes: readonly string[]; metadata: Record<string, unknown> },
): AnalyticsSupport {
  const network = Object.hasOwn(networkAnalytics, platform) ? networkAnalytics[platform as Platform] : undefined;
  const no = (reason: string): AnalyticsSupport => ({ supported: false, reason, metrics: [], followers: false });
  if (!network) return no(`Unknown network ${platform}`);
  if (!network.supported) return no(network.reason ?? "This network offers no metrics");
  if (platform === "instagram" && connection.metadata.accountType === "PERSONAL") {
    return no("Instagram gives insights for business and creator accounts only: switch the account to professional and reconnect");
  }
  const account = accountAnalytics(platform as Platform, connection.metadata);
  const missing = account.scopes.filter((anyOf) => !anyOf.some((s) => connection.scopes.includes(s)));
  if (missing.length && connection.scopes.length) {
    const lacks = `The account's authorization lacks ${missing.map((m) => m.join(" or ")).join(", ")}`;
    const requested = metricsRequestScopes(platform as Platform);
    const fixable = missing.every((anyOf) => anyOf.some((s) => requested.includes(s)));
    return no(fixable || !account.scopeReason ? `${lacks}: reconnect it to grant access to metrics` : `${lacks}. ${account.scopeReason}`);
  }
  return { supported: true, reason: null, metrics: account.metrics, followers: account.followers };
}
