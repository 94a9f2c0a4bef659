/**
 * What Stripe sells and how its answers map to ours: the plans and add-ons sold through Checkout, and Stripe's
 * subscription statuses. The plan table and the entitlement rules are core's (src/core/plans.ts); every module,
 * billing's included, imports them from there. The Stripe price ids are in ./prices.ts.
 */
import { isPaidActive, billingStatuses, type BillingStatus, type PlanId } from "../core/plans.js";

/** The plans sold through Stripe Checkout (Free needs no Stripe at all). */
export const paidPlanIds = ["starter", "growth", "agency", "unlimited"] as const satisfies readonly PlanId[];
export type PaidPlanId = (typeof paidPlanIds)[number];

/**
 * Add-ons: extra subscription items next to the plan's price, billed monthly in GBP. An extra
 * profile pack is bought at a quantity; white-label is one per workspace.
 */
export const addOns = {
  extra_profile: { name: "Extra profile pack", pricePence: 800, unit: "profile" },
  white_label: { name: "White-label", pricePence: 4900, unit: "workspace" },
} as const;

export type AddOnId = keyof typeof addOns;

/**
 * Stripe's subscription status → the status we store. Stripe's statuses are stored as they are; one we do not know
 * yet (a future API version) is stored as `unpaid`, which grants nothing until we learn what it means.
 */
export function billingStatusFromStripe(status: string): BillingStatus {
  return status !== "free" && (billingStatuses as readonly string[]).includes(status) ? (status as BillingStatus) : "unpaid";
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

