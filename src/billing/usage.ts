import type { Tx } from "../core/pg.js";
import { apiRequestsPerMonthLimit } from "../core/quota.js";
import { apiUsageMeter } from "../core/ratelimit/api-usage.js";
import { effectivePlan, fairUsePostsPerMonth, plans, type PlanId } from "../core/plans.js";

/** The profiles a user created: the same count the profile limit checks (monthly usage is `monthlyUsage`). */
export interface Usage {
  profiles: number;
}

/** The caller's usage, read in the caller's own session (RLS applies). */
export async function currentUsage(tx: Tx, userId: string): Promise<Usage> {
  const [row] = await tx<{ profiles: number }[]>`
    select count(*)::int as profiles from public.profiles where created_by = ${userId}`;
  return { profiles: row?.profiles ?? 0 };
}

/** One monthly quota: how much of it this billing month has used, and the limit (null: unlimited). */
export interface QuotaUsage {
  used: number;
  limit: number | null;
}

/**
 * This billing month's counted usage, for `GET /api/billing/subscription-status`. The month is the user's Stripe
 * billing period when there is one, otherwise the calendar month in UTC (`public.usage_period`, the same rule the
 * counting uses); times are ISO-8601 UTC.
 */
export interface MonthlyUsage {
  plan: PlanId;
  periodStart: string;
  resetsAt: string;
  /** Posts created this month. On Growth and Agency `limit` is null (unlimited, fair use) and `fairUseLimit` is set. */
  posts: QuotaUsage & { fairUseLimit?: number };
  /** API requests this month (those this process has not written yet included); `limit` is 0 on plans without API access. */
  apiRequests: QuotaUsage;
}

/** Reads the user's monthly usage in the caller's session (RLS: a user reads only their own counters). */
export async function monthlyUsage(tx: Tx, userId: string): Promise<MonthlyUsage> {
  const [row] = await tx<{ status: string; plan: string; period_start: Date; period_end: Date; posts: number; api_requests: number }[]>`
    select coalesce(b.status, 'free') as status, coalesce(b.plan, 'free') as plan, p.period_start, p.period_end,
           coalesce(max(c.used) filter (where c.metric = 'posts'), 0)::int as posts,
           coalesce(max(c.used) filter (where c.metric = 'api_requests'), 0)::int as api_requests
    from (select ${userId}::uuid as user_id) me
    left join public.billing_subscriptions b on b.user_id = me.user_id
    cross join lateral public.usage_period(b.current_period_end, now()) p
    left join public.usage_counters c on c.user_id = me.user_id and c.period_start = p.period_start
    group by b.status, b.plan, p.period_start, p.period_end`;
  const plan = effectivePlan(row!.status, row!.plan);
  const fairUseLimit = plans[plan].postsPerMonth === null ? fairUsePostsPerMonth[plan] : undefined;
  return {
    plan,
    periodStart: row!.period_start.toISOString(),
    resetsAt: row!.period_end.toISOString(),
    posts: { used: row!.posts, limit: plans[plan].postsPerMonth, ...(fairUseLimit ? { fairUseLimit } : {}) },
    // Including the requests this process has counted but not yet written (src/core/ratelimit/api-usage.ts).
    apiRequests: { used: apiUsageMeter().estimate(userId, row!.period_start, row!.api_requests), limit: apiRequestsPerMonthLimit(plan) },
  };
}
