import type { Tx } from "../core/db.js";
import { keysetPage, type Page, type PageSpec } from "../core/pagination.js";

export interface JobLogRow {
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

/** A profile's publish attempts, newest first, optionally for one network, outcome or post. */
export async function listJobLogs(
  tx: Tx,
  filter: { profileId: string; platform?: string; status?: string; postId?: string },
  page: PageSpec,
): Promise<Page<JobLogRow>> {
  return keysetPage(tx, page, (after, take) => tx<JobLogRow[]>`
    select id, post_id, target_id, platform, job_type, status, attempt_number, started_at, completed_at, duration_ms,
      error_message, error_category, was_rate_limited, will_retry, next_retry_at, metadata, created_at
    from public.job_logs
    where profile_id = ${filter.profileId}
      and ${filter.platform ? tx`platform = ${filter.platform}` : tx`true`}
      and ${filter.status ? tx`status = ${filter.status}` : tx`true`}
      and ${filter.postId ? tx`post_id = ${filter.postId}` : tx`true`}
      and ${after}
    order by created_at desc, id desc
    limit ${take}`);
}

/** The API shape of an attempt (the target is the contract's "scheduled post"). */
export function serializeJobLog(r: JobLogRow) {
  return {
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
  };
}
