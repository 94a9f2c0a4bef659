import { env } from "../core/env.js";
import type { RetrySchedule } from "../core/jobs/retry.js";

/**
 * After a retryable failure: base, 2×base, 4×base… (1 → 2 → 4 minutes with the default base), ±10%; a rate limit
 * with a known reset waits for that reset (plus a second) instead. Its own module so the job registry (src/jobs.ts)
 * can name it without loading the executor.
 */
export const publishRetry: RetrySchedule = {
  kind: "exponential",
  baseSeconds: () => env().PUBLISH_RETRY_BASE_SECONDS,
  factor: 2,
  jitter: 0.1,
  hint: "replaces",
  hintMarginSeconds: 1,
};
