/** Rate limits: the named policies, the limiter port and its two implementations, and the pipeline's metering step. */
export { rateLimitTable, resolvePolicies, type RateLimitPolicy, type RateLimitPolicyName } from "./policies.js";
export { createLimiter, limiterBackend, rateLimitedError, rateLimitHeaders } from "./limiter.js";
export type { Limiter, LimiterBackend, RateLimitResult } from "./types.js";
export { limitApiRequest, type ApiRequestMetering } from "./limit-api-request.js";
