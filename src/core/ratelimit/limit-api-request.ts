import type { Caller } from "../auth.js";
import type { Sql } from "../pg.js";
import { quotaExceededError, refundApiRequest } from "../quota.js";
import type { Services } from "../services.js";
import { rateLimitedError, rateLimitHeaders } from "./limiter.js";

export type { ApiRequestMetering } from "./metering.js";

/**
 * The pipeline's metering step, for API keys: the per-key rate limit (429 `rate_limited` with Retry-After), then the monthly
 * API request quota (429 `quota_exceeded`). Returns the X-RateLimit-* headers every response to this request carries
 * (errors included); browser sessions get none.
 */
export async function limitApiRequest(caller: Caller | null, services: Services, sql: Sql): Promise<Record<string, string>> {
  if (caller?.kind !== "apiKey" || !caller.metering) return {};
  const { metering } = caller;
  const policy = services.limiter.policy("api_requests");
  let decision = metering.rateLimit;
  if (!decision) {
    decision = await services.limiter.limit("api_requests", caller.keyId);
    // The lookup counted this request against the monthly quota before the limiter refused it: give it back.
    if (!decision.success && metering.quota?.counted) await refundApiRequest(sql, caller.userId, metering.quota.periodStart);
  }
  if (!decision.success) throw rateLimitedError(policy, decision);
  const headers = rateLimitHeaders(decision);
  if (metering.quota && !metering.quota.counted) throw quotaExceededError(metering.quota, headers);
  return headers;
}
