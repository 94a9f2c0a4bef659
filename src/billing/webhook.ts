import type Stripe from "stripe";
import { AppError } from "../core/errors.js";
import { log } from "../core/log.js";
import type { ServiceDb } from "../core/pg.js";
import type { stripeEventOutcomes } from "./schemas.js";
import { callStripe, stripeWebhookSecret, type StripeHandle } from "./stripe-client.js";
import { applySubscriptionState, lockBillingRow, subscriptionState, type SubscriptionRef } from "./subscription-sync.js";

/**
 * Verifies the `Stripe-Signature` header over the exact raw body (HMAC-SHA256 with the endpoint's secret, timestamp
 * within Stripe's 5-minute tolerance) and returns the event. Anything else is a 400 and nothing is touched.
 */
export async function verifyStripeEvent(stripeHandle: StripeHandle, payload: string, signature: string | null): Promise<Stripe.Event> {
  const secret = stripeWebhookSecret();
  if (!signature) throw new AppError("bad_request", "Missing Stripe-Signature header");
  const stripe = await stripeHandle.client();
  try {
    return await stripe.webhooks.constructEventAsync(payload, signature, secret);
  } catch (error) {
    log.warn("stripe webhook refused", { reason: (error as Error).message });
    throw new AppError("bad_request", "Stripe signature verification failed");
  }
}

const idOf = (value: string | { id: string } | null | undefined): string | null =>
  value == null ? null : typeof value === "string" ? value : value.id;

/**
 * Which subscription (and whose) an event is about, for the events that change one: checkout.session.completed,
 * customer.subscription.created/updated/deleted, invoice.paid and invoice.payment_failed. Any other event is
 * acknowledged and recorded, nothing more.
 */
export function subscriptionRefOf(event: Stripe.Event): SubscriptionRef | undefined {
  switch (event.type) {
    case "checkout.session.completed": {
      const session = event.data.object;
      const subscriptionId = idOf(session.subscription);
      if (session.mode !== "subscription" || !subscriptionId) return undefined;
      return { subscriptionId, customerId: idOf(session.customer), userId: session.client_reference_id ?? session.metadata?.user_id ?? null };
    }
    case "customer.subscription.created":
    case "customer.subscription.updated":
    case "customer.subscription.deleted": {
      const sub = event.data.object;
      return { subscriptionId: sub.id, customerId: idOf(sub.customer), userId: sub.metadata?.user_id ?? null };
    }
    case "invoice.paid":
    case "invoice.payment_failed": {
      const invoice = event.data.object;
      // API 2025-03-31 ("basil") and later name the subscription under `parent`; older endpoint versions at the top.
      const details = invoice.parent?.subscription_details;
      const legacy = (invoice as unknown as { subscription?: string | { id: string } | null }).subscription;
      const subscriptionId = idOf(details?.subscription ?? legacy);
      if (!subscriptionId) return undefined;
      return { subscriptionId, customerId: idOf(invoice.customer), userId: details?.metadata?.user_id ?? null };
    }
    default:
      return undefined;
  }
}

export type EventOutcome = (typeof stripeEventOutcomes)[number];

/**
 * Processes one verified event exactly once. Its id is inserted under a unique key in the same transaction as the
 * change, so a second delivery (even a concurrent one, which waits on the first) finds it and does nothing, and a
 * failure rolls both back for Stripe to retry. Order does not matter: the subscription is re-read from Stripe while
 * the user's row is locked, so whichever event is processed last writes Stripe's latest state. Runs on the service
 * connection: the event is about a user, not from one.
 */
export async function processStripeEvent(serviceDb: ServiceDb, stripeHandle: StripeHandle, event: Stripe.Event): Promise<EventOutcome> {
  const ref = subscriptionRefOf(event);
  return serviceDb(async (tx) => {
    const [fresh] = await tx`
      insert into public.stripe_events (id, type, stripe_created_at, livemode)
      values (${event.id}, ${event.type}, ${new Date(event.created * 1000)}, ${event.livemode})
      on conflict (id) do nothing
      returning id`;
    if (!fresh) return "duplicate";
    if (!ref) return "ignored";
    const row = await lockBillingRow(tx, ref);
    if (!row) {
      // Not one of our customers (another integration on the same Stripe account): acknowledge and move on.
      log.warn("stripe event for an unknown customer", { eventId: event.id, type: event.type, ...ref });
      return "unknown_customer";
    }
    const subscription = await retrieveSubscription(stripeHandle, ref.subscriptionId);
    if (!subscription) {
      log.warn("stripe event for a subscription Stripe no longer has", { eventId: event.id, type: event.type, ...ref });
      return "ignored";
    }
    const applied = await applySubscriptionState(tx, row, subscriptionState(subscription));
    return applied === "applied" ? "processed" : applied;
  });
}

/** The subscription as Stripe has it now, or undefined when Stripe has no such subscription (retrying cannot help). */
async function retrieveSubscription(stripeHandle: StripeHandle, id: string): Promise<Stripe.Subscription | undefined> {
  try {
    return await callStripe(stripeHandle, "subscriptions.retrieve", (stripe) => stripe.subscriptions.retrieve(id));
  } catch (error) {
    if (error instanceof AppError && error.code === "not_found") return undefined;
    throw error;
  }
}
