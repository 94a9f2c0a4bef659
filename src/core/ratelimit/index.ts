/** Rate limits: the named policies, the limiter port and its two implementations, and the pipeline step. */
export { rateLimitPolicy, rateLimitTable, type RateLimitPolicy, type RateLimitPolicyName } from "./policies.js";
export {
  enforceRateLimit,
  limiter,
  limiterBackend,
  rateLimitedError,
  rateLimitHeaders,
  type Limiter,
  type LimiterBackend,
  type RateLimitResult,
} from "./limiter.js";
export { limitApiRequest, type ApiRequestMetering } from "./limit-api-request.js";
