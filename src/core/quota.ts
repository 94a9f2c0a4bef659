import { billingStatuses, effectivePlan, fairUsePostsPerMonth, plans, type PlanId } from "./plans.js";
import type { Tx } from "./pg.js";
import { AppError } from "./errors.js";
import { secondsUntil } from "./ratelimit/limiter.js";

/**
 * Monthly quotas (each plan's posts and API requests per month, src/core/plans.ts), counted durably in Postgres per user and billing month (the Stripe
 * billing period when there is one, otherwise the calendar month in UTC; see `public.usage_period`). Counting is one
 * conditional upsert, so concurrent requests at the edge never get more through than the limit and no count is lost.
 *
 * - API requests: the API-key lookup reads the owner's counter in its one statement (src/core/auth.ts); the request is
 *   counted in this process and written in batches (src/core/ratelimit/api-usage.ts, which states how far a burst
 *   spread over several instances can overshoot: (instances − 1) × USAGE_FLUSH_BATCH; with one process, not at all).
 * - Posts created: counted by the posts feature inside its own transaction with `consumePostQuota`.
 */
export type QuotaName = "posts_per_month" | "api_requests_per_month";

/** Posts a plan may create per month: its advertised limit, else its fair-use ceiling, else none (null). */
export function postsPerMonthLimit(plan: PlanId): number | null {
  return plans[plan].postsPerMonth ?? fairUsePostsPerMonth[plan] ?? null;
}

/** API requests a plan may make per month (null: unlimited). */
export function apiRequestsPerMonthLimit(plan: PlanId): number | null {
  return plans[plan].apiKeys ? plans[plan].apiRequestsPerMonth : 0;
}

/**
 * The limit for every subscription state, keyed '<status>:<plan>' as the database functions look it up, built from
 * the plan table and its one entitlement rule so that SQL never restates either. A state missing from the map is not
 * counted at all (for API requests: a key whose owner has no paid plan, which answers 402 instead). JSON null means
 * unlimited.
 */
export type LimitsByState = Record<string, number | null>;

function limitsByState(limitOf: (status: string, plan: string) => number | null | undefined): LimitsByState {
  const entries: [string, number | null][] = [];
  for (const status of billingStatuses) {
    for (const plan of Object.keys(plans)) {
      const limit = limitOf(status, plan);
      if (limit !== undefined) entries.push([`${status}:${plan}`, limit]);
    }
  }
  return Object.fromEntries(entries);
}

let postLimits: LimitsByState | undefined;

export const postQuotaLimits = () =>
  (postLimits ??= limitsByState((status, plan) => postsPerMonthLimit(effectivePlan(status, plan))));


/** Where a user stands against one quota after (or instead of) counting. */
export interface QuotaStanding {
  name: QuotaName;
  /** False when counting would have gone over the limit: nothing was counted. */
  counted: boolean;
  used: number;
  /** null: unlimited. */
  limit: number | null;
  plan: PlanId;
  periodStart: Date;
  resetsAt: Date;
}

const quotaWording: Record<QuotaName, string> = {
  posts_per_month: "posts",
  api_requests_per_month: "API requests",
};

/** 429 `quota_exceeded`, naming the quota and when it resets (also as Retry-After, in seconds). */
export function quotaExceededError(q: QuotaStanding, headers: Record<string, string> = {}): AppError {
  const fairUse = q.name === "posts_per_month" && plans[q.plan].postsPerMonth === null;
  const what = `${(q.limit ?? 0).toLocaleString("en-GB")} ${quotaWording[q.name]} per month`;
  const retryAfterSeconds = secondsUntil(q.resetsAt);
  return new AppError(
    "quota_exceeded",
    `Monthly quota reached: ${fairUse ? `the fair-use limit of ${what}` : what} on the ${plans[q.plan].name} plan. ` +
      `It resets at ${q.resetsAt.toISOString()}.`,
    {
      details: {
        limit: q.name,
        max: q.limit,
        used: q.used,
        plan: q.plan,
        periodStart: q.periodStart.toISOString(),
        resetAt: q.resetsAt.toISOString(),
        retryAfterSeconds,
      },
      headers: { ...headers, "retry-after": String(retryAfterSeconds) },
    },
  );
}

interface PostQuotaRow {
  counted: boolean;
  used: number;
  quota: number | null;
  period_start: Date;
  period_end: Date;
  status: string;
  plan: string;
}

/**
 * Counts `count` new posts against the monthly quota of the profile's owner (whose plan pays for its posts) inside the
 * caller's transaction, atomically checking and incrementing, and throws 429 `quota_exceeded` (counting nothing) when
 * they would not fit. Because it runs in the posts feature's own transaction, a post that is not created in the end
 * gives its count back. Concurrent callers queue on the counter until the first commits, so at the edge exactly the
 * limit gets through.
 *
 * The database derives the owner from the profile (never from the caller) and refuses with 42501 unless the caller is
 * an active member of the profile (an API key: of its own profile); the service connection may count for any profile.
 */
export async function consumePostQuota(tx: Tx, profileId: string, count = 1): Promise<QuotaStanding> {
  const [row] = await tx<PostQuotaRow[]>`
    select counted, used, quota, period_start, period_end, status, plan
    from public.consume_post_quota(${profileId}::uuid, ${count}::integer, ${tx.json(postQuotaLimits())}::jsonb)`;
  const standing: QuotaStanding = {
    name: "posts_per_month",
    counted: row!.counted,
    used: row!.used,
    limit: row!.quota,
    plan: effectivePlan(row!.status, row!.plan),
    periodStart: row!.period_start,
    resetsAt: row!.period_end,
  };
  if (!standing.counted) throw quotaExceededError(standing);
  return standing;
}
