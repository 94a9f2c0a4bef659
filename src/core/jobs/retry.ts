/**
 * Retry schedules as data. A job's own settle step decides whether an attempt is retried (retryable category, attempts
 * left); the schedule says when: `base × factor^(attempt − 1)`, capped, with ± `jitter` of it at random, and what to
 * do with the other side's own hint (a network's rate-limit reset, a receiver's Retry-After).
 */
export interface RetrySchedule {
  kind: "exponential";
  /** Seconds before the second attempt (read when used, so a test's environment applies). */
  baseSeconds: number | (() => number);
  /** Each further attempt waits this many times longer than the one before. */
  factor: number;
  /** The longest wait, whatever the attempt number or the hint says. Unbounded when absent. */
  capSeconds?: number;
  /** Spread: 0.2 is ±20% of the backoff, so attempts that failed together do not all come back together. */
  jitter: number;
  /**
   * The other side's hint, when it gave one: `"replaces"` waits exactly that long (plus `hintMarginSeconds`) instead
   * of the backoff; `"at-least"` waits the longer of the two.
   */
  hint: "replaces" | "at-least";
  hintMarginSeconds?: number;
}

/** Seconds to wait after attempt `attempt` (1 for the first) failed. */
export function retryDelaySeconds(
  schedule: RetrySchedule,
  attempt: number,
  hintSeconds?: number,
  random = Math.random,
): number {
  const base = typeof schedule.baseSeconds === "function" ? schedule.baseSeconds() : schedule.baseSeconds;
  const cap = schedule.capSeconds ?? Number.POSITIVE_INFINITY;
  const spread = 1 - schedule.jitter + 2 * schedule.jitter * random();
  const backoff = Math.min(base * schedule.factor ** Math.max(0, attempt - 1), cap) * spread;
  if (hintSeconds === undefined) return Math.min(backoff, cap);
  const hinted = hintSeconds + (schedule.hintMarginSeconds ?? 0);
  return Math.min(schedule.hint === "replaces" ? hinted : Math.max(backoff, hinted), cap);
}
