import { withService } from "../core/db.js";
import { env } from "../core/env.js";
import { enqueue } from "../core/queue.js";

/** The path QStash calls back for every publish attempt. */
export const PUBLISH_PATH = "/api/queue/publish";

/** Targets due within this window are put on the queue now, with not-before set to their second. */
export const LOOKAHEAD_SECONDS = 120;

export interface PublishMessage {
  targetId: string;
}

/** Exponential backoff: base, 2×base, 4×base… (contract: 1 → 2 → 4 minutes), with ±10% jitter. */
export function backoffSeconds(attempt: number, random = Math.random): number {
  const base = env().PUBLISH_RETRY_BASE_SECONDS * 2 ** Math.max(0, attempt - 1);
  return base * (0.9 + 0.2 * random());
}

/**
 * Puts pending targets on the queue for their due time and records which due time each message is for, so neither
 * the sweep nor a retry sends the same attempt twice (the deduplication id repeats that guarantee inside QStash).
 * Rows are locked while the messages are sent: if sending fails nothing is marked and the sweep tries again; if the
 * commit fails after sending, the next send is deduplicated. Targets no longer pending, or due later than the
 * lookahead, are left to the sweep.
 */
export async function enqueueDueTargets(targetIds: string[] | "all-due", limit = 500): Promise<number> {
  return withService(async (tx) => {
    const only = targetIds === "all-due" ? tx`true` : tx`id = any(${targetIds}::uuid[])`;
    // Two index-backed reads, so a backlog already on the queue is never scanned again (that would make draining
    // it quadratic): targets with no message for their due time yet, then messages sent long ago that never
    // arrived. Both lock what they take; concurrent sweeps skip each other's rows.
    const fresh = await tx<DueRow[]>`
      select id, due_at, attempts, queued_for from public.post_targets
      where status = 'pending' and queued_for is distinct from due_at and ${only}
        and due_at <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
      order by due_at
      limit ${limit}
      for update skip locked`;
    const stale =
      fresh.length < limit
        ? await tx<DueRow[]>`
            select id, due_at, attempts, queued_for from public.post_targets
            where status = 'pending' and queued_for = due_at and queued_at < now() - interval '15 minutes' and ${only}
              and due_at <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
            order by queued_at
            limit ${limit - fresh.length}
            for update skip locked`
        : [];
    const due = [...fresh, ...stale];
    if (!due.length) return 0;
    await enqueue(
      due.map((t) => ({
        path: PUBLISH_PATH,
        body: { targetId: t.id } satisfies PublishMessage,
        notBefore: t.due_at,
        // A message for this attempt that never arrived is sent again under a new id; the executor's claim makes
        // any duplicate delivery a no-op.
        deduplicationId: `publish-${t.id}-${t.attempts}-${t.due_at.getTime()}${
          t.queued_for?.getTime() === t.due_at.getTime() ? `-resent-${Date.now()}` : ""
        }`,
      })),
    );
    await tx`update public.post_targets set queued_for = due_at, queued_at = now() where id = any(${due.map((t) => t.id)}::uuid[])`;
    return due.length;
  });
}

interface DueRow {
  id: string;
  due_at: Date;
  attempts: number;
  queued_for: Date | null;
}
