import { route } from "../core/api.js";
import { decodeCursor, encodeCursor } from "../core/pagination.js";
import { resolveProfileId } from "../core/profile-scope.js";
import { assertProfileVisible } from "../profiles/profiles.js";
import { jobLogsQuerySchema, metricsQuerySchema } from "../posts/schemas.js";

interface JobLogRow {
  id: string;
  post_id: string | null;
  target_id: string | null;
  platform: string;
  job_type: string;
  status: string;
  attempt_number: number;
  started_at: Date;
  completed_at: Date;
  duration_ms: number;
  error_message: string | null;
  error_category: string | null;
  was_rate_limited: boolean;
  will_retry: boolean;
  next_retry_at: Date | null;
  metadata: Record<string, unknown>;
  created_at: Date;
}

// GET /api/v1/job-logs — every publish attempt: outcome, category, duration, rate limiting, retry plan
export const jobLogsHandler = route({
  auth: "any",
  query: jobLogsQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    const before = decodeCursor(query.cursor);
    const rows = await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      return tx<JobLogRow[]>`
        select id, post_id, target_id, platform, job_type, status, attempt_number, started_at, completed_at, duration_ms,
          error_message, error_category, was_rate_limited, will_retry, next_retry_at, metadata, created_at
        from public.job_logs
        where profile_id = ${profileId}
          and ${query.platform ? tx`platform = ${query.platform}` : tx`true`}
          and ${query.status ? tx`status = ${query.status}` : tx`true`}
          and ${query.postId ? tx`post_id = ${query.postId}` : tx`true`}
          and ${before ? tx`(created_at, id) < (${before.createdAt}, ${before.id})` : tx`true`}
        order by created_at desc, id desc
        limit ${query.limit + 1}`;
    });
    const page = rows.slice(0, query.limit);
    const last = page.at(-1);
    return {
      logs: page.map((r) => ({
        id: r.id,
        post_id: r.post_id,
        scheduled_post_id: r.target_id,
        platform: r.platform,
        job_type: r.job_type,
        status: r.status,
        attempt_number: r.attempt_number,
        started_at: r.started_at.toISOString(),
        completed_at: r.completed_at.toISOString(),
        duration_ms: r.duration_ms,
        error_message: r.error_message,
        error_category: r.error_category,
        was_rate_limited: r.was_rate_limited,
        will_retry: r.will_retry,
        next_retry_at: r.next_retry_at?.toISOString() ?? null,
        metadata: r.metadata,
        created_at: r.created_at.toISOString(),
      })),
      nextCursor: rows.length > query.limit && last ? encodeCursor(last) : null,
    };
  },
});

// GET /api/v1/delivery-metrics — attempts per platform per day, computed from the job logs
export const deliveryMetricsHandler = route({
  auth: "any",
  query: metricsQuerySchema,
  handle: async ({ db, query, caller }) => {
    const profileId = resolveProfileId(caller, query.profileId);
    const metrics = await db(async (tx) => {
      await assertProfileVisible(tx, profileId);
      return tx`
        select platform, to_char(started_at at time zone 'utc', 'YYYY-MM-DD') as date,
          count(*)::int as total_jobs,
          count(*) filter (where status = 'success')::int as successful_jobs,
          count(*) filter (where status <> 'success' and not will_retry)::int as failed_jobs,
          count(*) filter (where attempt_number > 1)::int as retried_jobs,
          count(*) filter (where was_rate_limited)::int as rate_limited_jobs,
          round(avg(duration_ms))::int as avg_duration_ms
        from public.job_logs
        where profile_id = ${profileId}
          and started_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc' - make_interval(days => ${query.days - 1})
          and ${query.platform ? tx`platform = ${query.platform}` : tx`true`}
        group by 1, 2
        order by 2 desc, 1`;
    });
    return { metrics };
  },
});
