/**
 * Plans as data: the one table every limit check reads (contract: "Pricing (GBP)"). `null` means unlimited.
 * Prices are in pence per month. Stripe price ids come from STRIPE_PRICE_ID_<PLAN> (issue: billing).
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

/** The plans sold through Stripe Checkout (Free needs no Stripe at all). */
export const paidPlanIds = ["starter", "growth", "agency", "unlimited"] as const satisfies readonly PlanId[];
export type PaidPlanId = (typeof paidPlanIds)[number];

/**
 * Add-ons (contract: "Add-ons"): extra subscription items next to the plan's price, billed monthly in GBP. An extra
 * profile pack is bought at a quantity; white-label is one per workspace.
 */
export const addOns = {
  extra_profile: { name: "Extra profile pack", pricePence: 800, unit: "profile" },
  white_label: { name: "White-label", pricePence: 4900, unit: "workspace" },
} as const;

export type AddOnId = keyof typeof addOns;

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
 * Stripe's subscription status → the status we store. Stripe's statuses are stored as they are; one we do not know
 * yet (a future API version) is stored as `unpaid`, which grants nothing until we learn what it means.
 */
export function billingStatusFromStripe(status: string): BillingStatus {
  return status !== "free" && (billingStatuses as readonly string[]).includes(status) ? (status as BillingStatus) : "unpaid";
}

/**
 * What a status means for the customer, next to `isPaidActive` above (the one entitlement rule):
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
 * The add-ons a subscription grants: its items while it grants the plan (paid or grace), none once it lapses. The
 * webhook stores what this returns, so every limit check can read the row's add-ons as they are.
 */
export function grantedAddOns(status: string, plan: string, items: { extraProfiles: number; whiteLabel: boolean }) {
  return isPaidActive(status, plan) ? items : { extraProfiles: 0, whiteLabel: false };
}

/**
 * True while a Stripe subscription still exists and can bill (so a second checkout would bill twice): changes to it
 * go through the billing portal instead.
 */
export function hasLiveSubscription(status: string, plan: string): boolean {
  return plan !== "free" && ["active", "trialing", "past_due", "unpaid", "paused"].includes(status);
}

/**
 * "Unlimited posts (fair use)": the monthly ceiling on posts created that Growth and Agency still enforce (their
 * `postsPerMonth` is null, as the contract advertises). It is there to stop runaway automation, not to be reached:
 * about 200 posts a month for every profile the plan allows. The Unlimited plan has none.
 */
export const fairUsePostsPerMonth: Partial<Record<PlanId, number>> = { growth: 10_000, agency: 20_000 };
