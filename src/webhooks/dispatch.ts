import { withService } from "../core/db.js";
import { env } from "../core/env.js";
import { log } from "../core/log.js";
import { enqueue } from "../core/queue.js";

/** The path QStash calls back for every delivery attempt. */
export const WEBHOOK_DELIVERY_PATH = "/api/queue/webhook";

/** Deliveries due within this window are put on the queue now, with not-before set to their second. */
export const LOOKAHEAD_SECONDS = 120;

/** Retry n waits base × 4^(n−1), capped here (Standard Webhooks retries over days, at most a day apart). */
export const MAX_RETRY_DELAY_SECONDS = 86_400;
const RETRY_FACTOR = 4;

export interface DeliveryMessage {
  deliveryId: string;
}

/**
 * Seconds to wait before the attempt after attempt `attempt` failed: exponential backoff with ±20% jitter, and at
 * least the receiver's Retry-After when it sent one.
 */
export function retryDelaySeconds(attempt: number, retryAfterSeconds?: number, random = Math.random): number {
  const base = env().WEBHOOK_RETRY_BASE_SECONDS * RETRY_FACTOR ** Math.max(0, attempt - 1);
  const backoff = Math.min(base, MAX_RETRY_DELAY_SECONDS) * (0.8 + 0.4 * random());
  return Math.min(Math.max(backoff, retryAfterSeconds ?? 0), MAX_RETRY_DELAY_SECONDS);
}

/**
 * Puts pending deliveries on the queue for their due time and records which due time each message is for, so neither
 * the sweep nor the worker sends the same attempt twice (the deduplication id repeats that inside QStash). Rows stay
 * locked while the messages are sent: if sending fails nothing is marked and the sweep tries again. A message that
 * never arrived (still pending 15 minutes after it was sent) is sent again under a new id; the worker's claim makes a
 * duplicate delivery do nothing.
 */
export async function enqueueDueDeliveries(deliveryIds: string[] | "all-due", limit = 500): Promise<number> {
  if (Array.isArray(deliveryIds) && deliveryIds.length === 0) return 0;
  return withService(async (tx) => {
    const due = await tx<{ id: string; next_attempt_at: Date; attempt_number: number; queued_for: Date | null }[]>`
      select id, next_attempt_at, attempt_number, queued_for from public.webhook_deliveries
      where status = 'pending'
        and ${deliveryIds === "all-due" ? tx`true` : tx`id = any(${deliveryIds}::uuid[])`}
        and next_attempt_at <= now() + make_interval(secs => ${LOOKAHEAD_SECONDS})
        and (queued_for is distinct from next_attempt_at or queued_at < now() - interval '15 minutes')
      order by next_attempt_at
      limit ${limit}
      for no key update skip locked`;
    if (!due.length) return 0;
    await enqueue(
      due.map((d) => ({
        path: WEBHOOK_DELIVERY_PATH,
        body: { deliveryId: d.id } satisfies DeliveryMessage,
        notBefore: d.next_attempt_at,
        deduplicationId: `webhook-${d.id}-${d.attempt_number}-${d.next_attempt_at.getTime()}${
          d.queued_for?.getTime() === d.next_attempt_at.getTime() ? `-resent-${Date.now()}` : ""
        }`,
      })),
    );
    await tx`
      update public.webhook_deliveries set queued_for = next_attempt_at, queued_at = now()
      where id = any(${due.map((d) => d.id)}::uuid[])`;
    return due.length;
  });
}

const BATCH = 500;

/**
 * The sweep's part for webhooks: makes deliveries whose worker died (lease expired) pending again (or failed, when
 * that was their last attempt: the claim counted it), then puts every delivery due within the lookahead on the queue,
 * in bounded batches within `budgetMs` (at least one batch runs). First attempts are put on the queue here: the
 * fan-out happens inside the transaction that wrote the event.
 */
export async function dispatchWebhookDeliveries(budgetMs = 5_000): Promise<number> {
  const started = Date.now();
  const recovered = await withService(
    (tx) => tx`
      update public.webhook_deliveries set
        status = case when attempt_number < max_attempts then 'pending' else 'failed' end,
        next_attempt_at = case when attempt_number < max_attempts then now() end,
        last_error = coalesce(last_error, 'The attempt did not finish'),
        lease_until = null
      where status = 'delivering' and lease_until < now()
      returning id`,
  );
  if (recovered.length) log.warn("recovered webhook deliveries whose worker did not finish", { count: recovered.length });
  let enqueued = 0;
  do {
    const n = await enqueueDueDeliveries("all-due", BATCH);
    enqueued += n;
    if (n < BATCH) break;
  } while (Date.now() - started < budgetMs);
  return enqueued;
}
