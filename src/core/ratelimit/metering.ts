import type { PlanId } from "../plans.js";
import type { QuotaStanding } from "../quota.js";
import { decisionOf } from "./postgres.js";
import type { RateLimitPolicy } from "./policies.js";
import type { RateLimitResult } from "./types.js";

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
export function meteringOf(row: MeteringColumns, plan: PlanId, apiRequests: RateLimitPolicy): ApiRequestMetering | undefined {
  if (!row.metered) return undefined;
  const metering: ApiRequestMetering = {};
  if (row.rate_used !== null && row.rate_window_start !== null) {
    metering.rateLimit = decisionOf(apiRequests, row.rate_used, row.rate_window_start);
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

