import type { Env } from "../env.js";
import { AppError } from "../errors.js";
import type { Sql } from "../pg.js";
import { processMemoryLimiter } from "./memory.js";
import { createPostgresLimiter } from "./postgres.js";
import { describeWindow, type RateLimitPolicy } from "./policies.js";
import type { Limiter, LimiterBackend, RateLimitResult } from "./types.js";

export type { Limiter, LimiterBackend, RateLimitResult } from "./types.js";

/**
 * Which limiter the environment selects: Upstash when both UPSTASH_REDIS_REST_* are set; otherwise in-process when
 * `RATE_LIMIT_STORE=memory` (the local home, one process); otherwise Postgres.
 */
export function limiterBackend(
  e: Pick<Env, "UPSTASH_REDIS_REST_URL" | "UPSTASH_REDIS_REST_TOKEN"> & Partial<Pick<Env, "RATE_LIMIT_STORE">>,
): LimiterBackend {
  const url = e.UPSTASH_REDIS_REST_URL;
  const token = e.UPSTASH_REDIS_REST_TOKEN;
  if (url && token) return "upstash";
  if (url || token) {
    throw new Error("Invalid environment: set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither");
  }
  return e.RATE_LIMIT_STORE === "memory" ? "memory" : "postgres";
}

/**
 * The limiter the environment selects (`services()` keeps one per environment, so a warm function reuses its Upstash
 * client and @upstash/ratelimit's in-memory block cache, and the local home keeps one in-process count). The Upstash
 * SDK is loaded only when it is the one in use.
 */
export function createLimiter(e: Env, sql: () => Sql): Promise<Limiter> {
  const backend = limiterBackend(e);
  if (backend === "postgres") return Promise.resolve(createPostgresLimiter(sql));
  if (backend === "memory") return Promise.resolve(processMemoryLimiter());
  return import("./upstash.js").then((m) =>
    m.createUpstashLimiter({
      url: e.UPSTASH_REDIS_REST_URL!,
      token: e.UPSTASH_REDIS_REST_TOKEN!,
      // A Redis outage is decided in Postgres, never waved through.
      fallback: createPostgresLimiter(sql),
    }),
  );
}

/** Unix seconds, as X-RateLimit-Reset carries them. */
const unixSeconds = (d: Date) => Math.ceil(d.getTime() / 1000);

/** The contract's headers for one decision. */
export function rateLimitHeaders(result: RateLimitResult): Record<string, string> {
  return {
    "x-ratelimit-limit": String(result.limit),
    "x-ratelimit-remaining": String(result.remaining),
    "x-ratelimit-reset": String(unixSeconds(result.resetAt)),
  };
}

/** Whole seconds until `at`, at least 1 (a Retry-After of 0 invites a tight loop). */
export function secondsUntil(at: Date, now = Date.now()): number {
  return Math.max(1, Math.ceil((at.getTime() - now) / 1000));
}

/** 429 `rate_limited`, naming the limit, with Retry-After and the X-RateLimit-* headers of the decision. */
export function rateLimitedError(policy: RateLimitPolicy, result: RateLimitResult): AppError {
  const retryAfterSeconds = secondsUntil(result.resetAt);
  const window = describeWindow(policy.windowMs);
  return new AppError(
    "rate_limited",
    `Rate limit exceeded: ${result.limit} ${policy.counts} per ${window} per ${policy.per}. Retry in ${retryAfterSeconds} s.`,
    {
      details: {
        limit: policy.name,
        max: result.limit,
        window,
        per: policy.per,
        resetAt: result.resetAt.toISOString(),
        retryAfterSeconds,
      },
      headers: { ...rateLimitHeaders(result), "retry-after": String(retryAfterSeconds) },
    },
  );
}
