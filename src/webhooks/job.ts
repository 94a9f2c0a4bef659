import { z } from "zod";
import { defineJob } from "../core/jobs/define.js";
import { deliveryRetry } from "./retry.js";

/**
 * Webhook delivery as a job: one message per attempt of one delivery. Deliveries are the outbox (`next_attempt_at`
 * due, `delivering` claimed); the claim counts the attempt, so a lease that expires on the last one fails the
 * delivery. Messages already on the queue are addressed to `/api/queue/webhook` with `{ deliveryId }`, so neither the
 * name nor the schema may change. The delivery code loads on the first attempt.
 */
export const webhookJob = defineJob({
  name: "webhook",
  schema: z.object({ deliveryId: z.uuid() }),
  retry: deliveryRetry,
  outbox: {
    table: "public.webhook_deliveries",
    due: "next_attempt_at",
    lease: "lease_until",
    status: { pending: "pending", claimed: "delivering" },
    recovery: {
      exhausted: { attempts: "attempt_number", max: "max_attempts", status: "failed" },
      error: { column: "last_error", message: "The attempt did not finish" },
    },
    message: (deliveryId) => ({ deliveryId }),
  },
  run: async ({ deliveryId }, ctx) => {
    const { executeDelivery } = await import("./deliver.js");
    const outcome = await executeDelivery(deliveryId, ctx);
    // This delivery's next attempt, and the notices of an endpoint it disabled.
    if (outcome.dispatch.length) await ctx.dispatch(outcome.dispatch);
    return outcome.result;
  },
});
