import { z } from "zod";

export { jobLogsQuerySchema, metricsQuerySchema } from "../posts/schemas.js";

const isoOrNull = z.iso.datetime().nullable();

/** One publish attempt. */
export const jobLogSchema = z.strictObject({
  id: z.uuid(),
  post_id: z.uuid().nullable(),
  scheduled_post_id: z.uuid().nullable(),
  platform: z.string(),
  job_type: z.string(),
  status: z.string(),
  attempt_number: z.number().int(),
  started_at: z.iso.datetime(),
  completed_at: z.iso.datetime(),
  duration_ms: z.number().int(),
  error_message: z.string().nullable(),
  error_category: z.string().nullable(),
  was_rate_limited: z.boolean(),
  will_retry: z.boolean(),
  next_retry_at: isoOrNull,
  metadata: z.record(z.string(), z.unknown()),
  created_at: z.iso.datetime(),
});

export const jobLogListResponse = z.strictObject({ logs: z.array(jobLogSchema), nextCursor: z.string().nullable() });

/** Attempts per network per UTC day. */
export const deliveryMetricSchema = z.strictObject({
  platform: z.string(),
  date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
  total_jobs: z.number().int(),
  successful_jobs: z.number().int(),
  failed_jobs: z.number().int(),
  retried_jobs: z.number().int(),
  rate_limited_jobs: z.number().int(),
  avg_duration_ms: z.number().int().nullable(),
});

export const deliveryMetricsResponse = z.strictObject({ metrics: z.array(deliveryMetricSchema) });
