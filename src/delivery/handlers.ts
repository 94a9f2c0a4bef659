import { route } from "../core/api.js";
import { pageOf } from "../core/pagination.js";
import { listJobLogs, serializeJobLog } from "./job-logs.js";
import { deliveryMetrics } from "./metrics.js";
import { deliveryMetricsResponse, jobLogListResponse, jobLogsQuerySchema, metricsQuerySchema } from "./schemas.js";

// Every publish attempt: outcome, category, duration, rate limiting, retry plan
export const jobLogs = route("GET /api/v1/job-logs", {
  auth: "any",
  query: jobLogsQuerySchema,
  profile: "query",
  response: jobLogListResponse,
  handle: async ({ db, query, profileId }) => {
    const { platform, status, postId } = query;
    const page = await db((tx) => listJobLogs(tx, { profileId, platform, status, postId }, pageOf(query)));
    return { logs: page.rows.map(serializeJobLog), nextCursor: page.nextCursor };
  },
});

// Attempts per platform per day, computed from the job logs
export const deliveryMetricsRoute = route("GET /api/v1/delivery-metrics", {
  auth: "any",
  query: metricsQuerySchema,
  profile: "query",
  response: deliveryMetricsResponse,
  handle: async ({ db, query, profileId }) => ({
    metrics: await db((tx) => deliveryMetrics(tx, { profileId, days: query.days, platform: query.platform })),
  }),
});

export const deliveryRoutes = [jobLogs, deliveryMetricsRoute];
