import { analyticsSyncJob } from "./analytics/sync/job.js";
import { pruneOAuthStatesJob } from "./connections/job.js";
import { tokenHealthJob } from "./connections/token-health-job.js";
import type { Job } from "./core/jobs/index.js";
import { publishJob } from "./publishing/job.js";
import { recurringJob } from "./recurring/job.js";
import { webhookJob } from "./webhooks/job.js";

/**
 * Every background job, one line each. The queue worker (netlify/functions/queue-worker.ts) serves them at
 * `/api/queue/<name>`; the sweep (netlify/functions/sweep.ts) runs their due work in this order. Each job's module
 * holds what the registry needs (name, schema, outbox, period) and imports the code of one attempt when it first runs,
 * so the worker and the sweep do not load every job's code at a cold start.
 */
export const jobs: readonly Job[] = [
  publishJob,
  webhookJob,
  pruneOAuthStatesJob,
  recurringJob,
  analyticsSyncJob,
  tokenHealthJob,
];
