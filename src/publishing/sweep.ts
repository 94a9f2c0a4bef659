import { withService } from "../core/db.js";
import { log } from "../core/log.js";
import { dispatchWebhookDeliveries } from "../webhooks/dispatch.js";
import { enqueueDueTargets } from "./schedule.js";

export interface SweepResult {
  recovered: number;
  enqueued: number;
  /** Webhook deliveries put on the queue (first attempts, and anything a worker left behind). */
  webhookDeliveries: number;
}

const BATCH = 500;

/**
 * The scheduled sweep (every minute in the cloud, every SWEEP_INTERVAL_SECONDS locally): makes targets whose
 * executor died (lease expired) pending again, then puts everything due within the lookahead on the queue with
 * not-before set to its second, in bounded batches and within a time budget far inside Netlify's 30 s limit; what
 * is left goes out on the next run. Its cost grows with due work, never with the total number of posts.
 */
export async function sweep(budgetMs = 20_000): Promise<SweepResult> {
  const started = Date.now();
  const recovered = await withService(
    (tx) => tx`
      update public.post_targets set status = 'pending', lease_until = null, due_at = least(due_at, now())
      where status = 'publishing' and lease_until < now()
      returning id`,
  );
  if (recovered.length) log.warn("recovered targets whose executor did not finish", { count: recovered.length });
  let enqueued = 0;
  while (Date.now() - started < budgetMs) {
    const n = await enqueueDueTargets("all-due", BATCH);
    enqueued += n;
    if (n < BATCH) break;
  }
  const webhookDeliveries = await dispatchWebhookDeliveries(Math.max(0, budgetMs - (Date.now() - started)));
  return { recovered: recovered.length, enqueued, webhookDeliveries };
}
