import type { PlanId } from "../plans.js";
import { apiRequestsPerMonthLimit } from "../quota.js";
import { decisionOf } from "./postgres.js";
import type { RateLimitPolicy } from "./policies.js";
import type { RateLimitResult } from "./types.js";

/** The owner's monthly API request quota as the key lookup read it (counting happens in `limitApiRequest`). */
export interface ApiQuotaRead {
  /** null: unlimited. */
  limit: number | null;
  /** The owner's counter for this billing month as written so far (batches not yet written are not in it). */
  dbUsed: number;
  plan: PlanId;
  periodStart: Date;
  periodEnd: Date;
}

/**
 * What the API-key lookup found for this request. With the Postgres limiter the per-key rate limit is counted in the
 * lookup's own statement (`rateLimit`); otherwise `limitApiRequest` asks the limiter (Upstash, or in-process).
 * `quota` is there when the owner may use the API (a paid, active plan); otherwise the billing gate answers 402.
 */
export interface ApiRequestMetering {
  rateLimit?: RateLimitResult;
  quota?: ApiQuotaRead;
}

/** The metering columns of the key lookup (src/core/auth.ts). */
export interface MeteringColumns {
  quota_used: number;
  rate_used: number | null;
  rate_window_start: Date | null;
  period_start: Date;
  period_end: Date;
}

/** Reads what the key lookup found for an active key of an active member. */
export function meteringOf(row: MeteringColumns, plan: PlanId, paidActive: boolean, apiRequests: RateLimitPolicy): ApiRequestMetering {
  const metering: ApiRequestMetering = {};
  if (row.rate_used !== null && row.rate_window_start !== null) {
    metering.rateLimit = decisionOf(apiRequests, row.rate_used, row.rate_window_start);
  }
  if (paidActive) {
    metering.quota = {
      limit: apiRequestsPerMonthLimit(plan),
      dbUsed: row.quota_used,
      plan,
      periodStart: row.period_start,
      periodEnd: row.period_end,
    };
  }
  return metering;
}
