import { Ratelimit } from "@upstash/ratelimit";
import { Redis } from "@upstash/redis";
import { log } from "../log.js";
import type { Limiter } from "./limiter.js";
import type { RateLimitPolicy } from "./policies.js";

export interface UpstashLimiterOptions {
  url: string;
  token: string;
  /** Key prefix in Redis; tests give each run its own. */
  prefix?: string;
  /** How long to wait for Redis before letting the request through (fail open), in ms. */
  timeoutMs?: number;
}

/**
 * The cloud limiter: @upstash/ratelimit's fixed window on Upstash Redis over its REST API. One Redis client and one
 * Ratelimit per policy, kept for the life of the instance (the Ratelimit's in-memory cache then answers an identifier
 * that is already blocked without calling Redis until its window resets).
 *
 * When Redis does not answer within `timeoutMs` (@upstash/ratelimit's reason "timeout") or the call fails, the request
 * is let through: availability over strictness. The decision is then reported with the policy's own numbers and
 * logged.
 */
export function createUpstashLimiter(options: UpstashLimiterOptions): Limiter {
  const redis = new Redis({ url: options.url, token: options.token, retry: { retries: 1 }, enableTelemetry: false });
  const prefix = options.prefix ?? "amplify:ratelimit";
  const timeout = options.timeoutMs ?? 1000;
  const byPolicy = new Map<string, Ratelimit>();
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
      const letThrough = (why: string, error?: unknown) => {
        log.warn(`rate limiter: ${why}; request let through`, { policy: policy.name, timeoutMs: timeout, error });
        const windowEnd = (Math.floor(Date.now() / policy.windowMs) + 1) * policy.windowMs;
        return { success: true, limit: policy.limit, remaining: policy.limit, resetAt: new Date(windowEnd) };
      };
      let r: Awaited<ReturnType<Ratelimit["limit"]>>;
      try {
        r = await ratelimitFor(policy).limit(identifier, { rate: cost });
      } catch (error) {
        return letThrough("Upstash call failed", error);
      }
      if (r.reason === "timeout") return letThrough("Upstash did not answer in time");
      return { success: r.success, limit: r.limit, remaining: Math.max(0, r.remaining), resetAt: new Date(r.reset) };
    },
  };
}
