import type Stripe from "stripe";
import type { Tx } from "../core/pg.js";
import { log } from "../core/log.js";
import type { BillingStatus } from "../core/plans.js";
import { billingStatusFromStripe, grantedAddOns, type PaidPlanId } from "./plans.js";
import { itemOfPriceId } from "./prices.js";

/** The part of a billing_subscriptions row that mirrors a Stripe subscription. */
export interface SubscriptionState {
  stripeSubscriptionId: string;
  stripeCustomerId: string;
  status: BillingStatus;
  plan: PaidPlanId | "free";
  currentPeriodEnd: Date | null;
  cancelAtPeriodEnd: boolean;
  extraProfiles: number;
  whiteLabel: boolean;
}

const idOf = (value: string | { id: string }): string => (typeof value === "string" ? value : value.id);

/**
 * Reads our state out of a Stripe subscription object: the plan from the item whose price is a plan's
 * STRIPE_PRICE_ID_*, the add-ons from the other items' quantities, the period end from the items (API 2025-03-31
 * "basil" and later carry periods per item, not on the subscription). A subscription with no price we sell keeps its
 * status but counts as Free; add-ons count only while the subscription grants the plan (`grantedAddOns`).
 */
export function subscriptionState(sub: Stripe.Subscription): SubscriptionState {
  let plan: PaidPlanId | "free" = "free";
  let planPeriodEnd: number | undefined;
  let extraProfiles = 0;
  let whiteLabel = false;
  const periodEnds: number[] = [];
  for (const item of sub.items.data) {
    const priced = itemOfPriceId(item.price.id);
    const quantity = item.quantity ?? 1;
    if (typeof item.current_period_end === "number") periodEnds.push(item.current_period_end);
    if (priced === "extra_profile") extraProfiles += quantity;
    else if (priced === "white_label") whiteLabel = whiteLabel || quantity > 0;
    else if (priced) {
      plan = priced;
      planPeriodEnd = item.current_period_end;
    }
  }
  if (plan === "free") log.warn("stripe subscription has no known plan price", { subscription: sub.id, prices: sub.items.data.map((i) => i.price.id) });
  const periodEnd = planPeriodEnd ?? (periodEnds.length ? Math.max(...periodEnds) : undefined);
  const status = billingStatusFromStripe(sub.status);
  return {
    stripeSubscriptionId: sub.id,
    stripeCustomerId: idOf(sub.customer),
    status,
    plan,
    currentPeriodEnd: periodEnd === undefined ? null : new Date(periodEnd * 1000),
    cancelAtPeriodEnd: sub.cancel_at_period_end,
    ...grantedAddOns(status, plan, { extraProfiles, whiteLabel }),
  };
}

/** What an event tells us about where a subscription lives; the subscription itself is always re-read from Stripe. */
export interface SubscriptionRef {
  subscriptionId: string;
  customerId: string | null;
  /** Our user id, from the checkout session's client_reference_id or the metadata we put on the subscription. */
  userId: string | null;
}

interface BillingRowRef {
  id: string;
  user_id: string;
  stripe_customer_id: string | null;
  stripe_subscription_id: string | null;
  status: string;
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Finds and locks the row an event is about: by subscription, then by customer, then by our user id. The lock
 * serialises concurrent events for one user, so the one that re-reads Stripe last also writes last.
 */
export async function lockBillingRow(tx: Tx, ref: SubscriptionRef): Promise<BillingRowRef | undefined> {
  const userId = ref.userId && uuidPattern.test(ref.userId) ? ref.userId : null;
  const [row] = await tx<BillingRowRef[]>`
    select id, user_id, stripe_customer_id, stripe_subscription_id, status
    from public.billing_subscriptions
    where stripe_subscription_id = ${ref.subscriptionId}
       or stripe_customer_id = ${ref.customerId}
       or user_id = ${userId}
    order by (stripe_subscription_id = ${ref.subscriptionId}) is true desc,
             (stripe_customer_id = ${ref.customerId}) is true desc
    limit 1
    for update`;
  return row;
}

/** Statuses after which a Stripe subscription can never bill or grant anything again. */
const endedStatuses = new Set<string>(["canceled", "incomplete_expired"]);

/**
 * Writes a freshly read subscription into the user's row. A subscription that has ended never displaces a different
 * subscription already on the row (a late event about an old subscription must not cancel the new one).
 */
export async function applySubscriptionState(tx: Tx, row: BillingRowRef, state: SubscriptionState): Promise<"applied" | "stale"> {
  if (row.stripe_subscription_id && row.stripe_subscription_id !== state.stripeSubscriptionId && endedStatuses.has(state.status)) {
    log.info("ignoring an ended subscription that is not the user's current one", {
      userId: row.user_id,
      current: row.stripe_subscription_id,
      ended: state.stripeSubscriptionId,
    });
    return "stale";
  }
  await tx`
    update public.billing_subscriptions set
      stripe_customer_id = coalesce(stripe_customer_id, ${state.stripeCustomerId}),
      stripe_subscription_id = ${state.stripeSubscriptionId},
      status = ${state.status},
      plan = ${state.plan},
      current_period_end = ${state.currentPeriodEnd},
      cancel_at_period_end = ${state.cancelAtPeriodEnd},
      extra_profiles = ${state.extraProfiles},
      white_label = ${state.whiteLabel},
      stripe_synced_at = now()
    where id = ${row.id}`;
  return "applied";
}
