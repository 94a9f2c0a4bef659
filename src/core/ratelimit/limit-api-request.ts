import type { PlanId } from "../../billing/plans.js";
import type { Caller } from "../auth.js";
import { quotaExceededError, refundApiRequest, type QuotaStanding } from "../quota.js";
import { limiter, rateLimitedError, rateLimitHeaders, type RateLimitResult } from "./limiter.js";
import { rateLimitPolicy } from "./policies.js";
import { decisionOf } from "./postgres.js";

/**
 * What the API-key lookup counted for this request. With the Postgres limiter the per-key rate limit is decided in
 * the lookup's own statement (`rateLimit`); with Upstash it is decided afterwards by `limitApiRequest`. The monthly
 * quota is counted in the lookup either way, unless the rate limit refused the request first (`quota` absent).
 */
export interface ApiRequestMetering {
  rateLimit?: RateLimitResult;
  quota?: QuotaStanding;
}

/** The metering columns of the key lookup (src/core/auth.ts). */
export interface MeteringColumns {
  metered: boolean;
  rate_used: number | null;
  rate_window_start: Date | null;
  quota_attempted: boolean | null;
  quota_used: number | null;
  quota_limit: number | null;
  period_start: Date;
  period_end: Date;
}

/** Reads what the key lookup counted; undefined when the key's owner may not use the API (402 follows). */
export function meteringOf(row: MeteringColumns, plan: PlanId): ApiRequestMetering | undefined {
  if (!row.metered) return undefined;
  const metering: ApiRequestMetering = {};
  if (row.rate_used !== null && row.rate_window_start !== null) {
    metering.rateLimit = decisionOf(rateLimitPolicy("api_requests"), row.rate_used, row.rate_window_start);
  }
  if (row.quota_attempted) {
    metering.quota = {
      name: "api_requests_per_month",
      counted: row.quota_used !== null,
      used: row.quota_used ?? row.quota_limit ?? 0,
      limit: row.quota_limit,
      plan,
      periodStart: row.period_start,
      resetsAt: row.period_end,
    };
  }
  return metering;
}

/**
 * Step 3 of the pipeline, for API keys: the per-key rate limit (429 `rate_limited` with Retry-After), then the monthly
 * API request quota (429 `quota_exceeded`). Returns the X-RateLimit-* headers every response to this request carries
 * (errors included); browser sessions get none.
 */
export async function limitApiRequest(caller: Caller | null): Promise<Record<string, string>> {
  if (caller?.kind !== "apiKey" || !caller.metering) return {};
  const { metering } = caller;
  const policy = rateLimitPolicy("api_requests");
  let decision = metering.rateLimit;
  if (!decision) {
    decision = await (await limiter()).limit(policy, caller.keyId);
    // The lookup counted this request against the monthly quota before the limiter refused it: give it back.
    if (!decision.success && metering.quota?.counted) await refundApiRequest(caller.userId, metering.quota.periodStart);
  }
  if (!decision.success) throw rateLimitedError(policy, decision);
  const headers = rateLimitHeaders(decision);
  if (metering.quota && !metering.quota.counted) throw quotaExceededError(metering.quota, headers);
  return headers;
}
