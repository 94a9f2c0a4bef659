import type { RateLimitPolicy } from "./policies.js";

/** One decision of a limiter. `remaining` never goes below 0; `resetAt` is when the current window ends. */
export interface RateLimitResult {
  success: boolean;
  limit: number;
  remaining: number;
  resetAt: Date;
}

export type LimiterBackend = "upstash" | "postgres" | "memory";

/**
 * The limiter port: count `cost` (default 1) against `identifier` under `policy` and say whether it fits. Three
 * implementations with the same fixed-window semantics: @upstash/ratelimit on Upstash Redis (cloud; a call Redis
 * cannot answer is decided by the Postgres limiter instead), in-process (the local home, one process:
 * `RATE_LIMIT_STORE=memory`) and Postgres (self-hosters without Upstash). Requests over the limit are counted too, as @upstash/ratelimit does; the window's end resets everything.
 */
export interface Limiter {
  readonly backend: LimiterBackend;
  limit(policy: RateLimitPolicy, identifier: string, cost?: number): Promise<RateLimitResult>;
}
