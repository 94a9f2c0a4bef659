/**
 * Plans as data: the one table every limit check reads (the published prices, in GBP). `null` means unlimited.
 * Prices are in pence per month. Billing (src/billing/) maps plans to Stripe prices.
 */
export const plans = {
  free: { name: "Free", pricePence: 0, profiles: 2, postsPerMonth: 25, apiRequestsPerMonth: 0, apiKeys: false, webhooks: false },
  starter: { name: "Starter", pricePence: 1900, profiles: 10, postsPerMonth: 150, apiRequestsPerMonth: 10_000, apiKeys: true, webhooks: true },
  growth: { name: "Growth", pricePence: 4900, profiles: 50, postsPerMonth: null, apiRequestsPerMonth: 100_000, apiKeys: true, webhooks: true },
  agency: { name: "Agency", pricePence: 9900, profiles: 100, postsPerMonth: null, apiRequestsPerMonth: 500_000, apiKeys: true, webhooks: true },
  unlimited: { name: "Unlimited", pricePence: 29900, profiles: null, postsPerMonth: null, apiRequestsPerMonth: null, apiKeys: true, webhooks: true },
} as const satisfies Record<string, PlanLimits>;

export interface PlanLimits {
  name: string;
  pricePence: number;
  profiles: number | null;
  postsPerMonth: number | null;
  apiRequestsPerMonth: number | null;
  apiKeys: boolean;
  webhooks: boolean;
}

export type PlanId = keyof typeof plans;

/** Each extra profile pack adds this many profiles (£8/profile/month). */
export const EXTRA_PROFILE_PACK_SIZE = 1;

/**
 * The one mapping from Stripe subscription status to entitlement. `past_due` keeps access while Stripe retries the
 * payment; every other non-active status falls back to the Free plan's limits (nothing is deleted).
 */
const payingStatuses = new Set(["active", "trialing", "past_due"]);

export function isPaidActive(status: string, plan: string): boolean {
  return plan !== "free" && payingStatuses.has(status);
}

/** The plan whose limits apply right now, given the stored subscription row. */
export function effectivePlan(status: string, plan: string): PlanId {
  return isPaidActive(status, plan) && plan in plans ? (plan as PlanId) : "free";
}

/** How many profiles a user may own: the plan's allowance plus any extra profile packs. */
export function profileLimit(plan: PlanId, extraProfiles: number): number | null {
  const base = plans[plan].profiles;
  return base === null ? null : base + extraProfiles * EXTRA_PROFILE_PACK_SIZE;
}

/** Every status a billing_subscriptions row can hold: ours (`free`, never in Stripe) plus Stripe's subscription statuses. */
export const billingStatuses = [
  "free",
  "incomplete",
  "incomplete_expired",
  "trialing",
  "active",
  "past_due",
  "canceled",
  "unpaid",
  "paused",
] as const;

export type BillingStatus = (typeof billingStatuses)[number];

/**
 * What a status means for the customer, next to `isPaidActive` (the one entitlement rule):
 * - `paid`: active (or trialing, though we never offer trials): the plan's limits, API keys and webhooks.
 * - `grace`: past_due: a renewal payment failed and Stripe is retrying; access continues meanwhile.
 * - `free`: free, canceled, incomplete, incomplete_expired, unpaid, paused: the Free plan's limits; existing API keys
 *   answer 402 and nothing is deleted, so paying again restores everything as it was.
 */
export function entitlementOf(status: string, plan: string): "paid" | "grace" | "free" {
  if (!isPaidActive(status, plan)) return "free";
  return status === "past_due" ? "grace" : "paid";
}

/**
 * "Unlimited posts (fair use)": the monthly ceiling on posts created that Growth and Agency still enforce (their
 * `postsPerMonth` is null, as the contract advertises). It is there to stop runaway automation, not to be reached:
 * about 200 posts a month for every profile the plan allows. The Unlimited plan has none.
 */
export const fairUsePostsPerMonth: Partial<Record<PlanId, number>> = { growth: 10_000, agency: 20_000 };
