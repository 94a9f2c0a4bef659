import { createHmac } from "node:crypto";
import { log } from "../../core/log.js";
import { missing } from "./http.js";
import { nowSeconds, type StripeState } from "./state.js";

/**
 * Webhook delivery: each event POSTed to our webhook, signed as Stripe signs it (`Stripe-Signature: t=<unix>,v1=<hex
 * HMAC-SHA256(secret, "<t>.<body>")>`), retried a couple of times unless it answers 2xx, one after another in order.
 */

/** Queues deliveries behind those already queued; resolves when these have been delivered (or given up on). */
export function enqueue(s: StripeState, ids: string[]) {
  const run = s.queue.then(() => deliverInOrder(s, ids));
  s.queue = run.catch(() => {});
  return run;
}

export async function deliverInOrder(s: StripeState, ids: string[]) {
  const results: { id: string; type: string; status: "delivered" | "failed"; responseStatus: number | null }[] = [];
  for (const id of ids) results.push(await deliver(s, id));
  return results;
}

/** Sends one event, signed as Stripe signs it, retrying a couple of times unless the webhook answers 2xx. */
export async function deliver(s: StripeState, id: string) {
  const [row] = await s.sql<{ type: string; payload: string }[]>`select type, payload from local_stripe.events where id = ${id}`;
  if (!row) throw missing("event", id);
  let responseStatus: number | null = null;
  let attempts = 0;
  for (;;) {
    attempts += 1;
    responseStatus = await post(s, row.payload);
    const ok = responseStatus !== null && responseStatus >= 200 && responseStatus < 300;
    const delay = s.retryDelaysMs[attempts - 1];
    if (ok || delay === undefined) break;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  const status = responseStatus !== null && responseStatus >= 200 && responseStatus < 300 ? "delivered" : "failed";
  await s.sql`update local_stripe.events
                 set status = ${status}, attempts = attempts + ${attempts}, last_response_status = ${responseStatus}
                 where id = ${id}`;
  if (status === "failed") log.warn("stripe emulator: webhook did not accept event", { id, type: row.type, responseStatus });
  return { id, type: row.type, status, responseStatus } as const;
}

export async function post(s: StripeState, payload: string): Promise<number | null> {
  const timestamp = nowSeconds();
  const signature = createHmac("sha256", s.options.webhookSecret).update(`${timestamp}.${payload}`).digest("hex");
  try {
    const res = await fetch(s.options.webhookUrl, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": `t=${timestamp},v1=${signature}`,
        "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
      },
      body: payload,
      redirect: "manual",
      signal: AbortSignal.timeout(s.deliveryTimeoutMs),
    });
    await res.arrayBuffer();
    return res.status;
  } catch {
    return null;
  }
}
