import { z } from "zod";
import { platformIds } from "../platforms/catalog.js";

const platformSchema = z.enum(platformIds, { error: `Expected one of ${platformIds.join(", ")}` });

/** `days`: the window, today (in the profile's time zone) included. Default 30, at most 180. */
const daysSchema = z.coerce
  .number({ error: "Expected a whole number of days" })
  .int("Expected a whole number of days")
  .min(1, "At least 1 day")
  .max(180, "At most 180 days");

/** The analytics endpoints' query: profileId (required for a session), days (default 30, 1–180), platform. */
export const analyticsQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  days: daysSchema.default(30),
  platform: platformSchema.optional(),
});
export type AnalyticsQuery = z.infer<typeof analyticsQuerySchema>;

/** Overview: all time unless `days` is given. */
export const overviewQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  days: daysSchema.optional(),
  platform: platformSchema.optional(),
});

/** Endpoints about accounts, not a time window. */
export const accountsQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  platform: platformSchema.optional(),
});

export const bestTimesQuerySchema = z.strictObject({
  profileId: z.uuid().optional(),
  platform: platformSchema.optional(),
});

const iso = z.iso.datetime();
const isoOrNull = iso.nullable();
const date = z.string().regex(/^\d{4}-\d{2}-\d{2}$/);
const int = z.number().int();
const num = z.number();
const numOrNull = z.number().nullable();

/** Sums of the latest snapshot of each post (one post on one network) in the window. */
const engagementTotals = z.strictObject({
  postsWithMetrics: int,
  impressions: int,
  reach: int,
  likes: int,
  comments: int,
  shares: int,
  saves: int,
  clicks: int,
  videoViews: int,
  engagements: int,
  /** engagements ÷ impressions × 100, over the posts that report impressions; null without impressions. */
  engagementRate: numOrNull,
});

export const overviewResponse = z.strictObject({
  analytics: z.strictObject({
    totalPosts: int,
    draftPosts: int,
    scheduledPosts: int,
    publishingPosts: int,
    publishedPosts: int,
    partiallyPublishedPosts: int,
    failedPosts: int,
    canceledPosts: int,
    totalTargets: int,
    successfulTargets: int,
    failedTargets: int,
    pendingTargets: int,
    platformBreakdown: z.array(
      z.strictObject({ platform: z.string(), targets: int, published: int, failed: int, impressions: int, engagements: int }),
    ),
    engagement: engagementTotals,
    days: int.nullable(),
    platform: z.string().nullable(),
  }),
});

const windowFields = { days: int, platform: z.string().nullable(), timezone: z.string(), from: iso, to: iso };

const topPost = z.strictObject({
  postId: z.uuid(),
  targetId: z.uuid(),
  platform: z.string(),
  content: z.string(),
  externalUrl: z.string().nullable(),
  publishedAt: iso,
  impressions: int,
  engagements: int,
  engagementRate: numOrNull,
  lastMetricAt: iso,
});

export const realtimeResponse = z.strictObject({
  realtime: z.strictObject({
    ...windowFields,
    generatedAt: iso,
    totals: engagementTotals.extend({ posts: int, followers: int }),
    platformBreakdown: z.array(
      z.strictObject({
        platform: z.string(),
        posts: int,
        postsWithMetrics: int,
        impressions: int,
        engagements: int,
        engagementRate: numOrNull,
        followers: int.nullable(),
      }),
    ),
    dailyTrend: z.array(z.strictObject({ date, posts: int, impressions: int, engagements: int, engagementRate: numOrNull })),
    topPosts: z.array(topPost),
  }),
});

export const timelineResponse = z.strictObject({
  timeline: z.strictObject({
    ...windowFields,
    series: z.array(
      z.strictObject({
        date,
        platform: z.string(),
        posts: int,
        postsWithMetrics: int,
        impressions: int,
        reach: int,
        likes: int,
        comments: int,
        shares: int,
        saves: int,
        clicks: int,
        videoViews: int,
        engagements: int,
        engagementRate: numOrNull,
      }),
    ),
  }),
});

export const decayResponse = z.strictObject({
  decay: z.strictObject({
    ...windowFields,
    platforms: z.array(
      z.strictObject({
        platform: z.string(),
        posts: int,
        medianHoursToPeak: numOrNull,
        medianHalfLifeHours: numOrNull,
        shareAfter24h: numOrNull,
        postsOlderThan24h: int,
        avgEngagementRateDecay: numOrNull,
      }),
    ),
    mostDecayed: z.array(
      z.strictObject({
        postId: z.uuid(),
        targetId: z.uuid(),
        platform: z.string(),
        publishedAt: iso,
        peakEngagementRate: num,
        peakAt: iso,
        latestEngagementRate: num,
        lastMetricAt: iso,
        decay: num,
        hoursToPeak: numOrNull,
        halfLifeHours: numOrNull,
      }),
    ),
  }),
});

export const frequencyResponse = z.strictObject({
  frequency: z.strictObject({
    ...windowFields,
    totalPosts: int,
    totalTargets: int,
    postsPerWeek: num,
    byWeekday: z.array(z.strictObject({ dayOfWeek: int, posts: int })),
    byHour: z.array(z.strictObject({ hourOfDay: int, posts: int })),
    byPlatform: z.array(z.strictObject({ platform: z.string(), posts: int, postsPerWeek: num, share: num })),
  }),
});

const bestSlot = z.strictObject({
  dayOfWeek: int,
  hourOfDay: int,
  posts: int,
  avgEngagementRate: num,
  avgEngagements: num,
  score: num,
  confidence: num,
  confidenceLevel: z.enum(["low", "medium", "high"]),
});

export const bestTimeResponse = z.strictObject({
  bestTime: z.strictObject({
    ...windowFields,
    postsAnalysed: int,
    baselineEngagementRate: numOrNull,
    slots: z.array(bestSlot),
  }),
});

export const capabilitiesResponse = z.strictObject({
  platforms: z.array(
    z.strictObject({
      platform: z.string(),
      displayName: z.string(),
      supported: z.boolean(),
      postMetrics: z.array(z.string()),
      accountMetrics: z.array(z.string()),
      reason: z.string().nullable(),
      connectedAccounts: int,
    }),
  ),
  accounts: z.array(
    z.strictObject({
      connectionId: z.uuid(),
      platform: z.string(),
      username: z.string(),
      connectionStatus: z.string(),
      supported: z.boolean(),
      postMetrics: z.array(z.string()),
      accountMetrics: z.array(z.string()),
      reason: z.string().nullable(),
      canSync: z.boolean(),
    }),
  ),
});

export const syncHealthStatuses = ["healthy", "stale", "needsAttention", "noData", "unsupported", "disconnected"] as const;

export const syncHealthResponse = z.strictObject({
  summary: z.strictObject({
    total: int,
    healthy: int,
    stale: int,
    needsAttention: int,
    noData: int,
    unsupported: int,
    disconnected: int,
  }),
  staleAfterHours: num,
  byAccount: z.array(
    z.strictObject({
      connectionId: z.uuid().nullable(),
      platform: z.string(),
      username: z.string().nullable(),
      status: z.enum(syncHealthStatuses),
      lastMetricAt: isoOrNull,
      lastSuccessAt: isoOrNull,
      lastAttemptAt: isoOrNull,
      nextSyncAt: isoOrNull,
      freshnessHours: numOrNull,
      consecutiveFailures: int,
      lastError: z.string().nullable(),
      reason: z.string().nullable(),
    }),
  ),
});

export const bestTimesResponse = z.union([
  z.strictObject({
    bestTimes: z.array(z.strictObject({ dayOfWeek: int, hourOfDay: int, avgEngagementScore: num, postsCount: int })),
    isDefault: z.literal(false),
    timezone: z.string(),
    platform: z.string().nullable(),
    basedOnPosts: int,
    message: z.string(),
  }),
  z.strictObject({
    bestTimes: z.array(z.strictObject({ day_of_week: int, hour_of_day: int, reason: z.string(), platform: z.string() })),
    isDefault: z.literal(true),
    timezone: z.string(),
    platform: z.string().nullable(),
    basedOnPosts: int,
    message: z.string(),
  }),
]);
