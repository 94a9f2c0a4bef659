import type Stripe from "stripe";
import type { CallerDb, ServiceDb, Tx } from "../core/pg.js";
import { env } from "../core/env.js";
import { AppError } from "../core/errors.js";
import { isPaidActive, plans, type BillingStatus, type PlanId } from "../core/plans.js";
import { hasLiveSubscription, type PaidPlanId } from "./plans.js";
import { priceEnvKeyOf, priceIdOf, type PricedItem } from "./prices.js";
import { callStripe, type StripeHandle } from "./stripe-client.js";

/** The caller's billing row, as their own session sees it. */
export interface BillingRow {
  status: BillingStatus;
  plan: PlanId;
  stripe_customer_id: string | null;
  current_period_end: Date | null;
  cancel_at_period_end: boolean;
  extra_profiles: number;
  white_label: boolean;
}

export async function billingRowOf(tx: Tx, userId: string): Promise<BillingRow> {
  const [row] = await tx<BillingRow[]>`
    select status, plan, stripe_customer_id, current_period_end, cancel_at_period_end, extra_profiles, white_label
    from public.billing_subscriptions where user_id = ${userId}`;
  // Every user has a row (the on_auth_user_created_billing trigger); a missing one reads as Free.
  return (
    row ?? {
      status: "free",
      plan: "free",
      stripe_customer_id: null,
      current_period_end: null,
      cancel_at_period_end: false,
      extra_profiles: 0,
      white_label: false,
    }
  );
}

/**
 * Where Stripe sends the browser back to. One place, so the dashboard can move without touching the flow; the
 * `{CHECKOUT_SESSION_ID}` placeholder is filled in by Stripe.
 */
export function billingReturnUrls() {
  const app = env().APP_URL.replace(/\/$/, "");
  return {
    success: `${app}/?billing=success&session_id={CHECKOUT_SESSION_ID}`,
    cancel: `${app}/?billing=canceled`,
    portalReturn: `${app}/?billing=portal`,
  };
}

/** A checkout is for a plan nobody is already paying for: 409 for the current plan, or while another plan bills. */
export function assertCheckoutAllowed(row: BillingRow, plan: PaidPlanId): void {
  if (isPaidActive(row.status, row.plan) && row.plan === plan) {
    throw new AppError("conflict", `You are already on the ${plans[plan].name} plan; manage it in the billing portal`);
  }
  if (hasLiveSubscription(row.status, row.plan)) {
    const current = plans[row.plan as PaidPlanId]?.name ?? row.plan;
    throw new AppError(
      "conflict",
      `You already have a ${current} subscription (${row.status}); change plans or fix payment in the billing portal instead of starting a new checkout`,
    );
  }
}

function requirePrice(item: PricedItem): string {
  const price = priceIdOf(item);
  if (!price) throw new AppError("service_unavailable", `Billing for '${item}' is not configured (${priceEnvKeyOf(item)} is not set)`);
  return price;
}

export interface CheckoutInput {
  plan: PaidPlanId;
  extraProfiles: number;
  whiteLabel: boolean;
}

type LineItems = Stripe.Checkout.SessionCreateParams.LineItem[];

/** The subscription's items: the plan, then any add-ons (503 when a needed price id is not configured). */
export function checkoutLineItems(input: CheckoutInput): LineItems {
  const items: LineItems = [{ price: requirePrice(input.plan), quantity: 1 }];
  if (input.extraProfiles > 0) items.push({ price: requirePrice("extra_profile"), quantity: input.extraProfiles });
  if (input.whiteLabel) items.push({ price: requirePrice("white_label"), quantity: 1 });
  return items;
}

/**
 * The user's Stripe customer, created once. The create call carries an idempotency key derived from the user, so
 * retries and concurrent checkouts get the same customer; the link is written with the service connection (users can
 * only read their billing row), and only where none is stored yet.
 */
export async function ensureStripeCustomer(
  serviceDb: ServiceDb,
  stripeHandle: StripeHandle,
  userId: string,
  email: string | undefined,
  existing: string | null,
): Promise<string> {
  if (existing) return existing;
  const customer = await callStripe(stripeHandle, "customers.create", (stripe) =>
    stripe.customers.create({ email, metadata: { user_id: userId } }, { idempotencyKey: `amplify-customer-${userId}` }),
  );
  return serviceDb(async (tx) => {
    const [linked] = await tx<{ stripe_customer_id: string }[]>`
      update public.billing_subscriptions set stripe_customer_id = coalesce(stripe_customer_id, ${customer.id})
      where user_id = ${userId}
      returning stripe_customer_id`;
    if (!linked) throw new AppError("not_found", "No billing record for this user");
    return linked.stripe_customer_id;
  });
}

/** A Stripe Checkout session in subscription mode for the plan and add-ons; no trial (paid plans have no free trial). */
export async function createCheckoutSession(
  stripeHandle: StripeHandle,
  userId: string,
  customerId: string,
  plan: PaidPlanId,
  lineItems: LineItems,
): Promise<string> {
  const urls = billingReturnUrls();
  const metadata = { user_id: userId, plan };
  const session = await callStripe(stripeHandle, "checkout.sessions.create", (stripe) =>
    stripe.checkout.sessions.create({
      mode: "subscription",
      customer: customerId,
      client_reference_id: userId,
      line_items: lineItems,
      success_url: urls.success,
      cancel_url: urls.cancel,
      metadata,
      subscription_data: { metadata },
    }),
  );
  if (!session.url) throw new AppError("service_unavailable", "The payment provider returned no checkout page");
  return session.url;
}

/** A short-lived billing portal session for the user's Stripe customer. */
export async function createPortalSession(stripeHandle: StripeHandle, customerId: string | null): Promise<string> {
  if (!customerId) {
    throw new AppError("conflict", "No billing account yet: subscribe to a paid plan first, then manage it in the billing portal");
  }
  const session = await callStripe(stripeHandle, "billingPortal.sessions.create", (stripe) =>
    stripe.billingPortal.sessions.create({ customer: customerId, return_url: billingReturnUrls().portalReturn }),
  );
  return session.url;
}

/**
 * A checkout page for a paid plan and add-ons: refused (409) while the user already pays for a plan, and the Stripe
 * customer created once before the session.
 */
export async function startCheckout(
  db: CallerDb,
  serviceDb: ServiceDb,
  stripeHandle: StripeHandle,
  user: { userId: string; email?: string },
  input: CheckoutInput,
): Promise<string> {
  const row = await db((tx) => billingRowOf(tx, user.userId));
  assertCheckoutAllowed(row, input.plan);
  const lineItems = checkoutLineItems(input);
  const customerId = await ensureStripeCustomer(serviceDb, stripeHandle, user.userId, user.email, row.stripe_customer_id);
  return createCheckoutSession(stripeHandle, user.userId, customerId, input.plan, lineItems);
}

/** The billing portal for the user's Stripe customer (409 before the first checkout). */
export async function openBillingPortal(db: CallerDb, stripeHandle: StripeHandle, userId: string): Promise<string> {
  const row = await db((tx) => billingRowOf(tx, userId));
  return createPortalSession(stripeHandle, row.stripe_customer_id);
}
