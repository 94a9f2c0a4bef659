import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { log } from "../log.js";
import type { Limiter } from "./types.js";
import type { RateLimitPolicy } from "./policies.js";

export interface UpstashLimiterOptions {
  url: string;
  token: string;
  /** Key prefix in Redis; tests give each run its own. */
  prefix?: string;
  /** How long to wait for Redis before deciding with the fallback instead, in ms. */
  timeoutMs?: number;
  /**
   * Decides a call when Upstash cannot (an error, or no answer within `timeoutMs`): the Postgres limiter in the
   * cloud, so a Redis outage keeps every limit, counted in Postgres for as long as it lasts.
   */
  fallback: Limiter;
  /** At most one warning per this many ms while Upstash keeps failing (default: a minute). */
  warnEveryMs?: number;
}

/**
 * The cloud limiter: @upstash/ratelimit's fixed window on Upstash Redis over its REST API. One Redis client and one
 * Ratelimit per policy, kept for the life of the instance (the Ratelimit's in-memory cache then answers an identifier
 * that is already blocked without calling Redis until its window resets).
 *
 * When Redis does not answer within `timeoutMs` (@upstash/ratelimit's reason "timeout") or the call fails, that call
 * is decided by `fallback` (the Postgres limiter, same fixed-window semantics and bucket names): a Redis outage
 * never lets everything through. It logs a warning at most once per `warnEveryMs`, with how many calls fell back.
 */
export function createUpstashLimiter(options: UpstashLimiterOptions): Limiter {
  const redis = new Redis({ url: options.url, token: options.token, retry: { retries: 1 }, enableTelemetry: false });
  const prefix = options.prefix ?? "amplify:ratelimit";
  const timeout = options.timeoutMs ?? 1000;
  const warnEveryMs = options.warnEveryMs ?? 60_000;
  const byPolicy = new Map<string, Ratelimit>();
  let lastWarnedAt = Number.NEGATIVE_INFINITY;
  let fellBackSinceWarning = 0;
  const ratelimitFor = (policy: RateLimitPolicy) => {
    const key = `${policy.name}:${policy.limit}:${policy.windowMs}`;
    let rl = byPolicy.get(key);
    if (!rl) {
      rl = new Ratelimit({
        redis,
        limiter: Ratelimit.fixedWindow(policy.limit, `${policy.windowMs} ms`),
        prefix: `${prefix}:${policy.name}`,
        timeout,
        analytics: false,
      });
      byPolicy.set(key, rl);
    }
    return rl;
  };
  return {
    backend: "upstash",
    async limit(policy, identifier, cost = 1) {
      const fallBack = (why: string, error?: unknown) => {
        fellBackSinceWarning++;
        const now = Date.now();
        if (now - lastWarnedAt >= warnEveryMs) {
          log.warn(`rate limiter: ${why}; deciding in Postgres instead`, {
            policy: policy.name,
            timeoutMs: timeout,
            fellBack: fellBackSinceWarning,
            error,
          });
          lastWarnedAt = now;
          fellBackSinceWarning = 0;
        }
        return options.fallback.limit(policy, identifier, cost);
      };
      let r: Awaited<ReturnType<Ratelimit["limit"]>>;
      try {
        r = await ratelimitFor(policy).limit(identifier, { rate: cost });
      } catch (error) {
        return fallBack("Upstash call failed", error);
      }
      if (r.reason === "timeout") return fallBack("Upstash did not answer in time");
      return { success: r.success, limit: r.limit, remaining: Math.max(0, r.remaining), resetAt: new Date(r.reset) };
    },
  };
}
