import { z } from "zod";
import { defineJob } from "../../core/jobs/define.js";

/**
 * The metrics sync as a job: one message per due sync of one connected account. `analytics_sync_state` is the
 * outbox (due at `next_sync_at`, claimed under `lease_until`); it comes after publishing in src/jobs.ts, so each sweep
 * sends publishing's due work first. Messages are addressed to `/api/queue/analytics-sync` with `{ connectionId }`.
 * The sync code (metrics adapters included) loads on the first run.
 */
export const analyticsSyncJob = defineJob({
  name: "analytics-sync",
  schema: z.object({ connectionId: z.uuid() }),
  outbox: {
    table: "public.analytics_sync_state",
    due: "next_sync_at",
    lease: "lease_until",
    status: { pending: "pending", claimed: "claimed" },
    message: (connectionId) => ({ connectionId }),
  },
  run: async ({ connectionId }, ctx) => {
    const { syncAccount } = await import("./sync.js");
    const result = await syncAccount(connectionId, ctx);
    // More due targets than one batch: the row is due now again; send it without waiting for the sweep.
    if (result.more) await ctx.dispatch([connectionId]);
    return result;
  },
});
