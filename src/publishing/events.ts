import type { Tx } from "../core/db.js";

/** Lifecycle events written in the same transaction as the change they describe; the webhooks feature delivers them. */
export type EventType =
  | "post.scheduled"
  | "post.published"
  | "post.failed"
  | "post.partially_published"
  | "connection.needs_reconnect"
  | "connection.expiring"
  | "webhook.endpoint_disabled"
  | "recurring.occurrence_skipped"
  | "member.joined"
  | "member.removed";

interface TargetRef {
  id: string;
  post_id: string;
  profile_id: string;
  platform: string;
}

/**
 * Writes a per-target event. Its payload is the body webhook receivers get: `event_type`, `timestamp`, `profile_id`,
 * and `data` with the post, the target, the platform, the content, `published_at` and the event's own fields.
 */
export async function recordEvent(tx: Tx, type: EventType, target: TargetRef, extra: Record<string, unknown>): Promise<void> {
  await tx`
    insert into public.events (profile_id, event_type, post_id, target_id, payload)
    select ${target.profile_id}, ${type}, ${target.post_id}, ${target.id},
      jsonb_build_object(
        'event_type', ${type}::text,
        'timestamp', to_char(now() at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'profile_id', ${target.profile_id}::uuid,
        'data', jsonb_build_object('post_id', p.id, 'target_id', ${target.id}::uuid, 'platform', ${target.platform}::text,
                                   'content', p.content,
                                   'published_at', to_char(t.published_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))
                || ${tx.json(extra as never)}::jsonb)
    from public.posts p join public.post_targets t on t.id = ${target.id} and t.post_id = p.id and t.profile_id = p.profile_id
    where p.id = ${target.post_id} and p.profile_id = ${target.profile_id}`;
}

/**
 * A post's status derives from its targets: scheduled until its first attempt, publishing while any target is in
 * flight or waiting to retry, then published, failed, or partially_published (some of each: visible, not hidden).
 * Emits `post.partially_published` when a post settles that way. Runs as the transaction's role: a caller's
 * transaction derives only what RLS lets it update.
 */
export async function refreshPostStatus(tx: Tx, postId: string): Promise<string | undefined> {
  // The statement lives in Postgres (migration 20261206110000), where the published settle calls it too.
  const [row] = await tx<{ status: string | null }[]>`select public.refresh_post_status(${postId}) as status`;
  return row?.status ?? undefined;
}
