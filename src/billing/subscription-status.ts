import type { Tx } from "../core/pg.js";
import { billingRowOf } from "./checkout.js";
import { effectivePlan, entitlementOf, isPaidActive, plans, profileLimit } from "../core/plans.js";
import type { PaidPlanId } from "./plans.js";
import { currentUsage, monthlyUsage } from "./usage.js";

/**
 * The caller's plan and standing, for the dashboard. `plan` is the plan whose limits apply now (Free once a
 * subscription lapses); `subscribedPlan` is the paid plan on record, if any; `entitlement` says what the status
 * grants (`paid`, `grace` while a failed renewal is retried, or `free`). Limits are read from the plan table; `null`
 * means unlimited.
 */
export async function subscriptionStatus(tx: Tx, userId: string) {
  const row = await billingRowOf(tx, userId);
  const { profiles } = await currentUsage(tx, userId);
  const { posts, apiRequests, periodStart, resetsAt } = await monthlyUsage(tx, userId);
  const plan = effectivePlan(row.status, row.plan);
  const active = isPaidActive(row.status, row.plan);
  const limits = plans[plan];
  return {
    plan,
    planName: limits.name,
    status: row.status,
    active,
    entitlement: entitlementOf(row.status, row.plan),
    subscribedPlan: row.plan === "free" ? null : (row.plan as PaidPlanId),
    currentPeriodEnd: row.current_period_end?.toISOString() ?? null,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    limits: {
      profiles: profileLimit(plan, row.extra_profiles),
      postsPerMonth: limits.postsPerMonth,
      apiRequestsPerMonth: limits.apiRequestsPerMonth,
      apiKeys: limits.apiKeys,
      webhooks: limits.webhooks,
    },
    addOns: { extraProfiles: row.extra_profiles, whiteLabel: row.white_label },
    usage: { profiles, posts, apiRequests, periodStart, resetsAt },
    hasBillingAccount: row.stripe_customer_id !== null,
  };
}
