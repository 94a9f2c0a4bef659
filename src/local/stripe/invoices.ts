import { pounds } from "./http.js";
import { newId, nowSeconds, type RequestContext, type StripeObject, type StripeState } from "./state.js";
import { insert, load } from "./store.js";

/** Invoices, created paid or open when a subscription starts or renews. */

export async function createInvoice(s: StripeState, ctx: RequestContext, sub: StripeObject, reason: string, paid: boolean): Promise<StripeObject> {
  const items = (sub.items as { data: StripeObject[] }).data;
  const customer = (await load<StripeObject>(s, ctx, "customer", String(sub.customer)))?.data;
  const id = newId("in");
  const now = nowSeconds();
  const lines = items.map((item) => {
    const price = item.price as StripeObject;
    const quantity = Number(item.quantity ?? 1);
    const amount = Number(price.unit_amount) * quantity;
    return {
      id: newId("il"),
      object: "line_item",
      amount,
      currency: "gbp",
      description: `${quantity} × ${String(price.nickname)} (at ${pounds(Number(price.unit_amount))} / month)`,
      discountable: true,
      discounts: [],
      invoice: id,
      livemode: false,
      metadata: {},
      parent: {
        invoice_item_details: null,
        subscription_item_details: { invoice_item: null, proration: false, proration_details: null, subscription: sub.id, subscription_item: item.id },
        type: "subscription_item_details",
      },
      period: { end: item.current_period_end, start: item.current_period_start },
      pricing: { price_details: { price: price.id, product: price.product }, type: "price_details", unit_amount_decimal: String(price.unit_amount) },
      quantity,
      taxes: [],
    };
  });
  const total = lines.reduce((sum, l) => sum + l.amount, 0);
  const first = items[0];
  const invoice: StripeObject = {
    id,
    object: "invoice",
    account_country: "GB",
    account_name: "Amplify Scheduler (local)",
    amount_due: total,
    amount_paid: paid ? total : 0,
    amount_remaining: paid ? 0 : total,
    attempt_count: 1,
    attempted: true,
    auto_advance: !paid,
    billing_reason: reason,
    collection_method: "charge_automatically",
    created: now,
    currency: "gbp",
    customer: sub.customer,
    customer_email: customer?.email ?? null,
    hosted_invoice_url: null,
    lines: { object: "list", data: lines, has_more: false, total_count: lines.length, url: `/v1/invoices/${id}/lines` },
    livemode: false,
    metadata: {},
    next_payment_attempt: paid ? null : now + 3 * 24 * 60 * 60,
    number: `${String(customer?.invoice_prefix ?? "LOCAL")}-${String(Date.now()).slice(-4)}`,
    parent: {
      quote_details: null,
      subscription_details: { metadata: sub.metadata, subscription: sub.id },
      type: "subscription_details",
    },
    period_end: first?.current_period_end ?? now,
    period_start: first?.current_period_start ?? now,
    status: paid ? "paid" : "open",
    status_transitions: { finalized_at: now, marked_uncollectible_at: null, paid_at: paid ? now : null, voided_at: null },
    subtotal: total,
    total,
  };
  await insert(s, ctx, invoice);
  return invoice;
}
