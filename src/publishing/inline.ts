import { jobContext } from "../core/jobs/define.js";
import type { ExecutionResult } from "./executor.js";
import { INLINE_BUDGET_MS } from "./inline-policy.js";
import { loadExecutor, publishJob } from "./job.js";

/**
 * Inline publishing: a publish-now post's first attempt to a network that answers at once (./inline-policy.ts) runs in
 * the request that created it, so the answer carries the network's post id and URL; everything else (video, networks
 * that process media, retries, a crash's recovery) goes through the queue. Exactly once, because a target is only
 * ever published by whoever moved it from `pending` to `publishing` (one conditional UPDATE, ./executor.ts `claim`):
 *
 * - The request creates the target due INLINE_RESERVE_SECONDS ahead, beyond the sweep's lookahead, so no message is
 *   sent for it and a stray one finds it not due: nothing but the request claims it while the request runs.
 * - The request claims it (`by` "inline": pending and never attempted) before calling the network. If the claim finds
 *   it taken (canceled, or claimed by the queue after the reserve ran out) the request does nothing.
 * - The attempt is settled as the queue settles it (outcome, job log, `post.published`/`post.failed` events, post
 *   status), fenced by the claim's lease. A retryable failure or media still processing leaves the target pending,
 *   due at its next attempt, and is put on the queue here, exactly as the publish job does.
 * - A request that dies after claiming leaves the target `publishing` with a lease: when it runs out, the sweep's
 *   lease recovery makes it pending and sends it (as for a queue worker that died). One that dies before claiming
 *   leaves it pending until the reserve runs out; then the sweep sends it.
 *
 * The request waits for its attempts at most INLINE_BUDGET_MS; an attempt still running then goes on in the
 * background and settles as above; the route hands it to `waitUntil`, so a serverless function is kept alive until it
 * settles (were the instance lost anyway, the lease recovers the target).
 */
export async function publishInline(
  targetIds: readonly string[],
  options: { budgetMs?: number; waitUntil?: (work: Promise<unknown>) => void } = {},
): Promise<void> {
  if (!targetIds.length) return;
  // Loaded on the first publish-now request (not at the function's cold start), before the budget starts.
  const { executePublish } = await loadExecutor();
  const budgetMs = options.budgetMs ?? INLINE_BUDGET_MS;
  const ctx = jobContext();
  const runs = targetIds.map(async (targetId): Promise<ExecutionResult | undefined> => {
    try {
      const result = await executePublish(targetId, ctx, "inline");
      if (result === "processing" || result === "retrying") await publishJob.dispatch([targetId]);
      return result;
    } catch (error) {
      // Claimed and not settled: the lease recovers it. Not claimed: the reserve runs out and the sweep sends it.
      ctx.log.error("inline publish attempt failed; the queue takes the target over", { targetId, error });
      return undefined;
    }
  });
  let timer: NodeJS.Timeout | undefined;
  const budget = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, budgetMs);
  });
  const all = Promise.all(runs);
  // Attempts that outlive the budget keep the function alive until they settle (the route's waitUntil).
  options.waitUntil?.(all);
  try {
    await Promise.race([all, budget]);
  } finally {
    clearTimeout(timer);
  }
}
