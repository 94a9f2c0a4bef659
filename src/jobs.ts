import { analyticsSyncJob } from "./analytics/sync/job.js";
import { pruneOAuthStatesJob } from "./connections/job.js";
import { tokenHealthJob } from "./connections/refresh-job.js";
import type { Job } from "./core/jobs/index.js";
import { publishJob } from "./publishing/job.js";
import { recurringJob } from "./recurring/job.js";
import { webhookJob } from "./webhooks/job.js";

/**
 * Every background job, one line each. The queue worker (netlify/functions/queue-worker.ts) serves them at
 * `/api/queue/<name>`; the sweep (netlify/functions/sweep.ts) runs their due work in this order.
 */
export const jobs: readonly Job[] = [
  publishJob,
  webhookJob,
  pruneOAuthStatesJob,
  recurringJob,
  analyticsSyncJob,
  tokenHealthJob,
];
