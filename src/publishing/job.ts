import { z } from "zod";
import { defineJob } from "../core/jobs/define.js";
import { publishRetry } from "./retry.js";

/**
 * Publishing as a job: one message per attempt of one post target. Targets are the outbox: `due_at` is when the next
 * attempt is due, `publishing` the claimed status with its lease. Messages already on the queue are addressed to
 * `/api/queue/publish` with `{ targetId }`, so neither the name nor the schema may change. The executor loads on the
 * first attempt, so what imports the job (the registry, the posts routes) does not load it at start.
 */
// The executor, loaded once on the first attempt. Not `await import()` on every attempt: in the local home each
// import() call goes through the TypeScript loader's resolve hook (another thread) even for a module already loaded.
let executor: Promise<typeof import("./executor.js")> | undefined;
export const loadExecutor = () => (executor ??= import("./executor.js"));

export const publishJob = defineJob({
  name: "publish",
  schema: z.object({ targetId: z.uuid() }),
  retry: publishRetry,
  outbox: {
    table: "public.post_targets",
    due: "due_at",
    lease: "lease_until",
    status: { pending: "pending", claimed: "publishing" },
    message: (targetId) => ({ targetId }),
  },
  run: async ({ targetId }, ctx) => {
    const { executePublish } = await loadExecutor();
    const result = await executePublish(targetId, ctx);
    // Media still processing, or a failure worth retrying: the target is pending again, due at its next attempt.
    if (result === "processing" || result === "retrying") await ctx.dispatch([targetId]);
    return result;
  },
});
