import { emit } from "./events.js";
import { assertKnownParams, booleanParam, integerParam, metadataParam, stringParam } from "./form.js";
import { missing, stripeError } from "./http.js";
import { createInvoice } from "./invoices.js";
import { priceObject } from "./prices.js";
import {
  addMonth,
  newId,
  nowSeconds,
  type Json,
  type LineItemInput,
  type RequestContext,
  type StripeObject,
  type StripeState,
} from "./state.js";
import { insert, load, save } from "./store.js";

/** Subscriptions: start, list, update (cancel at period end, change items), cancel now, renew. */

export function subscriptionItem(s: StripeState, subscriptionId: string, li: LineItemInput, start: number, end: number): StripeObject {
  const price = priceObject(s, li.price, "price");
  return {
    id: newId("si"),
    object: "subscription_item",
    billing_thresholds: null,
    created: start,
    current_period_end: end,
    current_period_start: start,
    discounts: [],
    metadata: {},
    plan: {
      id: price.id,
      object: "plan",
      active: true,
      amount: price.unit_amount,
      billing_scheme: "per_unit",
      currency: "gbp",
      interval: "month",
      interval_count: 1,
      livemode: false,
      product: price.product,
      usage_type: "licensed",
    },
    price,
    quantity: li.quantity,
    subscription: subscriptionId,
    tax_rates: [],
  };
}

export async function startSubscription(s: StripeState, ctx: RequestContext, customerId: string, lineItems: LineItemInput[], metadata: Record<string, string>) {
  const start = nowSeconds();
  const end = addMonth(start);
  const id = newId("sub");
  const items = lineItems.map((li) => subscriptionItem(s, id, li, start, end));
  const subscription: StripeObject = {
    id,
    object: "subscription",
    application: null,
    application_fee_percent: null,
    automatic_tax: { disabled_reason: null, enabled: false, liability: null },
    billing_cycle_anchor: start,
    billing_cycle_anchor_config: null,
    billing_mode: { flexible: null, type: "classic" },
    cancel_at: null,
    cancel_at_period_end: false,
    canceled_at: null,
    cancellation_details: { comment: null, feedback: null, reason: null },
    collection_method: "charge_automatically",
    created: start,
    currency: "gbp",
    customer: customerId,
    days_until_due: null,
    default_payment_method: `pm_local_card_${customerId.slice(4, 12)}`,
    default_source: null,
    default_tax_rates: [],
    description: null,
    discounts: [],
    ended_at: null,
    invoice_settings: { account_tax_ids: null, issuer: { type: "self" } },
    items: { object: "list", data: items, has_more: false, total_count: items.length, url: `/v1/subscription_items?subscription=${id}` },
    latest_invoice: null,
    livemode: false,
    metadata,
    next_pending_invoice_item_invoice: null,
    on_behalf_of: null,
    pause_collection: null,
    payment_settings: { payment_method_options: null, payment_method_types: null, save_default_payment_method: "off" },
    pending_invoice_item_interval: null,
    pending_setup_intent: null,
    pending_update: null,
    schedule: null,
    start_date: start,
    status: "active",
    test_clock: null,
    transfer_data: null,
    trial_end: null,
    trial_settings: { end_behavior: { missing_payment_method: "create_invoice" } },
    trial_start: null,
  };
  const invoice = await createInvoice(s, ctx, subscription, "subscription_create", true);
  subscription.latest_invoice = invoice.id;
  await insert(s, ctx, subscription, { fail_next_renewal: false });
  return { subscription, invoice };
}

export async function listSubscriptions(s: StripeState, ctx: RequestContext, params: Json): Promise<unknown> {
  assertKnownParams(params, ["customer", "status", "limit", "expand"]);
  const customer = stringParam(params, "customer");
  const status = stringParam(params, "status");
  const limit = params.limit === undefined ? 10 : Math.min(100, integerParam(params.limit, "limit"));
  const rows = await ctx.tx<{ data: StripeObject }[]>`
    select data from local_stripe.objects
    where object = 'subscription' and ${customer ? ctx.tx`customer = ${customer}` : ctx.tx`true`}
    order by (data ->> 'created')::bigint desc, id desc`;
  const all = rows
    .map((r) => r.data)
    .filter((s) => (status && status !== "all" ? s.status === status : status === "all" || s.status !== "canceled"));
  return { object: "list", data: all.slice(0, limit), has_more: all.length > limit, url: "/v1/subscriptions" };
}

export async function lockSubscription(s: StripeState, ctx: RequestContext, id: string) {
  const found = await load<StripeObject>(s, ctx, "subscription", id, true);
  if (!found) throw missing("subscription", id, "id");
  return { subscription: structuredClone(found.data), internal: found.internal };
}

export function assertNotEnded(s: StripeState, sub: StripeObject): void {
  if (sub.status === "canceled" || sub.status === "incomplete_expired") {
    throw stripeError(400, "invalid_request_error", "A canceled subscription can only update its cancellation_details and metadata.");
  }
}

export async function updateSubscription(s: StripeState, ctx: RequestContext, id: string, params: Json): Promise<StripeObject> {
  assertKnownParams(params, ["cancel_at_period_end", "metadata", "items", "proration_behavior", "expand"]);
  const { subscription: sub } = await lockSubscription(s, ctx, id);
  assertNotEnded(s, sub);
  const previous: Json = {};
  if (params.cancel_at_period_end !== undefined) {
    setCancelAtPeriodEnd(s, sub, booleanParam(params.cancel_at_period_end, "cancel_at_period_end"), previous);
  }
  if (params.metadata !== undefined) {
    previous.metadata = sub.metadata;
    sub.metadata = { ...(sub.metadata as Json), ...metadataParam(params.metadata, "metadata") };
  }
  if (params.items !== undefined) updateItems(s, sub, params.items, previous);
  await save(s, ctx, sub);
  if (Object.keys(previous).length) await emit(s, ctx, "customer.subscription.updated", sub, previous);
  return sub;
}

export function setCancelAtPeriodEnd(s: StripeState, sub: StripeObject, cancel: boolean, previous: Json): void {
  if (sub.cancel_at_period_end === cancel) return;
  Object.assign(previous, { cancel_at_period_end: sub.cancel_at_period_end, cancel_at: sub.cancel_at, canceled_at: sub.canceled_at });
  const periodEnd = (sub.items as { data: StripeObject[] }).data[0]?.current_period_end ?? null;
  Object.assign(sub, {
    cancel_at_period_end: cancel,
    cancel_at: cancel ? periodEnd : null,
    canceled_at: cancel ? nowSeconds() : null,
    cancellation_details: { comment: null, feedback: null, reason: cancel ? "cancellation_requested" : null },
  });
}

/** `items[n][id|price|quantity|deleted]`: change an item's price or quantity, add an item, or remove one. */
export function updateItems(s: StripeState, sub: StripeObject, raw: unknown, previous: Json): void {
  if (!Array.isArray(raw)) throw stripeError(400, "invalid_request_error", "Invalid array", "parameter_invalid_array", "items");
  const list = sub.items as { data: StripeObject[]; total_count: number };
  previous.items = structuredClone(sub.items);
  const template = list.data[0];
  raw.forEach((entry, i) => {
    const change = (entry ?? {}) as Json;
    assertKnownParams(change, ["id", "price", "quantity", "deleted"]);
    const itemId = stringParam(change, "id");
    const existing = itemId ? list.data.find((it) => it.id === itemId) : undefined;
    if (itemId && !existing) throw missing("subscription_item", itemId, `items[${i}][id]`);
    if (existing && change.deleted !== undefined && booleanParam(change.deleted, `items[${i}][deleted]`)) {
      list.data = list.data.filter((it) => it !== existing);
      return;
    }
    const priceId = stringParam(change, "price");
    const quantity = change.quantity === undefined ? undefined : integerParam(change.quantity, `items[${i}][quantity]`);
    if (existing) {
      if (priceId) {
        existing.price = priceObject(s, priceId, `items[${i}][price]`);
        (existing.plan as Json).id = priceId;
        (existing.plan as Json).amount = (existing.price as Json).unit_amount;
      }
      if (quantity !== undefined) existing.quantity = quantity;
      return;
    }
    if (!priceId) throw stripeError(400, "invalid_request_error", `Missing required param: items[${i}][price].`, "parameter_missing", `items[${i}][price]`);
    const start = Number(template?.current_period_start ?? nowSeconds());
    const end = Number(template?.current_period_end ?? addMonth(start));
    list.data.push(subscriptionItem(s, sub.id, { price: priceId, quantity: quantity ?? 1 }, start, end));
  });
  list.total_count = list.data.length;
}

export async function cancelSubscriptionNow(s: StripeState, ctx: RequestContext, id: string, reason: string): Promise<StripeObject> {
  const { subscription: sub } = await lockSubscription(s, ctx, id);
  assertNotEnded(s, sub);
  const now = nowSeconds();
  Object.assign(sub, {
    status: "canceled",
    canceled_at: sub.canceled_at ?? now,
    ended_at: now,
    cancellation_details: { comment: null, feedback: null, reason },
  });
  await save(s, ctx, sub);
  await emit(s, ctx, "customer.subscription.deleted", sub);
  return sub;
}

/**
 * The end of a billing period, now: a subscription set to cancel ends; a past_due one retries its open invoice;
 * otherwise every item moves to the next month and a new invoice is paid, or fails when a failure was requested
 * (status `past_due`, `invoice.payment_failed`).
 */
export async function renew(s: StripeState, ctx: RequestContext, id: string): Promise<StripeObject> {
  const { subscription: sub, internal } = await lockSubscription(s, ctx, id);
  assertNotEnded(s, sub);
  const fail = internal.fail_next_renewal === true;
  if (sub.cancel_at_period_end === true) {
    const ended = await cancelSubscriptionNow(s, ctx, id, "cancellation_requested");
    return ended;
  }
  const previous: Json = { status: sub.status };
  let invoice: StripeObject;
  if (sub.status === "past_due" && typeof sub.latest_invoice === "string") {
    const open = (await load<StripeObject>(s, ctx, "invoice", sub.latest_invoice, true))!.data;
    invoice = { ...open, attempt_count: Number(open.attempt_count) + 1 };
    if (!fail) {
      const now = nowSeconds();
      Object.assign(invoice, {
        status: "paid",
        amount_paid: invoice.amount_due,
        amount_remaining: 0,
        next_payment_attempt: null,
        status_transitions: { ...(invoice.status_transitions as Json), paid_at: now },
      });
    }
    await save(s, ctx, invoice);
  } else {
    previous.items = structuredClone(sub.items);
    for (const item of (sub.items as { data: StripeObject[] }).data) {
      const start = Number(item.current_period_end);
      Object.assign(item, { current_period_start: start, current_period_end: addMonth(start) });
    }
    invoice = await createInvoice(s, ctx, sub, "subscription_cycle", !fail);
    previous.latest_invoice = sub.latest_invoice;
    sub.latest_invoice = invoice.id;
  }
  sub.status = fail ? "past_due" : "active";
  await save(s, ctx, sub, { ...internal, fail_next_renewal: false });
  await emit(s, ctx, fail ? "invoice.payment_failed" : "invoice.paid", invoice);
  if (previous.status === sub.status) delete previous.status;
  if (Object.keys(previous).length) await emit(s, ctx, "customer.subscription.updated", sub, previous);
  return sub;
}
