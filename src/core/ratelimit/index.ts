/**
 * Rate limits and API metering: the named policies, the limiter port and its three implementations (Upstash,
 * in-process, Postgres), the pipeline's metering step and the batched monthly API usage counter.
 */
export { rateLimitTable, resolvePolicies, type RateLimitPolicy, type RateLimitPolicyName } from "./policies.js";
export { createLimiter, limiterBackend, rateLimitedError, rateLimitHeaders } from "./limiter.js";
export type { Limiter, LimiterBackend, RateLimitResult } from "./types.js";
export { limitApiRequest, type ApiRequestMetering } from "./limit-api-request.js";
export { apiUsageMeter, flushApiUsage } from "./api-usage.js";
