import { createCustomer } from "./customers.js";
import { emit } from "./events.js";
import { assertKnownParams, metadataParam, stringParam } from "./form.js";
import { escapeHtml, page, pounds, stripeError } from "./http.js";
import { lineItemsParam } from "./prices.js";
import {
  CHECKOUT_SESSION_SECONDS,
  newId,
  nowSeconds,
  type Json,
  type LineItemInput,
  type RequestContext,
  type StripeObject,
  type StripeState,
} from "./state.js";
import { insert, load, retrieve, save } from "./store.js";
import { startSubscription } from "./subscriptions.js";
import { enqueue } from "./webhooks.js";

/**
 * Checkout: `POST /v1/checkout/sessions` and the hosted page a customer sees (`GET /stripe/checkout/:id` shows the
 * order and a Pay button; POST pays: customer, subscription and paid invoice are created, their events delivered before
 * the redirect to the success URL).
 */

export async function createCheckoutSession(s: StripeState, ctx: RequestContext, params: Json): Promise<StripeObject> {
  assertKnownParams(params, [
    "mode",
    "line_items",
    "customer",
    "customer_email",
    "client_reference_id",
    "success_url",
    "cancel_url",
    "metadata",
    "subscription_data",
    "expand",
  ]);
  const mode = stringParam(params, "mode", true);
  if (mode !== "subscription") {
    throw stripeError(400, "invalid_request_error", "The local Stripe emulator supports mode=subscription only.", "parameter_invalid_string", "mode");
  }
  const lineItems = lineItemsParam(s, params.line_items);
  const customer = stringParam(params, "customer");
  if (customer) await retrieve(s, ctx, "customer", customer, "customer");
  const subscriptionData = (params.subscription_data ?? {}) as Json;
  assertKnownParams(subscriptionData, ["metadata", "description"]);
  const created = nowSeconds();
  const id = newId("cs_test");
  const amount = lineItems.reduce((sum, li) => sum + s.priceInfo.get(li.price)!.unitAmount * li.quantity, 0);
  const session: StripeObject = {
    id,
    object: "checkout.session",
    after_expiration: null,
    allow_promotion_codes: null,
    amount_subtotal: amount,
    amount_total: amount,
    billing_address_collection: null,
    cancel_url: stringParam(params, "cancel_url") ?? null,
    client_reference_id: stringParam(params, "client_reference_id") ?? null,
    created,
    currency: "gbp",
    customer: customer ?? null,
    customer_creation: customer ? null : "always",
    customer_details: null,
    customer_email: stringParam(params, "customer_email") ?? null,
    expires_at: created + CHECKOUT_SESSION_SECONDS,
    invoice: null,
    livemode: false,
    locale: null,
    metadata: metadataParam(params.metadata, "metadata"),
    mode,
    payment_method_types: ["card"],
    payment_status: "unpaid",
    status: "open",
    subscription: null,
    success_url: stringParam(params, "success_url", true),
    ui_mode: "hosted",
    url: `${s.baseUrl}/stripe/checkout/${id}`,
  };
  await insert(s, ctx, session, {
    line_items: lineItems,
    subscription_metadata: metadataParam(subscriptionData.metadata, "subscription_data[metadata]"),
  });
  return session;
}

export async function checkoutPage(s: StripeState, id: string): Promise<Response> {
  const view = await s.sql.begin(async (tx) => load<StripeObject>(s, { tx, deliver: [] }, "checkout.session", id));
  if (!view) return page("Not found", "<h1>This checkout link is not valid</h1>", 404);
  const session = view.data;
  if (session.status === "complete") {
    return page("Paid", `<h1>Already paid</h1><p><a href="${escapeHtml(successUrl(s, session))}">Continue</a></p>`);
  }
  const items = view.internal.line_items as LineItemInput[];
  const rows = items
    .map((li) => {
      const info = s.priceInfo.get(li.price)!;
      return `<tr><td>${escapeHtml(info.label)}${li.quantity > 1 ? ` × ${li.quantity}` : ""}</td><td>${pounds(info.unitAmount * li.quantity)} / month</td></tr>`;
    })
    .join("");
  const total = pounds(Number(session.amount_total));
  const email = session.customer
    ? ""
    : `<label>Email<input name="email" type="email" value="${escapeHtml(String(session.customer_email ?? ""))}" required></label>`;
  const cancel = session.cancel_url ? ` <a href="${escapeHtml(String(session.cancel_url))}">Cancel</a>` : "";
  return page(
    "Checkout",
    `<h1>Subscribe to Amplify Scheduler</h1>
<table>${rows}<tr><td><strong>Total due today</strong></td><td><strong>${total}</strong></td></tr></table>
<p>Billed monthly. No trial: the first month is charged now.</p>
<form method="post">${email}<button type="submit">Pay ${total}</button></form>${cancel}`,
  );
}

export function successUrl(s: StripeState, session: StripeObject): string {
  return String(session.success_url).replaceAll("{CHECKOUT_SESSION_ID}", session.id);
}

/** Paying: customer (if needed), an active subscription with a paid first invoice, the session completed. */
export async function payCheckout(s: StripeState, id: string, form: URLSearchParams): Promise<Response> {
  const deliver: string[] = [];
  const outcome = await s.sql.begin(async (tx) => {
    const ctx: RequestContext = { tx, deliver };
    const found = await load<StripeObject>(s, ctx, "checkout.session", id, true);
    if (!found) return { kind: "missing" as const };
    const session = { ...found.data };
    if (session.status === "complete") return { kind: "paid" as const, session };
    if (session.status !== "open" || Number(session.expires_at) < nowSeconds()) return { kind: "expired" as const };
    let customerId = typeof session.customer === "string" ? session.customer : undefined;
    if (!customerId) {
      const email = form.get("email") || (session.customer_email as string | null) || undefined;
      customerId = (await createCustomer(s, ctx, email ? { email } : {})).id;
    }
    const customer = (await load<StripeObject>(s, ctx, "customer", customerId))!.data;
    const { subscription, invoice } = await startSubscription(s, 
      ctx,
      customerId,
      found.internal.line_items as LineItemInput[],
      (found.internal.subscription_metadata as Record<string, string>) ?? {},
    );
    Object.assign(session, {
      status: "complete",
      payment_status: "paid",
      customer: customerId,
      customer_details: { email: customer.email ?? null, name: customer.name ?? null, address: null, phone: null, tax_exempt: "none", tax_ids: [] },
      subscription: subscription.id,
      invoice: invoice.id,
    });
    await save(s, ctx, session);
    await emit(s, ctx, "checkout.session.completed", session);
    await emit(s, ctx, "customer.subscription.created", subscription);
    await emit(s, ctx, "invoice.paid", invoice);
    return { kind: "paid" as const, session };
  });
  if (outcome.kind === "missing") return page("Not found", "<h1>This checkout link is not valid</h1>", 404);
  if (outcome.kind === "expired") return page("Expired", "<h1>This checkout session has expired</h1>", 410);
  if (deliver.length) await enqueue(s, deliver);
  return new Response(null, { status: 303, headers: { location: successUrl(s, outcome.session) } });
}
