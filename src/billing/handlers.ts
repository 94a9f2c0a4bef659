import { z } from "zod";
import { route } from "../core/api.js";
import { env } from "../core/env.js";
import { readBodyText } from "../core/http.js";
import {
  assertCheckoutAllowed,
  billingRowOf,
  checkoutLineItems,
  createCheckoutSession,
  createPortalSession,
  ensureStripeCustomer,
} from "./checkout.js";
import { paidPlanIds, plans } from "./plans.js";
import { subscriptionStatus } from "./subscription-status.js";
import { processStripeEvent, verifyStripeEvent } from "./webhook.js";

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

// GET /api/billing/subscription-status — plan, status, period, limits, add-ons and usage
export const subscriptionStatusHandler = route({
  auth: "session",
  handle: async ({ db, caller }) => db((tx) => subscriptionStatus(tx, caller.userId)),
});

// POST /api/billing/create-checkout-session — a Stripe Checkout page for a paid plan (and add-ons)
export const createCheckoutSessionHandler = route({
  auth: "session",
  body: createCheckoutSessionSchema,
  handle: async ({ db, caller, body }) => {
    const row = await db((tx) => billingRowOf(tx, caller.userId));
    assertCheckoutAllowed(row, body.plan);
    const lineItems = checkoutLineItems(body);
    const customerId = await ensureStripeCustomer(caller.userId, caller.email, row.stripe_customer_id);
    return { url: await createCheckoutSession(caller.userId, customerId, body.plan, lineItems) };
  },
});

// POST /api/billing/create-portal-session — a Stripe billing portal page to change plan, pay or cancel
export const createPortalSessionHandler = route({
  auth: "session",
  handle: async ({ db, caller }) => {
    const row = await db((tx) => billingRowOf(tx, caller.userId));
    return { url: await createPortalSession(row.stripe_customer_id) };
  },
});

// POST /api/billing/webhook — Stripe's signed events (no user: the signature is the credential)
export const stripeWebhookHandler = route({
  auth: "none",
  handle: async ({ req }) => {
    const payload = await readBodyText(req, env().MAX_BODY_BYTES);
    const event = await verifyStripeEvent(payload, req.headers.get("stripe-signature"));
    const outcome = await processStripeEvent(event);
    return { received: true, outcome };
  },
});
