import type { Tx } from "../core/db.js";

export interface DeliveryMetricRow {
  platform: string;
  /** The UTC day, YYYY-MM-DD. */
  date: string;
  total_jobs: number;
  successful_jobs: number;
  failed_jobs: number;
  retried_jobs: number;
  rate_limited_jobs: number;
  avg_duration_ms: number | null;
}

/**
 * Attempts per network per UTC day over the last `days` days (today included), from the job logs: totals, successes,
 * final failures (failed and not retried), retries, rate-limited attempts and the mean duration.
 */
export async function deliveryMetrics(tx: Tx, filter: { profileId: string; days: number; platform?: string }): Promise<DeliveryMetricRow[]> {
  return tx<DeliveryMetricRow[]>`
    select platform, to_char(started_at at time zone 'utc', 'YYYY-MM-DD') as date,
      count(*)::int as total_jobs,
      count(*) filter (where status = 'success')::int as successful_jobs,
      count(*) filter (where status <> 'success' and not will_retry)::int as failed_jobs,
      count(*) filter (where attempt_number > 1)::int as retried_jobs,
      count(*) filter (where was_rate_limited)::int as rate_limited_jobs,
      round(avg(duration_ms))::int as avg_duration_ms
    from public.job_logs
    where profile_id = ${filter.profileId}
      -- A large video's upload slices (src/media/upload-log.ts) are progress within an attempt, not attempts.
      and job_type <> 'media_upload'
      and started_at >= date_trunc('day', now() at time zone 'utc') at time zone 'utc' - make_interval(days => ${filter.days - 1})
      and ${filter.platform ? tx`platform = ${filter.platform}` : tx`true`}
    group by 1, 2
    order by 2 desc, 1`;
}
