import type { Tx } from "../core/db.js";
import { billingRowOf } from "./checkout.js";
import { effectivePlan, isPaidActive, plans, profileLimit, type PaidPlanId } from "./plans.js";
import { currentUsage } from "./usage.js";

/**
 * The caller's plan and standing, for the dashboard. `plan` is the plan whose limits apply now (Free once a
 * subscription lapses); `subscribedPlan` is the paid plan on record, if any. Limits are read from the plan table;
 * `null` means unlimited.
 */
export async function subscriptionStatus(tx: Tx, userId: string) {
  const row = await billingRowOf(tx, userId);
  const usage = await currentUsage(tx, userId);
  const plan = effectivePlan(row.status, row.plan);
  const active = isPaidActive(row.status, row.plan);
  const limits = plans[plan];
  return {
    plan,
    planName: limits.name,
    status: row.status,
    active,
    subscribedPlan: row.plan === "free" ? null : (row.plan as PaidPlanId),
    currentPeriodEnd: row.current_period_end?.toISOString() ?? null,
    cancelAtPeriodEnd: row.cancel_at_period_end,
    limits: {
      profiles: profileLimit(plan, row.extra_profiles),
      postsPerMonth: limits.postsPerMonth,
      apiRequestsPerMonth: limits.apiKeys ? limits.apiRequestsPerMonth : 0,
      apiKeys: limits.apiKeys,
      webhooks: limits.webhooks,
    },
    addOns: { extraProfiles: row.extra_profiles, whiteLabel: row.white_label },
    usage,
    hasBillingAccount: row.stripe_customer_id !== null,
  };
}
