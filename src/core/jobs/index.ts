/**
 * Background jobs. A job is one file (`defineJob` in src/<feature>/job.ts) plus one line in src/jobs.ts; from that it
 * gets its queue callback (`POST /api/queue/<name>`, netlify/functions/queue-worker.ts), a typed enqueue, its place in
 * the sweep (netlify/functions/sweep.ts), and, when its due work lives in a table, the outbox: dispatch with
 * deduplication ids, lease recovery, resend of messages that never arrived.
 */
export {
  defineJob,
  jobContext,
  PermanentJobError,
  QUEUE_PATH_PREFIX,
  type Job,
  type JobContext,
  type JobDefinition,
  type JobRunContext,
} from "./define.js";
export { BATCH, dedupId, LOOKAHEAD_SECONDS, RESEND_AFTER_SECONDS, type Outbox } from "./outbox.js";
export { retryDelaySeconds, type RetrySchedule } from "./retry.js";
export { sweep, type SweepReport } from "./sweep.js";
export { queueWorker } from "./worker.js";
