import type { Caller } from "../auth.js";
import type { Sql } from "../pg.js";
import { quotaExceededError } from "../quota.js";
import type { Services } from "../services.js";
import { apiUsageMeter } from "./api-usage.js";
import { rateLimitedError, rateLimitHeaders } from "./limiter.js";

export type { ApiRequestMetering } from "./metering.js";

/**
 * The pipeline's metering step, for API keys: the per-key rate limit (429 `rate_limited` with Retry-After), then the
 * monthly API request quota (429 `quota_exceeded`). A request the rate limit refuses is not counted against the month.
 * The month is counted in this process's batch (src/core/ratelimit/api-usage.ts: no write on the request's path).
 * Returns the X-RateLimit-* headers every response to this request carries (errors included); browser sessions get
 * none.
 */
export async function limitApiRequest(caller: Caller | null, services: Services, sql: Sql): Promise<Record<string, string>> {
  if (caller?.kind !== "apiKey" || !caller.metering) return {};
  const { metering } = caller;
  const policy = services.limiter.policy("api_requests");
  const decision = metering.rateLimit ?? (await services.limiter.limit("api_requests", caller.keyId));
  if (!decision.success) throw rateLimitedError(policy, decision);
  const headers = rateLimitHeaders(decision);
  const quota = metering.quota;
  if (!quota) return headers;
  const counted = await apiUsageMeter().count(
    { userId: caller.userId, periodStart: quota.periodStart, periodEnd: quota.periodEnd, limit: quota.limit, dbUsed: quota.dbUsed },
    sql,
    { intervalMs: services.env.USAGE_FLUSH_INTERVAL_MS, batch: services.env.USAGE_FLUSH_BATCH },
  );
  if (!counted.counted) {
    throw quotaExceededError(
      {
        name: "api_requests_per_month",
        counted: false,
        used: counted.used,
        limit: quota.limit,
        plan: quota.plan,
        periodStart: quota.periodStart,
        resetsAt: quota.periodEnd,
      },
      headers,
    );
  }
  return headers;
}
