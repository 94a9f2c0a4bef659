import { env } from "../core/env.js";
import type { RetrySchedule } from "../core/jobs/retry.js";

/** The longest wait between two attempts (Standard Webhooks retries over days, at most a day apart). */
export const MAX_RETRY_DELAY_SECONDS = 86_400;

/**
 * Attempt n + 1 waits base × 4^(n−1), ±20%, capped at a day, and at least the receiver's Retry-After when it sent
 * one. Its own module so the job registry (src/jobs.ts) can name it without loading the delivery code.
 */
export const deliveryRetry: RetrySchedule = {
  kind: "exponential",
  baseSeconds: () => env().WEBHOOK_RETRY_BASE_SECONDS,
  factor: 4,
  capSeconds: MAX_RETRY_DELAY_SECONDS,
  jitter: 0.2,
  hint: "at-least",
};
