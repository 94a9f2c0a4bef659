import type { Sql } from "../pg.js";
import type { Limiter, RateLimitResult } from "./types.js";
import type { RateLimitPolicy } from "./policies.js";

/** The bucket a policy keeps for one identifier (the same shape the key lookup uses for `api_requests`). */
export const bucketOf = (policy: Pick<RateLimitPolicy, "name">, identifier: string) => `${policy.name}:${identifier}`;

/** A decision from a window's total, as `public.rate_limit_hit` returns it. */
export function decisionOf(policy: RateLimitPolicy, used: number, windowStart: Date): RateLimitResult {
  return {
    success: used <= policy.limit,
    limit: policy.limit,
    remaining: Math.max(0, policy.limit - used),
    resetAt: new Date(windowStart.getTime() + policy.windowMs),
  };
}

/**
 * The Postgres limiter: one atomic upsert per decision (`public.rate_limit_hit`, a fixed window aligned to the epoch
 * like @upstash/ratelimit's), on the service connection. The per-key API request limit does not come through here
 * on the hot path: the key lookup counts it in the same statement (src/core/auth.ts).
 */
export function createPostgresLimiter(db: () => Sql): Limiter {
  return {
    backend: "postgres",
    async limit(policy, identifier, cost = 1) {
      const [row] = await db()<{ used: number; window_start: Date }[]>`
        select used, window_start from public.rate_limit_hit(${bucketOf(policy, identifier)}, ${policy.windowMs}::bigint, ${cost}::integer)`;
      return decisionOf(policy, row!.used, row!.window_start);
    },
  };
}
