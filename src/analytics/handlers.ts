import { route } from "../core/api.js";
import { capabilities, syncHealth } from "./accounts.js";
import { contentDecay } from "./decay.js";
import { overview, postTimeline, realtime } from "./metrics.js";
import {
  accountsQuerySchema,
  analyticsQuerySchema,
  bestTimeResponse,
  bestTimesQuerySchema,
  bestTimesResponse,
  capabilitiesResponse,
  decayResponse,
  frequencyResponse,
  overviewQuerySchema,
  overviewResponse,
  realtimeResponse,
  syncHealthResponse,
  timelineResponse,
} from "./schemas.js";
import { bestTime, postingFrequency, schedulingBestTimes } from "./timing.js";
import { analyticsWindow, windowFields } from "./window.js";

// Post and target counts by status and platform, plus engagement totals (all time unless `days` is given)
export const analyticsOverview = route("GET /api/v1/analytics/overview", {
  auth: "any",
  query: overviewQuerySchema,
  profile: "query",
  response: overviewResponse,
  handle: async ({ db, query, profileId, clock }) => ({
    analytics: await db(async (tx) => {
      const since = query.days ? (await analyticsWindow(tx, profileId, { days: query.days, now: clock.now() })).from : null;
      return overview(tx, { profileId, platform: query.platform ?? null, since, days: query.days ?? null });
    }),
  }),
});

// Totals, platform breakdown, daily trend and top posts of the window
export const analyticsRealtime = route("GET /api/analytics/realtime", {
  auth: "any",
  query: analyticsQuerySchema,
  profile: "query",
  response: realtimeResponse,
  handle: async ({ db, query, profileId, clock }) => ({
    realtime: await db(async (tx) => {
      const w = await analyticsWindow(tx, profileId, { days: query.days, platform: query.platform, now: clock.now() });
      return { ...windowFields(w), generatedAt: clock.now().toISOString(), ...(await realtime(tx, w)) };
    }),
  }),
});

// Per day (profile time zone) and platform: posts published and their latest metrics
export const analyticsPostTimeline = route("GET /api/analytics/post-timeline", {
  auth: "any",
  query: analyticsQuerySchema,
  profile: "query",
  response: timelineResponse,
  handle: async ({ db, query, profileId, clock }) => ({
    timeline: await db(async (tx) => {
      const w = await analyticsWindow(tx, profileId, { days: query.days, platform: query.platform, now: clock.now() });
      return { ...windowFields(w), series: await postTimeline(tx, w) };
    }),
  }),
});

// Per platform: time to peak, half-life, share of engagement after 24 h; the most decayed posts
export const analyticsContentDecay = route("GET /api/analytics/content-decay", {
  auth: "any",
  query: analyticsQuerySchema,
  profile: "query",
  response: decayResponse,
  handle: async ({ db, query, profileId, clock }) => ({
    decay: await db(async (tx) => {
      const w = await analyticsWindow(tx, profileId, { days: query.days, platform: query.platform, now: clock.now() });
      return { ...windowFields(w), ...(await contentDecay(tx, w)) };
    }),
  }),
});

// Publishing cadence by weekday, hour (profile time zone) and platform
export const analyticsPostingFrequency = route("GET /api/analytics/posting-frequency", {
  auth: "any",
  query: analyticsQuerySchema,
  profile: "query",
  response: frequencyResponse,
  handle: async ({ db, query, profileId, clock }) => ({
    frequency: await db(async (tx) => {
      const w = await analyticsWindow(tx, profileId, { days: query.days, platform: query.platform, now: clock.now() });
      return { ...windowFields(w), ...(await postingFrequency(tx, w)) };
    }),
  }),
});

// Top weekday × hour slots by engagement rate, with the posts behind each and a confidence
export const analyticsBestTime = route("GET /api/analytics/best-time", {
  auth: "any",
  query: analyticsQuerySchema,
  profile: "query",
  response: bestTimeResponse,
  handle: async ({ db, query, profileId, clock }) => ({
    bestTime: await db(async (tx) => {
      const w = await analyticsWindow(tx, profileId, { days: query.days, platform: query.platform, now: clock.now() });
      return { ...windowFields(w), ...(await bestTime(tx, w)) };
    }),
  }),
});

// Per network and per connected account: which metrics, why not, connection state
export const analyticsCapabilities = route("GET /api/analytics/capabilities", {
  auth: "any",
  query: accountsQuerySchema,
  profile: "query",
  response: capabilitiesResponse,
  handle: async ({ db, query, profileId }) => db((tx) => capabilities(tx, profileId, query.platform)),
});

// Freshness of each account's metrics: healthy, stale, needs attention, no data, unsupported, disconnected
export const analyticsSyncHealth = route("GET /api/analytics/sync-health", {
  auth: "any",
  query: accountsQuerySchema,
  profile: "query",
  response: syncHealthResponse,
  handle: async ({ db, query, profileId, clock }) => db((tx) => syncHealth(tx, profileId, query.platform, clock.now())),
});

// Learned posting slots when the profile has enough posts with metrics, the networks' defaults otherwise
export const schedulingBestTimesRoute = route("GET /api/v1/scheduling/best-times", {
  auth: "any",
  query: bestTimesQuerySchema,
  profile: "query",
  response: bestTimesResponse,
  handle: async ({ db, query, profileId, clock }) => db((tx) => schedulingBestTimes(tx, profileId, query.platform, clock.now())),
});

export const analyticsRoutes = [
  analyticsOverview,
  analyticsRealtime,
  analyticsPostTimeline,
  analyticsContentDecay,
  analyticsPostingFrequency,
  analyticsBestTime,
  analyticsCapabilities,
  analyticsSyncHealth,
  schedulingBestTimesRoute,
];
