import { z } from "zod";
import { billingStatuses, plans, type PlanId } from "../core/plans.js";
import { paidPlanIds } from "./plans.js";

// --- requests ----------------------------------------------------------------------------------------------------------

export const createCheckoutSessionSchema = z
  .strictObject({
    plan: z.enum(paidPlanIds, { error: `plan must be one of: ${paidPlanIds.join(", ")}` }),
    extraProfiles: z.number().int().min(0).max(1000).default(0),
    whiteLabel: z.boolean().default(false),
  })
  .refine((b) => b.extraProfiles === 0 || plans[b.plan].profiles !== null, {
    path: ["extraProfiles"],
    message: "This plan already has unlimited profiles; extra profile packs add nothing to it",
  });

// --- responses (every success answer, exactly as sent) -------------------------------------------------------------------

const isoDateTime = z.iso.datetime();
const planIds = Object.keys(plans) as [PlanId, ...PlanId[]];
/** A limit; null means unlimited. */
const limit = z.number().int().nullable();
const quotaUsage = z.strictObject({ used: z.number().int(), limit });

export const subscriptionStatusResponse = z.strictObject({
  /** The plan whose limits apply now (Free once a subscription lapses). */
  plan: z.enum(planIds),
  planName: z.string(),
  status: z.enum(billingStatuses),
  active: z.boolean(),
  /** What the status grants: `paid`, `grace` while a failed renewal is retried, or `free`. */
  entitlement: z.enum(["paid", "grace", "free"]),
  /** The paid plan on record, if any. */
  subscribedPlan: z.enum(paidPlanIds).nullable(),
  currentPeriodEnd: isoDateTime.nullable(),
  cancelAtPeriodEnd: z.boolean(),
  limits: z.strictObject({
    profiles: limit,
    postsPerMonth: limit,
    apiRequestsPerMonth: limit,
    apiKeys: z.boolean(),
    webhooks: z.boolean(),
  }),
  addOns: z.strictObject({ extraProfiles: z.number().int(), whiteLabel: z.boolean() }),
  usage: z.strictObject({
    profiles: z.number().int(),
    /** On plans with unlimited posts (fair use), `limit` is null and `fairUseLimit` is the monthly ceiling. */
    posts: quotaUsage.extend({ fairUseLimit: z.number().int().optional() }),
    /** `limit` is 0 on plans without API access. */
    apiRequests: quotaUsage,
    periodStart: isoDateTime,
    resetsAt: isoDateTime,
  }),
  hasBillingAccount: z.boolean(),
});

/** A hosted Stripe page (checkout or billing portal) to send the browser to. */
export const hostedPageResponse = z.strictObject({ url: z.url() });

/** What processing a Stripe event came to (see processStripeEvent). */
export const stripeEventOutcomes = ["processed", "duplicate", "ignored", "unknown_customer", "stale"] as const;

export const stripeWebhookResponse = z.strictObject({ received: z.literal(true), outcome: z.enum(stripeEventOutcomes) });
