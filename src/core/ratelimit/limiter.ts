import { sql } from "../db.js";
import { env, type Env } from "../env.js";
import { AppError } from "../errors.js";
import { createPostgresLimiter } from "./postgres.js";
import { describeWindow, rateLimitPolicy, type RateLimitPolicy, type RateLimitPolicyName } from "./policies.js";

/** One decision of a limiter. `remaining` never goes below 0; `resetAt` is when the current window ends. */
export interface RateLimitResult {
  success: boolean;
  limit: number;
  remaining: number;
  resetAt: Date;
}

/**
 * The limiter port: count `cost` (default 1) against `identifier` under `policy` and say whether it fits. Two
 * implementations with the same fixed-window semantics: @upstash/ratelimit on Upstash Redis (cloud; a call Redis
 * cannot answer is decided by the Postgres limiter instead) and Postgres (the local home, and self-hosters without
 * Upstash). Requests over the limit are counted too, as @upstash/ratelimit does; the window's end resets everything.
 */
export interface Limiter {
  readonly backend: LimiterBackend;
  limit(policy: RateLimitPolicy, identifier: string, cost?: number): Promise<RateLimitResult>;
}

export type LimiterBackend = "upstash" | "postgres";

/** Which limiter the environment selects: Upstash when both UPSTASH_REDIS_REST_* are set, otherwise Postgres. */
export function limiterBackend(e: Env = env()): LimiterBackend {
  const url = e.UPSTASH_REDIS_REST_URL;
  const token = e.UPSTASH_REDIS_REST_TOKEN;
  if (url && token) return "upstash";
  if (url || token) {
    throw new Error("Invalid environment: set both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN, or neither");
  }
  return "postgres";
}

let chosen: { env: Env; limiter: Promise<Limiter> } | undefined;

/**
 * The limiter for this instance, created once per environment (so a warm function reuses its Upstash client and
 * @upstash/ratelimit's in-memory block cache). The Upstash SDK is loaded only when it is the one in use.
 */
export function limiter(): Promise<Limiter> {
  const e = env();
  if (chosen?.env !== e) {
    const backend = limiterBackend(e);
    const created: Promise<Limiter> =
      backend === "upstash"
        ? import("./upstash.js").then((m) =>
            m.createUpstashLimiter({
              url: e.UPSTASH_REDIS_REST_URL!,
              token: e.UPSTASH_REDIS_REST_TOKEN!,
              // A Redis outage is decided in Postgres, never waved through.
              fallback: createPostgresLimiter(sql),
            }),
          )
        : Promise.resolve(createPostgresLimiter(sql));
    chosen = { env: e, limiter: created };
    created.catch(() => {
      if (chosen?.limiter === created) chosen = undefined;
    });
  }
  return chosen.limiter;
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

/**
 * Counts one use (or `cost` uses) of a named policy, e.g. `enforceRateLimit("posts", profileId)`, and throws 429
 * `rate_limited` when it is over the limit. Returns the decision (for headers) when it fits.
 *
 * Call it with an identifier the caller is entitled to (an API key's own `caller.profileId`, or a profile whose
 * membership was checked), and outside `ctx.db(...)`: the Postgres limiter uses its own pooled connection, and
 * waiting for one while holding another can exhaust a small pool under load.
 */
export async function enforceRateLimit(
  name: RateLimitPolicyName,
  identifier: string,
  options: { cost?: number } = {},
): Promise<RateLimitResult> {
  const policy = rateLimitPolicy(name);
  const result = await (await limiter()).limit(policy, identifier, options.cost ?? 1);
  if (!result.success) throw rateLimitedError(policy, result);
  return result;
}
