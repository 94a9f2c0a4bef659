import type { RateLimitPolicy } from "./policies.js";
import { bucketOf, decisionOf } from "./postgres.js";
import type { Limiter } from "./types.js";

interface Window {
  /** Epoch ms the window started (windows are aligned to the epoch, as Postgres' and @upstash/ratelimit's are). */
  start: number;
  end: number;
  used: number;
}

export interface MemoryLimiter extends Limiter {
  /** Buckets currently held (for tests and the memory benchmark). */
  size(): number;
}

/**
 * The in-process limiter: the same fixed windows, numbers and headers as the Postgres and Upstash limiters, kept in a
 * Map in this process. Exact only where one process serves every request for an identifier: the local home
 * (`npm start`, the tests), which selects it with `RATE_LIMIT_STORE=memory`; the cloud refuses that setting, since
 * each function instance would count on its own. A decision is synchronous (no await between reading and writing the
 * count), so concurrent requests can never both take the last unit.
 *
 * Windows that have ended are dropped at most once per `sweepEveryMs` (default: a minute), so the Map holds only the
 * buckets used within the last window or so, however many identifiers pass through.
 */
export function createMemoryLimiter(options: { now?: () => number; sweepEveryMs?: number } = {}): MemoryLimiter {
  const now = options.now ?? Date.now;
  const sweepEveryMs = options.sweepEveryMs ?? 60_000;
  const windows = new Map<string, Window>();
  let nextSweep = now() + sweepEveryMs;

  const sweep = (t: number) => {
    for (const [bucket, w] of windows) if (w.end <= t) windows.delete(bucket);
    nextSweep = t + sweepEveryMs;
  };

  const hit = (policy: RateLimitPolicy, identifier: string, cost: number) => {
    const t = now();
    if (t >= nextSweep) sweep(t);
    const start = Math.floor(t / policy.windowMs) * policy.windowMs;
    const bucket = bucketOf(policy, identifier);
    let w = windows.get(bucket);
    // A newer window replaces the bucket; a call that read the clock just before it turned over counts towards the
    // newer one, never back (as public.rate_limit_hit does).
    if (!w || start > w.start) {
      w = { start, end: start + policy.windowMs, used: 0 };
      windows.set(bucket, w);
    }
    // Counted whether or not it fits, as the other limiters do; the window's end resets everything.
    w.used += cost;
    return decisionOf(policy, w.used, new Date(w.start));
  };

  return {
    backend: "memory",
    limit: (policy, identifier, cost = 1) => Promise.resolve(hit(policy, identifier, cost)),
    size: () => windows.size,
  };
}

let shared: MemoryLimiter | undefined;

/**
 * The process's one in-process limiter. `services()` is rebuilt whenever the environment is re-read, and the counts
 * must outlive that (they are the process's, not one environment's).
 */
export function processMemoryLimiter(): MemoryLimiter {
  return (shared ??= createMemoryLimiter());
}
