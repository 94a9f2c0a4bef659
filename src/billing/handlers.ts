import { route } from "../core/api.js";
import { readBodyText } from "../core/http.js";
import { openBillingPortal, startCheckout } from "./checkout.js";
import { createCheckoutSessionSchema, hostedPageResponse, stripeWebhookResponse, subscriptionStatusResponse } from "./schemas.js";
import { subscriptionStatus } from "./subscription-status.js";
import { processStripeEvent, verifyStripeEvent } from "./webhook.js";

// The caller's plan, status, period, limits, add-ons and usage
export const subscriptionStatusRoute = route("GET /api/billing/subscription-status", {
  auth: "session",
  response: subscriptionStatusResponse,
  handle: async ({ db, caller }) => db((tx) => subscriptionStatus(tx, caller.userId)),
});

// A Stripe Checkout page for a paid plan (and add-ons). The service connection links the Stripe customer to the user,
// whose own session can only read their billing row.
export const createCheckoutSessionRoute = route("POST /api/billing/create-checkout-session", {
  auth: "session",
  service: true,
  body: createCheckoutSessionSchema,
  response: hostedPageResponse,
  handle: async ({ db, serviceDb, services, caller, body }) => ({
    url: await startCheckout(db, serviceDb, services.stripe, { userId: caller.userId, email: caller.email }, body),
  }),
});

// A Stripe billing portal page to change plan, pay or cancel
export const createPortalSessionRoute = route("POST /api/billing/create-portal-session", {
  auth: "session",
  response: hostedPageResponse,
  handle: async ({ db, services, caller }) => ({ url: await openBillingPortal(db, services.stripe, caller.userId) }),
});

// Stripe's signed events: no user (the signature over the raw body is the credential), so the service connection
export const stripeWebhookRoute = route("POST /api/billing/webhook", {
  auth: "none",
  service: true,
  response: stripeWebhookResponse,
  handle: async ({ req, serviceDb, services }) => {
    const payload = await readBodyText(req, services.env.MAX_BODY_BYTES);
    const event = await verifyStripeEvent(services.stripe, payload, req.headers.get("stripe-signature"));
    return { received: true as const, outcome: await processStripeEvent(serviceDb, services.stripe, event) };
  },
});

export const billingRoutes = [subscriptionStatusRoute, createCheckoutSessionRoute, createPortalSessionRoute, stripeWebhookRoute];
